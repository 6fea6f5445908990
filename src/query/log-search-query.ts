/**
 * log-search-query.ts — otlpdb's native JSON log search (an extension beyond
 * Loki, issue 8; docs/log-search.md): the request shape, its parser and
 * validator, and its canonical JSON form (what crosses the peer wire and is
 * parsed again on every shard). Pure code.
 *
 * A request is one JSON object:
 *
 *   {"query": <node>, "selector": "{service_name=\"api\"}", "start": ..., "end": ...,
 *    "limit": 100, "direction": "backward", "consistency": "linearizable"}
 *
 * and a node is an object with exactly one key:
 *
 *   {"and": [<node>...]}      every child holds (an empty list: every line)
 *   {"or": [<node>...]}       some child holds (at least one child)
 *   {"not": <node>}           the child does not hold
 *   {"term": "timeout"}       the line holds this term
 *   {"phrase": "conn reset"}  the line holds these terms at consecutive positions
 *   {"fuzzy": {"term": "conection", "distance": 1}}
 *                             the line holds a term within Levenshtein distance
 *                             1 or 2 (default 1) of this term
 *   {"range": {"field": "status", "gte": 500, "lt": 600, "source": "line"}}
 *                             a numeric field of the line (source "line", the
 *                             default: a JSON object line's top-level keys, else
 *                             its logfmt keys) or of the structured metadata
 *                             (source "metadata": the record's attributes) lies
 *                             in the range; gt/gte and lt/lte, at least one
 *
 * Terms and phrases are read by the storage tokenizer (storage/tokenizer.ts),
 * as lines are: "GET" finds "get"; a term must be exactly one token. The
 * shape follows Elasticsearch's bool query (must → and, should → or with
 * minimum_should_match 1, must_not → not) and its term, match_phrase, fuzzy
 * and range queries, spelled compactly.
 *
 * Errors: anything malformed is ERR_INVALID_ARGUMENT whose message names the
 * JSON path (`details.param`, e.g. `query.and[2].fuzzy.distance`); anything
 * past LogSearchLimits (nodes, depth, terms, string bytes, body bytes) is
 * ERR_LIMIT_EXCEEDED. Nothing a client sends throws anything else.
 */
import { OtlpdbError } from '../errors.js';
import { LogSearchLimits as S, LogsQueryLimits as L } from '../limits.js';
import { tokenize } from '../storage/tokenizer.js';
import type { StreamSelectorMatcher } from './logql/source.js';
import { parseSelector } from './logs-selector.js';

/** SearchNode is one node of a parsed search query (see the file comment); terms are normalized by the tokenizer. */
export type SearchNode =
  | { readonly kind: 'and'; readonly children: readonly SearchNode[] }
  | { readonly kind: 'or'; readonly children: readonly SearchNode[] }
  | { readonly kind: 'not'; readonly child: SearchNode }
  | { readonly kind: 'term'; readonly text: string; readonly term: string }
  | { readonly kind: 'phrase'; readonly text: string; readonly terms: readonly string[] }
  | { readonly kind: 'fuzzy'; readonly text: string; readonly term: string; readonly distance: 1 | 2 }
  | { readonly kind: 'range'; readonly field: string; readonly source: 'line' | 'metadata'; readonly bounds: RangeBounds };

/** RangeBounds are a range node's bounds; absent ones are open. */
export interface RangeBounds {
  readonly gt?: number;
  readonly gte?: number;
  readonly lt?: number;
  readonly lte?: number;
}

/** LogSearchRequest is a parsed, checked search request. */
export interface LogSearchRequest {
  readonly query: SearchNode;
  /** selector is the stream selector's matchers (empty: every stream). */
  readonly matchers: readonly StreamSelectorMatcher[];
  /** selectorText is the selector as given ("" when absent). */
  readonly selectorText: string;
  /** startNs and endNs bound the record time, inclusive. */
  readonly startNs: bigint;
  readonly endNs: bigint;
  readonly limit: number;
  readonly direction: 'forward' | 'backward';
  readonly consistency: 'linearizable' | 'stale';
}

function bad(param: string, why: string): OtlpdbError {
  return new OtlpdbError('ERR_INVALID_ARGUMENT', `log search: ${param}: ${why}`, { param });
}
function over(param: string, why: string): OtlpdbError {
  return new OtlpdbError('ERR_LIMIT_EXCEEDED', `log search: ${param}: ${why}`, { param });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown, param: string): string {
  if (typeof v !== 'string') throw bad(param, 'is not a string');
  if (Buffer.byteLength(v) > S.stringBytesMax) throw over(param, `is longer than LogSearchLimits.stringBytesMax (${S.stringBytesMax} bytes)`);
  return v;
}

function onlyKeys(o: Record<string, unknown>, allowed: readonly string[], param: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw bad(param, `unknown key ${JSON.stringify(k.slice(0, 64))} (allowed: ${allowed.join(', ')})`);
}

/** ParseBudget counts what a query has used of its limits while it is parsed. */
interface ParseBudget {
  nodes: number;
  terms: number;
}

function oneToken(text: string, param: string, budget: ParseBudget): string {
  const t = tokenize(text);
  if (t.terms.length !== 1) throw bad(param, `${JSON.stringify(text.slice(0, 64))} is ${t.terms.length} tokens, not one (use "phrase" for several)`);
  budget.terms++;
  if (budget.terms > S.termsMax) throw over(param, `more than LogSearchLimits.termsMax (${S.termsMax}) terms in one query`);
  return t.terms[0] as string;
}

function bound(o: Record<string, unknown>, key: 'gt' | 'gte' | 'lt' | 'lte', param: string): number | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(`${param}.${key}`, 'is not a finite number');
  return v;
}

function parseNode(v: unknown, param: string, depth: number, budget: ParseBudget): SearchNode {
  if (depth > S.depthMax) throw over(param, `nested deeper than LogSearchLimits.depthMax (${S.depthMax})`);
  budget.nodes++;
  if (budget.nodes > S.nodesMax) throw over(param, `more than LogSearchLimits.nodesMax (${S.nodesMax}) nodes in one query`);
  if (!isObject(v)) throw bad(param, 'is not an object with one of the keys and, or, not, term, phrase, fuzzy, range');
  const keys = Object.keys(v);
  if (keys.length !== 1) throw bad(param, `has ${keys.length} keys, not one of and, or, not, term, phrase, fuzzy, range`);
  const key = keys[0] as string;
  const body = v[key];
  const at = `${param}.${key}`;
  switch (key) {
    case 'and':
    case 'or': {
      if (!Array.isArray(body)) throw bad(at, 'is not a list of nodes');
      if (body.length > S.nodesMax) throw over(at, `more than LogSearchLimits.nodesMax (${S.nodesMax}) nodes in one query`);
      if (key === 'or' && body.length === 0) throw bad(at, 'is empty (an "or" needs at least one child)');
      const children = body.map((c, i) => parseNode(c, `${at}[${i}]`, depth + 1, budget));
      return { kind: key, children };
    }
    case 'not':
      return { kind: 'not', child: parseNode(body, at, depth + 1, budget) };
    case 'term': {
      const text = str(body, at);
      return { kind: 'term', text, term: oneToken(text, at, budget) };
    }
    case 'phrase': {
      const text = str(body, at);
      const terms = tokenize(text).terms;
      if (terms.length === 0) throw bad(at, `${JSON.stringify(text.slice(0, 64))} has no terms`);
      if (terms.length > S.phraseTermsMax) throw over(at, `more than LogSearchLimits.phraseTermsMax (${S.phraseTermsMax}) terms in one phrase`);
      budget.terms += terms.length;
      if (budget.terms > S.termsMax) throw over(at, `more than LogSearchLimits.termsMax (${S.termsMax}) terms in one query`);
      return { kind: 'phrase', text, terms };
    }
    case 'fuzzy': {
      if (!isObject(body)) throw bad(at, 'is not an object {"term": ..., "distance": 1 | 2}');
      onlyKeys(body, ['term', 'distance'], at);
      const text = str(body.term, `${at}.term`);
      const d = body.distance ?? 1;
      if (d !== 1 && d !== 2) throw bad(`${at}.distance`, `is not 1 or 2 (LogSearchLimits.fuzzyDistanceMax is ${S.fuzzyDistanceMax})`);
      return { kind: 'fuzzy', text, term: oneToken(text, `${at}.term`, budget), distance: d };
    }
    case 'range': {
      if (!isObject(body)) throw bad(at, 'is not an object {"field": ..., "gte" | "gt": n, "lte" | "lt": n}');
      onlyKeys(body, ['field', 'source', 'gt', 'gte', 'lt', 'lte'], at);
      const field = str(body.field, `${at}.field`);
      if (field === '') throw bad(`${at}.field`, 'is empty');
      const source = body.source ?? 'line';
      if (source !== 'line' && source !== 'metadata') throw bad(`${at}.source`, 'is not "line" or "metadata"');
      const gt = bound(body, 'gt', at);
      const gte = bound(body, 'gte', at);
      const lt = bound(body, 'lt', at);
      const lte = bound(body, 'lte', at);
      if (gt !== undefined && gte !== undefined) throw bad(at, 'has both gt and gte');
      if (lt !== undefined && lte !== undefined) throw bad(at, 'has both lt and lte');
      if (gt === undefined && gte === undefined && lt === undefined && lte === undefined) throw bad(at, 'has no bound (gt, gte, lt or lte)');
      const bounds: RangeBounds = { ...(gt !== undefined ? { gt } : {}), ...(gte !== undefined ? { gte } : {}), ...(lt !== undefined ? { lt } : {}), ...(lte !== undefined ? { lte } : {}) };
      return { kind: 'range', field, source, bounds };
    }
    default:
      throw bad(param, `unknown node ${JSON.stringify(key.slice(0, 64))} (one of and, or, not, term, phrase, fuzzy, range)`);
  }
}

/** parseSearchNode parses and checks one query node (the `query` of a request) at JSON path `param`. */
export function parseSearchNode(v: unknown, param = 'query'): SearchNode {
  return parseNode(v, param, 1, { nodes: 0, terms: 0 });
}

/** searchNodeJson is the canonical JSON value of a node: parseSearchNode of it gives the same node. */
export function searchNodeJson(n: SearchNode): unknown {
  switch (n.kind) {
    case 'and':
    case 'or':
      return { [n.kind]: n.children.map(searchNodeJson) };
    case 'not':
      return { not: searchNodeJson(n.child) };
    case 'term':
      return { term: n.text };
    case 'phrase':
      return { phrase: n.text };
    case 'fuzzy':
      return { fuzzy: { term: n.text, distance: n.distance } };
    case 'range':
      return { range: { field: n.field, source: n.source, ...n.bounds } };
  }
}

const NS_DIGITS = /^\d{1,20}$/;
const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** parseSearchTime reads a time as Loki does: an integer (up to 10 digits: seconds, else ns) or RFC3339. */
export function parseSearchTime(v: unknown, param: string): bigint {
  let text: string;
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) throw bad(param, 'is not a non-negative integer time (seconds or ns) or an RFC3339 string');
    text = String(v);
  } else if (typeof v === 'string') {
    text = v;
  } else {
    throw bad(param, 'is not a time (seconds, ns or RFC3339)');
  }
  if (NS_DIGITS.test(text)) {
    const n = text.length <= 10 ? BigInt(text) * 1_000_000_000n : BigInt(text);
    if (n >= 1n << 64n) throw bad(param, 'is past the largest time');
    return n;
  }
  const m = RFC3339.exec(text);
  if (m !== null) {
    const ms = Date.parse(`${m[1]}${m[3]}`);
    if (Number.isFinite(ms) && ms >= 0) return BigInt(ms) * 1_000_000n + BigInt(((m[2] ?? '.').slice(1) + '000000000').slice(0, 9));
  }
  throw bad(param, `cannot read ${JSON.stringify(text.slice(0, 64))} as a time`);
}

/**
 * parseSearchRequest checks a request object (already JSON-parsed); `nowNs`
 * is the wall clock absent times default to (end: now; start: end minus
 * LogsQueryLimits.rangeDefaultMs). A range longer than rangeMsMax is
 * ERR_LIMIT_EXCEEDED.
 */
export function parseSearchRequest(body: unknown, nowNs: bigint): LogSearchRequest {
  if (!isObject(body)) throw bad('body', 'is not a JSON object');
  onlyKeys(body, ['query', 'selector', 'start', 'end', 'limit', 'direction', 'consistency'], 'body');
  if (body.query === undefined) throw bad('query', 'is missing');
  const query = parseSearchNode(body.query);
  let matchers: StreamSelectorMatcher[] = [];
  let selectorText = '';
  if (body.selector !== undefined) {
    selectorText = str(body.selector, 'selector');
    try {
      matchers = parseSelector(selectorText, true);
    } catch (err) {
      if (err instanceof OtlpdbError) throw new OtlpdbError(err.code, `log search: selector: ${err.message}`, { param: 'selector' });
      throw err;
    }
  }
  const endNs = body.end === undefined ? nowNs : parseSearchTime(body.end, 'end');
  const rangeNs = BigInt(L.rangeDefaultMs) * 1_000_000n;
  const startNs = body.start === undefined ? (endNs > rangeNs ? endNs - rangeNs : 0n) : parseSearchTime(body.start, 'start');
  if (startNs > endNs) throw bad('start', 'is after end');
  if (endNs - startNs > BigInt(L.rangeMsMax) * 1_000_000n) throw over('end', `the range is longer than LogsQueryLimits.rangeMsMax (${L.rangeMsMax} ms)`);
  const limit = body.limit ?? L.limitDefault;
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1) throw bad('limit', 'is not a positive integer');
  if (limit > L.limitMax) throw over('limit', `is more than LogsQueryLimits.limitMax (${L.limitMax})`);
  const direction = body.direction ?? 'backward';
  if (direction !== 'forward' && direction !== 'backward') throw bad('direction', 'is not "forward" or "backward"');
  const consistency = body.consistency ?? 'linearizable';
  if (consistency !== 'linearizable' && consistency !== 'stale') throw bad('consistency', 'is not "linearizable" or "stale"');
  return { query, matchers, selectorText, startNs, endNs, limit, direction, consistency };
}

/** parseSearchBody reads a request from its JSON text (a POST body or the GET `query=` parameter). */
export function parseSearchBody(text: string, nowNs: bigint): LogSearchRequest {
  if (Buffer.byteLength(text) > S.bodyBytesMax) throw over('body', `is longer than LogSearchLimits.bodyBytesMax (${S.bodyBytesMax} bytes)`);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw bad('body', `is not JSON (${(err as Error).message.slice(0, 200)})`);
  }
  return parseSearchRequest(v, nowNs);
}
