/**
 * grid-partials.ts — a shard's answer to a pushed-down subexpression laid
 * on the query's step grid (GridPartials), the compact form of the peer
 * frame (metrics-read-wire.ts) that the coordinator folds straight into
 * its combining columns (aggregate-columns.ts), instead of one
 * (timestamps, values) pair per series placed back on the grid point by
 * point (pushdown.ts foldPartialColumns).
 *
 * The two forms hold exactly the same points: series k has a point at
 * step i iff bit i of its presence bitmap is set, and its values are those
 * points' values in step order, copied bit for bit (a NaN's payload, a
 * stale marker's bits, -0 included). A step a series does not answer has
 * no bit and no value, as it had no point; nothing stands in for "absent".
 *
 *   steps     n, the grid's step count (1 for an instant evaluation)
 *   labels    one label set per series, in answer order
 *   present   series k's bitmap at bytes [k × stride, (k + 1) × stride),
 *             stride = ceil(n / 8); step i is bit (i mod 8) of byte
 *             floor(i / 8), least significant first; bits past n are 0
 *   values    every series' present values, series after series, each in
 *             step order: popcount(all bitmaps) of them
 *
 * Invariant (checked by the wire decoder, asserted here): values.length is
 * the number of set bits, present.length = labels.length × stride.
 * Owner: one shard answer; the coordinator reads it once and drops it.
 */

import type { AggregateNode } from './ast.js';
import { GroupColumns, countGroups } from './aggregate-columns.js';
import type { EvalCtx, Grid } from './eval-types.js';
import { checkAbort, stepTime } from './eval-types.js';
import { labelsKey } from './labels.js';
import type { EvalRange, FloatSeries, PromLabels } from './source.js';
import { PromqlLimits } from '../../limits.js';
import { assert } from '../../errors.js';

/** GridPartials is one shard's answer on the query's step grid; see the top of this file. */
export interface GridPartials {
  readonly steps: number;
  readonly labels: readonly PromLabels[];
  readonly present: Uint8Array;
  readonly values: Float64Array;
}

/** ShardGridAnswer is SeriesSource.shardEvalGrid's answer: every shard's GridPartials, or (when a shard could not lay its answer on the grid) the union as series, as shardEval answers it. */
export type ShardGridAnswer = { readonly grids: readonly GridPartials[] } | { readonly series: readonly FloatSeries[] };

/** gridSteps is the step count of a range's grid (eval-types.ts makeGrid's n, without its bound check). */
export function gridSteps(r: EvalRange): number {
  return r.stepMs === 0 || r.startMs === r.endMs ? 1 : Math.floor((r.endMs - r.startMs) / r.stepMs) + 1;
}

/** strideBytes is one series' bitmap length over n steps. */
export function strideBytes(n: number): number {
  return (n + 7) >>> 3;
}

/**
 * seriesToGrid lays a shard's answer on the range's grid: null when a
 * point is not exactly at a step time (then the series form carries it
 * as it is, and the coordinator judges it as before).
 */
export function seriesToGrid(series: readonly FloatSeries[], r: EvalRange): GridPartials | null {
  const n = gridSteps(r);
  const stride = strideBytes(n);
  const step = n === 1 ? 0 : r.stepMs;
  let total = 0;
  for (const s of series) total += s.values.length;
  const present = new Uint8Array(series.length * stride);
  const values = new Float64Array(total);
  let at = 0;
  for (let k = 0; k < series.length; k++) {
    const s = series[k] as FloatSeries;
    const ts = s.timestampsMs;
    const base = k * stride;
    // i walks the steps forward: each point must be exactly at a later step than the one before (the values follow the bits in step order).
    let i = 0;
    for (let j = 0; j < ts.length; j++) {
      const t = ts[j] as number;
      while (i < n && r.startMs + i * step < t) i++;
      if (i >= n || r.startMs + i * step !== t) return null;
      present[base + (i >>> 3)] = (present[base + (i >>> 3)] as number) | (1 << (i & 7));
      i++;
    }
    values.set(s.values, at);
    at += s.values.length;
  }
  assert(at === total, 'every value laid on the grid');
  return { steps: n, labels: series.map((s) => s.labels), present, values };
}

/** gridToSeries is a GridPartials as series at the grid's step times (the series form of the same points). */
export function gridToSeries(g: GridPartials, grid: Grid): FloatSeries[] {
  assert(g.steps === grid.n, 'a grid answer of the query\'s steps');
  const stride = strideBytes(g.steps);
  const out: FloatSeries[] = [];
  let at = 0;
  for (let k = 0; k < g.labels.length; k++) {
    const base = k * stride;
    let count = 0;
    for (let i = 0; i < g.steps; i++) count += ((g.present[base + (i >>> 3)] as number) >>> (i & 7)) & 1;
    const timestampsMs = new Float64Array(count);
    let j = 0;
    for (let i = 0; i < g.steps; i++) if ((((g.present[base + (i >>> 3)] as number) >>> (i & 7)) & 1) === 1) timestampsMs[j++] = stepTime(grid, i);
    out.push({ labels: g.labels[k] as PromLabels, timestampsMs, values: g.values.slice(at, at + count) });
    at += count;
  }
  assert(at === g.values.length, 'every value of the grid answer placed');
  return out;
}

/**
 * foldGridColumns folds the shards' grid answers into the combining
 * aggregation's columns, series in answer order (the order
 * foldPartialColumns folds the series form in), each series scattered once
 * into one reused column (a sum's bits straight into its group's row);
 * null past PromqlLimits.groupStepCellsMax groups × steps (then the caller
 * runs the per-step path on the series form).
 */
export function foldGridColumns(combine: AggregateNode, grids: readonly GridPartials[], grid: Grid, ctx: EvalCtx): GroupColumns | null {
  const all: PromLabels[] = [];
  for (const g of grids) for (const l of g.labels) all.push(l);
  if (countGroups(combine, all) * grid.n > PromqlLimits.groupStepCellsMax) return null;
  const groups = new GroupColumns(combine, grid.n);
  const values = new Float64Array(grid.n);
  const present = new Uint8Array(grid.n);
  const stride = strideBytes(grid.n);
  let k = 0;
  for (const g of grids) {
    assert(g.steps === grid.n, 'a grid answer of the query\'s steps');
    let at = 0;
    for (let s = 0; s < g.labels.length; s++, k++) {
      if (k % PromqlLimits.abortCheckEvery === 0) checkAbort(ctx.signal);
      const base = s * stride;
      const labels = g.labels[s] as PromLabels;
      // A sum folds each set bit straight into its group's row (GroupColumns.add's sum: the first series at a step starts it, the next add).
      const row = groups.sumRow(labels);
      if (row !== null) {
        const { value, firstK } = row;
        for (let b = 0; b < stride; b++) {
          let byte = g.present[base + b] as number;
          while (byte !== 0) {
            const i = (b << 3) + 31 - Math.clz32(byte & -byte);
            const v = g.values[at++] as number;
            if (firstK[i] === -1) {
              firstK[i] = k;
              value[i] = v;
            } else value[i] = (value[i] as number) + v;
            byte &= byte - 1;
          }
        }
        continue;
      }
      let count = 0;
      present.fill(0);
      // Byte by byte: a zero byte is 8 absent steps; a set bit takes the next value.
      for (let b = 0; b < stride; b++) {
        let byte = g.present[base + b] as number;
        while (byte !== 0) {
          const bit = 31 - Math.clz32(byte & -byte);
          const i = (b << 3) + bit;
          present[i] = 1;
          values[i] = g.values[at + count++] as number;
          byte &= byte - 1;
        }
      }
      at += count;
      if (count > 0) groups.add({ k, labels, key: labelsKey(labels), values, present, count });
    }
    assert(at === g.values.length, 'every value of a grid answer folded');
  }
  return groups;
}
