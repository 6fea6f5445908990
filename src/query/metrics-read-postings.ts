/**
 * metrics-read-postings.ts — postings of the Prometheus view, so a shard's
 * Prometheus read (metrics-shard-read.ts) maps through the view only the
 * series an equality matcher can select, not every series of the tenant.
 *
 * ViewPostings is an inverted index of the view's output: for each series
 * of one (store, view, shard, tenant), every label pair of its family
 * (`__name__` once per name the family expands to, `x`, `x_bucket`, …) maps
 * to the ids carrying it. It is built from the view itself (familyOf), so it
 * needs no inverse of the name translation (escaped keys, `;`-joined
 * values, promoted resource attributes, `job`/`instance`, suffixes): what
 * the view shows is what is indexed.
 *
 * Soundness: a series a matcher set selects has, for every `name = value`
 * matcher with a non-empty value on a label other than `le` and `quantile`
 * (which come from the points, not the family), that pair among one of its
 * names' labels, so it is in that pair's postings. `candidateIdsOf` answers
 * the intersection of those postings, a superset of the selected series;
 * the caller still tests every matcher on each. Matchers of other kinds
 * (`!=`, regexes, `= ""`) do not narrow; without any equality matcher the
 * answer is undefined (every series).
 *
 * Freshness: series ids are allocated in increasing order and never reused
 * by a store (series-registry.ts), and a series' name and labels never
 * change, so a read indexes only the ids above the highest indexed one. The
 * index is keyed by the store and view objects (a store replaced, e.g. by a
 * snapshot, starts a new index).
 *
 * Bound: at most MetricsQueryLimits.viewCacheSeriesMax series indexed per
 * view (the view cache's own bound), cleared whole when it would pass it.
 */
import { MetricsQueryLimits } from '../limits.js';
import type { Matcher } from '../storage/metrics/label-index.js';
import type { MetricStore } from '../storage/metrics/metric-store.js';
import type { PromFamily, PromView } from './metrics-prom-view.js';
import { familyNames } from './metrics-prom-view.js';

/** ViewPostings is one (store, view, shard, tenant)'s index of the view's label pairs (see the file comment). */
export class ViewPostings {
  readonly #byPair = new Map<string, number[]>();
  #maxId = -1;
  #count = 0;

  /** count is how many series are indexed. */
  get count(): number {
    return this.#count;
  }

  /** add indexes the ids of `ids` (sorted ascending) above the highest indexed one, with `familyOf` the view's family of an id. */
  add(ids: Uint32Array, familyOf: (id: number) => PromFamily): number {
    let from = ids.length;
    while (from > 0 && (ids[from - 1] as number) > this.#maxId) from--;
    for (let i = from; i < ids.length; i++) {
      const id = ids[i] as number;
      const f = familyOf(id);
      for (const l of f.labels) this.#post(l.name, l.value, id);
      for (const n of familyNames(f)) this.#post('__name__', n.name, id);
      this.#maxId = id;
      this.#count++;
    }
    return ids.length - from;
  }

  #post(name: string, value: string, id: number): void {
    const k = `${name}\u0000${value}`;
    const list = this.#byPair.get(k);
    if (list === undefined) this.#byPair.set(k, [id]);
    else if (list[list.length - 1] !== id) list.push(id);
  }

  /** idsOf are the ascending ids carrying the pair (empty when none). */
  idsOf(name: string, value: string): readonly number[] {
    return this.#byPair.get(`${name}\u0000${value}`) ?? [];
  }
}

/** narrowing are the matchers postings can narrow by: `=` with a non-empty value, not on `le` or `quantile`. */
export function narrowing(matchers: readonly Matcher[]): Matcher[] {
  return matchers.filter((m) => m.op === '=' && m.value !== '' && m.name !== 'le' && m.name !== 'quantile');
}

/** intersectSorted is the ids in every list (each ascending), ascending. */
export function intersectSorted(lists: readonly (readonly number[])[]): number[] {
  const sorted = [...lists].sort((a, b) => a.length - b.length);
  const first = sorted[0];
  if (first === undefined) return [];
  const rest = sorted.slice(1).map((l) => new Set(l));
  return first.filter((id) => rest.every((s) => s.has(id)));
}

interface ViewState {
  readonly byStore: WeakMap<MetricStore, Map<string, ViewPostings>>;
  total: number;
}

const STATES = new WeakMap<PromView, ViewState>();

/**
 * postingsOf is the (store, view, shard, tenant)'s postings brought up to
 * date with `ids` (the tenant's series ids, ascending); undefined when the
 * tenant alone has more series than the bound (the caller maps them all).
 */
export function postingsOf(
  store: MetricStore,
  view: PromView,
  shard: number,
  tenant: string,
  ids: Uint32Array,
  familyOf: (id: number) => PromFamily,
): ViewPostings | undefined {
  const bound = MetricsQueryLimits.viewCacheSeriesMax;
  if (ids.length > bound) return undefined;
  let st = STATES.get(view);
  if (st === undefined) STATES.set(view, (st = { byStore: new WeakMap(), total: 0 }));
  let byKey = st.byStore.get(store);
  if (byKey === undefined) st.byStore.set(store, (byKey = new Map()));
  const key = `${shard}\u0000${tenant}`;
  let p = byKey.get(key);
  if (p === undefined) byKey.set(key, (p = new ViewPostings()));
  if (st.total + (ids.length - p.count) > bound) {
    // Cleared whole, as the view cache is: the index of every store of this view starts again.
    p = new ViewPostings();
    STATES.set(view, (st = { byStore: new WeakMap([[store, new Map([[key, p]])]]), total: 0 }));
  }
  st.total += p.add(ids, familyOf);
  return p;
}

/** candidateIdsOf are the ids the matchers' equality pairs may select (a superset; see the file comment), or undefined when none narrows. */
export function candidateIdsOf(p: ViewPostings, matchers: readonly Matcher[]): number[] | undefined {
  const eq = narrowing(matchers);
  if (eq.length === 0) return undefined;
  return intersectSorted(eq.map((m) => p.idsOf(m.name, m.value)));
}
