/**
 * entry-size.ts — how the core measures entries in bytes, for every byte
 * limit (msgEntriesBytesMax, inflightBytesMax, committedEntriesBytesMax,
 * uncommittedEntriesBytesMax).
 *
 * Invariant: the size of an entry is computed from `data.length` alone, with
 * no allocation, so measuring a batch is one pass over it.
 */
import type { Entry } from './types.js';

/** ENTRY_OVERHEAD_BYTES approximates the framing of one entry (term, index, type) on the wire and on disk. */
export const ENTRY_OVERHEAD_BYTES = 24;

/** entrySizeBytes is the size of one entry as counted by the byte limits of the log. */
export function entrySizeBytes(e: Entry): number {
  return e.data.length + ENTRY_OVERHEAD_BYTES;
}

/** payloadSizeBytes is the application payload of a batch, as counted by uncommittedEntriesBytesMax (etcd's payloadsSize). */
export function payloadSizeBytes(ents: readonly Entry[]): number {
  let n = 0;
  for (let i = 0; i < ents.length; i++) n += (ents[i] as Entry).data.length;
  return n;
}

/**
 * prefixCountWithinBytes is how many leading entries of `ents[from..to)` fit
 * in `bytesMax` bytes; always at least one when the range is not empty, so a
 * single oversized entry still moves (as etcd's limitSize).
 */
export function prefixCountWithinBytes(ents: readonly Entry[], from: number, to: number, bytesMax: number): number {
  if (to <= from) return 0;
  let size = entrySizeBytes(ents[from] as Entry);
  let i = from + 1;
  for (; i < to; i++) {
    size += entrySizeBytes(ents[i] as Entry);
    if (size > bytesMax) break;
  }
  return i - from;
}
