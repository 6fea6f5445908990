/**
 * term-sort.ts — the order of an index build's terms without their strings
 * (TermIds.sortedIds, term-index-build.ts). A log block's dictionary is its
 * terms in UTF-16 code-unit order (the default sort's order); the build used
 * to sort the term strings and map each back to its id (a hash and a probe
 * per term). sortTermIds sorts the ids instead, comparing the terms' code
 * units where TermIds keeps them (one typed pool), with a multikey quicksort
 * (Bentley and Sedgewick, "Fast algorithms for sorting and searching
 * strings", 1997): each step partitions a range three ways by the code unit
 * at one depth, so a code unit shared by a range is read once per range, not
 * once per comparison. Pure code; term-sort.test.ts checks it against the
 * default sort.
 */
import { assert } from '../errors.js';

/** INSERTION_RANGE_MAX is the widest range sortTermIds finishes by insertion (comparing whole terms from the range's depth) instead of partitioning. */
const INSERTION_RANGE_MAX = 12;

/**
 * unitAt is the code unit at depth `d` of term `id` (its units are
 * pool[starts[id] .. starts[id + 1])), or -1 past its end: a term sorts
 * before every longer term it begins.
 */
function unitAt(pool: Uint16Array, starts: Int32Array, id: number, d: number): number {
  const at = (starts[id] as number) + d;
  return at < (starts[id + 1] as number) ? (pool[at] as number) : -1;
}

/** lessFrom says whether term `x` sorts before term `y`, both known equal before depth `d`. */
function lessFrom(pool: Uint16Array, starts: Int32Array, x: number, y: number, d: number): boolean {
  let i = (starts[x] as number) + d;
  let j = (starts[y] as number) + d;
  const iEnd = starts[x + 1] as number;
  const jEnd = starts[y + 1] as number;
  while (i < iEnd && j < jEnd) {
    const a = pool[i] as number;
    const b = pool[j] as number;
    if (a !== b) return a < b;
    i++;
    j++;
  }
  return i === iEnd && j < jEnd;
}

/**
 * sortTermIds returns the ids 0 .. count-1 ordered by their terms' UTF-16
 * code units (as `terms.slice().sort()` orders the strings; equal terms, which
 * a TermIds never holds, in no particular order). Term `id` is
 * pool[starts[id] .. starts[id + 1]); `starts` is non-decreasing. The ranges
 * waiting on the explicit stack are disjoint and non-empty, so it holds at
 * most `count` of them (no recursion, a bounded stack).
 */
export function sortTermIds(pool: Uint16Array, starts: Int32Array, count: number): Int32Array {
  assert(Number.isSafeInteger(count) && count >= 0 && starts.length > count, 'a start per term and one past the last');
  assert((starts[count] as number) <= pool.length, "the terms' code units are in the pool");
  const ids = new Int32Array(count);
  for (let i = 0; i < count; i++) ids[i] = i;
  // The stack: (lo, hi, depth) triples of ranges whose terms agree before depth.
  const stack = new Int32Array(3 * Math.max(1, count));
  let sp = 0;
  if (count > 1) {
    stack[sp++] = 0;
    stack[sp++] = count;
    stack[sp++] = 0;
  }
  while (sp > 0) {
    const d = stack[--sp] as number;
    const hi = stack[--sp] as number;
    const lo = stack[--sp] as number;
    if (hi - lo <= INSERTION_RANGE_MAX) {
      for (let i = lo + 1; i < hi; i++) {
        const x = ids[i] as number;
        let j = i;
        while (j > lo && lessFrom(pool, starts, x, ids[j - 1] as number, d)) {
          ids[j] = ids[j - 1] as number;
          j--;
        }
        ids[j] = x;
      }
      continue;
    }
    // The pivot: the median of the first, middle and last terms' units at d.
    const a = unitAt(pool, starts, ids[lo] as number, d);
    const b = unitAt(pool, starts, ids[(lo + hi) >>> 1] as number, d);
    const c = unitAt(pool, starts, ids[hi - 1] as number, d);
    const v = a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b;
    // Three ways: [lo, lt) below v, [lt, gt] at v, (gt, hi) above v.
    let lt = lo;
    let gt = hi - 1;
    let i = lo;
    while (i <= gt) {
      const x = ids[i] as number;
      const u = unitAt(pool, starts, x, d);
      if (u < v) {
        ids[i++] = ids[lt] as number;
        ids[lt++] = x;
      } else if (u > v) {
        ids[i] = ids[gt] as number;
        ids[gt--] = x;
      } else {
        i++;
      }
    }
    if (lt - lo > 1) {
      stack[sp++] = lo;
      stack[sp++] = lt;
      stack[sp++] = d;
    }
    // The terms at v agree through d; at v = -1 they all end at d (equal), nothing is left to order.
    if (v >= 0 && gt + 1 - lt > 1) {
      stack[sp++] = lt;
      stack[sp++] = gt + 1;
      stack[sp++] = d + 1;
    }
    if (hi - (gt + 1) > 1) {
      stack[sp++] = gt + 1;
      stack[sp++] = hi;
      stack[sp++] = d;
    }
    assert(sp <= stack.length, 'the waiting ranges are disjoint, at most count');
  }
  return ids;
}
