/**
 * clock-routes.ts — the admin route of the wall-clock offset, the jepsen
 * suite's clock nemesis (docs/admin-api.md):
 *
 *   GET    /api/v1/admin/clock   {"offsetMs":n,"wallMs":t}
 *   PUT    /api/v1/admin/clock   body {"offsetMs":n}: the node's wall clock
 *                                reads Date.now() + n from now on
 *   DELETE /api/v1/admin/clock   back to offset 0
 *
 * The offset moves only the node's wall clock (WallClockSource), which
 * stamps lock leases and expiries and the received time of ingested data;
 * Raft runs on ticks of the monotonic clock and never reads it. |offsetMs|
 * is at most AdminApiLimits.clockOffsetMsMax; anything else in the body is
 * 400 ERR_INVALID_ARGUMENT. A node without a WallClockSource answers 503
 * ERR_UNAVAILABLE. The body limit (413) is enforced by server.ts.
 */
import { OtlpdbError, assert } from '../errors.js';
import { AdminApiLimits } from '../limits.js';
import type { AdminRequest, AdminResponse } from './admin-routes.js';
import type { WallClockSource } from './types.js';

/** CLOCK_PATH is the clock route's only path. */
export const CLOCK_PATH = '/api/v1/admin/clock';
const JSON_TYPE = 'application/json';
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** isClockPath says whether a path is the clock route. */
export function isClockPath(path: string): boolean {
  return path === CLOCK_PATH;
}

/** parseClockOffset reads a PUT body: exactly {"offsetMs": integer} within ±AdminApiLimits.clockOffsetMsMax. */
export function parseClockOffset(body: Buffer): number {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(body));
  } catch {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'body must be a JSON object of UTF-8 text, e.g. {"offsetMs":5000}');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'body must be a JSON object, e.g. {"offsetMs":5000}');
  const keys = Object.keys(value);
  if (keys.length !== 1 || keys[0] !== 'offsetMs') {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'body must have exactly the field "offsetMs"', { fields: keys.slice(0, 8) });
  }
  const ms = (value as { offsetMs: unknown }).offsetMs;
  if (typeof ms !== 'number' || !Number.isSafeInteger(ms) || Math.abs(ms) > AdminApiLimits.clockOffsetMsMax) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `offsetMs must be an integer in [-${AdminApiLimits.clockOffsetMsMax}, ${AdminApiLimits.clockOffsetMsMax}]`, { offsetMs: String(ms).slice(0, 32) });
  }
  return ms;
}

function doc(clock: WallClockSource): AdminResponse {
  return { status: 200, contentType: JSON_TYPE, body: JSON.stringify({ offsetMs: clock.offsetMs(), wallMs: clock.wallMs() }) };
}

/** serveClock answers one clock request; every failure becomes its error body. */
export function serveClock(clock: WallClockSource | undefined, req: AdminRequest): AdminResponse {
  assert(isClockPath(req.path), 'serveClock serves the clock path only');
  try {
    if (clock === undefined) throw new OtlpdbError('ERR_UNAVAILABLE', 'this node does not serve the clock admin route');
    switch (req.method) {
      case 'GET':
        return doc(clock);
      case 'PUT':
        clock.setOffsetMs(parseClockOffset(req.body));
        return doc(clock);
      case 'DELETE':
        clock.setOffsetMs(0);
        assert(clock.offsetMs() === 0, 'DELETE resets the offset');
        return doc(clock);
      default: {
        const allow = 'GET, PUT, DELETE';
        const err = new OtlpdbError('ERR_INVALID_ARGUMENT', `method ${req.method} not allowed on ${req.path}; allowed: ${allow}`);
        return { status: 405, contentType: JSON_TYPE, body: JSON.stringify({ error: { code: err.code, message: err.message } }), allow };
      }
    }
  } catch (err) {
    const e = err instanceof OtlpdbError ? err : new OtlpdbError('ERR_INTERNAL', `route ${req.path} failed: ${String(err)}`);
    const details = Object.keys(e.details).length > 0 ? { details: e.details } : {};
    return { status: e.httpStatus, contentType: JSON_TYPE, body: JSON.stringify({ error: { code: e.code, message: e.message, ...details } }) };
  }
}
