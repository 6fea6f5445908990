/**
 * aggregations.ts — the aggregation operators over one step's vector, with
 * Prometheus 2.42's arithmetic (incremental mean for avg, Welford for
 * stddev/stdvar, NaN ordering for min/max/topk/bottomk) and grouping
 * (`by` keeps the listed labels, `without` drops them and the name;
 * topk/bottomk keep each sample's own labels).
 */

import type { AggregateNode } from './ast.js';
import { executionError } from './eval-types.js';
import type { Sample } from './labels.js';
import { formatGoFloat, labelsKey, setLabel } from './labels.js';
import type { PromLabels } from './source.js';

interface Group {
  labels: PromLabels;
  value: number;
  mean: number;
  count: number;
  samples: Sample[];
}

/** groupLabels is the label set of a sample's group under by/without. */
export function groupLabels(labels: PromLabels, grouping: readonly string[], without: boolean): PromLabels {
  if (without) return labels.filter((l) => l.name !== '__name__' && !grouping.includes(l.name));
  return labels.filter((l) => grouping.includes(l.name));
}

/** quantile is Prometheus's φ-quantile of values (weighted between the two nearest ranks). */
export function quantile(q: number, values: number[]): number {
  if (values.length === 0 || Number.isNaN(q)) return NaN;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  const sorted = [...values].sort(byValueNaNFirst);
  const n = sorted.length;
  const rank = q * (n - 1);
  const lower = Math.max(0, Math.floor(rank));
  const upper = Math.min(n - 1, lower + 1);
  const weight = rank - Math.floor(rank);
  return (sorted[lower] as number) * (1 - weight) + (sorted[upper] as number) * weight;
}

/** byValueNaNFirst orders numbers ascending with NaN first, as Prometheus's vectorByValueHeap. */
export function byValueNaNFirst(a: number, b: number): number {
  if (Number.isNaN(a)) return Number.isNaN(b) ? 0 : -1;
  if (Number.isNaN(b)) return 1;
  return a - b;
}

/** GroupCache remembers each series' group labels and key for one aggregation node (weakly: it lives as long as the series' labels). */
export type GroupCache = WeakMap<PromLabels, { readonly labels: PromLabels; readonly key: string }>;

/** aggregateStep applies an aggregation to one step's vector; `param` is the step's parameter (k, φ, or count_values' label). */
export function aggregateStep(e: AggregateNode, param: number | string | null, vec: readonly Sample[], groupCache?: GroupCache): Sample[] {
  const groups = new Map<string, Group>();
  const order: Group[] = [];
  let k = 0;
  if (e.op === 'topk' || e.op === 'bottomk') {
    const p = typeof param === 'number' ? param : NaN;
    if (!Number.isFinite(p) && !Number.isNaN(p)) throw executionError(`Scalar value ${p} overflows int64`);
    k = Math.trunc(p);
    if (Number.isNaN(p)) k = 0;
    if (k < 1) return [];
  }
  let valueLabel = '';
  if (e.op === 'count_values') {
    valueLabel = typeof param === 'string' ? param : '';
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(valueLabel)) throw executionError(`invalid label name "${valueLabel}"`);
  }
  for (const s of vec) {
    let gl: PromLabels;
    let key: string;
    if (e.op === 'count_values') {
      gl = setLabel(groupLabels(s.labels, e.grouping, e.without), valueLabel, formatGoFloat(s.value));
      key = labelsKey(gl);
    } else {
      // A series keeps one labels object across steps, so its group is computed once a query.
      let cached = groupCache?.get(s.labels);
      if (cached === undefined) {
        const labels = groupLabels(s.labels, e.grouping, e.without);
        cached = { labels, key: labelsKey(labels) };
        groupCache?.set(s.labels, cached);
      }
      gl = cached.labels;
      key = cached.key;
    }
    let g = groups.get(key);
    if (g === undefined) {
      g = { labels: gl, value: s.value, mean: s.value, count: 1, samples: [s] };
      if (e.op === 'stddev' || e.op === 'stdvar') { g.value = 0; }
      groups.set(key, g);
      order.push(g);
      continue;
    }
    g.samples.push(s);
    switch (e.op) {
      case 'sum': g.value += s.value; break;
      case 'avg': {
        g.count++;
        if (!Number.isFinite(g.mean) && !Number.isNaN(g.mean)) {
          if (!Number.isFinite(s.value) && !Number.isNaN(s.value) && (g.mean > 0) === (s.value > 0)) break;
          if (Number.isFinite(s.value)) break;
        }
        g.mean += s.value / g.count - g.mean / g.count;
        break;
      }
      case 'max': if (g.value < s.value || Number.isNaN(g.value)) g.value = s.value; break;
      case 'min': if (g.value > s.value || Number.isNaN(g.value)) g.value = s.value; break;
      case 'count': case 'count_values': g.count++; break;
      case 'group': break;
      case 'stddev': case 'stdvar': {
        g.count++;
        const delta = s.value - g.mean;
        g.mean += delta / g.count;
        g.value += delta * (s.value - g.mean);
        break;
      }
      default: break;
    }
  }
  const out: Sample[] = [];
  for (const g of order) {
    switch (e.op) {
      case 'sum': case 'max': case 'min': out.push({ labels: g.labels, value: g.value }); break;
      case 'avg': out.push({ labels: g.labels, value: g.mean }); break;
      case 'count': case 'count_values': out.push({ labels: g.labels, value: g.count }); break;
      case 'group': out.push({ labels: g.labels, value: 1 }); break;
      case 'stdvar': out.push({ labels: g.labels, value: g.value / g.count }); break;
      case 'stddev': out.push({ labels: g.labels, value: Math.sqrt(g.value / g.count) }); break;
      case 'quantile': out.push({ labels: g.labels, value: quantile(typeof param === 'number' ? param : NaN, g.samples.map((s) => s.value)) }); break;
      case 'topk': case 'bottomk': out.push(...selectK(g.samples, k, e.op === 'topk')); break;
    }
  }
  return out;
}

/**
 * selectK keeps the k largest (topk) or smallest (bottomk) samples exactly as
 * Prometheus 2.42 does: a Go container/heap fed in input order (pop the
 * root, push the newcomer), so ties and NaNs pick the same samples.
 */
function selectK(samples: readonly Sample[], k: number, top: boolean): Sample[] {
  // less(a, b): the heap's root is the sample to evict first (NaN, then the smallest for topk / largest for bottomk).
  const less = (a: Sample, b: Sample): boolean => (Number.isNaN(a.value) ? true : top ? a.value < b.value : a.value > b.value);
  const h: Sample[] = [];
  const swap = (i: number, j: number): void => { const t = h[i] as Sample; h[i] = h[j] as Sample; h[j] = t; };
  const up = (j0: number): void => {
    let j = j0;
    for (;;) {
      const i = Math.floor((j - 1) / 2);
      if (j <= 0 || i === j || !less(h[j] as Sample, h[i] as Sample)) break;
      swap(i, j);
      j = i;
    }
  };
  const down = (i0: number, n: number): boolean => {
    let i = i0;
    for (;;) {
      const j1 = 2 * i + 1;
      if (j1 >= n) break;
      let j = j1;
      const j2 = j1 + 1;
      if (j2 < n && less(h[j2] as Sample, h[j1] as Sample)) j = j2;
      if (!less(h[j] as Sample, h[i] as Sample)) break;
      swap(i, j);
      i = j;
    }
    return i > i0;
  };
  for (const s of samples) {
    if (h.length < k) {
      h.push(s);
      up(h.length - 1);
      continue;
    }
    const root = h[0] as Sample;
    const replace = top ? root.value < s.value || Number.isNaN(root.value) : root.value > s.value || Number.isNaN(root.value);
    if (!replace) continue;
    if (k === 1) {
      h[0] = s;
      continue;
    }
    // heap.Pop then heap.Push, as Prometheus does.
    const n = h.length - 1;
    swap(0, n);
    down(0, n);
    h.pop();
    h.push(s);
    up(h.length - 1);
  }
  return h.map((s) => ({ labels: s.labels, value: s.value }));
}
