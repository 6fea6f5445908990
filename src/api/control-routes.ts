/**
 * control-routes.ts — the HTTP routes of the control KV and locks, served
 * from the meta group (group 0) through a ControlSource:
 *
 *   PUT    /api/v1/kv/{key}[?prevValue=X | ?prevExist=false]  body = value (UTF-8)
 *   GET    /api/v1/kv/{key}                                   linearizable read
 *   DELETE /api/v1/kv/{key}
 *   GET    /api/v1/kv/?prefix=p&limit=n                       linearizable list
 *   POST   /api/v1/locks/{name}?ttl=10s                       owner: X-Otlpdb-Owner or the remote address
 *   DELETE /api/v1/locks/{name}?token=N
 *   POST   /api/v1/cluster/nodes         {"id":4,"peer":"host:port","api":"host:port"}  a node asks to join
 *   DELETE /api/v1/cluster/nodes/{id}                                    mark a node leaving (removal)
 *   GET    /api/v1/tenants                  configured tenant ids          linearizable
 *   GET    /api/v1/tenants/{id}             {"id","configured","settings"} linearizable (defaults when unconfigured)
 *   PUT    /api/v1/tenants/{id}             body: a JSON settings patch    (ingest limits, query concurrency, retention per signal, trace sample ratio)
 *   DELETE /api/v1/tenants/{id}             back to the defaults
 *
 * Tenant settings live in the meta group, which every node hosts (voter or
 * learner), so each node applies them from its own replica.
 *
 * Writes take an optional `Idempotency-Key` header (at most
 * ControlApiLimits.idempotencyKeyBytesMax printable ASCII bytes): the meta
 * state machine remembers the result of the last requestIdsRememberedMax
 * keys, so a client that retries after a timeout with the same key gets the
 * first answer and the write is applied once.
 *
 * Keys and lock names are the URL path's rest, percent-decoded. A failed
 * compare-and-set, a create of an existing key, a held lock and a stale
 * token are 409 ERR_CONFLICT; an absent key is 404 ERR_NOT_FOUND.
 * Refusals of the state machine (and of checkMetaCommand, applied here
 * before proposing) keep their codes (400 / 413).
 */
import { checkMetaCommand, checkTenantId } from '../control/index.js';
import type { KvEntry, MetaCommand, MetaResult, TenantSettingsPatch } from '../control/index.js';
import { ApiLimits, ControlApiLimits, ControlLimits } from '../limits.js';
import { OtlpdbError, assert } from '../errors.js';
import type { ControlSource } from './types.js';

const KV_PREFIX = '/api/v1/kv/';
const LOCKS_PREFIX = '/api/v1/locks/';
const NODES_PATH = '/api/v1/cluster/nodes';
const TENANTS_PATH = '/api/v1/tenants';
const KEY_RE = /^[\x21-\x7e]+$/;
const JSON_TYPE = 'application/json';
const TTL_RE = /^(\d{1,10})(ms|s|m)$/;
const TOKEN_RE = /^\d{1,16}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** ControlRequest is what a control route reads from one HTTP request. */
export interface ControlRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  /** owner is the X-Otlpdb-Owner header, else the remote address. */
  readonly owner: string;
  /** idempotencyKey is the Idempotency-Key header, when given. */
  readonly idempotencyKey?: string;
  readonly body: Buffer;
}

/** ControlResponse is a whole answer of a control route. */
export interface ControlResponse {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  readonly allow?: string;
}

/** isControlPath says whether a path belongs to the control routes. */
export function isControlPath(path: string): boolean {
  return path === '/api/v1/kv' || path.startsWith(KV_PREFIX) || path.startsWith(LOCKS_PREFIX) || path === NODES_PATH || path.startsWith(`${NODES_PATH}/`) || path === TENANTS_PATH || path.startsWith(`${TENANTS_PATH}/`);
}

/** bodyLimitFor is the request body limit of a method and path. */
export function bodyLimitFor(method: string, path: string): number {
  return method === 'PUT' && path.startsWith(KV_PREFIX) ? ControlApiLimits.kvPutBodyBytesMax : ApiLimits.requestBodyBytesMax;
}

function ok(value: unknown): ControlResponse {
  return { status: 200, contentType: JSON_TYPE, body: JSON.stringify(value) };
}

function fail(err: OtlpdbError, allow?: string): ControlResponse {
  const details = Object.keys(err.details).length > 0 ? { details: err.details } : {};
  const r = { status: err.httpStatus, contentType: JSON_TYPE, body: JSON.stringify({ error: { code: err.code, message: err.message, ...details } }) };
  return allow === undefined ? r : { ...r, allow };
}

function notAllowed(method: string, path: string, allow: string): ControlResponse {
  const r = fail(new OtlpdbError('ERR_INVALID_ARGUMENT', `method ${method} not allowed on ${path}; allowed: ${allow}`), allow);
  return { ...r, status: 405 };
}

function decodeName(raw: string, what: string): string {
  let s: string;
  try {
    s = decodeURIComponent(raw);
  } catch {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `${what} is not valid percent-encoding`);
  }
  if (s.length === 0) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `${what} is empty`);
  return s;
}

/** parseTtlMs parses `\d+(ms|s|m)` within [lockTtlMsMin, lockTtlMsMax]. */
export function parseTtlMs(s: string | null): number {
  const m = s === null ? null : TTL_RE.exec(s);
  if (m === null) throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'ttl must be a number with a unit ms, s or m (e.g. 10s)', { ttl: s });
  const n = Number(m[1]);
  const ms = m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000;
  if (!Number.isSafeInteger(ms) || ms < ControlLimits.lockTtlMsMin || ms > ControlLimits.lockTtlMsMax) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `ttl must be in [${ControlLimits.lockTtlMsMin}, ${ControlLimits.lockTtlMsMax}] ms`, { ttl: s });
  }
  return ms;
}

/** requestIdOf checks the Idempotency-Key of a request; absent is undefined. */
export function requestIdOf(req: ControlRequest): string | undefined {
  const k = req.idempotencyKey;
  if (k === undefined) return undefined;
  if (k.length === 0 || k.length > ControlApiLimits.idempotencyKeyBytesMax || !KEY_RE.test(k)) {
    throw new OtlpdbError(
      'ERR_INVALID_ARGUMENT',
      `Idempotency-Key must be 1..${ControlApiLimits.idempotencyKeyBytesMax} printable ASCII characters without spaces`,
    );
  }
  return k;
}

/** propose checks a command, proposes it (with the request's idempotency key) and turns a refusal into its error. */
async function propose(control: ControlSource, c0: MetaCommand, req?: ControlRequest): Promise<MetaResult> {
  const requestId = req === undefined ? undefined : requestIdOf(req);
  const c: MetaCommand = requestId === undefined ? c0 : { ...c0, requestId };
  const refused = checkMetaCommand(c);
  if (refused !== null) throw new OtlpdbError(refused.code, refused.message);
  const r = await control.propose(c);
  if (r.kind === 'refused') throw new OtlpdbError(r.code, r.message);
  return r;
}

function entryView(e: KvEntry, revision: number): unknown {
  return { key: e.key, value: e.value, modIndex: e.modIndex, createIndex: e.createIndex, revision };
}

async function kvRoute(control: ControlSource, req: ControlRequest): Promise<ControlResponse> {
  const rest = req.path === '/api/v1/kv' ? '' : req.path.slice(KV_PREFIX.length);
  if (rest === '') {
    if (req.method !== 'GET') return notAllowed(req.method, req.path, 'GET');
    const prefix = req.query.get('prefix') ?? '';
    const limitRaw = req.query.get('limit');
    const limit = limitRaw === null ? ControlLimits.kvListEntriesMax : Number(limitRaw);
    if (!/^\d{1,6}$/.test(limitRaw ?? '1') || limit < 1 || limit > ControlLimits.kvListEntriesMax) {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', `limit must be an integer in [1, ${ControlLimits.kvListEntriesMax}]`);
    }
    const l = await control.kvList(prefix, limit);
    return ok({ entries: l.entries.map((e) => entryView(e, l.revision)), more: l.more, revision: l.revision });
  }
  const key = decodeName(rest, 'key');
  if (Buffer.byteLength(key) > ControlLimits.kvKeyBytesMax) {
    throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `key of ${Buffer.byteLength(key)} bytes exceeds kvKeyBytesMax ${ControlLimits.kvKeyBytesMax}`);
  }
  switch (req.method) {
    case 'GET': {
      const { entry, revision } = await control.kvGet(key);
      if (entry === null) throw new OtlpdbError('ERR_NOT_FOUND', `key ${JSON.stringify(key)} does not exist`);
      return ok(entryView(entry, revision));
    }
    case 'PUT': {
      if (req.body.length > ControlLimits.kvValueBytesMax) {
        throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `value of ${req.body.length} bytes exceeds kvValueBytesMax ${ControlLimits.kvValueBytesMax}`, {
          limitBytes: ControlLimits.kvValueBytesMax,
        });
      }
      let value: string;
      try {
        value = utf8.decode(req.body);
      } catch {
        throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'value is not valid UTF-8');
      }
      const prevValue = req.query.get('prevValue');
      const prevExist = req.query.get('prevExist');
      if (prevExist !== null && prevExist !== 'false') throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'prevExist may only be false');
      if (prevExist !== null && prevValue !== null) throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'give prevValue or prevExist=false, not both');
      const cas = prevValue !== null || prevExist !== null;
      const c: MetaCommand = cas ? { op: 'kvCas', key, expected: prevValue, value } : { op: 'kvPut', key, value };
      const r = await propose(control, c, req);
      assert(r.kind === 'kv', 'a KV command answers a KV result');
      if (!r.ok) {
        const why = prevValue === null ? 'exists' : 'does not hold the expected value';
        throw new OtlpdbError('ERR_CONFLICT', `key ${JSON.stringify(key)} ${why}`, { modIndex: r.modIndex, revision: r.revision });
      }
      return ok({ key, value, modIndex: r.modIndex, revision: r.revision });
    }
    case 'DELETE': {
      const r = await propose(control, { op: 'kvDelete', key }, req);
      assert(r.kind === 'kv', 'a KV command answers a KV result');
      if (!r.ok) throw new OtlpdbError('ERR_NOT_FOUND', `key ${JSON.stringify(key)} does not exist`);
      return ok({ key, prevValue: r.prev, prevModIndex: r.prevModIndex, revision: r.revision });
    }
    default:
      return notAllowed(req.method, req.path, 'GET, PUT, DELETE');
  }
}

async function lockRoute(control: ControlSource, req: ControlRequest): Promise<ControlResponse> {
  const name = decodeName(req.path.slice(LOCKS_PREFIX.length), 'lock name');
  switch (req.method) {
    case 'POST': {
      const ttlMs = parseTtlMs(req.query.get('ttl'));
      // nowMs is a placeholder: the meta leader stamps its own clock when it proposes.
      const r = await propose(control, { op: 'lockAcquire', name, owner: req.owner, ttlMs, nowMs: 0 }, req);
      assert(r.kind === 'lock', 'a lock command answers a lock result');
      if (!r.ok) throw new OtlpdbError('ERR_CONFLICT', `lock ${JSON.stringify(name)} is held`, { expiresAtMs: r.expiresAtMs });
      return ok({ name, token: r.token, expiresAtMs: r.expiresAtMs });
    }
    case 'DELETE': {
      const raw = req.query.get('token');
      if (raw === null || !TOKEN_RE.test(raw) || !Number.isSafeInteger(Number(raw))) {
        throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'token must be a non-negative integer');
      }
      const r = await propose(control, { op: 'lockRelease', name, token: Number(raw) }, req);
      assert(r.kind === 'lock', 'a lock command answers a lock result');
      if (!r.ok) throw new OtlpdbError('ERR_CONFLICT', `lock ${JSON.stringify(name)} is not held with token ${raw}`);
      return ok({ name, released: true });
    }
    default:
      return notAllowed(req.method, req.path, 'POST, DELETE');
  }
}

const JOIN_FIELDS = new Set(['id', 'peer', 'api']);

async function nodesRoute(control: ControlSource, req: ControlRequest): Promise<ControlResponse> {
  if (req.path === NODES_PATH) {
    if (req.method !== 'POST') return notAllowed(req.method, req.path, 'POST');
    if (control.join === undefined) throw new OtlpdbError('ERR_UNAVAILABLE', 'this node does not admit joining nodes');
    let body: unknown;
    try {
      body = JSON.parse(utf8.decode(req.body));
    } catch {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'the join body must be JSON: {"id":N,"peer":"host:port","api":"host:port"}');
    }
    const b = body as Record<string, unknown>;
    if (typeof b !== 'object' || b === null || Array.isArray(b) || !Object.keys(b).every((k) => JOIN_FIELDS.has(k))) {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'the join body has exactly the fields id, peer and api');
    }
    if (typeof b.id !== 'number' || typeof b.peer !== 'string' || typeof b.api !== 'string') {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'join: id is a number, peer and api are host:port strings');
    }
    const nodes = await control.join({ id: b.id, peer: b.peer, api: b.api });
    return ok({ nodes });
  }
  if (req.method !== 'DELETE') return notAllowed(req.method, req.path, 'DELETE');
  if (control.leave === undefined) throw new OtlpdbError('ERR_UNAVAILABLE', 'this node does not remove nodes');
  const raw = req.path.slice(NODES_PATH.length + 1);
  if (!/^n?\d{1,10}$/.test(raw)) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `node id must be a positive integer (or nN), got ${JSON.stringify(raw)}`);
  const id = Number(raw.startsWith('n') ? raw.slice(1) : raw);
  if (id < 1) throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'node id must be positive');
  return ok({ node: await control.leave(id) });
}

async function tenantsRoute(control: ControlSource, req: ControlRequest): Promise<ControlResponse> {
  if (req.path === TENANTS_PATH || req.path === `${TENANTS_PATH}/`) {
    if (req.method !== 'GET') return notAllowed(req.method, req.path, 'GET');
    if (control.tenantIds === undefined) throw new OtlpdbError('ERR_UNAVAILABLE', 'this node does not serve tenants');
    return ok({ tenants: await control.tenantIds() });
  }
  const id = decodeName(req.path.slice(TENANTS_PATH.length + 1), 'tenant id');
  const bad = checkTenantId(id);
  if (bad !== null) throw new OtlpdbError('ERR_INVALID_ARGUMENT', bad);
  switch (req.method) {
    case 'GET': {
      if (control.tenant === undefined) throw new OtlpdbError('ERR_UNAVAILABLE', 'this node does not serve tenants');
      const t = await control.tenant(id);
      return ok({ id, configured: t.configured, settings: t.settings });
    }
    case 'PUT': {
      let patch: unknown;
      try {
        patch = JSON.parse(utf8.decode(req.body));
      } catch {
        throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'the tenant body must be a JSON object of settings');
      }
      const r = await propose(control, { op: 'setTenant', id, settings: patch as TenantSettingsPatch }, req);
      assert(r.kind === 'config', 'a tenant command answers a config result');
      if (control.tenant === undefined) return ok({ id, configured: true });
      const t = await control.tenant(id);
      return ok({ id, configured: t.configured, settings: t.settings });
    }
    case 'DELETE': {
      const r = await propose(control, { op: 'deleteTenant', id }, req);
      assert(r.kind === 'config', 'a tenant command answers a config result');
      if (!r.ok) throw new OtlpdbError('ERR_NOT_FOUND', `tenant ${JSON.stringify(id)} is not configured`);
      return ok({ id, configured: false });
    }
    default:
      return notAllowed(req.method, req.path, 'GET, PUT, DELETE');
  }
}

/** serveControl answers one control request; every failure becomes its error body. */
export async function serveControl(control: ControlSource | undefined, req: ControlRequest): Promise<ControlResponse> {
  try {
    if (control === undefined) throw new OtlpdbError('ERR_UNAVAILABLE', 'this node does not serve the control KV');
    if (req.path.startsWith(NODES_PATH)) return await nodesRoute(control, req);
    if (req.path.startsWith(TENANTS_PATH)) return await tenantsRoute(control, req);
    return req.path.startsWith(LOCKS_PREFIX) ? await lockRoute(control, req) : await kvRoute(control, req);
  } catch (err) {
    return fail(err instanceof OtlpdbError ? err : new OtlpdbError('ERR_INTERNAL', `route ${req.path} failed: ${String(err)}`));
  }
}
