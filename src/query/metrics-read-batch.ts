/**
 * metrics-read-batch.ts — the peer frames of several shards' parts of one
 * Prometheus read sent to one node in one call (metrics-read.ts):
 *
 *   shard.metricsReadBatch  request  [part, part, ...]          each part a shard.metricsRead request's bytes
 *                           answer   [item, item, ...]          one per part, in request order
 *   item = [0, answer]                    answer a shard.metricsRead answer's bytes
 *        | [1, code, message, details]    the part's error: an ErrorCodes code, its message,
 *                                         details as transport/codec.ts encodeErrorDetails
 *
 * Why: a linearizable read asks every shard's leader for a ReadIndex
 * barrier. One call per shard made each leader start its barriers as the
 * calls trickled in, one driver iteration and one heartbeat message per
 * peer each; one call per node starts all of that node's barriers in the
 * same tick, so one driver iteration sends every group's heartbeat to a
 * peer in one transport batch, and the peer answers them all in one (the
 * effect of multi-raft coalesced heartbeats, without changing the core).
 * Each part is still served by runHere under its own consistency (the
 * barrier, then the pinned read), and its read starts as soon as its
 * barrier clears. Nothing about promise 2 changes: a part's answer comes
 * from its shard's leader after that shard's barrier, as in a single call.
 *
 * Bounds: at most MetricsQueryLimits.batchPartsMax parts a call; the
 * answers of one call at most batchAnswerBytesMax together — a part whose
 * answer does not fit is answered with ERR_UNAVAILABLE and details
, and its caller asks for it alone (the part was read
 * and dropped: a wasted read, not a wrong one).
 *
 * A peer's frame is outside input: the request decoder throws
 * ERR_INVALID_ARGUMENT and the answer decoder ERR_CORRUPTION on anything
 * malformed (the parts themselves are checked by metrics-read-wire.ts).
 */
import { Packr } from 'msgpackr';
import { ErrorCodes, OtlpdbError, assert } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import { MetricsQueryLimits as L } from '../limits.js';
import { binHeaderBytes, decodeErrorDetails, encodeErrorDetails, writeBinHeader } from '../transport/codec.js';
import type { AnswerBytes } from './metrics-read-wire.js';

/** SHARD_METRICS_READ_BATCH is the peer method of several shards' parts of one Prometheus read on one node. */
export const SHARD_METRICS_READ_BATCH = 'shard.metricsReadBatch';

/** BatchItem is one part's outcome in a batch answer: its answer's bytes, or its error. */
export type BatchItem = Uint8Array | OtlpdbError;

const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false, mapsAsObjects: true });

function isBytes(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array;
}

function unpackArray(bytes: Uint8Array, fail: (why: string) => OtlpdbError): unknown[] {
  let v: unknown;
  try {
    v = packr.unpack(bytes);
  } catch (err) {
    throw fail(`not msgpack: ${String(err)}`);
  }
  if (!Array.isArray(v)) throw fail('not a list');
  return v as unknown[];
}

const badRequest = (why: string): OtlpdbError => new OtlpdbError('ERR_INVALID_ARGUMENT', `malformed ${SHARD_METRICS_READ_BATCH} request: ${why}`);
const damaged = (why: string): OtlpdbError => new OtlpdbError('ERR_CORRUPTION', `malformed ${SHARD_METRICS_READ_BATCH} answer: ${why}`);

/** encodeBatchRequest packs the parts (encoded shard.metricsRead requests) of one call. */
export function encodeBatchRequest(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length < 1 || parts.length > L.batchPartsMax) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `a batch holds 1 to ${L.batchPartsMax} parts, not ${parts.length}`);
  return packr.pack(parts);
}

/** decodeBatchRequest checks a batch request's shape and answers its parts' bytes (ERR_INVALID_ARGUMENT when malformed). */
export function decodeBatchRequest(bytes: Uint8Array): Uint8Array[] {
  const v = unpackArray(bytes, badRequest);
  if (v.length < 1 || v.length > L.batchPartsMax) throw badRequest(`holds ${v.length} parts, not 1 to ${L.batchPartsMax}`);
  return v.map((p, i) => {
    if (!isBytes(p)) throw badRequest(`part ${i} is not bytes`);
    return p;
  });
}

/** batchOverflow is the error of a part whose answer did not fit its batch's answer bound: ask for it alone. */
export function batchOverflow(bytes: number): OtlpdbError {
  return askAlone(`the part's answer (${bytes} bytes) did not fit the batch's ${L.batchAnswerBytesMax} bytes`);
}

/** askAlone is the error of a part its caller should ask the same replica for in a single call (details askAlone: true; shard-fanout.ts). */
export function askAlone(why: string): OtlpdbError {
  return new OtlpdbError('ERR_UNAVAILABLE', why, { askAlone: true });
}

/**
 * encodeBatchAnswer packs the parts' outcomes in request order. Answers are
 * kept in order while they fit batchAnswerBytesMax together; an answer past
 * it becomes batchOverflow. An error other than an OtlpdbError is
 * ERR_INTERNAL. An answer may come as its bytes or as AnswerBytes
 * (metrics-read-wire.ts), written straight into the one buffer this
 * allocates: the bytes are packr.pack's of the same list, without the
 * packer's growing buffer and the copy out of it.
 */
export function encodeBatchAnswer(items: readonly (Uint8Array | AnswerBytes | unknown)[]): Uint8Array {
  assert(items.length <= 0xffff, 'a batch answer lists at most 65,535 items');
  let bytes = 0;
  let total = items.length <= 15 ? 1 : 3;
  const out = items.map((it): AnswerBytes | Uint8Array => {
    const answer = isBytes(it) ? { byteLength: it.length, writeInto: (o: Uint8Array, at: number) => o.set(it, at) } : isAnswerBytes(it) ? it : null;
    if (answer !== null && bytes + answer.byteLength <= L.batchAnswerBytesMax) {
      bytes += answer.byteLength;
      total += OK_ITEM_HEAD_BYTES + binHeaderBytes(answer.byteLength) + answer.byteLength;
      return answer;
    }
    const e = answer !== null ? batchOverflow(answer.byteLength) : it instanceof OtlpdbError ? it : new OtlpdbError('ERR_INTERNAL', String(it));
    // An error item is small: packed alone (and copied once into the answer below).
    const packed = packr.pack([1, e.code, e.message, encodeErrorDetails(e.details)]);
    total += packed.length;
    return packed;
  });
  const buf = Buffer.allocUnsafe(total);
  let at = 0;
  if (items.length <= 15) buf[at++] = 0x90 | items.length;
  else {
    buf[at++] = 0xdc;
    buf.writeUInt16BE(items.length, at);
    at += 2;
  }
  for (const o of out) {
    if (isBytes(o)) {
      buf.set(o, at);
      at += o.length;
      continue;
    }
    // [0, answer]: a fixarray of 2, the integer 0, then the answer as a bin.
    buf[at++] = 0x92;
    buf[at++] = 0x00;
    at = writeBinHeader(buf, at, o.byteLength);
    o.writeInto(buf, at);
    at += o.byteLength;
  }
  assert(at === total, 'a batch answer fills its bytes');
  return buf;
}

/** OK_ITEM_HEAD_BYTES is the msgpack of an answered item before its answer's bin header: fixarray(2), then 0. */
const OK_ITEM_HEAD_BYTES = 2;

function isAnswerBytes(v: unknown): v is AnswerBytes {
  return typeof v === 'object' && v !== null && typeof (v as AnswerBytes).byteLength === 'number' && typeof (v as AnswerBytes).writeInto === 'function' && !(v instanceof Error);
}

/** decodeBatchAnswer reads a batch answer of `parts` parts (ERR_CORRUPTION when malformed); each item is an answer's bytes or the part's error. */
export function decodeBatchAnswer(bytes: Uint8Array, parts: number): BatchItem[] {
  const v = unpackArray(bytes, damaged);
  if (v.length !== parts) throw damaged(`${v.length} items for ${parts} parts`);
  return v.map((it, i) => {
    if (!Array.isArray(it)) throw damaged(`item ${i} is not a list`);
    const [kind, a, b, c] = it as unknown[];
    if (kind === 0 && it.length === 2 && isBytes(a)) return a;
    if (kind === 1 && it.length === 4 && typeof a === 'string' && Object.hasOwn(ErrorCodes, a) && typeof b === 'string' && isBytes(c)) {
      return new OtlpdbError(a as ErrorCode, b, decodeErrorDetails(c));
    }
    throw damaged(`item ${i} is neither [0, answer] nor [1, code, message, details]`);
  });
}
