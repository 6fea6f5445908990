/**
 * apply-result-fast.ts — the common shard apply result read straight from
 * its bytes. Every part of every OTLP request comes back to its proposer as
 * an encoded ShardApplyResult (shard-records.ts), and almost all of them say
 * the same thing: not a duplicate, valid, some rows accepted, no refusals.
 * msgpackr's unpack built about 950 bytes of objects per result on the
 * node's main thread for that (bench/README.md, issue 5 s18); this reader
 * builds the result object and its non-zero counts only.
 *
 * The grammar it takes is exactly what encodeApplyResult writes for such a
 * result (msgpack, as STORAGE_PACKR writes it):
 *
 *   0x95                      array of 5
 *   0x01                      RESULT_VERSION
 *   0xc2 | 0xc3               duplicate: false | true
 *   0xc0                      invalid: nil
 *   0x96 uint × 6             counts: spans, points, logs (accepted, refused)
 *   0x90                      refusals: an empty array
 *
 * where a uint is a positive fixint (0x00-0x7f), 0xcc u8, 0xcd u16 or 0xce
 * u32 (big-endian). Anything else, including trailing bytes, returns null
 * and the caller decodes with msgpackr (decodeApplyResult), which decides;
 * so this reader only ever answers what that decoder answers for the same
 * bytes (apply-result-fast.test.ts compares them).
 *
 * The counts object of a signal with nothing accepted or refused, and the
 * empty refusals list, are shared and frozen: a result is read-only.
 */
import type { ShardApplyResult, SignalCounts } from './shard-records.js';

const ZERO_COUNTS: SignalCounts = Object.freeze({ accepted: 0, refused: 0 });
const NO_REFUSALS: ShardApplyResult['refusals'] = Object.freeze([]);

/** APPLY_RESULT_VERSION is the version byte decodeApplyResultFast takes (shard-records.ts RESULT_VERSION; a test ties them). */
export const APPLY_RESULT_VERSION = 1;

/** COUNTS is the number of counts in a result (accepted and refused for three signals). */
const COUNTS = 6;

/** FastResultReader reads one result's counts; one per thread (decoding runs to its end synchronously). */
class FastResultReader {
  readonly counts = new Float64Array(COUNTS);
  #b: Uint8Array = new Uint8Array(0);
  #at = 0;

  /** read checks `b` against the grammar above, leaving the counts in `counts`: the duplicate flag (0 or 1), or -1 when not in the grammar. */
  read(b: Uint8Array): number {
    this.#b = b;
    if (b.length < 4 + 1 + COUNTS + 1) return -1;
    if (b[0] !== 0x95 || b[1] !== APPLY_RESULT_VERSION || b[3] !== 0xc0) return -1;
    const dup = b[2] === 0xc3 ? 1 : b[2] === 0xc2 ? 0 : -1;
    if (dup < 0 || b[4] !== 0x90 + COUNTS) return -1;
    this.#at = 5;
    for (let k = 0; k < COUNTS; k++) {
      const x = this.#uint();
      if (x < 0) return -1;
      this.counts[k] = x;
    }
    if (this.#at !== b.length - 1 || b[this.#at] !== 0x90) return -1;
    return dup;
  }

  /** #uint reads one unsigned integer in the forms above, or returns -1. */
  #uint(): number {
    const b = this.#b;
    const at = this.#at;
    if (at >= b.length) return -1;
    const t = b[at] as number;
    if (t <= 0x7f) {
      this.#at = at + 1;
      return t;
    }
    const n = t === 0xcc ? 1 : t === 0xcd ? 2 : t === 0xce ? 4 : 0;
    if (n === 0 || at + 1 + n > b.length) return -1;
    let x = 0;
    for (let i = 1; i <= n; i++) x = x * 256 + (b[at + i] as number);
    this.#at = at + 1 + n;
    return x;
  }
}

const READER = new FastResultReader();

function countsOf(accepted: number, refused: number): SignalCounts {
  return accepted === 0 && refused === 0 ? ZERO_COUNTS : { accepted, refused };
}

/**
 * decodeApplyResultFast is the result encoded in `bytes` when they are in
 * the grammar of the file comment, else null (decode with decodeApplyResult).
 */
export function decodeApplyResultFast(bytes: Uint8Array): ShardApplyResult | null {
  const dup = READER.read(bytes);
  if (dup < 0) return null;
  const c = READER.counts;
  return {
    duplicate: dup === 1,
    invalid: null,
    spans: countsOf(c[0] as number, c[1] as number),
    points: countsOf(c[2] as number, c[3] as number),
    logs: countsOf(c[4] as number, c[5] as number),
    refusals: NO_REFUSALS,
  };
}
