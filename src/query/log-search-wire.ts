/**
 * log-search-wire.ts — the peer frames of the native log search
 * (log-search.ts):
 *
 *   shard.logsSearch  request [group, tenant, consistency, search]
 *                     answer  logs-wire.ts's entries answer
 *                             [cut, stats, entriesRead, streams, entries]
 *
 *   search   = [queryJson, matchers, startNs, endNs, direction, limit]
 *   queryJson is the query's canonical JSON text (log-search-query.ts
 *   searchNodeJson), parsed and checked again on the shard; matchers as in
 *   logs-wire.ts ([[name, op, value]...]); ns are decimal strings.
 *
 * A request is outside input: checked on decode (ERR_INVALID_ARGUMENT, or
 * ERR_LIMIT_EXCEEDED past LogSearchLimits). An answer is checked by
 * decodeEntriesAnswer (ERR_CORRUPTION).
 */
import { Packr } from 'msgpackr';
import { OtlpdbError } from '../errors.js';
import { LogSearchLimits as S, LogsQueryLimits as L } from '../limits.js';
import type { StreamSelectorMatcher } from './logql/source.js';
import type { SearchNode } from './log-search-query.js';
import { parseSearchNode, searchNodeJson } from './log-search-query.js';
import type { ShardCallHeader } from './logs-wire.js';

/** SHARD_LOGS_SEARCH is the peer method of a shard's part of a native log search. */
export const SHARD_LOGS_SEARCH = 'shard.logsSearch';

/** ShardSearchRequest is one shard's part of a search: the query, the selector, the range, the direction and the entries wanted. */
export interface ShardSearchRequest {
  readonly query: SearchNode;
  readonly matchers: readonly StreamSelectorMatcher[];
  readonly startNs: bigint;
  readonly endNs: bigint;
  readonly direction: 'forward' | 'backward';
  readonly limit: number;
}

const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false, mapsAsObjects: true });
const NS_TEXT = /^\d{1,20}$/;
const OPS = ['=', '!=', '=~', '!~'] as const;

function fail(why: string): OtlpdbError {
  return new OtlpdbError('ERR_INVALID_ARGUMENT', `${SHARD_LOGS_SEARCH} request: ${why}`);
}
function arr(v: unknown, what: string, max: number, len?: number): unknown[] {
  if (!Array.isArray(v) || v.length > max || (len !== undefined && v.length !== len)) throw fail(`${what} is not a list of ${len ?? `at most ${max}`} items`);
  return v;
}
function str(v: unknown, what: string, max: number = L.stringBytesMax): string {
  if (typeof v !== 'string' || Buffer.byteLength(v) > max) throw fail(`${what} is not a string of at most ${max} bytes`);
  return v;
}
function ns(v: unknown, what: string): bigint {
  if (typeof v !== 'string' || !NS_TEXT.test(v)) throw fail(`${what} is not a decimal ns count`);
  const n = BigInt(v);
  if (n >= 1n << 64n) throw fail(`${what} exceeds u64`);
  return n;
}

/** encodeSearchRequest packs a shard.logsSearch request. */
export function encodeSearchRequest(h: ShardCallHeader, r: ShardSearchRequest): Uint8Array {
  const matchers = r.matchers.map((m) => [m.name, m.op, m.value]);
  return packr.pack([h.group, h.tenant, h.consistency, [JSON.stringify(searchNodeJson(r.query)), matchers, r.startNs.toString(), r.endNs.toString(), r.direction, r.limit]]);
}

/** decodeSearchRequest checks a shard.logsSearch request (ERR_INVALID_ARGUMENT, ERR_LIMIT_EXCEEDED). */
export function decodeSearchRequest(b: Uint8Array): { header: ShardCallHeader; req: ShardSearchRequest } {
  let raw: unknown;
  try {
    raw = packr.unpack(b);
  } catch {
    throw fail('not msgpack');
  }
  const v = arr(raw, 'request', 4, 4);
  const consistency = v[2];
  if (consistency !== 'linearizable' && consistency !== 'stale') throw fail('consistency is not linearizable or stale');
  const group = v[0];
  if (typeof group !== 'number' || !Number.isSafeInteger(group) || group < 1 || group > 0xffff_ffff) throw fail('group is not a shard id');
  const header: ShardCallHeader = { group, tenant: str(v[1], 'tenant', 1024), consistency };
  const q = arr(v[3], 'search', 6, 6);
  let queryValue: unknown;
  try {
    queryValue = JSON.parse(str(q[0], 'query', S.bodyBytesMax));
  } catch (err) {
    if (err instanceof OtlpdbError) throw err;
    throw fail('query is not JSON');
  }
  const query = parseSearchNode(queryValue);
  const matchers: StreamSelectorMatcher[] = arr(q[1], 'matchers', L.matchersMax).map((m, i) => {
    const t = arr(m, `matcher ${i}`, 3, 3);
    if (!(OPS as readonly unknown[]).includes(t[1])) throw fail(`matcher ${i} op is not = != =~ !~`);
    return { name: str(t[0], `matcher ${i} name`), op: t[1] as StreamSelectorMatcher['op'], value: str(t[2], `matcher ${i} value`) };
  });
  const startNs = ns(q[2], 'startNs');
  const endNs = ns(q[3], 'endNs');
  if (startNs > endNs) throw fail('startNs is after endNs');
  const direction = q[4];
  if (direction !== 'forward' && direction !== 'backward') throw fail('direction is not forward or backward');
  const limit = q[5];
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1 || limit > L.limitMax) throw fail(`limit is not an integer in [1, ${L.limitMax}]`);
  return { header, req: { query, matchers, startNs, endNs, direction, limit } };
}
