/**
 * aggregate-columns.ts — an aggregation (sum, avg, min, max, count, group,
 * stddev, stdvar; by/without) over a per-series argument computed as
 * columns (range-columns.ts): each series' group is resolved once, and its
 * column is folded into its group's columns indexed by step, instead of a
 * map of groups built again at every step (aggregations.ts aggregateStep).
 *
 * The arithmetic is aggregateStep's, step by step, in the same order: at a
 * step, a group's first sample (in series order) starts it and the next
 * ones update it, so sums add in the same order and every NaN/Inf rule is
 * the same. A step's vector lists its groups in the order they first had a
 * sample at that step, as aggregateStep (and Prometheus 2.42) answer.
 *
 * Invariant: for group g and step i, firstK[g][i] is -1 until a series
 * answers step i for g, then the index of the first series that did;
 * value/mean/count hold that step's running state only once it is >= 0
 * (nothing reads them before: a group's rows may be lent by the evaluation's
 * EvalScratch, holding another query's numbers). A group's rows are views of
 * one column (firstK an Int32Array over its tail), lent or allocated; no
 * answer (steps, series, grid) aliases them.
 * Owner: one aggregation node evaluation; nothing outlives it (a lent
 * column goes back with its lease after the answer is built).
 */

import type { AggregateNode, AggregateOp } from './ast.js';
import { groupLabels } from './aggregations.js';
import type { Budget, Grid } from './eval-types.js';
import { stepTime } from './eval-types.js';
import type { GridPartials } from './grid-partials.js';
import { strideBytes } from './grid-partials.js';
import type { Sample } from './labels.js';
import { compareLabels, labelsKey } from './labels.js';
import type { RangeColumn } from './range-columns.js';
import type { EvalScratch, FloatSeries, PromLabels } from './source.js';
import { assert } from '../../errors.js';

/** ColumnAggregateOps are the aggregations GroupColumns computes (the others need a parameter or every sample). */
export const ColumnAggregateOps: ReadonlySet<AggregateOp> = new Set<AggregateOp>(['sum', 'avg', 'min', 'max', 'count', 'group', 'stddev', 'stdvar']);

/** countGroups is how many groups an aggregation makes of series with these labels (to bound groups × steps before allocating columns). */
export function countGroups(e: AggregateNode, labels: readonly PromLabels[]): number {
  const keys = new Set<string>();
  for (const l of labels) keys.add(labelsKey(groupLabels(l, e.grouping, e.without)));
  return keys.size;
}

interface GroupCol {
  readonly labels: PromLabels;
  readonly key: string;
  readonly firstK: Int32Array;
  readonly value: Float64Array;
  /** mean is avg's running mean and stddev/stdvar's Welford mean (empty for the other ops). */
  readonly mean: Float64Array;
  /** count is the samples folded at a step (avg, count, stddev, stdvar; empty for the other ops). */
  readonly count: Float64Array;
}

/** GroupColumns folds per-series columns into one aggregation's per-group columns; see the top of this file. */
export class GroupColumns {
  readonly #e: AggregateNode;
  readonly #n: number;
  readonly #groups: GroupCol[] = [];
  readonly #byKey = new Map<string, GroupCol>();
  /** #bySeries caches a series' group by its labels object (series keep one labels object a query). */
  readonly #bySeries = new Map<PromLabels, GroupCol>();
  readonly #scratch: EvalScratch | null;

  /** With `scratch`, each group's rows are a column it lends (the evaluation's: EvalCtx.scratch), else one allocated. */
  constructor(e: AggregateNode, n: number, scratch: EvalScratch | null = null) {
    assert(ColumnAggregateOps.has(e.op), 'GroupColumns computes only ColumnAggregateOps');
    assert(e.param === null, 'a column aggregation has no parameter');
    assert(Number.isSafeInteger(n) && n >= 1, 'a grid has at least one step');
    this.#e = e;
    this.#n = n;
    this.#scratch = scratch;
  }

  /**
   * #rows lays one group's rows in one column of float64s: value, then mean
   * and count when the op keeps them, then firstK as int32s (two a float64),
   * filled with -1. The column is lent by the scratch when it can, else
   * allocated (one allocation a group, not two to four).
   */
  #rows(needsMean: boolean, needsCount: boolean): { firstK: Int32Array; value: Float64Array; mean: Float64Array; count: Float64Array } {
    const n = this.#n;
    const f64s = n * (1 + (needsMean ? 1 : 0) + (needsCount ? 1 : 0));
    const width = f64s + Math.ceil(n / 2);
    const col = this.#scratch?.takeScratch(width) ?? new Float64Array(width);
    assert(col.length === width, 'a group\'s column holds its rows');
    const value = col.subarray(0, n);
    const mean = needsMean ? col.subarray(n, 2 * n) : EMPTY_F64;
    const count = needsCount ? col.subarray(f64s - n, f64s) : EMPTY_F64;
    const firstK = new Int32Array(col.buffer, col.byteOffset + f64s * 8, n).fill(-1);
    return { firstK, value, mean, count };
  }

  #groupOf(labels: PromLabels): GroupCol {
    let g = this.#bySeries.get(labels);
    if (g !== undefined) return g;
    const gl = groupLabels(labels, this.#e.grouping, this.#e.without);
    const key = labelsKey(gl);
    g = this.#byKey.get(key);
    if (g === undefined) {
      const op = this.#e.op;
      const needsMean = op === 'avg' || op === 'stddev' || op === 'stdvar';
      const needsCount = needsMean || op === 'count';
      const rows = this.#rows(needsMean, needsCount);
      assert(rows.value.length === this.#n && rows.firstK.length === this.#n, 'a group has one cell a step');
      g = { labels: gl, key, ...rows };
      this.#byKey.set(key, g);
      this.#groups.push(g);
    }
    this.#bySeries.set(labels, g);
    return g;
  }

  /**
   * sumRow is the group row of a series with these labels for a `sum` (its
   * running sums and first series per step, which a caller folds into as
   * add's sum does: the first series answering a step sets it, the next add
   * in series order), or null for any other op.
   */
  sumRow(labels: PromLabels): { readonly value: Float64Array; readonly firstK: Int32Array } | null {
    if (this.#e.op !== 'sum') return null;
    return this.#groupOf(labels);
  }

  /** add folds one series' column (series must come in increasing k, as the per-step vectors held them). */
  add(c: RangeColumn): void {
    const g = this.#groupOf(c.labels);
    const { firstK, value, mean, count } = g;
    const { values, present, k } = c;
    const n = this.#n;
    assert(values.length === n && present.length === n, 'a column has one entry per step');
    switch (this.#e.op) {
      case 'sum':
        for (let i = 0; i < n; i++) {
          if (present[i] === 0) continue;
          if (firstK[i] === -1) { firstK[i] = k; value[i] = values[i] as number; } else value[i] = (value[i] as number) + (values[i] as number);
        }
        break;
      case 'max': case 'min': {
        const max = this.#e.op === 'max';
        for (let i = 0; i < n; i++) {
          if (present[i] === 0) continue;
          const v = values[i] as number;
          if (firstK[i] === -1) { firstK[i] = k; value[i] = v; continue; }
          const cur = value[i] as number;
          if ((max ? cur < v : cur > v) || Number.isNaN(cur)) value[i] = v;
        }
        break;
      }
      case 'count': case 'group':
        for (let i = 0; i < n; i++) {
          if (present[i] === 0) continue;
          if (firstK[i] === -1) { firstK[i] = k; if (count.length > 0) count[i] = 1; } else if (count.length > 0) count[i] = (count[i] as number) + 1;
        }
        break;
      case 'avg':
        for (let i = 0; i < n; i++) {
          if (present[i] === 0) continue;
          const v = values[i] as number;
          if (firstK[i] === -1) { firstK[i] = k; mean[i] = v; count[i] = 1; continue; }
          const cnt = (count[i] as number) + 1;
          count[i] = cnt;
          const m = mean[i] as number;
          if (!Number.isFinite(m) && !Number.isNaN(m)) {
            if (!Number.isFinite(v) && !Number.isNaN(v) && (m > 0) === (v > 0)) continue;
            if (Number.isFinite(v)) continue;
          }
          mean[i] = m + (v / cnt - m / cnt);
        }
        break;
      case 'stddev': case 'stdvar':
        for (let i = 0; i < n; i++) {
          if (present[i] === 0) continue;
          const v = values[i] as number;
          if (firstK[i] === -1) { firstK[i] = k; value[i] = 0; mean[i] = v; count[i] = 1; continue; }
          const cnt = (count[i] as number) + 1;
          count[i] = cnt;
          const delta = v - (mean[i] as number);
          mean[i] = (mean[i] as number) + delta / cnt;
          value[i] = (value[i] as number) + delta * (v - (mean[i] as number));
        }
        break;
      default:
        assert(false, 'GroupColumns computes only ColumnAggregateOps');
    }
  }

  /** steps answers the per-step vectors (groups in their order of first sample at each step), charging `budget` (when given) for each sample. */
  steps(budget: Budget | null): Sample[][] {
    const out: Sample[][] = [];
    const op = this.#e.op;
    const present: GroupCol[] = [];
    for (let i = 0; i < this.#n; i++) {
      present.length = 0;
      let ordered = true;
      let lastK = -1;
      for (const g of this.#groups) {
        const fk = g.firstK[i] as number;
        if (fk === -1) continue;
        if (fk < lastK) ordered = false;
        lastK = fk;
        present.push(g);
      }
      // Groups are created in order of their first series, so they are in first-sample order unless a group's first series missed this step.
      if (!ordered) present.sort((a, b) => (a.firstK[i] as number) - (b.firstK[i] as number));
      const vec: Sample[] = [];
      for (const g of present) vec.push({ labels: g.labels, value: groupValue(op, g, i), key: g.key });
      budget?.add(vec.length);
      out.push(vec);
    }
    return out;
  }

  /** series answers one series per group with a point at each step it has (stepsToSeries of steps(), without the per-step samples), charging `budget` (when given) for each point. */
  series(grid: Grid, budget: Budget | null): FloatSeries[] {
    assert(grid.n === this.#n, 'the grid the columns were folded over');
    const op = this.#e.op;
    const out: FloatSeries[] = [];
    let points = 0;
    for (const g of this.#groups) {
      let count = 0;
      for (let i = 0; i < this.#n; i++) if ((g.firstK[i] as number) !== -1) count++;
      if (count === 0) continue;
      const timestampsMs = new Float64Array(count);
      const values = new Float64Array(count);
      let j = 0;
      for (let i = 0; i < this.#n; i++) {
        if ((g.firstK[i] as number) === -1) continue;
        timestampsMs[j] = stepTime(grid, i);
        values[j] = groupValue(op, g, i);
        j++;
      }
      points += count;
      out.push({ labels: g.labels, timestampsMs, values });
    }
    budget?.add(points);
    return out;
  }

  /**
   * grid answers series()'s points laid on the grid (grid-partials.ts), in
   * the order a shard's answer lists them (sorted by labels), without a
   * timestamps and a values column a group in between: a group's bit at
   * step i is set iff series() has a point there, and the values are
   * series()'s, bit for bit, group after group. Charges `budget` (when
   * given) for each point, as series() does.
   */
  grid(budget: Budget | null): GridPartials {
    const op = this.#e.op;
    const n = this.#n;
    const stride = strideBytes(n);
    const rows: GroupCol[] = [];
    let points = 0;
    for (const g of this.#groups) {
      let count = 0;
      for (let i = 0; i < n; i++) if ((g.firstK[i] as number) !== -1) count++;
      if (count === 0) continue;
      rows.push(g);
      points += count;
    }
    rows.sort((a, b) => compareLabels(a.labels, b.labels));
    const present = new Uint8Array(rows.length * stride);
    const values = new Float64Array(points);
    // The row a value is read from as it is (sum, min, max: value; avg: mean; count: count); null: groupValue computes it.
    const direct = op === 'sum' || op === 'max' || op === 'min' ? 'value' : op === 'avg' ? 'mean' : op === 'count' ? 'count' : null;
    let at = 0;
    for (let r = 0; r < rows.length; r++) {
      const g = rows[r] as GroupCol;
      const firstK = g.firstK;
      const from = direct === null ? null : g[direct];
      let base = r * stride;
      // A bitmap byte is written once, after its 8 steps (the last one after the last step).
      let byte = 0;
      for (let i = 0; i < n; i++) {
        if ((firstK[i] as number) !== -1) {
          byte |= 1 << (i & 7);
          values[at++] = from === null ? groupValue(op, g, i) : (from[i] as number);
        }
        if ((i & 7) === 7 || i === n - 1) {
          present[base++] = byte;
          byte = 0;
        }
      }
    }
    assert(at === points, 'every point of every group laid on the grid');
    budget?.add(points);
    return { steps: n, labels: rows.map((g) => g.labels), present, values };
  }
}

const EMPTY_F64 = new Float64Array(0);

function groupValue(op: AggregateOp, g: GroupCol, i: number): number {
  switch (op) {
    case 'sum': case 'max': case 'min': return g.value[i] as number;
    case 'avg': return g.mean[i] as number;
    case 'count': return g.count[i] as number;
    case 'group': return 1;
    case 'stdvar': return (g.value[i] as number) / (g.count[i] as number);
    case 'stddev': return Math.sqrt((g.value[i] as number) / (g.count[i] as number));
    default: assert(false, 'GroupColumns computes only ColumnAggregateOps'); return NaN;
  }
}
