/**
 * values.ts — the conversions LogQL applies to text: Go-style durations
 * (label filters, `duration()` unwraps), humanized byte sizes (`20MB`,
 * `bytes()` unwraps), numbers, and the canonical printing of durations.
 * Pure; shared by the parser, the engine and the reference.
 */

const UNIT_NS: readonly (readonly [string, bigint])[] = [
  ['ns', 1n],
  ['us', 1_000n],
  ['µs', 1_000n],
  ['μs', 1_000n],
  ['ms', 1_000_000n],
  ['s', 1_000_000_000n],
  ['m', 60_000_000_000n],
  ['h', 3_600_000_000_000n],
  ['d', 86_400_000_000_000n],
  ['w', 604_800_000_000_000n],
  ['y', 31_536_000_000_000_000n],
];

/**
 * parseDurationNs reads a duration such as `5m`, `1h30m`, `1.5s`, `250ms`
 * (Go's units plus Prometheus' `d`, `w`, `y`; fractions truncated to whole
 * nanoseconds), or returns null. A leading `-` negates.
 */
export function parseDurationNs(text: string): bigint | null {
  let s = text;
  let sign = 1n;
  if (s.startsWith('-')) {
    sign = -1n;
    s = s.slice(1);
  } else if (s.startsWith('+')) s = s.slice(1);
  if (s === '') return null;
  if (s === '0') return 0n;
  let total = 0n;
  let i = 0;
  while (i < s.length) {
    const m = /^(\d+(?:\.\d*)?|\.\d+)/.exec(s.slice(i));
    if (m === null) return null;
    const num = m[1] as string;
    i += num.length;
    let unit: readonly [string, bigint] | undefined;
    for (const u of UNIT_NS) if (s.startsWith(u[0], i) && (unit === undefined || u[0].length > unit[0].length)) unit = u;
    if (unit === undefined) return null;
    i += unit[0].length;
    const dot = num.indexOf('.');
    if (dot < 0) total += BigInt(num) * unit[1];
    else {
      const frac = num.slice(dot + 1);
      total += (BigInt((num.slice(0, dot) || '0') + frac) * unit[1]) / 10n ** BigInt(frac.length);
    }
  }
  return sign * total;
}

/** formatDurationNs prints a non-negative duration canonically (`1h30m`, `250ms`, `0s`); parseDurationNs reads it back exactly. */
export function formatDurationNs(ns: bigint): string {
  if (ns === 0n) return '0s';
  if (ns < 0n) return `-${formatDurationNs(-ns)}`;
  let rest = ns;
  let out = '';
  for (const [unit, size] of [['h', 3_600_000_000_000n], ['m', 60_000_000_000n], ['s', 1_000_000_000n], ['ms', 1_000_000n], ['us', 1_000n], ['ns', 1n]] as const) {
    if (rest >= size) {
      out += `${rest / size}${unit}`;
      rest %= size;
    }
  }
  return out;
}

const BYTE_UNITS: ReadonlyMap<string, number> = new Map([
  ['b', 1],
  ['', 1],
  ['k', 1e3],
  ['kb', 1e3],
  ['kib', 1024],
  ['ki', 1024],
  ['m', 1e6],
  ['mb', 1e6],
  ['mib', 1024 ** 2],
  ['mi', 1024 ** 2],
  ['g', 1e9],
  ['gb', 1e9],
  ['gib', 1024 ** 3],
  ['gi', 1024 ** 3],
  ['t', 1e12],
  ['tb', 1e12],
  ['tib', 1024 ** 4],
  ['ti', 1024 ** 4],
  ['p', 1e15],
  ['pb', 1e15],
  ['pib', 1024 ** 5],
  ['pi', 1024 ** 5],
]);

/** parseBytes reads a humanized size (`20MB`, `1.5 KiB`, `300`; units case-insensitive, as go-humanize) as a byte count, or null. */
export function parseBytes(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(text);
  if (m === null) return null;
  const unit = BYTE_UNITS.get((m[2] as string).toLowerCase());
  if (unit === undefined) return null;
  return Math.floor(Number(m[1]) * unit);
}

/** isBytesUnit says whether a word is a byte unit the lexer accepts after a number (`B`, `KB`, `MiB`...). */
export function isBytesUnit(word: string): boolean {
  const u = word.toLowerCase();
  return u.length > 0 && BYTE_UNITS.has(u) && (u.endsWith('b') || u.endsWith('i'));
}

/** parseNumber reads a label value as a float the way Go's strconv.ParseFloat does for common forms, or returns null. */
export function parseNumber(text: string): number | null {
  const s = text.trim();
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(s) && !/^[+-]?(inf|infinity|nan)$/i.test(s)) return null;
  if (/nan/i.test(s)) return Number.NaN;
  if (/inf/i.test(s)) return s.startsWith('-') ? -Infinity : Infinity;
  return Number(s);
}

/** sanitizeLabelName turns an extracted key into a valid label name: other characters become `_`, a leading digit gets a `_` prefix. */
export function sanitizeLabelName(key: string): string {
  let out = key.replace(/[^A-Za-z0-9_]/g, '_');
  if (/^[0-9]/.test(out)) out = `_${out}`;
  return out;
}

/** formatNumber prints a number the way LogQL literals read back (`NaN`, `Inf`, `-Inf`, or JavaScript's shortest form). */
export function formatNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return 'Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}
