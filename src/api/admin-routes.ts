/**
 * admin-routes.ts — the admin HTTP routes of fault injection, served through
 * an AdminSource (the node's transport faults). They are the fallback of the
 * fault tests on machines where iptables is unavailable (docs/admin-api.md):
 *
 *   PUT    /api/v1/admin/faults/{peerId}   body = Faults as JSON
 *   GET    /api/v1/admin/faults            {"faults":{"<peerId>":Faults}}
 *   DELETE /api/v1/admin/faults            clear every fault
 *
 * The body's fields are exactly those of transport Faults (dropProbability,
 * duplicateProbability, reorderProbability, delayMs), checked by checkFaults;
 * anything else is 400 ERR_INVALID_ARGUMENT. An unknown peer id is 404
 * ERR_NOT_FOUND; a node without an AdminSource answers 503 ERR_UNAVAILABLE.
 * The body limit (413) is enforced by server.ts before these routes run.
 */
import { OtlpdbError, assert } from '../errors.js';
import type { NodeId } from '../raft/types.js';
import { checkFaults } from '../transport/index.js';
import type { Faults } from '../transport/index.js';
import { AdminApiLimits } from '../limits.js';
import type { AdminSource } from './types.js';

const FAULTS_PATH = '/api/v1/admin/faults';
const FAULTS_PREFIX = `${FAULTS_PATH}/`;
const JSON_TYPE = 'application/json';
const PEER_ID_RE = /^[1-9][0-9]{0,9}$/;
/** FAULT_FIELDS are the fields of Faults, the only ones a body may carry. */
const FAULT_FIELDS: ReadonlySet<string> = new Set<keyof Faults>(['delayMs', 'dropProbability', 'duplicateProbability', 'reorderProbability']);
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** AdminRequest is what an admin route reads from one HTTP request. */
export interface AdminRequest {
  readonly method: string;
  readonly path: string;
  readonly body: Buffer;
}

/** AdminResponse is a whole answer of an admin route. */
export interface AdminResponse {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  readonly allow?: string;
}

/** isAdminPath says whether a path belongs to the admin routes. */
export function isAdminPath(path: string): boolean {
  return path === FAULTS_PATH || path.startsWith(FAULTS_PREFIX);
}

/** adminBodyLimit is the request body limit of the admin routes. */
export function adminBodyLimit(): number {
  return AdminApiLimits.faultsBodyBytesMax;
}

function ok(value: unknown): AdminResponse {
  return { status: 200, contentType: JSON_TYPE, body: JSON.stringify(value) };
}

function fail(err: OtlpdbError, status = err.httpStatus, allow?: string): AdminResponse {
  const details = Object.keys(err.details).length > 0 ? { details: err.details } : {};
  const r = { status, contentType: JSON_TYPE, body: JSON.stringify({ error: { code: err.code, message: err.message, ...details } }) };
  return allow === undefined ? r : { ...r, allow };
}

function notAllowed(method: string, path: string, allow: string): AdminResponse {
  return fail(new OtlpdbError('ERR_INVALID_ARGUMENT', `method ${method} not allowed on ${path}; allowed: ${allow}`), 405, allow);
}

/** parsePeerId reads a peer id path segment: a positive decimal integer without leading zeros. */
export function parsePeerId(raw: string): NodeId {
  if (!PEER_ID_RE.test(raw)) throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'peer id must be a positive integer', { peer: raw.slice(0, 32) });
  const id = Number(raw);
  assert(Number.isSafeInteger(id) && id > 0, 'a matched peer id is a positive integer');
  return id;
}

/** parseFaults reads a fault body: a JSON object with only Faults fields, each in range (checkFaults). */
export function parseFaults(body: Buffer): Faults {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(body));
  } catch {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'body must be a JSON object of UTF-8 text, e.g. {"dropProbability":0.5}');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'body must be a JSON object, e.g. {"dropProbability":0.5}');
  }
  const unknown = Object.keys(value).filter((k) => !FAULT_FIELDS.has(k));
  if (unknown.length > 0) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `unknown field(s) ${unknown.map((k) => JSON.stringify(k)).join(', ')}; allowed: ${[...FAULT_FIELDS].join(', ')}`, {
      fields: unknown.slice(0, 8),
    });
  }
  const fields = value as Record<string, unknown>;
  for (const [k, v] of Object.entries(fields)) {
    if (typeof v !== 'number') throw new OtlpdbError('ERR_INVALID_ARGUMENT', `${k} must be a number`, { field: k });
  }
  const faults = fields as Faults;
  checkFaults(faults);
  return faults;
}

function faultsDocument(admin: AdminSource): unknown {
  const out: Record<string, Faults> = {};
  for (const [peer, f] of [...admin.faults()].sort((a, b) => a[0] - b[0])) out[String(peer)] = f;
  return { faults: out };
}

function route(admin: AdminSource, req: AdminRequest): AdminResponse {
  if (req.path === FAULTS_PATH || req.path === FAULTS_PREFIX) {
    switch (req.method) {
      case 'GET':
        return ok(faultsDocument(admin));
      case 'DELETE':
        admin.clearFaults();
        assert(admin.faults().size === 0, 'clearFaults leaves no fault');
        return ok({ cleared: true });
      default:
        return notAllowed(req.method, req.path, 'GET, DELETE');
    }
  }
  if (req.method !== 'PUT') return notAllowed(req.method, req.path, 'PUT');
  const peer = parsePeerId(req.path.slice(FAULTS_PREFIX.length));
  if (!admin.peers().includes(peer)) throw new OtlpdbError('ERR_NOT_FOUND', `node ${peer} is not a configured peer of this node`, { peer });
  const faults = parseFaults(req.body);
  admin.setFaults(peer, faults);
  return ok({ peer, faults: admin.faults().get(peer) ?? {} });
}

/** serveAdmin answers one admin request; every failure becomes its error body. */
export function serveAdmin(admin: AdminSource | undefined, req: AdminRequest): AdminResponse {
  assert(isAdminPath(req.path), 'serveAdmin serves admin paths only');
  try {
    if (admin === undefined) throw new OtlpdbError('ERR_UNAVAILABLE', 'this node does not serve the admin API');
    return route(admin, req);
  } catch (err) {
    return fail(err instanceof OtlpdbError ? err : new OtlpdbError('ERR_INTERNAL', `route ${req.path} failed: ${String(err)}`));
  }
}
