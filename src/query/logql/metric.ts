/**
 * metric.ts — the metric half of LogQL over already extracted samples:
 * evaluation steps, range aggregations over Loki's windows (t - offset -
 * range, t - offset] (left-open, right-closed), partial states for pushdown
 * and their exact combination, vector aggregations and binary operators.
 * Pure; the engine (engine.ts) feeds it samples or shard partials.
 *
 * Determinism: a series' samples are ordered by (time, value) before any
 * window function, so first/last_over_time and float sums do not depend on
 * the order a source (or a shard) yielded them.
 */
import { OtlpdbError } from '../../errors.js';
import { LogqlLimits } from '../../limits.js';
import type { BinaryExpr, Grouping, RangeFn, VectorOp } from './ast.js';
import { labelsKey } from './pipeline.js';
import type { LogLabel, LogLabels } from './source.js';

/** Sample is one value of one series at one step. */
export interface Sample {
  readonly labels: LogLabels;
  readonly key: string;
  readonly value: number;
}

/** StepValues is an intermediate result: a vector or a scalar at every step. */
export type StepValues = { readonly kind: 'vector'; readonly steps: Sample[][] } | { readonly kind: 'scalar'; readonly steps: number[] };

/** SeriesSamples are one series' raw samples, sorted by (time, value). */
export interface SeriesSamples {
  readonly labels: LogLabels;
  readonly key: string;
  readonly ts: bigint[];
  readonly vals: number[];
}

/** evaluationSteps lists the evaluation times: [endNs] for an instant query, else start, start+step, ... <= end (bounded by stepsMax). */
export function evaluationSteps(startNs: bigint, endNs: bigint, stepNs: bigint): bigint[] {
  if (stepNs === 0n) return [endNs];
  const n = (endNs - startNs) / stepNs + 1n;
  if (n > BigInt(LogqlLimits.stepsMax)) {
    throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `LogQL: ${n} steps exceed LogqlLimits.stepsMax (${LogqlLimits.stepsMax}); use a larger step`);
  }
  const out: bigint[] = [];
  for (let t = startNs; t <= endNs; t += stepNs) out.push(t);
  return out;
}

/** sortSeriesSamples orders a series' samples by (time, value). */
export function sortSeriesSamples(s: SeriesSamples): void {
  const idx = s.ts.map((_, i) => i);
  idx.sort((a, b) => {
    const x = s.ts[a] as bigint;
    const y = s.ts[b] as bigint;
    if (x !== y) return x < y ? -1 : 1;
    return (s.vals[a] as number) - (s.vals[b] as number);
  });
  const ts = idx.map((i) => s.ts[i] as bigint);
  const vals = idx.map((i) => s.vals[i] as number);
  // Copied element by element: a spread of a long series would overflow the call stack.
  for (let i = 0; i < ts.length; i++) {
    s.ts[i] = ts[i] as bigint;
    s.vals[i] = vals[i] as number;
  }
}

/** PartialKind is the state a pushed range aggregation keeps per series and step (source.ts ShardPartialSeries). */
export type PartialKind = 'sum' | 'min' | 'max' | 'avg';

/** partialKindOf says how a range aggregation is pushed to shards, or null when it is not (its entries are gathered instead). */
export function partialKindOf(fn: RangeFn): PartialKind | null {
  switch (fn) {
    case 'count_over_time':
    case 'rate':
    case 'bytes_over_time':
    case 'bytes_rate':
    case 'sum_over_time':
      return 'sum';
    case 'min_over_time':
      return 'min';
    case 'max_over_time':
      return 'max';
    case 'avg_over_time':
      return 'avg';
    default:
      return null;
  }
}

/** partialOf computes a window's partial state. */
export function partialOf(kind: PartialKind, vals: readonly number[]): number[] {
  switch (kind) {
    case 'sum':
      return [vals.reduce((a, b) => a + b, 0)];
    case 'min':
      return [vals.reduce((a, b) => (b < a || Number.isNaN(a) ? b : a))];
    case 'max':
      return [vals.reduce((a, b) => (b > a || Number.isNaN(a) ? b : a))];
    case 'avg':
      return [vals.reduce((a, b) => a + b, 0), vals.length];
  }
}

/** combinePartials merges two partial states of the same series and step, exactly. */
export function combinePartials(kind: PartialKind, a: readonly number[], b: readonly number[]): number[] {
  const x = a[0] as number;
  const y = b[0] as number;
  switch (kind) {
    case 'sum':
      return [x + y];
    case 'min':
      return [y < x || Number.isNaN(x) ? y : x];
    case 'max':
      return [y > x || Number.isNaN(x) ? y : x];
    case 'avg':
      return [x + y, (a[1] as number) + (b[1] as number)];
  }
}

/** finishPartial turns a combined partial into the range aggregation's value. */
export function finishPartial(fn: RangeFn, state: readonly number[], rangeNs: bigint): number {
  const v = state[0] as number;
  switch (fn) {
    case 'rate':
    case 'bytes_rate':
      return v / (Number(rangeNs) / 1e9);
    case 'avg_over_time':
      return v / (state[1] as number);
    default:
      return v;
  }
}

function quantile(phi: number, values: readonly number[]): number {
  if (Number.isNaN(phi)) return Number.NaN;
  if (phi < 0) return -Infinity;
  if (phi > 1) return Infinity;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = phi * (sorted.length - 1);
  const lo = Math.max(0, Math.floor(rank));
  const hi = Math.min(sorted.length - 1, lo + 1);
  const w = rank - Math.floor(rank);
  return (sorted[lo] as number) * (1 - w) + (sorted[hi] as number) * w;
}

function variance(vals: readonly number[]): number {
  const mean = vals.reduce((a, b) => a + b, 0) / vals.length;
  return vals.reduce((a, b) => a + (b - mean) * (b - mean), 0) / vals.length;
}

/**
 * rateCounter is Loki's rate_counter over one window (its extrapolatedRate,
 * taken from Prometheus, with counter resets): fewer than two samples give 0.
 * Loki feeds it nanosecond timestamps where Prometheus' code expects
 * milliseconds, so the window start is the first sample's time minus the
 * range in milliseconds and intervals are ns / 1000; this follows Loki's
 * arithmetic exactly (the extrapolation is then almost always negligible).
 */
export function rateCounter(ts: readonly bigint[], vals: readonly number[], rangeNs: bigint): number {
  const n = vals.length;
  if (n < 2) return 0;
  const first = vals[0] as number;
  const last = vals[n - 1] as number;
  let result = last - first;
  let previous = 0;
  for (const v of vals) {
    if (v < previous) result += previous;
    previous = v;
  }
  const t0 = ts[0] as bigint;
  const t1 = ts[n - 1] as bigint;
  let durationToStart = Number(rangeNs / 1_000_000n) / 1000;
  const durationToEnd = 0;
  const sampledInterval = Number(t1 - t0) / 1000;
  const averageInterval = sampledInterval / (n - 1);
  if (result > 0 && first >= 0) {
    const durationToZero = sampledInterval * (first / result);
    if (durationToZero < durationToStart) durationToStart = durationToZero;
  }
  const threshold = averageInterval * 1.1;
  let extrapolateTo = sampledInterval;
  extrapolateTo += durationToStart < threshold ? durationToStart : averageInterval / 2;
  extrapolateTo += durationToEnd < threshold ? durationToEnd : averageInterval / 2;
  return (result * (extrapolateTo / sampledInterval)) / (Number(rangeNs) / 1e9);
}

/** windowValue computes a range aggregation over one window's values (sorted by time, then value); `ts` are their times (rate_counter reads them). */
export function windowValue(fn: RangeFn, param: number | null, vals: readonly number[], rangeNs: bigint, ts: readonly bigint[] = []): number {
  const kind = partialKindOf(fn);
  if (kind !== null) return finishPartial(fn, partialOf(kind, vals), rangeNs);
  switch (fn) {
    case 'rate_counter':
      return rateCounter(ts, vals, rangeNs);
    case 'stddev_over_time':
      return Math.sqrt(variance(vals));
    case 'stdvar_over_time':
      return variance(vals);
    case 'quantile_over_time':
      return quantile(param as number, vals);
    case 'first_over_time':
      return vals[0] as number;
    case 'last_over_time':
      return vals[vals.length - 1] as number;
    default:
      throw new OtlpdbError('ERR_INTERNAL', `invariant violated: windowValue of ${fn}`);
  }
}

/** forEachWindow calls `visit(stepIndex, lo, hi)` with the sample index range of every non-empty window (t - offset - range, t - offset]. */
export function forEachWindow(ts: readonly bigint[], steps: readonly bigint[], rangeNs: bigint, offsetNs: bigint, visit: (step: number, lo: number, hi: number) => void): void {
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < steps.length; i++) {
    const end = (steps[i] as bigint) - offsetNs;
    const start = end - rangeNs;
    while (hi < ts.length && (ts[hi] as bigint) <= end) hi++;
    while (lo < hi && (ts[lo] as bigint) <= start) lo++;
    if (hi > lo) visit(i, lo, hi);
  }
}

/** checkPoints refuses an intermediate result past seriesMax or pointsMax. */
export function checkPoints(series: number, points: number): void {
  if (series > LogqlLimits.seriesMax) throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `LogQL: ${series} series exceed LogqlLimits.seriesMax (${LogqlLimits.seriesMax})`);
  if (points > LogqlLimits.pointsMax) throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `LogQL: ${points} points exceed LogqlLimits.pointsMax (${LogqlLimits.pointsMax})`);
}

/** groupLabels applies `by`/`without` to a label set (no grouping: the empty set). */
export function groupLabels(labels: LogLabels, g: Grouping | null): LogLabel[] {
  if (g === null) return [];
  return labels.filter((l) => (g.without ? !g.labels.includes(l.name) : g.labels.includes(l.name)));
}

function byValue(desc: boolean): (a: Sample, b: Sample) => number {
  return (a, b) => {
    const an = Number.isNaN(a.value);
    const bn = Number.isNaN(b.value);
    if (an || bn) return an && bn ? (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) : an ? 1 : -1;
    if (a.value !== b.value) return desc ? b.value - a.value : a.value - b.value;
    return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
  };
}

/** vectorAggregate applies a vector aggregation to one step's samples. */
export function vectorAggregate(op: VectorOp, param: number | null, grouping: Grouping | null, samples: readonly Sample[]): Sample[] {
  const groups = new Map<string, { labels: LogLabel[]; members: Sample[] }>();
  for (const s of samples) {
    const labels = groupLabels(s.labels, grouping);
    const key = labelsKey(labels);
    let g = groups.get(key);
    if (g === undefined) {
      g = { labels, members: [] };
      groups.set(key, g);
    }
    g.members.push(s);
  }
  const out: Sample[] = [];
  if (op === 'sort' || op === 'sort_desc') {
    // Every series stays; groups in label order, each sorted by value (Loki sorts within each group).
    for (const key of [...groups.keys()].sort()) out.push(...sortByValue((groups.get(key) as { members: Sample[] }).members, op === 'sort_desc'));
    return out;
  }
  for (const [key, g] of groups) {
    const vals = g.members.map((m) => m.value);
    if (op === 'topk' || op === 'bottomk') {
      out.push(...[...g.members].sort(byValue(op === 'topk')).slice(0, param as number));
      continue;
    }
    let value: number;
    switch (op) {
      case 'sum':
        value = vals.reduce((a, b) => a + b, 0);
        break;
      case 'avg':
        value = vals.reduce((a, b) => a + b, 0) / vals.length;
        break;
      case 'min':
        value = vals.reduce((a, b) => (b < a || Number.isNaN(a) ? b : a));
        break;
      case 'max':
        value = vals.reduce((a, b) => (b > a || Number.isNaN(a) ? b : a));
        break;
      case 'count':
        value = vals.length;
        break;
      case 'stddev':
        value = Math.sqrt(variance(vals));
        break;
      case 'stdvar':
        value = variance(vals);
        break;
      default:
        throw new OtlpdbError('ERR_INTERNAL', `invariant violated: vectorAggregate of ${op}`);
    }
    out.push({ labels: g.labels, key, value });
  }
  return out;
}

/** arithmetic applies an arithmetic or comparison operator to two numbers (comparisons answer 1 or 0). */
export function arithmetic(op: BinaryExpr['op'], a: number, b: number): number {
  switch (op) {
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    case '/':
      return a / b;
    case '%':
      return a % b;
    case '^':
      return a ** b;
    case '==':
      return a === b ? 1 : 0;
    case '!=':
      return a !== b ? 1 : 0;
    case '>':
      return a > b ? 1 : 0;
    case '>=':
      return a >= b ? 1 : 0;
    case '<':
      return a < b ? 1 : 0;
    case '<=':
      return a <= b ? 1 : 0;
    default:
      throw new OtlpdbError('ERR_INTERNAL', `invariant violated: arithmetic of ${op}`);
  }
}

const COMPARISON: ReadonlySet<string> = new Set(['==', '!=', '>', '>=', '<', '<=']);

function matchKey(labels: LogLabels, m: BinaryExpr['matching']): string {
  if (m === null) return labelsKey(labels);
  return labelsKey(labels.filter((l) => (m.on ? m.labels.includes(l.name) : !m.labels.includes(l.name))));
}

/**
 * resultLabels are the labels of a matched pair (Loki's resultMetric): the
 * left ("many") side's; one-to-one keeps only the `on` labels or drops the
 * `ignoring` ones; `group_*` labels are copied from the "one" side (removed
 * where it has none).
 */
function resultLabels(many: LogLabels, one: LogLabels, m: BinaryExpr['matching']): LogLabel[] {
  if (m === null) return [...many];
  let out: LogLabel[] = m.group === null ? many.filter((l) => (m.on ? m.labels.includes(l.name) : !m.labels.includes(l.name))) : [...many];
  if (m.group !== null && m.group.include.length > 0) {
    const include = m.group.include;
    out = out.filter((l) => !include.includes(l.name));
    for (const l of one) if (include.includes(l.name)) out.push(l);
    out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
  return out;
}

/** sortByValue orders one group of `sort`/`sort_desc`: by value (NaN last), ties by labels. */
export function sortByValue(samples: readonly Sample[], desc: boolean): Sample[] {
  return [...samples].sort(byValue(desc));
}

/** binaryStep applies a binary operator to one step's operands. */
export function binaryStep(e: BinaryExpr, lhs: Sample[] | number, rhs: Sample[] | number): Sample[] | number {
  const cmp = COMPARISON.has(e.op);
  if (typeof lhs === 'number' && typeof rhs === 'number') return arithmetic(e.op, lhs, rhs);
  if (typeof lhs === 'number' || typeof rhs === 'number') {
    const vec = (typeof lhs === 'number' ? rhs : lhs) as Sample[];
    const out: Sample[] = [];
    for (const s of vec) {
      const v = typeof lhs === 'number' ? arithmetic(e.op, lhs, s.value) : arithmetic(e.op, s.value, rhs as number);
      if (cmp && !e.bool) {
        if (v === 1) out.push(s);
      } else out.push({ labels: s.labels, key: s.key, value: v });
    }
    return out;
  }
  if (e.op === 'and' || e.op === 'unless') {
    const keys = new Set(rhs.map((s) => matchKey(s.labels, e.matching)));
    return lhs.filter((s) => keys.has(matchKey(s.labels, e.matching)) === (e.op === 'and'));
  }
  if (e.op === 'or') {
    const keys = new Set(lhs.map((s) => matchKey(s.labels, e.matching)));
    return [...lhs, ...rhs.filter((s) => !keys.has(matchKey(s.labels, e.matching)))];
  }
  return vectorMatch(e, lhs, rhs);
}

/**
 * vectorMatch is Loki's vectorBinop: for `group_right` the sides swap so
 * that `many` is the "many" side; the "one" side must have unique match
 * keys (else many-to-many, refused even when the other side is empty);
 * one-to-one refuses a second "many" sample with a match key already used
 * (many-to-one must be explicit); grouped matching refuses two results with
 * the same labels for one match key. The operator always applies left op
 * right, and a comparison without `bool` keeps the left sample's value.
 */
function vectorMatch(e: BinaryExpr, lhs: Sample[], rhs: Sample[]): Sample[] {
  const m = e.matching;
  const swapped = m?.group?.side === 'right';
  const many = swapped ? rhs : lhs;
  const ones = swapped ? lhs : rhs;
  const one = new Map<string, Sample>();
  for (const s of ones) {
    const k = matchKey(s.labels, m);
    if (one.has(k)) {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', `LogQL: found duplicate series on the ${swapped ? 'left' : 'right'} hand-side of '${e.op}' (match labels ${k}); many-to-many matching not allowed: matching labels must be unique on one side`);
    }
    one.set(k, s);
  }
  const matched = new Map<string, Set<string>>();
  const cmp = COMPARISON.has(e.op);
  const out: Sample[] = [];
  for (const s of many) {
    const k = matchKey(s.labels, m);
    const o = one.get(k);
    if (o === undefined) continue;
    const labels = resultLabels(s.labels, o.labels, m);
    const key = labelsKey(labels);
    const inserted = matched.get(k);
    if (m === null || m.group === null) {
      if (inserted !== undefined) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `LogQL: multiple matches for labels ${k} on the left side of '${e.op}': many-to-one matching must be explicit (group_left/group_right)`);
      matched.set(k, new Set());
    } else if (inserted === undefined) matched.set(k, new Set([key]));
    else {
      if (inserted.has(key)) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `LogQL: multiple matches for labels ${k} of '${e.op}': grouping labels must ensure unique matches`);
      inserted.add(key);
    }
    const left = swapped ? o : s;
    const right = swapped ? s : o;
    const v = arithmetic(e.op, left.value, right.value);
    if (cmp && !e.bool && v !== 1) continue;
    out.push({ labels, key, value: cmp && !e.bool ? left.value : v });
  }
  return out;
}
