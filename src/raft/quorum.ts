/**
 * quorum.ts — majority arithmetic over one set of voters (no joint
 * consensus: membership changes one server at a time, thesis §4.1).
 *
 * Invariants: a majority of n voters is floor(n/2) + 1; an empty voter set
 * commits nothing and wins no election (the caller never lets it arise).
 */
import { assert } from '../errors.js';

/** VoteResult is the outcome of a tally: won, lost, or still pending. */
export const VoteResult = {
  Pending: 0,
  Lost: 1,
  Won: 2,
} as const;
export type VoteResult = (typeof VoteResult)[keyof typeof VoteResult];

/** majoritySize is the number of voters that form a majority of n. */
export function majoritySize(n: number): number {
  assert(n >= 0, 'voter count >= 0');
  return Math.floor(n / 2) + 1;
}

/**
 * majorityIndex is the largest index that a majority of `matches` has
 * reached (the quorum median). It sorts `matches` in place (the caller
 * passes a reusable scratch array) and returns 0 for no voters.
 */
export function majorityIndex(matches: number[]): number {
  const n = matches.length;
  if (n === 0) return 0;
  // Insertion sort, descending: n is the voter count (small), and this
  // allocates nothing.
  for (let i = 1; i < n; i++) {
    const v = matches[i] as number;
    let j = i - 1;
    while (j >= 0 && (matches[j] as number) < v) {
      matches[j + 1] = matches[j] as number;
      j--;
    }
    matches[j + 1] = v;
  }
  const idx = matches[majoritySize(n) - 1] as number;
  assert(idx >= 0, 'majority index >= 0');
  return idx;
}

/** voteResultOf decides an election given the granted and rejected counts among n voters. */
export function voteResultOf(n: number, granted: number, rejected: number): VoteResult {
  assert(granted + rejected <= n, 'no more votes than voters');
  const q = majoritySize(n);
  if (n === 0) return VoteResult.Lost;
  if (granted >= q) return VoteResult.Won;
  if (n - rejected < q) return VoteResult.Lost;
  return VoteResult.Pending;
}
