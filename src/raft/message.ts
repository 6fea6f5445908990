/**
 * message.ts — building and checking Messages.
 *
 * Every message the core emits is built by `newMessage`, so all messages
 * share one object shape (all fields present, in one order). `checkMessage`
 * is the gate for messages from the network: it refuses malformed or
 * out-of-place messages with ERR_INVALID_ARGUMENT and never throws.
 * Invariant: a message that passes checkMessage has safe non-negative
 * integers in every numeric field, and for App its entries are contiguous
 * from index + 1 with terms between logTerm and term.
 */
import { OtlpdbError } from '../errors.js';
import { READ_CONTEXT_BYTES_MAX } from './read-only.js';
import { EntryType, MessageType } from './types.js';
import type { Entry, GroupId, Message, NodeId } from './types.js';

/** MESSAGE_ENTRIES_MAX bounds the entries of one message from the network. */
export const MESSAGE_ENTRIES_MAX = 1 << 20;

/** NO_ENTRIES is the shared empty entries array of messages without entries. */
export const NO_ENTRIES: readonly Entry[] = Object.freeze([]) as readonly Entry[];

/** MessageFields are the fields a caller sets; the rest default to 0 / empty. */
export type MessageFields = Partial<Message> & Pick<Message, 'type' | 'to'>;

/** newMessage builds a Message with every field present (one hidden class for the hot path). */
export function newMessage(group: GroupId, from: NodeId, f: MessageFields): Message {
  return {
    group,
    type: f.type,
    from: f.from ?? from,
    to: f.to,
    term: f.term ?? 0,
    logTerm: f.logTerm ?? 0,
    index: f.index ?? 0,
    entries: f.entries ?? NO_ENTRIES,
    commit: f.commit ?? 0,
    reject: f.reject ?? false,
    rejectHint: f.rejectHint ?? 0,
    rejectTerm: f.rejectTerm ?? 0,
    context: f.context ?? null,
    snapshot: f.snapshot ?? null,
  };
}

/** isLocalMessageType says whether a type must never arrive from the network. */
export function isLocalMessageType(t: MessageType): boolean {
  return (
    t === MessageType.LocalHup ||
    t === MessageType.LocalBeat ||
    t === MessageType.LocalUnreachable ||
    t === MessageType.LocalSnapStatus
  );
}

/** isResponseMessageType says whether a type answers a request (refused from unknown peers). */
export function isResponseMessageType(t: MessageType): boolean {
  return (
    t === MessageType.AppResp ||
    t === MessageType.VoteResp ||
    t === MessageType.PreVoteResp ||
    t === MessageType.HeartbeatResp ||
    t === MessageType.SnapResp
  );
}

function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

function invalid(why: string, m: { type?: unknown; from?: unknown }): OtlpdbError {
  return new OtlpdbError('ERR_INVALID_ARGUMENT', `refused raft message: ${why}`, { type: m.type, from: m.from });
}

const MESSAGE_TYPE_MAX = MessageType.LocalSnapStatus;

/**
 * checkMessage validates a message from the network for replica `selfId` of
 * `group`. It returns null when the message may be stepped, else the error.
 */
export function checkMessage(m: unknown, group: GroupId, selfId: NodeId): OtlpdbError | null {
  if (typeof m !== 'object' || m === null) return invalid('not an object', {});
  const msg = m as Message;
  if (msg.group !== group) return invalid(`group ${String(msg.group)} is not this group ${group}`, msg);
  const t = msg.type;
  if (typeof t !== 'number' || !Number.isInteger(t) || t < 0 || t > MESSAGE_TYPE_MAX) return invalid('unknown type', msg);
  if (isLocalMessageType(t)) return invalid('local message type from the network', msg);
  if (!isCount(msg.from) || msg.from === 0) return invalid('bad from', msg);
  if (msg.to !== selfId) return invalid(`addressed to ${String(msg.to)}, not ${selfId}`, msg);
  if (!isCount(msg.term) || !isCount(msg.logTerm) || !isCount(msg.index) || !isCount(msg.commit)) {
    return invalid('bad term, logTerm, index or commit', msg);
  }
  if (!isCount(msg.rejectHint) || !isCount(msg.rejectTerm)) return invalid('bad rejectHint or rejectTerm', msg);
  if (typeof msg.reject !== 'boolean') return invalid('bad reject', msg);
  if (msg.term === 0 && t !== MessageType.Prop && t !== MessageType.ReadIndex && t !== MessageType.TransferLeader) {
    return invalid('term 0 on a message that needs a term', msg);
  }
  if (msg.context !== null && !(msg.context instanceof Uint8Array)) return invalid('context is not bytes', msg);
  if (msg.context !== null && msg.context.length > READ_CONTEXT_BYTES_MAX) return invalid('context too long', msg);
  if (t === MessageType.ReadIndex && msg.context === null) return invalid('ReadIndex without context', msg);
  const ents = msg.entries;
  if (!Array.isArray(ents)) return invalid('entries is not an array', msg);
  if (ents.length > MESSAGE_ENTRIES_MAX) return invalid('too many entries', msg);
  if (ents.length !== 0 && t !== MessageType.App && t !== MessageType.Prop) return invalid('entries on a message that carries none', msg);
  const isApp = t === MessageType.App;
  let prevTerm = msg.logTerm;
  for (let k = 0; k < ents.length; k++) {
    const e = ents[k] as Entry;
    if (typeof e !== 'object' || e === null || !(e.data instanceof Uint8Array)) return invalid(`entry ${k} malformed`, msg);
    if (e.type !== EntryType.Normal && e.type !== EntryType.ConfChange) return invalid(`entry ${k} has an unknown type`, msg);
    if (!isApp) continue;
    if (e.index !== msg.index + 1 + k) return invalid(`entry ${k} index is not contiguous`, msg);
    if (!isCount(e.term) || e.term < prevTerm || e.term > msg.term) return invalid(`entry ${k} term out of order`, msg);
    prevTerm = e.term;
  }
  if (t === MessageType.Snap) return checkSnapChunk(msg);
  return null;
}

function checkSnapChunk(msg: Message): OtlpdbError | null {
  const c = msg.snapshot;
  if (typeof c !== 'object' || c === null) return invalid('Snap without a chunk', msg);
  const md = c.metadata;
  if (typeof md !== 'object' || md === null) return invalid('chunk without metadata', msg);
  if (!isCount(md.index) || md.index === 0 || !isCount(md.term) || md.term === 0 || md.term > msg.term) {
    return invalid('bad snapshot index or term', msg);
  }
  const cs = md.confState;
  if (typeof cs !== 'object' || cs === null || !Array.isArray(cs.voters) || !Array.isArray(cs.learners)) {
    return invalid('bad snapshot confState', msg);
  }
  for (const id of cs.voters) if (!isCount(id) || id === 0) return invalid('bad voter id', msg);
  for (const id of cs.learners) if (!isCount(id) || id === 0) return invalid('bad learner id', msg);
  if (!isCount(c.offset) || !isCount(c.totalBytes) || !(c.data instanceof Uint8Array)) return invalid('bad chunk fields', msg);
  if (c.offset + c.data.length > c.totalBytes) return invalid('chunk past totalBytes', msg);
  if (typeof c.done !== 'boolean') return invalid('bad done', msg);
  if (c.done && c.offset + c.data.length !== c.totalBytes) return invalid('last chunk does not end the image', msg);
  return null;
}
