/**
 * codec.ts — msgpack payloads of the peer transport: Raft message batches,
 * the handshake and unary calls. Encoding is positional (tuples, not maps):
 * smaller on the wire and cheaper to validate.
 *
 *   Message  = [group, type, from, to, term, logTerm, index, entries, commit,
 *               reject, rejectHint, rejectTerm, context, snapshot]
 *   Entry    = [term, index, type, data]
 *   Snapshot = [[index, term, voters[], learners[]], offset, totalBytes, data, done] | nil
 *   Hello    = [version, clusterId, nodeId]
 *   CallReq  = [callId, method, deadlineMs, payload]
 *   CallResp = [callId, code ('' on success), message, payload]
 *   CallCancel = [cancelVersion, callId]
 *
 * Decoders never throw on bad input: they return a refusal with a reason (the
 * transport counts it under that reason). Every field is checked for type and
 * range; context checks (sender, recipient, group range) are the transport's.
 * Decoded Uint8Arrays are plain views (never Buffers) into the received
 * frame, which is never reused, so they stay valid.
 */
import { Packr } from 'msgpackr';
import { ErrorCodes, assert } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import { MessageType } from '../raft/types.js';
import type { ConfState, Entry, EntryType, Message, MessageType as MessageTypeT, SnapshotChunk } from '../raft/types.js';
import { TransportLimits } from '../limits.js';
import { plainBytes } from '../plain-bytes.js';
import { FRAME_HEADER_BYTES, FrameType } from './frame.js';

/**
 * PROTOCOL_VERSION is carried in the handshake; a peer speaking another
 * version is refused. 2: the CallCancel frame (a version 1 node would close
 * the connection on it, so the two are refused at the Hello instead).
 */
export const PROTOCOL_VERSION = 2;

/** CALL_CANCEL_VERSION is the first field of a CallCancel payload; a cancel of another version is counted and ignored. */
export const CALL_CANCEL_VERSION = 1;

// mapsAsObjects false: a map on the wire decodes to a Map, never to an object
// whose keys could shadow Object.prototype; every accepted shape is an array.
// The options are the shard wire codecs' (trace-search-wire.ts and its
// siblings), in their order, only mapsAsObjects differing: msgpackr copies
// them onto the instance, so the two are objects of one map, and its
// `unpack`, `read` and `pack`, optimised on the Raft traffic of a load, do
// not deoptimise ("wrong map") at a node's first search's codec (s23).
const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false, mapsAsObjects: false });

/** RefusalReason names why received bytes were refused (a key of metrics().framesRefused). */
export type RefusalReason =
  | 'frame_too_large'
  | 'frame_empty'
  | 'bad_frame_type'
  | 'not_msgpack'
  | 'bad_shape'
  | 'bad_message'
  | 'too_many_messages'
  | 'bad_handshake'
  | 'handshake_timeout'
  | 'wrong_version'
  | 'wrong_cluster'
  | 'unknown_node'
  | 'address_mismatch'
  | 'wrong_sender'
  | 'wrong_recipient'
  | 'group_out_of_range'
  | 'bad_call'
  | 'bad_cancel'
  | 'too_many_calls';

/** MessageItemResult is the verdict on one decoded item of a batch. */
export type MessageItemResult = { readonly ok: true; readonly message: Message } | { readonly ok: false; readonly index: number; readonly reason: string };

/** DecodeMessagesResult is a batch's per-item verdicts, or a refusal of the whole payload. */
export type DecodeMessagesResult =
  | { readonly ok: true; readonly items: MessageItemResult[] }
  | { readonly ok: false; readonly reason: RefusalReason; readonly detail: string };

/** NETWORK_MESSAGE_TYPES are the message types that may cross the network (Local* never do). */
const NETWORK_MESSAGE_TYPES: ReadonlySet<number> = new Set<number>([
  MessageType.Prop,
  MessageType.App,
  MessageType.AppResp,
  MessageType.Vote,
  MessageType.VoteResp,
  MessageType.PreVote,
  MessageType.PreVoteResp,
  MessageType.Snap,
  MessageType.SnapResp,
  MessageType.Heartbeat,
  MessageType.HeartbeatResp,
  MessageType.TransferLeader,
  MessageType.TimeoutNow,
  MessageType.ReadIndex,
  MessageType.ReadIndexResp,
]);

/** isNetworkMessageType says whether a message type may be sent to a peer. */
export function isNetworkMessageType(t: number): boolean {
  return NETWORK_MESSAGE_TYPES.has(t);
}

/**
 * unpack decodes one msgpack value, or returns undefined when the bytes are
 * not exactly one value. msgpackr reads a plain Uint8Array view of the
 * frame, never the socket's Buffer (plain-bytes.ts): its reader then meets
 * the one map the storage reads give it, and every bin it answers (a call's
 * payload, an entry's data) is a plain view too.
 */
function unpack(bytes: Uint8Array): { value: unknown } | undefined {
  try {
    return { value: packr.unpack(plainBytes(bytes)) as unknown };
  } catch {
    return undefined;
  }
}

function pack(value: unknown): Buffer {
  return packr.pack(value);
}

function isCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function isBytes(x: unknown): x is Uint8Array {
  return x instanceof Uint8Array;
}

function entryTuple(e: Entry): unknown[] {
  return [e.term, e.index, e.type, e.data];
}

function snapshotTuple(s: SnapshotChunk | null): unknown[] | null {
  if (s === null) return null;
  const m = s.metadata;
  return [[m.index, m.term, m.confState.voters, m.confState.learners], s.offset, s.totalBytes, s.data, s.done];
}

/** messageTuple is the wire shape of one message (see the layout at the top of this file). */
function messageTuple(m: Message): unknown[] {
  return [
    m.group,
    m.type,
    m.from,
    m.to,
    m.term,
    m.logTerm,
    m.index,
    m.entries.map(entryTuple),
    m.commit,
    m.reject,
    m.rejectHint,
    m.rejectTerm,
    m.context,
    snapshotTuple(m.snapshot),
  ];
}

/** encodeMessages encodes one batch; the caller splits batches above TransportLimits.messagesPerFrameMax. */
export function encodeMessages(msgs: readonly Message[]): Buffer {
  assert(msgs.length <= TransportLimits.messagesPerFrameMax, 'encodeMessages: batch within messagesPerFrameMax');
  return pack(msgs.map(messageTuple));
}

/** estimateMessageBytes is a cheap upper-ish estimate of one message's encoded size, used to split batches. */
export function estimateMessageBytes(m: Message): number {
  let bytes = 64 + (m.context?.length ?? 0);
  for (const e of m.entries) bytes += 24 + e.data.length;
  if (m.snapshot !== null) {
    const cs = m.snapshot.metadata.confState;
    bytes += 64 + m.snapshot.data.length + 9 * (cs.voters.length + cs.learners.length);
  }
  return bytes;
}

function decodeEntry(x: unknown): Entry | string {
  if (!Array.isArray(x) || x.length !== 4) return 'entry is not a 4-tuple';
  const [term, index, type, data] = x as unknown[];
  if (!isCount(term)) return 'entry term is not a safe non-negative integer';
  if (!isCount(index)) return 'entry index is not a safe non-negative integer';
  if (type !== 0 && type !== 1) return 'entry type is not Normal or ConfChange';
  if (!isBytes(data)) return 'entry data is not bytes';
  return { term, index, type: type as EntryType, data };
}

function decodeNodeList(x: unknown): NodeIdList | string {
  if (!Array.isArray(x)) return 'node list is not an array';
  if (x.length > TransportLimits.confNodesMax) return 'node list longer than confNodesMax';
  for (const n of x as unknown[]) {
    if (!isCount(n) || n === 0) return 'node id is not a positive safe integer';
  }
  return x as number[];
}
type NodeIdList = number[];

function decodeSnapshot(x: unknown): SnapshotChunk | string {
  if (!Array.isArray(x) || x.length !== 5) return 'snapshot is not a 5-tuple';
  const [meta, offset, totalBytes, data, done] = x as unknown[];
  if (!Array.isArray(meta) || meta.length !== 4) return 'snapshot metadata is not a 4-tuple';
  const [index, term, votersRaw, learnersRaw] = meta as unknown[];
  if (!isCount(index)) return 'snapshot index is not a safe non-negative integer';
  if (!isCount(term)) return 'snapshot term is not a safe non-negative integer';
  const voters = decodeNodeList(votersRaw);
  if (typeof voters === 'string') return `snapshot voters: ${voters}`;
  const learners = decodeNodeList(learnersRaw);
  if (typeof learners === 'string') return `snapshot learners: ${learners}`;
  if (voters.length + learners.length > TransportLimits.confNodesMax) return 'snapshot conf state larger than confNodesMax';
  if (!isCount(offset)) return 'snapshot offset is not a safe non-negative integer';
  if (!isCount(totalBytes)) return 'snapshot totalBytes is not a safe non-negative integer';
  if (!isBytes(data)) return 'snapshot data is not bytes';
  if (typeof done !== 'boolean') return 'snapshot done is not a boolean';
  if (offset + data.length > totalBytes) return 'snapshot chunk ends past totalBytes';
  const confState: ConfState = { voters, learners };
  return { metadata: { index, term, confState }, offset, totalBytes, data, done };
}

/**
 * validateMessageTuple checks one wire tuple field by field and builds the
 * Message, or returns why it is refused. It knows nothing of the receiver
 * (see the transport for sender, recipient and group-range checks).
 */
export function validateMessageTuple(x: unknown): Message | string {
  if (!Array.isArray(x) || x.length !== 14) return 'message is not a 14-tuple';
  const [group, type, from, to, term, logTerm, index, entriesRaw, commit, reject, rejectHint, rejectTerm, context, snapshotRaw] =
    x as unknown[];
  if (!isCount(group)) return 'group is not a safe non-negative integer';
  if (typeof type !== 'number' || !isNetworkMessageType(type)) return 'type is not a network message type';
  if (!isCount(from) || from === 0) return 'from is not a positive safe integer';
  if (!isCount(to) || to === 0) return 'to is not a positive safe integer';
  if (!isCount(term)) return 'term is not a safe non-negative integer';
  if (!isCount(logTerm)) return 'logTerm is not a safe non-negative integer';
  if (!isCount(index)) return 'index is not a safe non-negative integer';
  if (!Array.isArray(entriesRaw)) return 'entries is not an array';
  if (entriesRaw.length > TransportLimits.entriesPerMessageMax) return 'entries longer than entriesPerMessageMax';
  const entries: Entry[] = [];
  for (const raw of entriesRaw as unknown[]) {
    const e = decodeEntry(raw);
    if (typeof e === 'string') return e;
    entries.push(e);
  }
  if (!isCount(commit)) return 'commit is not a safe non-negative integer';
  if (typeof reject !== 'boolean') return 'reject is not a boolean';
  if (!isCount(rejectHint)) return 'rejectHint is not a safe non-negative integer';
  if (!isCount(rejectTerm)) return 'rejectTerm is not a safe non-negative integer';
  if (context !== null && !isBytes(context)) return 'context is neither nil nor bytes';
  let snapshot: SnapshotChunk | null = null;
  if (snapshotRaw !== null) {
    const s = decodeSnapshot(snapshotRaw);
    if (typeof s === 'string') return s;
    snapshot = s;
  }
  if (type === MessageType.Snap && snapshot === null) return 'Snap message without a snapshot chunk';
  return {
    group,
    type: type as MessageTypeT,
    from,
    to,
    term,
    logTerm,
    index,
    entries,
    commit,
    reject,
    rejectHint,
    rejectTerm,
    context: context as Uint8Array | null,
    snapshot,
  };
}

/** decodeMessages decodes one Messages payload into per-item verdicts; it never throws on bad input. */
export function decodeMessages(bytes: Uint8Array): DecodeMessagesResult {
  const u = unpack(bytes);
  if (u === undefined) return { ok: false, reason: 'not_msgpack', detail: 'payload is not one msgpack value' };
  const v = u.value;
  if (!Array.isArray(v)) return { ok: false, reason: 'bad_shape', detail: 'payload is not an array of messages' };
  if (v.length > TransportLimits.messagesPerFrameMax) {
    return { ok: false, reason: 'too_many_messages', detail: `${v.length} messages > messagesPerFrameMax` };
  }
  const items: MessageItemResult[] = [];
  (v as unknown[]).forEach((raw, index) => {
    const m = validateMessageTuple(raw);
    items.push(typeof m === 'string' ? { ok: false, index, reason: m } : { ok: true, message: m });
  });
  assert(items.length === v.length, 'one verdict per item');
  return { ok: true, items };
}

/** Hello is the decoded handshake. */
export interface Hello {
  readonly version: number;
  readonly clusterId: string;
  readonly nodeId: number;
}

/** encodeHello encodes the dialer's handshake. */
export function encodeHello(clusterId: string, nodeId: number): Buffer {
  return pack([PROTOCOL_VERSION, clusterId, nodeId]);
}

/** decodeHello decodes a handshake, or returns undefined when it is malformed. */
export function decodeHello(bytes: Uint8Array): Hello | undefined {
  const u = unpack(bytes);
  if (u === undefined || !Array.isArray(u.value) || u.value.length !== 3) return undefined;
  const [version, clusterId, nodeId] = u.value as unknown[];
  if (!isCount(version)) return undefined;
  if (typeof clusterId !== 'string' || Buffer.byteLength(clusterId) > TransportLimits.clusterIdBytesMax) return undefined;
  if (!isCount(nodeId) || nodeId === 0) return undefined;
  return { version, clusterId, nodeId };
}

/** CallRequest is one decoded unary call. */
export interface CallRequest {
  readonly callId: number;
  readonly method: string;
  readonly deadlineMs: number;
  readonly payload: Uint8Array;
}

/** encodeCallRequest encodes one unary call. */
export function encodeCallRequest(r: CallRequest): Buffer {
  return pack([r.callId, r.method, r.deadlineMs, r.payload]);
}

/** decodeCallRequest decodes a unary call, or returns undefined when it is malformed. */
export function decodeCallRequest(bytes: Uint8Array): CallRequest | undefined {
  const u = unpack(bytes);
  if (u === undefined || !Array.isArray(u.value) || u.value.length !== 4) return undefined;
  const [callId, method, deadlineMs, payload] = u.value as unknown[];
  if (!isCount(callId)) return undefined;
  if (typeof method !== 'string' || Buffer.byteLength(method) > TransportLimits.callMethodBytesMax) return undefined;
  if (!isCount(deadlineMs) || deadlineMs > TransportLimits.callDeadlineMsMax) return undefined;
  if (!isBytes(payload)) return undefined;
  return { callId, method, deadlineMs, payload };
}

/** encodeCallCancel encodes the cancel of one call the sender made. */
export function encodeCallCancel(callId: number): Buffer {
  assert(isCount(callId), 'a call id is a count');
  return pack([CALL_CANCEL_VERSION, callId]);
}

/** CallCancel is one decoded cancel: its version (CALL_CANCEL_VERSION unless a newer peer sent it) and the call it names. */
export interface CallCancel {
  readonly version: number;
  readonly callId: number;
}

/** decodeCallCancel decodes a cancel, or returns undefined when it is malformed (a version other than ours still decodes: the receiver ignores it). */
export function decodeCallCancel(bytes: Uint8Array): CallCancel | undefined {
  if (bytes.length > TransportLimits.callCancelBytesMax) return undefined;
  const u = unpack(bytes);
  if (u === undefined || !Array.isArray(u.value) || u.value.length !== 2) return undefined;
  const [version, callId] = u.value as unknown[];
  if (!isCount(version) || version === 0) return undefined;
  if (!isCount(callId)) return undefined;
  return { version, callId };
}

/** CallResponse is one decoded answer; `code` is '' on success. */
export interface CallResponse {
  readonly callId: number;
  readonly code: ErrorCode | '';
  readonly message: string;
  readonly payload: Uint8Array;
}

/** encodeCallResponse encodes one answer. */
export function encodeCallResponse(r: CallResponse): Buffer {
  return pack([r.callId, r.code, r.message, r.payload]);
}

/**
 * binHeaderBytes is the length of msgpack's bin header for `n` bytes, as
 * msgpackr chooses it (bin8, bin16, bin32: the smallest that holds n), so
 * bytes written around it are the ones packr.pack would write.
 */
export function binHeaderBytes(n: number): number {
  assert(Number.isSafeInteger(n) && n >= 0 && n <= 0xffff_ffff, 'a bin of at most 4 GiB');
  return n < 0x100 ? 2 : n < 0x1_0000 ? 3 : 5;
}

/** writeBinHeader writes msgpack's bin header for `n` bytes at `offset` and answers the offset after it. */
export function writeBinHeader(out: Uint8Array, offset: number, n: number): number {
  const size = binHeaderBytes(n);
  assert(offset >= 0 && offset + size <= out.length, 'a bin header inside its buffer');
  if (size === 2) {
    out[offset] = 0xc4;
    out[offset + 1] = n;
  } else if (size === 3) {
    out[offset] = 0xc5;
    out[offset + 1] = n >>> 8;
    out[offset + 2] = n & 0xff;
  } else {
    out[offset] = 0xc6;
    out[offset + 1] = n >>> 24;
    out[offset + 2] = (n >>> 16) & 0xff;
    out[offset + 3] = (n >>> 8) & 0xff;
    out[offset + 4] = n & 0xff;
  }
  return offset + size;
}

/** EMPTY_BIN_TAIL is how msgpack ends a tuple whose last field is an empty bin (bin8 of length 0): a writer puts the real bytes in its place. */
export const EMPTY_BIN_TAIL: readonly number[] = [0xc4, 0x00];
const EMPTY_BIN = new Uint8Array(0);

/**
 * encodeCallResponseFrame is encodeFrame(CallResponse, encodeCallResponse(r))
 * written into one buffer, the same bytes: the payload (a shard's answer,
 * up to megabytes) is copied once, not packed into the packer's buffer and
 * copied again into the frame. Null when the frame's length would pass
 * `frameBytesMax` (nothing is allocated for it).
 */
export function encodeCallResponseFrame(r: CallResponse, frameBytesMax: number = TransportLimits.frameBytesMax): Buffer | null {
  const head = pack([r.callId, r.code, r.message, EMPTY_BIN]);
  assert(head[head.length - 2] === EMPTY_BIN_TAIL[0] && head[head.length - 1] === EMPTY_BIN_TAIL[1], 'a packed call response ends with its empty payload');
  const headBytes = head.length - EMPTY_BIN_TAIL.length;
  const n = r.payload.length;
  const bodyBytes = headBytes + binHeaderBytes(n) + n;
  if (bodyBytes + 1 > frameBytesMax) return null;
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + bodyBytes);
  out.writeUInt32BE(bodyBytes + 1, 0);
  out[4] = FrameType.CallResponse;
  out.set(head.subarray(0, headBytes), FRAME_HEADER_BYTES);
  const at = writeBinHeader(out, FRAME_HEADER_BYTES + headBytes, n);
  out.set(r.payload, at);
  assert(at + n === out.length, 'a call response frame fills its bytes');
  return out;
}

/** decodeCallResponse decodes an answer, or returns undefined when it is malformed (an unknown error code included). */
export function decodeCallResponse(bytes: Uint8Array): CallResponse | undefined {
  const u = unpack(bytes);
  if (u === undefined || !Array.isArray(u.value) || u.value.length !== 4) return undefined;
  const [callId, code, message, payload] = u.value as unknown[];
  if (!isCount(callId)) return undefined;
  if (typeof code !== 'string' || (code !== '' && !Object.hasOwn(ErrorCodes, code))) return undefined;
  if (typeof message !== 'string') return undefined;
  if (!isBytes(payload)) return undefined;
  return { callId, code: code as ErrorCode | '', message, payload };
}

/** ERROR_DETAILS_MAX bounds the detail fields an error answer of a call carries. */
const ERROR_DETAILS_MAX = 16;

/**
 * encodeErrorDetails packs the primitive fields (number, string, boolean) of
 * an error's details into a failed call's payload, so a caller learns, for
 * example, the leader hint of an ERR_NOT_LEADER answered by a peer.
 */
export function encodeErrorDetails(details: Readonly<Record<string, unknown>>): Uint8Array {
  const out: Record<string, number | string | boolean> = {};
  let n = 0;
  for (const [k, v] of Object.entries(details)) {
    if (n >= ERROR_DETAILS_MAX) break;
    if (typeof v === 'number' || typeof v === 'boolean' || (typeof v === 'string' && v.length <= 256)) {
      out[k] = v;
      n++;
    }
  }
  return n === 0 ? new Uint8Array(0) : pack(out);
}

/** decodeErrorDetails reads what encodeErrorDetails wrote; anything else (from a newer or broken peer) is ignored. */
export function decodeErrorDetails(payload: Uint8Array): Record<string, number | string | boolean> {
  if (payload.length === 0) return {};
  let v: unknown;
  try {
    v = packr.unpack(plainBytes(payload));
  } catch {
    return {};
  }
  if (!(v instanceof Map)) return {};
  const out: Record<string, number | string | boolean> = {};
  let n = 0;
  for (const [k, x] of v as Map<unknown, unknown>) {
    if (n >= ERROR_DETAILS_MAX || typeof k !== 'string') break;
    if (typeof x === 'number' || typeof x === 'boolean' || (typeof x === 'string' && x.length <= 256)) {
      out[k] = x;
      n++;
    }
  }
  return out;
}
