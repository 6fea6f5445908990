/**
 * range-count.ts — a shard's partials of a range aggregation over lines
 * (count_over_time, rate, bytes_over_time, bytes_rate) counted from the
 * source's entries without building them (LogSource.countEntries), when
 * the log query's pipeline is line filters only and nothing is unwrapped:
 * then a sample is 1 (or the line's bytes) under the entry's own labels
 * (stream and structured metadata, mergedLabels, then the grouping), and
 * the per-step sums are all a shard answers (engine.ts evaluateShardPart).
 *
 * Windows: the steps t_i = first + i·step (i < n) and the window of step i
 * is (t_i − offset − range, t_i − offset]. The entries are asked from
 * origin = first − offset − range + 1 to last − offset, and an entry at
 * origin + x (x ≥ 0, a number) lies in window i exactly when
 * x + 1 − range ≤ i·step ≤ x: a run of steps [i0, i1], added to a
 * difference array per series (counts and sums), prefix-summed at the end.
 * Every quantity is an integer below 2^53 (the span is checked), so the
 * arithmetic is exact and the answer equals gatherSamples + forEachWindow +
 * partialOf's, value for value (range-count.test.ts; the series order is
 * not part of the answer).
 *
 * Null (the caller gathers entries instead) when the shape does not fit,
 * the source cannot count, or the span is 2^53 ns or more.
 */
import { OtlpdbError } from '../../errors.js';
import { LogqlLimits } from '../../limits.js';
import type { RangeAggregation } from './ast.js';
import { lineHints } from './hints.js';
import { checkPoints, groupLabels } from './metric.js';
import { compileLineTest, labelsKey, mergedLabels } from './pipeline.js';
import type { LogLabels, LogSource, ShardPartialSeries } from './source.js';

/** COUNT_SPAN_NS_MAX bounds (exclusive) the span of entries a count reads: offsets in it are exact doubles. */
const COUNT_SPAN_NS_MAX = 2n ** 53n;
const COUNTED_FNS: ReadonlySet<string> = new Set(['count_over_time', 'rate', 'bytes_over_time', 'bytes_rate']);

/** CountPlant is a test-only planted bug (range-count.test.ts shows each one caught). */
export type CountPlant = 'none' | 'window-off-by-one' | 'metadata-ignored';

interface SeriesAcc {
  readonly labels: LogLabels;
  /** counts and sums are difference arrays over the steps (n + 1 slots). */
  readonly counts: Float64Array;
  readonly sums: Float64Array;
}

/** countable says whether a range aggregation's shard part can be counted (see the file comment). */
export function countable(node: RangeAggregation): boolean {
  return COUNTED_FNS.has(node.fn) && node.unwrap === null && compileLineTest(node.log.stages) !== null;
}

/**
 * countRangePart answers a shard's partial series of `node` at `steps` by
 * counting (see the file comment), or null when it cannot. Throws
 * ERR_LIMIT_EXCEEDED (series or points past LogqlLimits), ERR_UNAVAILABLE
 * (cancelled), and what the source throws.
 */
export async function countRangePart(node: RangeAggregation, steps: readonly bigint[], stepNs: bigint, source: LogSource, signal: AbortSignal, plant: CountPlant = 'none'): Promise<ShardPartialSeries[] | null> {
  const lineTest = compileLineTest(node.log.stages);
  if (source.countEntries === undefined || !countable(node) || lineTest === null) return null;
  const n = steps.length;
  const first = steps[0] as bigint;
  const last = steps[n - 1] as bigint;
  const originNs = first - node.offsetNs - node.rangeNs + 1n;
  const endNs = last - node.offsetNs;
  // An origin below 0 is refused by the select the gathering path makes; leave that answer to it.
  if (originNs < 0n || endNs < originNs || endNs - originNs >= COUNT_SPAN_NS_MAX || node.rangeNs >= COUNT_SPAN_NS_MAX || (n > 1 && stepNs <= 0n)) return null;
  const rangeN = Number(node.rangeNs);
  const stepN = Number(stepNs);
  const bytes = node.fn === 'bytes_over_time' || node.fn === 'bytes_rate';
  const series = new Map<string, SeriesAcc>();
  const byStream = new Map<LogLabels, SeriesAcc>();
  const accOf = (labels: LogLabels): SeriesAcc => {
    const grouped = node.grouping === null ? labels : groupLabels(labels, node.grouping);
    const key = labelsKey(grouped);
    let acc = series.get(key);
    if (acc === undefined) {
      acc = { labels: grouped, counts: new Float64Array(n + 1), sums: new Float64Array(n + 1) };
      series.set(key, acc);
      if (series.size > LogqlLimits.seriesMax) checkPoints(series.size, 0);
    }
    return acc;
  };
  const shift = plant === 'window-off-by-one' ? 1 : 0;
  const req = { matchers: node.log.matchers, startNs: originNs, endNs, hints: lineHints(node.log), lineTest: node.log.stages.length === 0 ? null : lineTest, lineBytes: bytes };
  await source.countEntries(
    req,
    {
      entry(stream, x, lineBytes, metadata) {
        let acc: SeriesAcc;
        if (metadata === null || plant === 'metadata-ignored') {
          const known = byStream.get(stream);
          acc = known ?? accOf(mergedLabels({ stream, metadata: [], timeNs: 0n, line: '' }));
          if (known === undefined) byStream.set(stream, acc);
        } else {
          acc = accOf(mergedLabels({ stream, metadata, timeNs: 0n, line: '' }));
        }
        let i0 = 0;
        let i1 = 0;
        if (n > 1) {
          i0 = Math.max(0, Math.ceil((x + 1 - rangeN) / stepN));
          i1 = Math.min(n - 1, Math.floor((x + shift) / stepN));
          if (i0 > i1) return;
        }
        const v = bytes ? lineBytes : 1;
        acc.counts[i0] = (acc.counts[i0] as number) + 1;
        acc.counts[i1 + 1] = (acc.counts[i1 + 1] as number) - 1;
        acc.sums[i0] = (acc.sums[i0] as number) + v;
        acc.sums[i1 + 1] = (acc.sums[i1 + 1] as number) - v;
      },
    },
    signal,
  );
  if (signal.aborted) throw new OtlpdbError('ERR_UNAVAILABLE', 'LogQL: the query was cancelled');
  const out: ShardPartialSeries[] = [];
  let points = 0;
  for (const acc of series.values()) {
    const stepsNs: bigint[] = [];
    const values: number[][] = [];
    let count = 0;
    let sum = 0;
    for (let i = 0; i < n; i++) {
      count += acc.counts[i] as number;
      sum += acc.sums[i] as number;
      if (count > 0) {
        stepsNs.push(steps[i] as bigint);
        values.push([sum]);
      }
    }
    points += stepsNs.length;
    if (stepsNs.length > 0) out.push({ labels: acc.labels, stepsNs, values });
  }
  checkPoints(series.size, points);
  return out;
}
