/**
 * sparkline.ts — a small terminal chart of one series for `otlpdb query
 * metrics`: the values over the query's steps as block characters
 * (▁▂▃▄▅▆▇█, scaled between the series' min and max; a missing step is a
 * space, a NaN `·`), resampled to at most `width` columns (each column the
 * last value of the steps it covers). Pure.
 */

const BLOCKS = '▁▂▃▄▅▆▇█';

/** sparkline renders `values` (null for a step without a sample) in at most `width` columns. */
export function sparkline(values: readonly (number | null)[], width: number): string {
  if (values.length === 0 || width < 1) return '';
  const cols = Math.min(width, values.length);
  const picked: (number | null)[] = [];
  for (let c = 0; c < cols; c++) {
    const from = Math.floor((c * values.length) / cols);
    const to = Math.floor(((c + 1) * values.length) / cols);
    let v: number | null = null;
    for (let i = from; i < to; i++) if (values[i] !== null && values[i] !== undefined) v = values[i] as number;
    picked.push(v);
  }
  const finite = picked.filter((v): v is number => v !== null && Number.isFinite(v));
  const min = finite.length > 0 ? Math.min(...finite) : 0;
  const max = finite.length > 0 ? Math.max(...finite) : 0;
  return picked
    .map((v) => {
      if (v === null) return ' ';
      if (Number.isNaN(v)) return '·';
      if (!Number.isFinite(v)) return v > 0 ? '█' : '▁';
      const i = max === min ? 3 : Math.round(((v - min) / (max - min)) * (BLOCKS.length - 1));
      return BLOCKS[i] as string;
    })
    .join('');
}
