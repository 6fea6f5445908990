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
 *
 * encodeApplyResultFast is the other direction: every replica encodes a
 * result per applied entry (ShardStateMachine.apply), and msgpackr's pack
 * built two arrays and went through its generic encoder for it; this writer
 * puts the common result's bytes (the grammar above, counts up to 2^32 - 1)
 * straight into a new 12-to-36-byte array, the bytes msgpackr writes for the
 * same result (apply-result-fast.test.ts compares them), and declines any
 * other result (encodeApplyResult then packs it as before).
 */
import { assert } from '../../errors.js';
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

/** U32_MAX is the largest count the fast writer takes (msgpack's 0xce form); larger counts go to msgpackr. */
const U32_MAX = 0xffff_ffff;

/** uintBytes is the length of x in msgpack's unsigned forms as msgpackr writes them (x a safe integer in [0, U32_MAX]). */
function uintBytes(x: number): number {
  return x <= 0x7f ? 1 : x <= 0xff ? 2 : x <= 0xffff ? 3 : 5;
}

/** writeUint writes x at b[at] in its shortest unsigned form (big-endian) and returns the position after it. */
function writeUint(b: Uint8Array, at: number, x: number): number {
  if (x <= 0x7f) {
    b[at] = x;
    return at + 1;
  }
  if (x <= 0xff) {
    b[at] = 0xcc;
    b[at + 1] = x;
    return at + 2;
  }
  if (x <= 0xffff) {
    b[at] = 0xcd;
    b[at + 1] = x >>> 8;
    b[at + 2] = x & 0xff;
    return at + 3;
  }
  b[at] = 0xce;
  b[at + 1] = x >>> 24;
  b[at + 2] = (x >>> 16) & 0xff;
  b[at + 3] = (x >>> 8) & 0xff;
  b[at + 4] = x & 0xff;
  return at + 5;
}

function countOk(x: number): boolean {
  return Number.isSafeInteger(x) && x >= 0 && x <= U32_MAX;
}

/**
 * encodeApplyResultFast is the bytes of `r` in the grammar of the file
 * comment when `r` is a common result (valid, no refusals, every count an
 * integer in [0, 2^32 - 1]), else null (encode with encodeApplyResult).
 */
export function encodeApplyResultFast(r: ShardApplyResult): Uint8Array | null {
  if (r.invalid !== null || r.refusals.length !== 0) return null;
  const sa = r.spans.accepted;
  const sr = r.spans.refused;
  const pa = r.points.accepted;
  const pr = r.points.refused;
  const la = r.logs.accepted;
  const lr = r.logs.refused;
  if (!countOk(sa) || !countOk(sr) || !countOk(pa) || !countOk(pr) || !countOk(la) || !countOk(lr)) return null;
  const n = 5 + uintBytes(sa) + uintBytes(sr) + uintBytes(pa) + uintBytes(pr) + uintBytes(la) + uintBytes(lr) + 1;
  const b = new Uint8Array(n);
  b[0] = 0x95;
  b[1] = APPLY_RESULT_VERSION;
  b[2] = r.duplicate ? 0xc3 : 0xc2;
  b[3] = 0xc0;
  b[4] = 0x90 + COUNTS;
  let at = writeUint(b, 5, sa);
  at = writeUint(b, at, sr);
  at = writeUint(b, at, pa);
  at = writeUint(b, at, pr);
  at = writeUint(b, at, la);
  at = writeUint(b, at, lr);
  b[at] = 0x90;
  assert(at + 1 === n, 'the fast result fills its bytes exactly');
  return b;
}

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
