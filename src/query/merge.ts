/**
 * merge.ts — the coordinator's k-way merges of sorted shard answers
 * (DESIGN.md §7 step 4): every shard answers a run sorted by the query's
 * order (time, or a key such as a trace id, a series or a group), and the
 * coordinator merges the runs in O(n log k) through a binary heap of run
 * heads, yielding bounded batches (at most AggregateLimits.mergeBatchRowsMax
 * rows) so a consumer can stop at its limit without the merge materialising
 * everything.
 *
 * - kWayMerge: all rows, in order (by time: log lines, samples; by key).
 * - mergeByKey: rows of equal key combined into one (partial aggregate
 *   states of one group or series from several shards).
 *
 * A run is outside input (a peer's answer): each run's order is checked as
 * it is read, and a run out of order is ERR_CORRUPTION naming it — a merge
 * never silently yields a misordered result.
 *
 * Invariants of the heap: heap[i] is not greater than its children;
 * every run appears at most once; a run's cursor only moves forward.
 */
import { OtlpdbError, assert } from '../errors.js';
import { AggregateLimits as L } from '../limits.js';

/** Compare is a total order: negative when a sorts before b. */
export type Compare<T> = (a: T, b: T) => number;

interface Head {
  run: number;
  pos: number;
}

/**
 * kWayMerge yields every row of `runs` (each sorted by `compare`) in order,
 * in batches of at most `batchRowsMax` rows. Ties keep run order (the
 * lower run index first), so the merge is deterministic.
 */
export function* kWayMerge<T>(runs: readonly (readonly T[])[], compare: Compare<T>, batchRowsMax: number = L.mergeBatchRowsMax): Generator<T[]> {
  assert(runs.length <= L.mergeRunsMax, 'kWayMerge reads at most mergeRunsMax runs');
  assert(Number.isSafeInteger(batchRowsMax) && batchRowsMax >= 1 && batchRowsMax <= L.mergeBatchRowsMax, 'kWayMerge batch in [1, mergeBatchRowsMax]');
  const heap: Head[] = [];
  const less = (a: Head, b: Head): boolean => {
    const c = compare((runs[a.run] as readonly T[])[a.pos] as T, (runs[b.run] as readonly T[])[b.pos] as T);
    return c < 0 || (c === 0 && a.run < b.run);
  };
  const up = (i: number): void => {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!less(heap[i] as Head, heap[parent] as Head)) break;
      [heap[i], heap[parent]] = [heap[parent] as Head, heap[i] as Head];
      i = parent;
    }
  };
  const down = (i: number): void => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && less(heap[l] as Head, heap[m] as Head)) m = l;
      if (r < heap.length && less(heap[r] as Head, heap[m] as Head)) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m] as Head, heap[i] as Head];
      i = m;
    }
  };
  for (let r = 0; r < runs.length; r++) {
    if ((runs[r] as readonly T[]).length === 0) continue;
    heap.push({ run: r, pos: 0 });
    up(heap.length - 1);
  }
  let batch: T[] = [];
  while (heap.length > 0) {
    const top = heap[0] as Head;
    const run = runs[top.run] as readonly T[];
    batch.push(run[top.pos] as T);
    if (batch.length === batchRowsMax) {
      yield batch;
      batch = [];
    }
    if (top.pos + 1 < run.length) {
      if (compare(run[top.pos] as T, run[top.pos + 1] as T) > 0) {
        throw new OtlpdbError('ERR_CORRUPTION', `merge: run ${top.run} is out of order at row ${top.pos + 1}`, { run: top.run, row: top.pos + 1 });
      }
      top.pos++;
      down(0);
    } else {
      const last = heap.pop() as Head;
      if (heap.length > 0) {
        heap[0] = last;
        down(0);
      }
    }
  }
  if (batch.length > 0) yield batch;
}

/**
 * mergeByKey merges runs sorted by `compare` (a key order) and folds rows
 * of equal key with `combine` (called as combine(acc, next), acc being the
 * first row of that key or an earlier result), yielding one row a key in
 * key order, in batches of at most batchRowsMax. A run holding a key twice
 * is fine (its rows are combined as well).
 */
export function* mergeByKey<T>(runs: readonly (readonly T[])[], compare: Compare<T>, combine: (acc: T, next: T) => T, batchRowsMax: number = L.mergeBatchRowsMax): Generator<T[]> {
  let out: T[] = [];
  let acc: T | undefined;
  let has = false;
  for (const batch of kWayMerge(runs, compare, batchRowsMax)) {
    for (const row of batch) {
      if (has && compare(acc as T, row) === 0) {
        acc = combine(acc as T, row);
        continue;
      }
      if (has) {
        out.push(acc as T);
        if (out.length === batchRowsMax) {
          yield out;
          out = [];
        }
      }
      acc = row;
      has = true;
    }
  }
  if (has) out.push(acc as T);
  if (out.length > 0) yield out;
}

/** byTimeDesc orders rows newest first by a bigint time (ns), the order of trace search and of log queries by default. */
export function byTimeDesc<T>(timeOf: (row: T) => bigint): Compare<T> {
  return (a, b) => {
    const x = timeOf(a);
    const y = timeOf(b);
    return x > y ? -1 : x < y ? 1 : 0;
  };
}

/** byTimeAsc orders rows oldest first by a bigint time (ns), the order of samples and of forward log queries. */
export function byTimeAsc<T>(timeOf: (row: T) => bigint): Compare<T> {
  return (a, b) => {
    const x = timeOf(a);
    const y = timeOf(b);
    return x < y ? -1 : x > y ? 1 : 0;
  };
}

/** byKey orders rows by a string key (UTF-16 code units, as `<` compares), the order of groups, series and trace ids. */
export function byKey<T>(keyOf: (row: T) => string): Compare<T> {
  return (a, b) => {
    const x = keyOf(a);
    const y = keyOf(b);
    return x < y ? -1 : x > y ? 1 : 0;
  };
}

/** thenBy breaks the ties of `first` with `second` (time, then key: a total order for a deterministic merge). */
export function thenBy<T>(first: Compare<T>, second: Compare<T>): Compare<T> {
  return (a, b) => first(a, b) || second(a, b);
}

/** takeMerged collects at most `limit` rows of a merge and says whether rows were left (the coordinator's limit). */
export function takeMerged<T>(batches: Iterable<T[]>, limit: number): { rows: T[]; cut: boolean } {
  assert(Number.isSafeInteger(limit) && limit >= 0, 'takeMerged limit >= 0');
  const rows: T[] = [];
  for (const b of batches) {
    for (const r of b) {
      if (rows.length === limit) return { rows, cut: true };
      rows.push(r);
    }
  }
  return { rows, cut: false };
}
