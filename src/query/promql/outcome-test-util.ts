/**
 * outcome-test-util.ts — for the PromQL tests that compare two evaluation
 * paths of the same query (per-step against columns, series partials
 * against grid partials): one evaluation's outcome, and the first
 * difference between two outcomes down to the value bits.
 */
import { labelsKey } from './labels.js';
import { STALE_NAN } from './eval-types.js';
import type { EvalRange, FloatSeries, PromqlEngine, PromResult, SeriesSource } from './source.js';

/** Outcome is what one evaluation gave: a result, or the error's code and message. */
export type Outcome = { readonly result: PromResult } | { readonly error: string };

/** runOutcome evaluates `q` over `range` (raw resolution) and catches a refusal as its outcome. */
export async function runOutcome(engine: PromqlEngine, q: string, range: EvalRange, source: SeriesSource, lookbackMs = 300_000): Promise<Outcome> {
  try {
    return { result: await engine.evaluate(q, range, source, { lookbackMs, signal: new AbortController().signal, maxSourceResolution: 'raw' }) };
  } catch (e) {
    return { error: `${(e as { code?: string }).code ?? ''} ${(e as Error).message}` };
  }
}

/**
 * sameBits compares two values bit for bit, except that every NaN equals
 * every NaN: the API prints any NaN as "NaN", and the sign bit of a NaN made
 * from +Inf and -Inf depends on which operand came first, which through
 * shards can follow the order their partials arrived in (seen flaky: "avg by
 * (app) (rate(m[5m]))", seed 1, "NaN vs NaN").
 */
export function sameBits(a: number, b: number): boolean {
  if (Number.isNaN(a) && Number.isNaN(b)) return true;
  const x = new Float64Array([a, b]);
  const w = new Uint32Array(x.buffer);
  return w[0] === w[2] && w[1] === w[3];
}

/** outcomeDiff describes the first difference between two outcomes (series, labels, step times, value bits, error text), or null. */
export function outcomeDiff(a: Outcome, b: Outcome): string | null {
  if ('error' in a || 'error' in b) return 'error' in a && 'error' in b && a.error === b.error ? null : `outcomes ${JSON.stringify(a).slice(0, 160)} vs ${JSON.stringify(b).slice(0, 160)}`;
  if (a.result.kind !== 'matrix' || b.result.kind !== 'matrix') return `kinds ${a.result.kind} vs ${b.result.kind}`;
  const x = a.result.series;
  const y = b.result.series;
  if (x.length !== y.length) return `${x.length} series vs ${y.length}`;
  for (let k = 0; k < x.length; k++) {
    const p = x[k] as FloatSeries;
    const q = y[k] as FloatSeries;
    if (labelsKey(p.labels) !== labelsKey(q.labels)) return `series ${k}: ${labelsKey(p.labels)} vs ${labelsKey(q.labels)}`;
    if (p.timestampsMs.length !== q.timestampsMs.length) return `series ${k}: ${p.timestampsMs.length} points vs ${q.timestampsMs.length}`;
    for (let j = 0; j < p.timestampsMs.length; j++) {
      if (p.timestampsMs[j] !== q.timestampsMs[j]) return `series ${k} point ${j}: at ${p.timestampsMs[j]} vs ${q.timestampsMs[j]}`;
      if (!sameBits(p.values[j] as number, q.values[j] as number)) return `series ${k} point ${j}: ${p.values[j]} vs ${q.values[j]}`;
    }
  }
  return null;
}

/**
 * valuesColumn makes a series' value column from `vs` with Prometheus's
 * staleness marker at each index of `staleAt`, written into the typed array
 * itself: the marker is a signalling NaN (0x7ff0000000000002), and a JS array
 * quiets it on the way in (it reads back as 0x7ff8000000000002, a plain NaN to
 * isStaleMarker), so a generator that pushes STALE_NAN into a number[] holds
 * no marker at all.
 */
export function valuesColumn(vs: readonly number[], staleAt: readonly number[]): Float64Array {
  const values = Float64Array.from(vs);
  for (const j of staleAt) {
    if (!(j >= 0 && j < values.length)) throw new RangeError(`valuesColumn: stale index ${j} outside 0..${values.length - 1}`);
    values[j] = STALE_NAN;
  }
  return values;
}
