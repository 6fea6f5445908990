/**
 * conf-change.ts — the payload of ConfChange entries (encode / decode) and
 * the rules of single-server membership changes (thesis §4.1, §4.2.1, §4.3).
 *
 * Wire layout of an encoded ConfChange (little-endian):
 *
 *   offset  size  field
 *   0       1     magic 0xCC
 *   1       1     version (1)
 *   2       1     type (ConfChangeType: 0 AddNode, 1 AddLearner, 2 RemoveNode)
 *   3       4     nodeId, low 32 bits
 *   7       4     nodeId, high 21 bits (nodeId is a safe integer)
 *   11      4     context length n
 *   15      n     context bytes (absent when n = 0)
 *
 * Invariants: the encoded length is exactly 15 + n; nodeId >= 1. Decoding
 * refuses anything else with ERR_INVALID_ARGUMENT, never throws another error.
 * Applying a change keeps voters and learners disjoint and never leaves the
 * group without a voter.
 */
import { OtlpdbError, assert } from '../errors.js';
import { ConfChangeType } from './types.js';
import type { ConfChange, ConfState, NodeId } from './types.js';

const MAGIC = 0xcc;
const VERSION = 1;
const HEADER_BYTES = 15;
const TWO_POW_32 = 0x1_0000_0000;
/** CONF_CHANGE_CONTEXT_BYTES_MAX bounds the opaque context of one ConfChange. */
export const CONF_CHANGE_CONTEXT_BYTES_MAX = 64 * 1024;

function isConfChangeType(t: unknown): t is ConfChangeType {
  return t === ConfChangeType.AddNode || t === ConfChangeType.AddLearner || t === ConfChangeType.RemoveNode;
}

function isNodeId(id: unknown): id is NodeId {
  return typeof id === 'number' && Number.isSafeInteger(id) && id >= 1;
}

/** validateConfChange returns an ERR_INVALID_ARGUMENT error when `cc` is not a well-formed change, else null. */
export function validateConfChange(cc: ConfChange): OtlpdbError | null {
  if (!isConfChangeType(cc.type)) return new OtlpdbError('ERR_INVALID_ARGUMENT', `unknown ConfChange type ${String(cc.type)}`);
  if (!isNodeId(cc.nodeId)) return new OtlpdbError('ERR_INVALID_ARGUMENT', `ConfChange nodeId must be a safe integer >= 1`);
  if (cc.context !== undefined && !(cc.context instanceof Uint8Array)) {
    return new OtlpdbError('ERR_INVALID_ARGUMENT', 'ConfChange context must be a Uint8Array');
  }
  if (cc.context !== undefined && cc.context.length > CONF_CHANGE_CONTEXT_BYTES_MAX) {
    return new OtlpdbError('ERR_INVALID_ARGUMENT', `ConfChange context exceeds ${CONF_CHANGE_CONTEXT_BYTES_MAX} bytes`);
  }
  return null;
}

/** encodeConfChange serializes a ConfChange for a ConfChange entry (layout at the top of this file). */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  const err = validateConfChange(cc);
  if (err !== null) throw err;
  const ctx = cc.context ?? new Uint8Array(0);
  const out = new Uint8Array(HEADER_BYTES + ctx.length);
  const view = new DataView(out.buffer);
  out[0] = MAGIC;
  out[1] = VERSION;
  out[2] = cc.type;
  view.setUint32(3, cc.nodeId % TWO_POW_32, true);
  view.setUint32(7, Math.floor(cc.nodeId / TWO_POW_32), true);
  view.setUint32(11, ctx.length, true);
  out.set(ctx, HEADER_BYTES);
  assert(out.length === HEADER_BYTES + ctx.length, 'encoded length');
  return out;
}

/** decodeConfChange parses a ConfChange entry's data; malformed bytes are refused with ERR_INVALID_ARGUMENT. */
export function decodeConfChange(bytes: Uint8Array): ConfChange {
  if (!(bytes instanceof Uint8Array)) throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'ConfChange data must be a Uint8Array');
  if (bytes.length < HEADER_BYTES) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `ConfChange is ${bytes.length} bytes, shorter than its ${HEADER_BYTES}-byte header`);
  }
  if (bytes[0] !== MAGIC) throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'ConfChange has a bad magic byte');
  if (bytes[1] !== VERSION) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `ConfChange version ${bytes[1]} is not supported`);
  const type = bytes[2];
  if (!isConfChangeType(type)) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `unknown ConfChange type ${type}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lo = view.getUint32(3, true);
  const hi = view.getUint32(7, true);
  const nodeId = hi * TWO_POW_32 + lo;
  if (!isNodeId(nodeId)) throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'ConfChange nodeId is not a safe integer >= 1');
  const n = view.getUint32(11, true);
  if (n > CONF_CHANGE_CONTEXT_BYTES_MAX || bytes.length !== HEADER_BYTES + n) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `ConfChange length ${bytes.length} does not match its context length ${n}`);
  }
  if (n === 0) return { type, nodeId };
  return { type, nodeId, context: bytes.slice(HEADER_BYTES) };
}

/**
 * applyChangeToConfState returns the membership after one change, or an
 * ERR_INVALID_ARGUMENT error when the change is refused:
 * - AddNode of a learner promotes it; of an existing voter it is a no-op.
 * - AddLearner of an existing voter is refused (no demotion); of a learner it is a no-op.
 * - RemoveNode of the last voter is refused; of a non-member it is a no-op.
 * Every replica applies the same change to the same membership, so a refusal
 * is the same everywhere (the entry then changes nothing).
 */
export function applyChangeToConfState(cs: ConfState, cc: ConfChange): ConfState | OtlpdbError {
  const bad = validateConfChange(cc);
  if (bad !== null) return bad;
  const id = cc.nodeId;
  const isVoter = cs.voters.includes(id);
  const isLearner = cs.learners.includes(id);
  assert(!(isVoter && isLearner), 'voters and learners are disjoint');
  let voters = cs.voters;
  let learners = cs.learners;
  switch (cc.type) {
    case ConfChangeType.AddNode:
      if (isVoter) return cs;
      voters = [...voters, id];
      if (isLearner) learners = learners.filter((x) => x !== id);
      break;
    case ConfChangeType.AddLearner:
      if (isVoter) return new OtlpdbError('ERR_INVALID_ARGUMENT', `node ${id} is a voter; it cannot be added as a learner`, { nodeId: id });
      if (isLearner) return cs;
      learners = [...learners, id];
      break;
    case ConfChangeType.RemoveNode:
      if (isVoter && cs.voters.length === 1) {
        return new OtlpdbError('ERR_INVALID_ARGUMENT', `node ${id} is the last voter; it cannot be removed`, { nodeId: id });
      }
      if (!isVoter && !isLearner) return cs;
      voters = voters.filter((x) => x !== id);
      learners = learners.filter((x) => x !== id);
      break;
  }
  const sortedVoters = [...voters].sort((a, b) => a - b);
  const sortedLearners = [...learners].sort((a, b) => a - b);
  assert(sortedVoters.length >= 1, 'a group keeps at least one voter');
  return { voters: sortedVoters, learners: sortedLearners };
}
