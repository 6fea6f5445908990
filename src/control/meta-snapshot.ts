/**
 * meta-snapshot.ts — the versioned snapshot image of the meta state
 * machine. Pure: `encodeMetaImage` and `decodeMetaImage` over a plain
 * `MetaImage`.
 *
 * ## Layout
 *
 *   +-------------------+---------+-------------------------------------+
 *   | magic "OMSM"      | version | msgpackr array (the MetaImage body) |
 *   | 4 bytes           | 1 byte  |                                     |
 *   +-------------------+---------+-------------------------------------+
 *
 * Body: [applied, kvRevision, kv, lockTokenLast, logTimeMs, locks, nodes,
 * placement | null, tenants, requests, retired] where
 *   kv       = [[key, value, createIndex, modIndex], ...] sorted by key;
 *   locks    = [[name, owner, token, acquiredAtMs, expiresAtMs], ...] sorted by name;
 *   nodes    = [[id, peerAddress, apiAddress, state], ...] sorted by id;
 *   tenants  = [[id, settings], ...] sorted by id;
 *   requests = [[requestId, index, resultBytes], ...] oldest first (eviction order);
 *   retired  = [nodeId, ...] sorted: ids of nodes that left, never admitted
 *              again (version 2; a version 1 image has 10 elements and no
 *              retired ids).
 * Every list is in a canonical order, so two replicas in the same state
 * produce byte-identical images whatever order they built their maps in.
 * The image carries no checksum of its own: the snapshot file around it
 * (src/raft/driver/snapshot-store.ts) has one.
 *
 * decodeMetaImage checks the whole structure and the state's invariants and
 * throws ERR_CORRUPTION on the first violation; it builds a fresh MetaImage,
 * so a refused image leaves the caller's state untouched.
 * NB: it does not enforce ControlLimits counts (kvKeysMax, locksMax...): a
 * node whose limits were lowered must still be able to restore the state its
 * peers hold. Commands enforce the limits from then on.
 */
import { pack, unpack } from 'msgpackr';
import { OtlpdbError, isOtlpdbError } from '../errors.js';
import { validatePlacement } from '../partition/placement.js';
import type { Placement } from '../partition/placement.js';
import { RESULT_FORMAT_VERSION } from './meta-command.js';
import type { NodeInfo, NodeState } from './meta-command.js';
import { TenantDefaults, resolveTenantSettings } from './tenant.js';
import type { TenantSettings } from './tenant.js';

/** META_SNAPSHOT_MAGIC opens every meta snapshot image ("OMSM"). */
export const META_SNAPSHOT_MAGIC = Uint8Array.of(0x4f, 0x4d, 0x53, 0x4d);
/** META_SNAPSHOT_VERSION is the image format version this code writes; it also reads META_SNAPSHOT_VERSION_V1. */
export const META_SNAPSHOT_VERSION = 2;
/** META_SNAPSHOT_VERSION_V1 is the first format: no retired node ids. */
export const META_SNAPSHOT_VERSION_V1 = 1;
const HEADER_BYTES = META_SNAPSHOT_MAGIC.length + 1;

/** KvRecord is one control-KV entry: its value, the Raft index that created it and the one that last changed it. */
export interface KvRecord {
  readonly value: string;
  readonly createIndex: number;
  readonly modIndex: number;
}

/** LockRecord is one held lock. Invariant: acquiredAtMs < expiresAtMs; token <= the state's lockTokenLast. */
export interface LockRecord {
  readonly owner: string;
  readonly token: number;
  readonly acquiredAtMs: number;
  readonly expiresAtMs: number;
}

/** RememberedRequest is a request id's first result, kept for idempotent retries. */
export interface RememberedRequest {
  readonly index: number;
  readonly result: Uint8Array;
}

/** MetaImage is the whole meta state as plain data, lists in canonical order (see the layout above). */
export interface MetaImage {
  readonly applied: number;
  readonly kvRevision: number;
  readonly kv: readonly (readonly [string, KvRecord])[];
  readonly lockTokenLast: number;
  readonly logTimeMs: number;
  readonly locks: readonly (readonly [string, LockRecord])[];
  readonly nodes: readonly NodeInfo[];
  readonly placement: Placement | null;
  readonly tenants: readonly (readonly [string, TenantSettings])[];
  readonly requests: readonly (readonly [string, RememberedRequest])[];
  /** retired lists, sorted, the ids of nodes that left the cluster: none is admitted again (node-membership.ts). */
  readonly retired: readonly string[];
}

const NODE_STATES: readonly NodeState[] = ['joining', 'active', 'leaving'];

/** encodeMetaImage writes an image in the layout above. */
export function encodeMetaImage(img: MetaImage): Uint8Array {
  const body = pack([
    img.applied,
    img.kvRevision,
    img.kv.map(([k, r]) => [k, r.value, r.createIndex, r.modIndex]),
    img.lockTokenLast,
    img.logTimeMs,
    img.locks.map(([n, l]) => [n, l.owner, l.token, l.acquiredAtMs, l.expiresAtMs]),
    img.nodes.map((n) => [n.id, n.peerAddress, n.apiAddress, NODE_STATES.indexOf(n.state)]),
    img.placement,
    img.tenants.map(([id, s]) => [id, s]),
    img.requests.map(([id, r]) => [id, r.index, r.result]),
    img.retired,
  ]);
  const out = new Uint8Array(HEADER_BYTES + body.length);
  out.set(META_SNAPSHOT_MAGIC, 0);
  out[META_SNAPSHOT_MAGIC.length] = META_SNAPSHOT_VERSION;
  out.set(body, HEADER_BYTES);
  return out;
}

const corrupt = (why: string): never => {
  throw new OtlpdbError('ERR_CORRUPTION', `meta snapshot image: ${why}`);
};
const isUint = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isStr = (v: unknown): v is string => typeof v === 'string';

function tuples(v: unknown, width: number, what: string): unknown[][] {
  if (!Array.isArray(v)) return corrupt(`${what} is not a list`);
  for (const t of v as unknown[]) if (!Array.isArray(t) || t.length !== width) corrupt(`${what} entry is not a ${width}-tuple`);
  return v as unknown[][];
}

function checkSortedDistinct(keys: readonly string[], what: string): void {
  for (let i = 1; i < keys.length; i++) if (!((keys[i - 1] as string) < (keys[i] as string))) corrupt(`${what} not sorted and distinct`);
}

/** decodeMetaImage reads and checks an image; it throws ERR_CORRUPTION for a malformed image or an unknown version. */
export function decodeMetaImage(bytes: Uint8Array, index: number): MetaImage {
  if (bytes.length < HEADER_BYTES + 1) return corrupt(`${bytes.length} bytes is too short`);
  for (let i = 0; i < META_SNAPSHOT_MAGIC.length; i++) if (bytes[i] !== META_SNAPSHOT_MAGIC[i]) corrupt('bad magic');
  const version = bytes[META_SNAPSHOT_MAGIC.length];
  if (version !== META_SNAPSHOT_VERSION && version !== META_SNAPSHOT_VERSION_V1) {
    corrupt(`unknown version ${String(version)} (this code reads ${META_SNAPSHOT_VERSION_V1} and ${META_SNAPSHOT_VERSION})`);
  }
  let body: unknown;
  try {
    body = unpack(bytes.subarray(HEADER_BYTES));
  } catch {
    return corrupt('body is not msgpack');
  }
  const width = version === META_SNAPSHOT_VERSION_V1 ? 10 : 11;
  if (!Array.isArray(body) || body.length !== width) return corrupt(`body is not a ${width}-element list`);
  const [applied, kvRevision, kvRaw, lockTokenLast, logTimeMs, locksRaw, nodesRaw, placementRaw, tenantsRaw, requestsRaw, retiredRaw] = body as unknown[];
  if (applied !== index) corrupt(`image is at index ${String(applied)}, expected ${index}`);
  if (!isUint(kvRevision) || kvRevision > index) corrupt('kvRevision');
  if (!isUint(lockTokenLast) || !isUint(logTimeMs)) corrupt('lockTokenLast or logTimeMs');
  const rev = kvRevision as number;

  const kv = tuples(kvRaw, 4, 'kv').map(([k, v, c, m]): [string, KvRecord] => {
    if (!isStr(k) || !isStr(v) || !isUint(c) || !isUint(m)) return corrupt('kv entry types');
    if (!(c >= 1 && c <= m && m <= rev)) corrupt(`kv ${JSON.stringify(k)}: indices not 1 <= create <= mod <= revision`);
    return [k, { value: v, createIndex: c, modIndex: m }];
  });
  checkSortedDistinct(kv.map((e) => e[0]), 'kv keys');

  const tokens = new Set<number>();
  const locks = tuples(locksRaw, 5, 'locks').map(([n, o, tok, at, exp]): [string, LockRecord] => {
    if (!isStr(n) || !isStr(o) || !isUint(tok) || !isUint(at) || !isUint(exp)) return corrupt('lock entry types');
    if (tok < 1 || tok > (lockTokenLast as number) || tokens.has(tok)) corrupt(`lock ${JSON.stringify(n)}: token ${tok} not distinct in [1, lockTokenLast]`);
    if (!(at < exp) || at > (logTimeMs as number)) corrupt(`lock ${JSON.stringify(n)}: times`);
    tokens.add(tok);
    return [n, { owner: o, token: tok, acquiredAtMs: at, expiresAtMs: exp }];
  });
  checkSortedDistinct(locks.map((e) => e[0]), 'lock names');

  const nodes = tuples(nodesRaw, 4, 'nodes').map(([id, peer, api, st]): NodeInfo => {
    const state = NODE_STATES[st as number];
    if (!isStr(id) || !isStr(peer) || !isStr(api) || !isUint(st) || state === undefined) return corrupt('node entry');
    return { id, peerAddress: peer, apiAddress: api, state };
  });
  checkSortedDistinct(nodes.map((n) => n.id), 'node ids');

  let placement: Placement | null = null;
  if (placementRaw !== null) {
    try {
      placement = canonicalPlacement(validatePlacement(placementRaw));
    } catch (err) {
      if (!isOtlpdbError(err)) throw err;
      return corrupt(`placement: ${err.message}`);
    }
    const members = new Set(nodes.map((n) => n.id));
    for (const id of placement.nodes) if (!members.has(id)) corrupt(`placement names ${JSON.stringify(id)}, not a member`);
  }

  const tenants = tuples(tenantsRaw, 2, 'tenants').map(([id, s]): [string, TenantSettings] => {
    if (!isStr(id)) return corrupt('tenant id');
    const r = resolveTenantSettings(TenantDefaults, s);
    if (typeof r === 'string') return corrupt(`tenant ${JSON.stringify(id)}: ${r}`);
    return [id, r];
  });
  checkSortedDistinct(tenants.map((e) => e[0]), 'tenant ids');

  const seen = new Set<string>();
  const requests = tuples(requestsRaw, 3, 'requests').map(([id, i, res]): [string, RememberedRequest] => {
    if (!isStr(id) || !isUint(i) || i > index || !(res instanceof Uint8Array)) return corrupt('request entry');
    if (res.length < 2 || res[0] !== RESULT_FORMAT_VERSION) corrupt('request result bytes');
    if (seen.has(id)) corrupt(`request id ${JSON.stringify(id)} twice`);
    seen.add(id);
    return [id, { index: i, result: Uint8Array.from(res) }];
  });
  const retired = retiredRaw === undefined ? [] : retiredRaw;
  if (!Array.isArray(retired) || !retired.every(isStr)) return corrupt('retired is not a list of node ids');
  checkSortedDistinct(retired, 'retired node ids');
  for (const n of nodes) if (retired.includes(n.id)) corrupt(`node ${JSON.stringify(n.id)} is both a member and retired`);
  return {
    applied: index,
    kvRevision: rev,
    kv,
    lockTokenLast: lockTokenLast as number,
    logTimeMs: logTimeMs as number,
    locks,
    nodes,
    placement,
    tenants,
    requests,
    retired: [...retired],
  };
}

/** canonicalPlacement copies a validated placement with its fields in one fixed order (extra fields dropped). */
export function canonicalPlacement(p: Placement): Placement {
  return {
    formatVersion: p.formatVersion,
    shardCount: p.shardCount,
    replicationFactor: p.replicationFactor,
    vnodesPerNode: p.vnodesPerNode,
    replicaSlackPerNode: p.replicaSlackPerNode,
    nodes: [...p.nodes],
    shards: p.shards.map((s) => ({ shard: s.shard, replicas: [...s.replicas] })),
  };
}
