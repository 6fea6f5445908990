/**
 * trace.ts — `otlpdb trace <id>` (DESIGN.md §8): fetch one trace by id from
 * any node (Tempo's GET /api/traces/{id}, so a Tempo works as a target too)
 * and draw it as a waterfall (cli/render/waterfall.ts), or print the raw
 * OTLP JSON with --json.
 *
 * Errors are OtlpdbErrors, mapped to exit codes by cli/otlpdb.ts: a bad id,
 * width, tenant or target is ERR_INVALID_ARGUMENT (exit 2); an unknown trace
 * ERR_NOT_FOUND and an unreachable target ERR_UNAVAILABLE (exit 1), each
 * naming the id or the target.
 *
 * Colour only when stdout is a terminal and NO_COLOR is unset or empty
 * (https://no-color.org); the width is --width, else the terminal's, else
 * TraceCliLimits.widthPiped.
 */
import { checkTenantId } from '../../src/control/tenant.js';
import { OtlpdbError } from '../../src/errors.js';
import { requestText } from '../../src/http-client.js';
import type { TextResponse } from '../../src/http-client.js';
import { TraceCliLimits } from '../../src/limits.js';
import type { HostPort } from '../../src/node-config.js';
import { parseIntegerFlag } from '../flags.js';
import { traceSpans } from '../render/trace-spans.js';
import { renderWaterfall } from '../render/waterfall.js';

/** DEFAULT_TARGET is node 1's API as `otlpdb cluster up` starts it. */
export const DEFAULT_TARGET = 'http://127.0.0.1:3200';

/** TraceCommandOptions are the raw flag values of `otlpdb trace`. */
export interface TraceCommandOptions {
  readonly target?: string;
  readonly tenant?: string;
  readonly json?: boolean;
  readonly width?: string;
}

/** TraceIo is where `otlpdb trace` writes and what it knows of its terminal; injected for tests. */
export interface TraceIo {
  out(line: string): void;
  err(line: string): void;
  /** isTTY: stdout is a terminal. */
  readonly isTTY: boolean;
  /** columns is the terminal's width, when stdout is one. */
  readonly columns: number | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** Target is a parsed --target: where to connect, the path prefix of the API, and the text to name it by. */
export interface Target {
  readonly address: HostPort;
  readonly basePath: string;
  readonly text: string;
}

/** parseTarget reads --target: an http:// URL (or host:port), with an optional path prefix (a Tempo behind a proxy). */
export function parseTarget(raw: string): Target {
  const bad = (why: string): OtlpdbError => new OtlpdbError('ERR_INVALID_ARGUMENT', `--target ${JSON.stringify(raw)}: ${why}`, { flag: '--target' });
  let url: URL;
  try {
    url = new URL(raw.includes('://') ? raw : `http://${raw}`);
  } catch {
    throw bad('not a URL like http://127.0.0.1:3200');
  }
  if (url.protocol !== 'http:') throw bad(`only http:// is supported, not ${url.protocol}//`);
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') throw bad('no query, fragment or credentials');
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (host === '') throw bad('no host');
  const port = url.port === '' ? 80 : Number(url.port);
  const basePath = url.pathname.replace(/\/+$/, '');
  return { address: { host, port }, basePath, text: `http://${url.host}${basePath}` };
}

/** TRACE_ID_HEX is what Tempo accepts as a trace id: 1 to 32 hex digits. */
const TRACE_ID_HEX = /^[0-9a-fA-F]{1,32}$/;

/** parseTraceId checks a trace id and returns it as 32 lowercase hex digits, left-padded with zeros as Tempo pads it. */
export function parseTraceId(raw: string): string {
  if (!TRACE_ID_HEX.test(raw)) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `trace id ${JSON.stringify(raw.slice(0, 64))} is not 1 to 32 hex digits (shorter ids are left-padded with zeros, as Tempo does)`);
  }
  return raw.toLowerCase().padStart(32, '0');
}

/** useColor: stdout is a terminal and NO_COLOR is unset or empty. */
export function useColor(io: Pick<TraceIo, 'isTTY' | 'env'>): boolean {
  const noColor = io.env['NO_COLOR'];
  return io.isTTY && (noColor === undefined || noColor === '');
}

/** renderWidth is --width, else the terminal's width (within TraceCliLimits), else TraceCliLimits.widthPiped. */
export function renderWidth(o: TraceCommandOptions, io: Pick<TraceIo, 'isTTY' | 'columns'>): number {
  if (o.width !== undefined) return parseIntegerFlag('--width', o.width, TraceCliLimits.widthMin, TraceCliLimits.widthMax);
  if (io.isTTY && io.columns !== undefined && io.columns > 0) return Math.min(TraceCliLimits.widthMax, Math.max(TraceCliLimits.widthMin, io.columns));
  return TraceCliLimits.widthPiped;
}

const NETWORK_REASONS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'no such host',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connect timed out',
};

/** fetchTrace GETs the trace. */
async function fetchTrace(target: Target, idHex: string, tenant: string | undefined): Promise<TextResponse> {
  return getFromTarget(target, `/api/traces/${idHex}`, tenant);
}

/** getFromTarget GETs `path` under the target's prefix as JSON; every failure to get an answer is ERR_UNAVAILABLE naming the target. */
export async function getFromTarget(target: Target, path: string, tenant: string | undefined): Promise<TextResponse> {
  const headers: Record<string, string> = { accept: 'application/json', ...(tenant === undefined ? {} : { 'x-scope-orgid': tenant }) };
  try {
    return await requestText(target.address, 'GET', `${target.basePath}${path}`, null, TraceCliLimits.requestMs, TraceCliLimits.responseBytesMax, headers);
  } catch (err) {
    if (err instanceof OtlpdbError) throw err; // ERR_TIMEOUT, ERR_LIMIT_EXCEEDED: their messages name the address.
    const code = (err as NodeJS.ErrnoException).code ?? '';
    const reason = NETWORK_REASONS[code] ?? String(err);
    const hint = code === 'ECONNREFUSED' ? ' — is an otlpdb node (or Tempo) serving its API there? `otlpdb cluster up` starts one; --target picks another' : '';
    throw new OtlpdbError('ERR_UNAVAILABLE', `cannot reach ${target.text}: ${reason}${hint}`, { target: target.text });
  }
}

/** errorOf is the code and message of an otlpdb error body, or no code and the start of any other body. */
export function errorOf(body: string): { code: string | undefined; message: string } {
  try {
    const doc = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } };
    if (typeof doc.error?.message === 'string') return { code: typeof doc.error.code === 'string' ? doc.error.code : undefined, message: doc.error.message };
  } catch {
    // Not JSON (a Tempo answers errors in plain text).
  }
  return { code: undefined, message: body.trim().slice(0, 200) };
}

/** runTraceCommand fetches trace `idRaw` and prints it; see the top of this file. */
export async function runTraceCommand(idRaw: string, o: TraceCommandOptions, io: TraceIo): Promise<number> {
  const idHex = parseTraceId(idRaw);
  const target = parseTarget(o.target ?? DEFAULT_TARGET);
  const width = renderWidth(o, io);
  if (o.tenant !== undefined) {
    const problem = checkTenantId(o.tenant);
    if (problem !== null) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `--tenant: ${problem}`, { flag: '--tenant' });
  }
  const res = await fetchTrace(target, idHex, o.tenant);
  const inTenant = o.tenant === undefined ? '' : ` in tenant ${o.tenant}`;
  const answer = errorOf(res.body);
  if (res.status === 404 && answer.code === 'ERR_INVALID_ARGUMENT') {
    // otlpdb's 404 for a route it does not have: the target is wrong, not the trace.
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `--target ${target.text} serves no trace by id (${answer.message}); give the API address of a node`, { flag: '--target' });
  }
  if (res.status === 404) throw new OtlpdbError('ERR_NOT_FOUND', `trace ${idRaw} not found${inTenant} (asked ${target.text})`, { traceId: idHex });
  if (res.status === 400) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `${target.text} refused the request: ${answer.message}`);
  if (res.status !== 200) throw new OtlpdbError('ERR_UNAVAILABLE', `${target.text} answered ${res.status}: ${answer.message}`, { target: target.text, status: res.status });
  let doc: unknown;
  try {
    doc = JSON.parse(res.body);
  } catch {
    throw new OtlpdbError('ERR_UNAVAILABLE', `${target.text} answered 200 with a body that is not JSON: ${res.body.slice(0, 80)}`, { target: target.text });
  }
  if (o.json === true) {
    io.out(res.body.trimEnd());
    return 0;
  }
  const { spans, unreadable } = traceSpans(doc);
  for (const line of renderWaterfall(spans, { traceIdHex: idHex, width, color: useColor(io), spansMax: TraceCliLimits.spansRenderedMax, unreadable })) io.out(line);
  return 0;
}
