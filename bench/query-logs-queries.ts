/**
 * query-logs-queries.ts — the query kinds of `bench/query-logs.ts`, each
 * written three ways with one meaning: LogQL for otlpdb, a brute-force scan
 * over the same lines in this process, and SQLite FTS5 (better-sqlite3, the
 * one-machine alternative). Pure data and pure functions over the lines.
 *
 * Meaning of a log query: the newest LOG_LIMIT lines of the selected
 * streams in [start, end] that hold `needle` as a substring (`|=`) or match
 * `regex` (`|~`). Meaning of a count query: per step of COUNT_STEP_S
 * seconds ending at start + k × step, the count of such lines in
 * (t − step, t] (LogQL's `count_over_time([1m])` evaluated at the step).
 * FTS5 prunes with its MATCH expression (the terms the filter needs, as
 * otlpdb's index does) and checks the exact filter after (instr or regexp),
 * so all three answer the same rows; the bench checks that they do.
 */
import { tokenize } from '../src/storage/tokenizer.js';
import type { QueryLogsData, StreamKey } from './query-logs-data.js';

/** LOG_LIMIT is the `limit` of every log query (Loki's default). */
export const LOG_LIMIT = 100;
/** COUNT_STEP_S is the step and range of the count queries. */
export const COUNT_STEP_S = 60;
/** NARROW_RANGE_S is the time range of the keyword-plus-time-range kind. */
export const NARROW_RANGE_S = 300;

/** QueryKind names a row of the report. */
export type QueryKind = 'keyword' | 'phrase' | 'regex' | 'count' | 'keywordRange' | 'fuzzy';

/** QUERY_KINDS are the kinds measured, in report order. */
export const QUERY_KINDS: readonly QueryKind[] = ['keyword', 'phrase', 'regex', 'count', 'keywordRange', 'fuzzy'];

/**
 * FUZZY_QUERY_SLOT is the fuzzy kind's terms, taken in turn (misspellings of
 * words the corpus holds, edit distance 1 or 2): otlpdb answers them through
 * the JSON search endpoint (POST /api/v1/logs/search, docs/log-search.md,
 * `{"fuzzy": {term, distance}}`), brute force by Levenshtein distance over
 * each line's tokens (bruteLog with fuzzyTest). FTS5 has no fuzzy query: it
 * is not measured on this kind.
 */
export const FUZZY_QUERY_SLOT: readonly FuzzyTerm[] = [
  { term: 'conection', distance: 1 },
  { term: 'timout', distance: 1 },
  { term: 'refusd', distance: 1 },
  { term: 'paymet', distance: 2 },
];

/** FuzzyTerm is one fuzzy query node: a lower-case single token and its Levenshtein distance (1 or 2). */
export interface FuzzyTerm {
  readonly term: string;
  readonly distance: 1 | 2;
}

/** Selector is a stream selector on one label. */
export interface Selector {
  readonly label: 'service_name' | 'env' | 'format';
  readonly value: string;
}

/** QuerySpec is one query in its three forms. */
export interface QuerySpec {
  readonly kind: QueryKind;
  readonly selector: Selector;
  /** needle is a `|=` substring, or null for a regex query. */
  readonly needle: string | null;
  /** regex is a `|~` RE2 pattern that JavaScript reads alike (no inline flags), or null. */
  readonly regex: string | null;
  /** fuzzy is the fuzzy kind's term (JSON search, not LogQL), or null. */
  readonly fuzzy: FuzzyTerm | null;
  /** ftsMatch is the FTS5 MATCH expression that prunes (terms every match holds); '' for fuzzy (FTS5 not run). */
  readonly ftsMatch: string;
  /** startNs and endNs bound the query, inclusive. */
  readonly startNs: bigint;
  readonly endNs: bigint;
}

const SELECTORS: readonly Selector[] = [
  { label: 'env', value: 'prod' },
  { label: 'service_name', value: 'checkout' },
  { label: 'service_name', value: 'payments' },
  { label: 'format', value: 'app' },
];
const KEYWORDS: readonly { needle: string; fts: string }[] = [
  { needle: 'NullPointerException', fts: 'NullPointerException' },
  { needle: 'ECONNREFUSED', fts: 'ECONNREFUSED' },
  { needle: 'refused', fts: 'refused' },
  { needle: 'timeout', fts: 'timeout' },
];
const PHRASES: readonly { needle: string; fts: string }[] = [
  { needle: 'payment failed', fts: '"payment failed"' },
  { needle: 'Connection refused', fts: '"Connection refused"' },
  { needle: 'cache miss', fts: '"cache miss"' },
  { needle: 'User logged in', fts: '"User logged in"' },
];
const REGEXES: readonly { regex: string; fts: string }[] = [
  { regex: 'db\\.ts:[0-9]+', fts: '"db ts"' },
  { regex: 'timeout after [0-9]+s', fts: '"timeout after"' },
  { regex: 'status=5[0-9][0-9]', fts: 'status' },
  { regex: '(PaymentClient|Router)\\.(charge|handle)', fts: 'PaymentClient OR Router' },
];

/** selectorText is the LogQL stream selector. */
export function selectorText(s: Selector): string {
  return `{${s.label}="${s.value}"}`;
}

function escapeLogql(s: string): string {
  return s.replaceAll('\\', '\\\\').replaceAll('"', '\\"');
}

/** logqlOf is the LogQL text of a query. */
export function logqlOf(q: QuerySpec): string {
  const filter = q.needle !== null ? `|= "${escapeLogql(q.needle)}"` : `|~ "${escapeLogql(q.regex ?? '')}"`;
  const log = `${selectorText(q.selector)} ${filter}`;
  return q.kind === 'count' ? `sum(count_over_time(${log} [${COUNT_STEP_S}s]))` : log;
}

/** buildQuerySpec makes query number `i` of a kind: the kind's lists taken in turn, a selector in turn, the whole window (a narrow one for keywordRange). */
export function buildQuerySpec(kind: QueryKind, i: number, d: QueryLogsData): QuerySpec {
  const selector = SELECTORS[i % SELECTORS.length] as Selector;
  const whole = { startNs: d.windowStartNs, endNs: d.windowEndNs };
  const pickOf = <T>(xs: readonly T[]): T => xs[Math.floor(i / SELECTORS.length) % xs.length] as T;
  switch (kind) {
    case 'keyword': {
      const k = pickOf(KEYWORDS);
      return { kind, selector, needle: k.needle, regex: null, fuzzy: null, ftsMatch: k.fts, ...whole };
    }
    case 'phrase': {
      const p = pickOf(PHRASES);
      return { kind, selector, needle: p.needle, regex: null, fuzzy: null, ftsMatch: p.fts, ...whole };
    }
    case 'regex': {
      const r = pickOf(REGEXES);
      return { kind, selector, needle: null, regex: r.regex, fuzzy: null, ftsMatch: r.fts, ...whole };
    }
    case 'count': {
      const k = pickOf(KEYWORDS);
      return { kind, selector, needle: k.needle, regex: null, fuzzy: null, ftsMatch: k.fts, ...whole };
    }
    case 'keywordRange': {
      const k = pickOf(KEYWORDS);
      // Narrow windows spread over the hour: deterministic, by query number.
      const spanNs = d.windowEndNs - d.windowStartNs - BigInt(NARROW_RANGE_S) * 1_000_000_000n;
      const startNs = d.windowStartNs + (spanNs * BigInt((i * 37) % 101)) / 100n;
      return { kind, selector, needle: k.needle, regex: null, fuzzy: null, ftsMatch: k.fts, startNs, endNs: startNs + BigInt(NARROW_RANGE_S) * 1_000_000_000n };
    }
    case 'fuzzy': {
      const f = pickOf(FUZZY_QUERY_SLOT);
      return { kind, selector, needle: null, regex: null, fuzzy: f, ftsMatch: '', ...whole };
    }
  }
}

/** LogAnswer is a log query's answer: times (ns, newest first) and lines. */
export interface LogAnswer {
  readonly timesNs: bigint[];
  readonly lines: string[];
}

/** CountAnswer is a count query's answer: per step end (ns) the count, steps with none left out. */
export type CountAnswer = Map<bigint, number>;

function streamAdmits(s: StreamKey, sel: Selector): boolean {
  return (sel.label === 'env' ? s.env : sel.label === 'service_name' ? s.service : s.format) === sel.value;
}

/** lineTest is the exact line filter of a query. */
export function lineTest(q: QuerySpec): (line: string) => boolean {
  if (q.fuzzy !== null) return fuzzyTest(q.fuzzy);
  if (q.needle !== null) {
    const needle = q.needle;
    return (line) => line.includes(needle);
  }
  const re = new RegExp(q.regex ?? '');
  return (line) => re.test(line);
}

/**
 * editDistance is the Levenshtein distance of two strings by code points
 * (insert, delete, substitute; a transposition is two edits), the plain
 * dynamic program: the bench's own, not otlpdb's bounded one.
 */
export function editDistance(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) {
      const sub = (prev[j - 1] as number) + (x[i - 1] === y[j - 1] ? 0 : 1);
      cur.push(Math.min(sub, (prev[j] as number) + 1, (cur[j - 1] as number) + 1));
    }
    prev = cur;
  }
  return prev[y.length] as number;
}

/** fuzzyTest holds for a line with a token (the storage tokenizer's: lower-cased, cut, capped per line) within the distance of the term. */
export function fuzzyTest(f: FuzzyTerm): (line: string) => boolean {
  const n = [...f.term].length;
  return (line) => tokenize(line).terms.some((t) => Math.abs([...t].length - n) <= f.distance && editDistance(t, f.term) <= f.distance);
}

/** searchBodyOf is the JSON search request (docs/log-search.md) of a fuzzy query. */
export function searchBodyOf(q: QuerySpec, limit: number): string {
  if (q.fuzzy === null) throw new Error('bench/query-logs: searchBodyOf takes a fuzzy query');
  return JSON.stringify({
    query: { fuzzy: { term: q.fuzzy.term, distance: q.fuzzy.distance } },
    selector: selectorText(q.selector),
    start: String(q.startNs),
    end: String(q.endNs),
    limit,
    direction: 'backward',
  });
}

/** queryText names a query in reports: its LogQL, or its JSON search node. */
export function queryText(q: QuerySpec): string {
  return q.fuzzy !== null ? `${selectorText(q.selector)} search {"fuzzy":{"term":"${q.fuzzy.term}","distance":${q.fuzzy.distance}}}` : logqlOf(q);
}

/** bruteLog scans the lines newest first and keeps the first LOG_LIMIT matches in the range. */
export function bruteLog(d: QueryLogsData, q: QuerySpec): LogAnswer {
  const test = lineTest(q);
  const admits = d.streams.map((s) => streamAdmits(s, q.selector));
  const lo = Number(q.startNs - d.windowStartNs);
  const hi = Number(q.endNs - d.windowStartNs);
  const out: LogAnswer = { timesNs: [], lines: [] };
  for (let i = d.lines.length - 1; i >= 0 && out.lines.length < LOG_LIMIT; i--) {
    const off = d.offsetsNs[i] as number;
    if (off > hi) continue;
    if (off < lo) break;
    if (!(admits[d.streamOf[i] as number] as boolean)) continue;
    const line = d.lines[i] as string;
    if (!test(line)) continue;
    out.timesNs.push(d.windowStartNs + BigInt(off));
    out.lines.push(line);
  }
  return out;
}

/** stepOf is the index k ≥ 1 of the step (start + (k−1)·step, start + k·step] that holds offset `off` past `start`. */
function stepOf(offFromStartNs: number): number {
  return Math.floor((offFromStartNs - 1) / (COUNT_STEP_S * 1e9)) + 1;
}

/** bruteCount counts the matches per step over the whole range. */
export function bruteCount(d: QueryLogsData, q: QuerySpec): CountAnswer {
  const test = lineTest(q);
  const admits = d.streams.map((s) => streamAdmits(s, q.selector));
  const start = Number(q.startNs - d.windowStartNs);
  const end = Number(q.endNs - d.windowStartNs);
  const out: CountAnswer = new Map();
  for (let i = 0; i < d.lines.length; i++) {
    const off = d.offsetsNs[i] as number;
    // A line exactly at `start` counts at the first evaluation time, start itself (k = 0); a step end past `end` is not evaluated.
    if (off < start || off > end || !(admits[d.streamOf[i] as number] as boolean)) continue;
    if (!test(d.lines[i] as string)) continue;
    const k = off === start ? 0 : stepOf(off - start);
    const t = q.startNs + BigInt(k) * BigInt(COUNT_STEP_S) * 1_000_000_000n;
    if (t > q.endNs) continue;
    out.set(t, (out.get(t) ?? 0) + 1);
  }
  return out;
}

/** COUNT_STEP_SQL is stepOf (and the k = 0 case) for FTS5's SQL: the same arithmetic in integers. */
export const COUNT_STEP_SQL = `CASE WHEN t = @start THEN 0 ELSE (t - @start - 1) / ${COUNT_STEP_S * 1e9} + 1 END`;
