/**
 * prom-json.ts — a range query's matrix written as the JSON text of
 * Prometheus's `data.result` directly, without an array object per point
 * and a `metric` object per series for JSON.stringify to walk (a 24 h
 * query at step 1m is 1,441 points a series).
 *
 * The text is byte for byte what JSON.stringify makes of the object form
 * (prom-routes.ts promResultJson): times as JSON numbers (ms / 1000), values
 * as formatPromFloat's strings (digits, `.`, `-`, `NaN`, `+Inf`, `-Inf`:
 * nothing to escape), label names and values quoted by JSON.stringify.
 * Where the object form would differ from a plain walk of the labels — a
 * label named `__proto__` (an object drops it), an array-index-like name
 * (an object lists those first) or a name twice (an object keeps one) —
 * matrixResultJson answers null and the
 * caller writes the object form, so the answer never changes.
 */
import { formatPromFloat } from '../query/metrics-prom-records.js';
import type { FloatSeries } from '../query/promql/source.js';

const INDEX_LIKE = /^(0|[1-9]\d*)$/;

/** matrixResultJson is the JSON text of a matrix's `result` array, or null where the object form must be written (see the top of this file). */
export function matrixResultJson(series: readonly FloatSeries[]): string | null {
  for (const s of series) {
    const ls = s.labels;
    for (let j = 0; j < ls.length; j++) {
      const name = (ls[j] as FloatSeries['labels'][number]).name;
      if (name === '__proto__' || INDEX_LIKE.test(name)) return null;
      for (let m = 0; m < j; m++) if ((ls[m] as FloatSeries['labels'][number]).name === name) return null;
    }
  }
  let out = '[';
  for (let k = 0; k < series.length; k++) {
    const s = series[k] as FloatSeries;
    if (k > 0) out += ',';
    out += '{"metric":{';
    for (let j = 0; j < s.labels.length; j++) {
      const l = s.labels[j] as FloatSeries['labels'][number];
      out += `${j > 0 ? ',' : ''}${JSON.stringify(l.name)}:${JSON.stringify(l.value)}`;
    }
    out += '},"values":[';
    const ts = s.timestampsMs;
    const vs = s.values;
    for (let i = 0; i < ts.length; i++) out += `${i > 0 ? ',' : ''}[${String((ts[i] as number) / 1000)},"${formatPromFloat(vs[i] as number)}"]`;
    out += ']}';
  }
  return `${out}]`;
}
