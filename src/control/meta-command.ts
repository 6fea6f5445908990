/**
 * meta-command.ts — the commands of the meta group (group 0) and their
 * results, and their compact wire formats. Pure: no I/O, no clock.
 *
 * ## Command bytes (Raft entry data)
 *
 *   +---------+-----------------------------------------------------+
 *   | version | msgpackr array: [opcode, requestId | null, ...args]  |
 *   | 1 byte  |                                                     |
 *   +---------+-----------------------------------------------------+
 *
 * version is COMMAND_FORMAT_VERSION. Opcodes and their args:
 *
 *   1 kvPut         key, value
 *   2 kvDelete      key
 *   3 kvCas         key, expected (string, or null = must be absent), value
 *   10 lockAcquire  name, owner, ttlMs, nowMs (the proposing leader's clock)
 *   11 lockRelease  name, token
 *   12 lockExpire   nowMs (the proposing leader's clock)
 *   20 setNode      id, peerAddress, apiAddress, state (0 joining, 1 active, 2 leaving)
 *   21 removeNode   id
 *   22 setPlacement placement (a Placement as a msgpackr map)
 *   23 setTenant    id, settings patch (a msgpackr map)
 *   24 deleteTenant id
 *
 * ## Result bytes (what a proposal resolves with)
 *
 *   +---------+-----------------------------------+
 *   | version | msgpackr map: a MetaResult object |
 *   +---------+-----------------------------------+
 *
 * decodeMetaCommand never throws: malformed bytes become a MetaRefusal,
 * which the state machine returns as the entry's result.
 */
import { pack, unpack } from 'msgpackr';
import { OtlpdbError } from '../errors.js';
import { ControlLimits } from '../limits.js';
import type { TenantSettings, TenantSettingsPatch } from './tenant.js';
import { checkTenantId } from './tenant.js';

/** COMMAND_FORMAT_VERSION is the first byte of every meta command. */
export const COMMAND_FORMAT_VERSION = 1;
/** RESULT_FORMAT_VERSION is the first byte of every meta result. */
export const RESULT_FORMAT_VERSION = 1;

/** NodeState is where a member is in its life: joining (catching up), active, or leaving (draining). */
export type NodeState = 'joining' | 'active' | 'leaving';
const NODE_STATES: readonly NodeState[] = ['joining', 'active', 'leaving'];

/** NodeInfo is one member of the cluster as the meta group records it. */
export interface NodeInfo {
  /** id is the node id used by placements (a string, as in src/partition). */
  readonly id: string;
  readonly peerAddress: string;
  readonly apiAddress: string;
  readonly state: NodeState;
}

/**
 * MetaCommand is one command of the meta state machine. `requestId`, when
 * set, makes retries idempotent: the state machine remembers the last
 * requestIdsRememberedMax ids with their first result and answers a repeat
 * with that result without applying it again — whatever the repeat's op and
 * arguments, so a client must never reuse an id for a different command.
 * Malformed bytes carry no usable id and are never remembered.
 */
export type MetaCommand = (
  | { readonly op: 'kvPut'; readonly key: string; readonly value: string }
  | { readonly op: 'kvDelete'; readonly key: string }
  | { readonly op: 'kvCas'; readonly key: string; readonly expected: string | null; readonly value: string }
  | { readonly op: 'lockAcquire'; readonly name: string; readonly owner: string; readonly ttlMs: number; readonly nowMs: number }
  | { readonly op: 'lockRelease'; readonly name: string; readonly token: number }
  | { readonly op: 'lockExpire'; readonly nowMs: number }
  | { readonly op: 'setNode'; readonly node: NodeInfo }
  | { readonly op: 'removeNode'; readonly id: string }
  | { readonly op: 'setPlacement'; readonly placement: unknown }
  | { readonly op: 'setTenant'; readonly id: string; readonly settings: TenantSettingsPatch }
  | { readonly op: 'deleteTenant'; readonly id: string }
) & { readonly requestId?: string };

/** MetaOp is the name of a command. */
export type MetaOp = MetaCommand['op'];

const OPCODES: Readonly<Record<MetaOp, number>> = {
  kvPut: 1,
  kvDelete: 2,
  kvCas: 3,
  lockAcquire: 10,
  lockRelease: 11,
  lockExpire: 12,
  setNode: 20,
  removeNode: 21,
  setPlacement: 22,
  setTenant: 23,
  deleteTenant: 24,
};

/** MetaRefusalCode is the error code of a refused command: the input is malformed, over a limit, or conflicts with the state (a retired node id). */
export type MetaRefusalCode = 'ERR_INVALID_ARGUMENT' | 'ERR_LIMIT_EXCEEDED' | 'ERR_CONFLICT';

/** MetaRefusal is the result of a command the state machine refused; it changed nothing. */
export interface MetaRefusal {
  readonly kind: 'refused';
  readonly ok: false;
  readonly code: MetaRefusalCode;
  readonly message: string;
}

/**
 * KvResult is the result of kvPut, kvDelete or kvCas. `ok` is false for a
 * CAS whose expectation failed (HTTP 409) and a delete of an absent key
 * (HTTP 404). `prev` is the value before the command. `modIndex` is the
 * key's modification index after the command (the Raft index that last
 * changed it; 0 when the key is absent) and `revision` the global KV
 * revision after it (the Raft index of the last command that changed any key).
 */
export interface KvResult {
  readonly kind: 'kv';
  readonly ok: boolean;
  readonly prev: string | null;
  readonly prevModIndex: number;
  readonly modIndex: number;
  readonly revision: number;
}

/**
 * LockResult is the result of lockAcquire or lockRelease. On a successful
 * acquire `token` is the new fencing token and `expiresAtMs` the lease end
 * (in the log's stamped time). On a refused acquire (held: HTTP 409) `token`
 * is 0 — the holder's token is not disclosed, since it authorises release —
 * and `expiresAtMs` is when the holder's lease ends. A release answers ok
 * when the token was current; otherwise ok is false and the fields are 0.
 */
export interface LockResult {
  readonly kind: 'lock';
  readonly ok: boolean;
  readonly token: number;
  readonly expiresAtMs: number;
}

/** ExpireResult is the result of lockExpire: how many expired locks it dropped. */
export interface ExpireResult {
  readonly kind: 'expire';
  readonly ok: true;
  readonly expired: number;
}

/** ConfigResult is the result of a configuration command; ok is false for removing something absent. */
export interface ConfigResult {
  readonly kind: 'config';
  readonly ok: boolean;
  /** tenant is the resolved settings after setTenant (null otherwise). */
  readonly tenant: TenantSettings | null;
}

/** MetaResult is what every meta command resolves with. */
export type MetaResult = MetaRefusal | KvResult | LockResult | ExpireResult | ConfigResult;

/** refusal builds a MetaRefusal. */
export function refusal(code: MetaRefusalCode, message: string): MetaRefusal {
  return { kind: 'refused', ok: false, code, message };
}

/** utf8Bytes is the UTF-8 length of a string (how every *BytesMax limit measures text). */
export function utf8Bytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

function commandArgs(c: MetaCommand): unknown[] {
  switch (c.op) {
    case 'kvPut':
      return [c.key, c.value];
    case 'kvDelete':
      return [c.key];
    case 'kvCas':
      return [c.key, c.expected, c.value];
    case 'lockAcquire':
      return [c.name, c.owner, c.ttlMs, c.nowMs];
    case 'lockRelease':
      return [c.name, c.token];
    case 'lockExpire':
      return [c.nowMs];
    case 'setNode':
      return [c.node.id, c.node.peerAddress, c.node.apiAddress, NODE_STATES.indexOf(c.node.state)];
    case 'removeNode':
    case 'deleteTenant':
      return [c.id];
    case 'setPlacement':
      return [c.placement];
    case 'setTenant':
      return [c.id, c.settings];
  }
}

function withVersion(version: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length + 1);
  out[0] = version;
  out.set(body, 1);
  return out;
}

/**
 * encodeMetaCommand encodes a command as proposal data. It does not check
 * limits (the state machine does, so every replica refuses the same way);
 * call `checkMetaCommand` first to refuse early without a Raft round trip.
 */
export function encodeMetaCommand(c: MetaCommand): Uint8Array {
  const op = OPCODES[c.op];
  return withVersion(COMMAND_FORMAT_VERSION, pack([op, c.requestId ?? null, ...commandArgs(c)]));
}

/** encodeMetaResult encodes a result as the bytes a proposal resolves with. */
export function encodeMetaResult(r: MetaResult): Uint8Array {
  return withVersion(RESULT_FORMAT_VERSION, pack(r));
}

/** decodeMetaResult decodes the bytes a meta proposal resolved with; it throws ERR_INVALID_ARGUMENT for anything else. */
export function decodeMetaResult(bytes: Uint8Array): MetaResult {
  const bad = (why: string): never => {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `not a meta result: ${why}`);
  };
  if (bytes.length < 2) return bad('too short');
  if (bytes[0] !== RESULT_FORMAT_VERSION) return bad(`version ${String(bytes[0])}`);
  let v: unknown;
  try {
    v = unpack(bytes.subarray(1));
  } catch {
    return bad('malformed body');
  }
  if (typeof v !== 'object' || v === null) return bad('not an object');
  const kind = (v as { kind?: unknown }).kind;
  if (kind !== 'refused' && kind !== 'kv' && kind !== 'lock' && kind !== 'expire' && kind !== 'config') {
    return bad(`kind ${String(kind)}`);
  }
  return v as MetaResult;
}

const isStr = (v: unknown): v is string => typeof v === 'string';
const isUint = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** decodeMetaCommand parses proposal data into a command; malformed or over-limit bytes become a MetaRefusal (never a throw). */
export function decodeMetaCommand(bytes: Uint8Array): MetaCommand | MetaRefusal {
  const invalid = (why: string): MetaRefusal => refusal('ERR_INVALID_ARGUMENT', `malformed meta command: ${why}`);
  if (bytes.length > ControlLimits.commandBytesMax + 1) {
    return refusal('ERR_LIMIT_EXCEEDED', `meta command of ${bytes.length} bytes exceeds commandBytesMax ${ControlLimits.commandBytesMax}`);
  }
  if (bytes.length < 2) return invalid('too short');
  if (bytes[0] !== COMMAND_FORMAT_VERSION) return invalid(`unknown version ${String(bytes[0])}`);
  let v: unknown;
  try {
    v = unpack(bytes.subarray(1));
  } catch {
    return invalid('body is not msgpack');
  }
  if (!Array.isArray(v) || v.length < 2) return invalid('body is not an array [opcode, requestId, ...]');
  const [opcode, rid, ...a] = v as unknown[];
  if (rid !== null && !isStr(rid)) return invalid('requestId is neither a string nor null');
  const r = rid === null ? {} : { requestId: rid };
  const n = a.length;
  let c: MetaCommand | null = null;
  switch (opcode) {
    case 1:
      if (n === 2 && isStr(a[0]) && isStr(a[1])) c = { op: 'kvPut', key: a[0], value: a[1], ...r };
      break;
    case 2:
      if (n === 1 && isStr(a[0])) c = { op: 'kvDelete', key: a[0], ...r };
      break;
    case 3:
      if (n === 3 && isStr(a[0]) && (a[1] === null || isStr(a[1])) && isStr(a[2])) {
        c = { op: 'kvCas', key: a[0], expected: a[1], value: a[2], ...r };
      }
      break;
    case 10:
      if (n === 4 && isStr(a[0]) && isStr(a[1]) && isUint(a[2]) && isUint(a[3])) {
        c = { op: 'lockAcquire', name: a[0], owner: a[1], ttlMs: a[2], nowMs: a[3], ...r };
      }
      break;
    case 11:
      if (n === 2 && isStr(a[0]) && isUint(a[1])) c = { op: 'lockRelease', name: a[0], token: a[1], ...r };
      break;
    case 12:
      if (n === 1 && isUint(a[0])) c = { op: 'lockExpire', nowMs: a[0], ...r };
      break;
    case 20: {
      const st = NODE_STATES[a[3] as number];
      if (n === 4 && isStr(a[0]) && isStr(a[1]) && isStr(a[2]) && isUint(a[3]) && st !== undefined) {
        c = { op: 'setNode', node: { id: a[0], peerAddress: a[1], apiAddress: a[2], state: st }, ...r };
      }
      break;
    }
    case 21:
      if (n === 1 && isStr(a[0])) c = { op: 'removeNode', id: a[0], ...r };
      break;
    case 22:
      if (n === 1) c = { op: 'setPlacement', placement: a[0], ...r };
      break;
    case 23:
      if (n === 2 && isStr(a[0])) c = { op: 'setTenant', id: a[0], settings: a[1] as TenantSettingsPatch, ...r };
      break;
    case 24:
      if (n === 1 && isStr(a[0])) c = { op: 'deleteTenant', id: a[0], ...r };
      break;
    default:
      return invalid(`unknown opcode ${String(opcode)}`);
  }
  if (c === null) return invalid(`arguments of opcode ${String(opcode)} do not match its layout`);
  return checkMetaCommand(c) ?? c;
}

function tooLong(what: string, s: string, max: number, minBytes = 1): MetaRefusal | null {
  const len = utf8Bytes(s);
  if (len < minBytes) return refusal('ERR_INVALID_ARGUMENT', `${what} is empty`);
  if (len > max) return refusal('ERR_LIMIT_EXCEEDED', `${what} of ${len} bytes exceeds ${max}`);
  return null;
}

function checkStamp(nowMs: number): MetaRefusal | null {
  if (!isUint(nowMs) || nowMs > ControlLimits.stampMsMax) {
    return refusal('ERR_INVALID_ARGUMENT', `nowMs ${String(nowMs)} is not an integer in [0, ${ControlLimits.stampMsMax}]`);
  }
  return null;
}

/**
 * checkMetaCommand checks a command's fields against ControlLimits and
 * returns the refusal the state machine would answer, or null. It looks at
 * the command alone; refusals that depend on the state (a full KV, a held
 * lock) come from apply. The HTTP layer may call it to refuse early.
 */
export function checkMetaCommand(c: MetaCommand): MetaRefusal | null {
  if (c.requestId !== undefined) {
    const r = tooLong('requestId', c.requestId, ControlLimits.requestIdBytesMax);
    if (r !== null) return r;
  }
  switch (c.op) {
    case 'kvPut':
    case 'kvCas': {
      const r = tooLong('key', c.key, ControlLimits.kvKeyBytesMax) ?? tooLong('value', c.value, ControlLimits.kvValueBytesMax, 0);
      if (r !== null) return r;
      if (c.op === 'kvCas' && c.expected !== null) return tooLong('expected value', c.expected, ControlLimits.kvValueBytesMax, 0);
      return null;
    }
    case 'kvDelete':
      return tooLong('key', c.key, ControlLimits.kvKeyBytesMax);
    case 'lockAcquire': {
      const r = tooLong('lock name', c.name, ControlLimits.lockNameBytesMax) ?? tooLong('lock owner', c.owner, ControlLimits.lockOwnerBytesMax);
      if (r !== null) return r;
      if (!isUint(c.ttlMs) || c.ttlMs < ControlLimits.lockTtlMsMin || c.ttlMs > ControlLimits.lockTtlMsMax) {
        return refusal('ERR_INVALID_ARGUMENT', `ttlMs ${String(c.ttlMs)} is outside [${ControlLimits.lockTtlMsMin}, ${ControlLimits.lockTtlMsMax}]`);
      }
      return checkStamp(c.nowMs);
    }
    case 'lockRelease':
      return tooLong('lock name', c.name, ControlLimits.lockNameBytesMax) ?? (isUint(c.token) ? null : refusal('ERR_INVALID_ARGUMENT', 'token is not an integer'));
    case 'lockExpire':
      return checkStamp(c.nowMs);
    case 'setNode': {
      const nd = c.node;
      if (!NODE_STATES.includes(nd.state)) return refusal('ERR_INVALID_ARGUMENT', `node state ${String(nd.state)} is unknown`);
      return (
        tooLong('node id', nd.id, ControlLimits.nodeIdBytesMax) ??
        tooLong('peer address', nd.peerAddress, ControlLimits.addressBytesMax) ??
        tooLong('api address', nd.apiAddress, ControlLimits.addressBytesMax)
      );
    }
    case 'removeNode':
      return tooLong('node id', c.id, ControlLimits.nodeIdBytesMax);
    case 'setPlacement':
      return null; // validatePlacement runs in apply, against the membership too.
    case 'setTenant':
    case 'deleteTenant': {
      const why = checkTenantId(c.id);
      return why === null ? null : refusal('ERR_INVALID_ARGUMENT', why);
    }
  }
}
