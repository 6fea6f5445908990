/**
 * meta-state-machine.ts — the state machine of the meta group (group 0):
 * the control KV, locks with leases and fencing tokens, the cluster's
 * membership, shard placement and tenant settings, and the memory of recent
 * request ids that makes retries idempotent. Pure: no I/O, no clock, no
 * randomness; every replica that applies the same log reaches byte-identical
 * snapshots.
 *
 * ## Time and leases (the clock assumption)
 *
 * The state machine never reads a clock. The leader that proposes a lock
 * command stamps it with its own wall clock (`nowMs`, part of the command
 * data), and every replica judges leases by the stamps in the log alone.
 * The state keeps `logTimeMs`, the largest stamp applied so far; a command's
 * effective time is max(its stamp, logTimeMs), so time in the log never
 * goes backwards even when leadership moves to a node whose clock is behind.
 * A lease acquired at effective time T with ttlMs is held for every effective
 * time t with t < T + ttlMs and is expired from t >= T + ttlMs on (the
 * boundary belongs to expiry). Consequences:
 *   - A new leader's clock may differ from the old one's. Leases are judged
 *     by whichever leader's stamp is in the log, so a lease is shortened by
 *     the amount a new leader's clock is ahead and lengthened by the amount
 *     it is behind (log time stands still until its clock passes logTimeMs).
 *   - A lease is therefore not a safe mutual exclusion on its own. Every
 *     acquire hands out a fencing token from a counter that only grows
 *     (`lockTokenLast`, in the state and the snapshot); a resource that
 *     remembers the highest token it has seen and refuses lower ones is safe
 *     whatever the skew.
 *   - Expired locks stay in the state until an acquire replaces them or the
 *     leader proposes `lockExpire` (periodically); readers of `lock(name)`
 *     compare its `expiresAtMs` with their own notion of time.
 *
 * ## Invariants
 *
 * - appliedIndex() is the index of the last entry applied or restored.
 * - #kvKeys is #kv's keys, sorted by UTF-16 code units, distinct.
 * - For every KV record: 1 <= createIndex <= modIndex <= #kvRevision <= applied.
 * - Every lock's token is in [1, #lockTokenLast], distinct; #lockTokenLast never decreases.
 * - #logTimeMs never decreases.
 * - Every node the placement names is in #nodes.
 * - #requests holds at most requestIdsRememberedMax ids, in the order first applied.
 * Owner: one driver owns one instance, for group 0; queries run on the
 * driver's thread between iterations (after a read barrier for linearizable reads).
 */
import { OtlpdbError, assert, isOtlpdbError } from '../errors.js';
import { validatePlacement } from '../partition/placement.js';
import type { Placement } from '../partition/placement.js';
import type { StateMachine } from '../raft/driver/state-machine.js';
import { EntryType } from '../raft/types.js';
import type { Entry } from '../raft/types.js';
import { ControlLimits } from '../limits.js';
import { decodeMetaCommand, encodeMetaResult, refusal } from './meta-command.js';
import type { ConfigResult, KvResult, LockResult, MetaCommand, MetaResult, NodeInfo } from './meta-command.js';
import { canonicalPlacement, decodeMetaImage, encodeMetaImage } from './meta-snapshot.js';
import type { KvRecord, LockRecord, MetaImage, RememberedRequest } from './meta-snapshot.js';
import { TenantDefaults, resolveTenantSettings } from './tenant.js';
import type { TenantSettings } from './tenant.js';

/** KvEntry is one control-KV entry as queries return it. */
export interface KvEntry extends KvRecord {
  readonly key: string;
}

/** KvListResult is one page of a prefix listing; `more` says whether entries past the limit exist. */
export interface KvListResult {
  readonly entries: readonly KvEntry[];
  readonly more: boolean;
}

/** LockInfo is one lock as queries return it (possibly expired: judge `expiresAtMs` against your clock). */
export interface LockInfo extends LockRecord {
  readonly name: string;
}

const NO_RESULT = new Uint8Array(0);

const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** lowerBound returns the first position in sorted `keys` whose key is >= `key`. */
function lowerBound(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((keys[mid] as string) < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** MetaStateMachine is group 0's application; see the top of this file. */
export class MetaStateMachine implements StateMachine {
  #applied = 0;
  readonly #kv = new Map<string, KvRecord>();
  #kvKeys: string[] = [];
  #kvRevision = 0;
  readonly #locks = new Map<string, LockRecord>();
  #lockTokenLast = 0;
  #logTimeMs = 0;
  readonly #nodes = new Map<string, NodeInfo>();
  /** #retired holds the ids of nodes removed from the membership (at most ControlLimits.retiredNodesMax); none is admitted again. */
  readonly #retired = new Set<string>();
  #placement: Placement | null = null;
  readonly #tenants = new Map<string, TenantSettings>();
  readonly #requests = new Map<string, RememberedRequest>();

  // ---- StateMachine ----

  apply(entries: readonly Entry[]): readonly Uint8Array[] {
    const out = new Array<Uint8Array>(entries.length);
    for (let k = 0; k < entries.length; k++) {
      const e = entries[k] as Entry;
      assert(e.index === this.#applied + 1, 'entries are applied in order without gaps');
      this.#applied = e.index;
      out[k] = NO_RESULT;
      if (e.type !== EntryType.Normal || e.data.length === 0) continue;
      out[k] = this.#applyCommand(e.data, e.index);
    }
    assert(out.length === entries.length, 'one result per entry');
    return out;
  }

  snapshot(): Uint8Array {
    return encodeMetaImage(this.image());
  }

  restore(data: Uint8Array, index: number): void {
    assert(Number.isSafeInteger(index) && index >= 0, 'restore index >= 0');
    // Decode fully before touching any field: a refused image leaves the state as it was.
    const img = data.length === 0 ? null : decodeMetaImage(data, index);
    this.#kv.clear();
    this.#kvKeys = [];
    this.#locks.clear();
    this.#nodes.clear();
    this.#retired.clear();
    this.#tenants.clear();
    this.#requests.clear();
    this.#applied = index;
    this.#kvRevision = 0;
    this.#lockTokenLast = 0;
    this.#logTimeMs = 0;
    this.#placement = null;
    if (img === null) return;
    for (const [k, r] of img.kv) this.#kv.set(k, r);
    this.#kvKeys = img.kv.map((e) => e[0]);
    this.#kvRevision = img.kvRevision;
    for (const [n, l] of img.locks) this.#locks.set(n, l);
    this.#lockTokenLast = img.lockTokenLast;
    this.#logTimeMs = img.logTimeMs;
    for (const n of img.nodes) this.#nodes.set(n.id, n);
    for (const id of img.retired) this.#retired.add(id);
    this.#placement = img.placement;
    for (const [id, s] of img.tenants) this.#tenants.set(id, s);
    for (const [id, r] of img.requests) this.#requests.set(id, r);
  }

  appliedIndex(): number {
    return this.#applied;
  }

  /** image returns the whole state as plain data in canonical order (what `snapshot` encodes). */
  image(): MetaImage {
    const sortedEntries = <V>(m: ReadonlyMap<string, V>): [string, V][] => [...m.entries()].sort((a, b) => byCodeUnits(a[0], b[0]));
    return {
      applied: this.#applied,
      kvRevision: this.#kvRevision,
      kv: this.#kvKeys.map((k) => [k, this.#kv.get(k) as KvRecord] as const),
      lockTokenLast: this.#lockTokenLast,
      logTimeMs: this.#logTimeMs,
      locks: sortedEntries(this.#locks),
      nodes: this.nodes(),
      placement: this.#placement,
      tenants: sortedEntries(this.#tenants),
      requests: [...this.#requests.entries()],
      retired: [...this.#retired].sort(byCodeUnits),
    };
  }

  // ---- Queries (pure reads of local state; call after driver.read(0) for linearizability) ----

  /** get returns a control-KV entry, or null when the key is absent. */
  get(key: string): KvEntry | null {
    const r = this.#kv.get(key);
    return r === undefined ? null : { key, ...r };
  }

  /** kvRevision is the Raft index of the last command that changed any key (0 when none has). */
  kvRevision(): number {
    return this.#kvRevision;
  }

  /** kvSize is the number of keys in the control KV. */
  kvSize(): number {
    return this.#kvKeys.length;
  }

  /** list returns up to `limit` entries whose key starts with `prefix`, in key order (UTF-16 code units). */
  list(prefix: string, limit: number = ControlLimits.kvListEntriesMax): KvListResult {
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > ControlLimits.kvListEntriesMax) {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', `list limit ${String(limit)} is outside [1, ${ControlLimits.kvListEntriesMax}]`);
    }
    const entries: KvEntry[] = [];
    for (let i = lowerBound(this.#kvKeys, prefix); i < this.#kvKeys.length; i++) {
      const key = this.#kvKeys[i] as string;
      if (!key.startsWith(prefix)) break;
      if (entries.length === limit) return { entries, more: true };
      entries.push({ key, ...(this.#kv.get(key) as KvRecord) });
    }
    return { entries, more: false };
  }

  /** lock returns a lock's record, or null when none is held. An expired lock is returned until it is replaced or expired. */
  lock(name: string): LockInfo | null {
    const l = this.#locks.get(name);
    return l === undefined ? null : { name, ...l };
  }

  /** locks returns every lock record, sorted by name. */
  locks(): LockInfo[] {
    return [...this.#locks.entries()].sort((a, b) => byCodeUnits(a[0], b[0])).map(([name, l]) => ({ name, ...l }));
  }

  /** lockTokenLast is the last fencing token handed out (0 before the first acquire). */
  lockTokenLast(): number {
    return this.#lockTokenLast;
  }

  /** logTimeMs is the largest leader clock stamp applied so far (the log's notion of now). */
  logTimeMs(): number {
    return this.#logTimeMs;
  }

  /** nodes returns the membership list, sorted by id. */
  nodes(): NodeInfo[] {
    return [...this.#nodes.values()].sort((a, b) => byCodeUnits(a.id, b.id));
  }

  /** node returns one member, or null. */
  node(id: string): NodeInfo | null {
    return this.#nodes.get(id) ?? null;
  }

  /** placement returns the shard placement, or null before one is set. */
  placement(): Placement | null {
    return this.#placement;
  }

  /** tenant returns a tenant's settings: the stored ones, or TenantDefaults for a tenant nobody configured. */
  tenant(id: string): TenantSettings {
    return this.#tenants.get(id) ?? TenantDefaults;
  }

  /** tenantIds returns the ids of configured tenants, sorted. */
  tenantIds(): string[] {
    return [...this.#tenants.keys()].sort(byCodeUnits);
  }

  /** rememberedRequests is the number of request ids remembered for idempotent retries. */
  rememberedRequests(): number {
    return this.#requests.size;
  }

  // ---- Apply ----

  #applyCommand(data: Uint8Array, index: number): Uint8Array {
    const c = decodeMetaCommand(data);
    if ('kind' in c) return encodeMetaResult(c);
    const cmd: MetaCommand = c;
    if (cmd.requestId !== undefined) {
      const seen = this.#requests.get(cmd.requestId);
      if (seen !== undefined) return seen.result;
    }
    const bytes = encodeMetaResult(this.#execute(cmd, index));
    if (cmd.requestId !== undefined) this.#remember(cmd.requestId, index, bytes);
    return bytes;
  }

  #remember(requestId: string, index: number, result: Uint8Array): void {
    assert(!this.#requests.has(requestId), 'a remembered request id is not applied twice');
    // Own copy: msgpackr's output may share a larger pooled buffer.
    this.#requests.set(requestId, { index, result: Uint8Array.from(result) });
    while (this.#requests.size > ControlLimits.requestIdsRememberedMax) {
      const oldest = this.#requests.keys().next();
      assert(oldest.done !== true, 'an over-full memory has an oldest entry');
      this.#requests.delete(oldest.value);
    }
    assert(this.#requests.size <= ControlLimits.requestIdsRememberedMax, 'request memory bounded');
  }

  #execute(c: MetaCommand, index: number): MetaResult {
    switch (c.op) {
      case 'kvPut':
        return this.#kvWrite(c.key, c.value, index);
      case 'kvCas': {
        const cur = this.#kv.get(c.key);
        const matches = c.expected === null ? cur === undefined : cur !== undefined && cur.value === c.expected;
        if (!matches) return this.#kvUnchanged(cur, false);
        return this.#kvWrite(c.key, c.value, index);
      }
      case 'kvDelete':
        return this.#kvDelete(c.key, index);
      case 'lockAcquire':
        return this.#lockAcquire(c.name, c.owner, c.ttlMs, this.#advanceLogTime(c.nowMs));
      case 'lockRelease':
        return this.#lockRelease(c.name, c.token);
      case 'lockExpire':
        return { kind: 'expire', ok: true, expired: this.#expireLocks(this.#advanceLogTime(c.nowMs)) };
      case 'setNode':
        if (this.#retired.has(c.node.id)) {
          // A node id names Raft replicas; the tombstones that keep a re-added replica's promises (src/raft/tombstone.ts) went with the old node.
          return refusal('ERR_CONFLICT', `node id ${JSON.stringify(c.node.id)} left the cluster and is not admitted again; start the node with a new --node-id`);
        }
        if (!this.#nodes.has(c.node.id) && this.#nodes.size >= ControlLimits.nodesMax) {
          return refusal('ERR_LIMIT_EXCEEDED', `the membership already has nodesMax ${ControlLimits.nodesMax} nodes`);
        }
        this.#nodes.set(c.node.id, { id: c.node.id, peerAddress: c.node.peerAddress, apiAddress: c.node.apiAddress, state: c.node.state });
        return config(true);
      case 'removeNode': {
        if (this.#placement?.nodes.includes(c.id) === true) {
          return refusal('ERR_INVALID_ARGUMENT', `node ${JSON.stringify(c.id)} is named by the placement; move its replicas first`);
        }
        if (this.#nodes.has(c.id) && this.#retired.size >= ControlLimits.retiredNodesMax) {
          return refusal('ERR_LIMIT_EXCEEDED', `retiredNodesMax ${ControlLimits.retiredNodesMax} nodes have left the cluster already`);
        }
        const removed = this.#nodes.delete(c.id);
        if (removed) this.#retired.add(c.id);
        return config(removed);
      }
      case 'setPlacement':
        return this.#setPlacement(c.placement);
      case 'setTenant': {
        const had = this.#tenants.get(c.id);
        if (had === undefined && this.#tenants.size >= ControlLimits.tenantsMax) {
          return refusal('ERR_LIMIT_EXCEEDED', `tenantsMax ${ControlLimits.tenantsMax} tenants are configured`);
        }
        const s = resolveTenantSettings(had ?? TenantDefaults, c.settings);
        if (typeof s === 'string') return refusal('ERR_INVALID_ARGUMENT', `tenant ${c.id}: ${s}`);
        this.#tenants.set(c.id, s);
        return { kind: 'config', ok: true, tenant: s };
      }
      case 'deleteTenant':
        return config(this.#tenants.delete(c.id));
    }
  }

  #kvUnchanged(cur: KvRecord | undefined, ok: boolean): KvResult {
    return {
      kind: 'kv',
      ok,
      prev: cur?.value ?? null,
      prevModIndex: cur?.modIndex ?? 0,
      modIndex: cur?.modIndex ?? 0,
      revision: this.#kvRevision,
    };
  }

  #kvWrite(key: string, value: string, index: number): MetaResult {
    const cur = this.#kv.get(key);
    if (cur === undefined) {
      if (this.#kvKeys.length >= ControlLimits.kvKeysMax) {
        return refusal('ERR_LIMIT_EXCEEDED', `the control KV already holds kvKeysMax ${ControlLimits.kvKeysMax} keys`);
      }
      this.#kvKeys.splice(lowerBound(this.#kvKeys, key), 0, key);
    }
    this.#kv.set(key, { value, createIndex: cur?.createIndex ?? index, modIndex: index });
    assert(index > this.#kvRevision, 'the KV revision only grows');
    this.#kvRevision = index;
    assert(this.#kvKeys.length === this.#kv.size, 'sorted keys mirror the map');
    return { kind: 'kv', ok: true, prev: cur?.value ?? null, prevModIndex: cur?.modIndex ?? 0, modIndex: index, revision: index };
  }

  #kvDelete(key: string, index: number): KvResult {
    const cur = this.#kv.get(key);
    if (cur === undefined) return this.#kvUnchanged(undefined, false);
    this.#kv.delete(key);
    const at = lowerBound(this.#kvKeys, key);
    assert(this.#kvKeys[at] === key, 'a present key is in the sorted list');
    this.#kvKeys.splice(at, 1);
    this.#kvRevision = index;
    return { kind: 'kv', ok: true, prev: cur.value, prevModIndex: cur.modIndex, modIndex: 0, revision: index };
  }

  /** #advanceLogTime folds a leader's stamp into the log's time and returns the command's effective time. */
  #advanceLogTime(stampMs: number): number {
    if (stampMs > this.#logTimeMs) this.#logTimeMs = stampMs;
    return this.#logTimeMs;
  }

  #lockAcquire(name: string, owner: string, ttlMs: number, nowMs: number): LockResult | MetaResult {
    const cur = this.#locks.get(name);
    if (cur !== undefined && nowMs < cur.expiresAtMs) return { kind: 'lock', ok: false, token: 0, expiresAtMs: cur.expiresAtMs };
    if (cur === undefined && this.#locks.size >= ControlLimits.locksMax && this.#expireLocks(nowMs) === 0) {
      return refusal('ERR_LIMIT_EXCEEDED', `locksMax ${ControlLimits.locksMax} locks are held`);
    }
    const token = this.#lockTokenLast + 1;
    assert(token > this.#lockTokenLast, 'fencing tokens only grow');
    this.#lockTokenLast = token;
    const expiresAtMs = nowMs + ttlMs;
    this.#locks.set(name, { owner, token, acquiredAtMs: nowMs, expiresAtMs });
    return { kind: 'lock', ok: true, token, expiresAtMs };
  }

  #lockRelease(name: string, token: number): LockResult {
    const cur = this.#locks.get(name);
    if (cur === undefined || cur.token !== token) return { kind: 'lock', ok: false, token: 0, expiresAtMs: 0 };
    this.#locks.delete(name);
    return { kind: 'lock', ok: true, token, expiresAtMs: cur.expiresAtMs };
  }

  /** #expireLocks drops every lock whose lease ended at or before nowMs and returns how many. */
  #expireLocks(nowMs: number): number {
    let n = 0;
    for (const [name, l] of this.#locks) {
      if (l.expiresAtMs <= nowMs) {
        this.#locks.delete(name);
        n++;
      }
    }
    return n;
  }

  #setPlacement(value: unknown): MetaResult {
    let p: Placement;
    try {
      p = canonicalPlacement(validatePlacement(value));
    } catch (err) {
      // Any failure to validate untrusted input is a refusal, the same on every replica; never a throw out of apply.
      const code = isOtlpdbError(err, 'ERR_LIMIT_EXCEEDED') ? 'ERR_LIMIT_EXCEEDED' : 'ERR_INVALID_ARGUMENT';
      return refusal(code, err instanceof Error ? err.message : 'invalid placement');
    }
    for (const id of p.nodes) {
      if (!this.#nodes.has(id)) return refusal('ERR_INVALID_ARGUMENT', `placement names ${JSON.stringify(id)}, which is not a member`);
    }
    this.#placement = p;
    return config(true);
  }
}

function config(ok: boolean): ConfigResult {
  return { kind: 'config', ok, tenant: null };
}
