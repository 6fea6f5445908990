/**
 * parse-cache.ts — a bounded cache of parsed PromQL, so a node parses a
 * query text once, not once per query and once per shard part.
 *
 * Why: a pushed-down subexpression reaches every shard as text
 * (pushdown.ts formatPromql), and each shard part parsed it again with
 * lezer-promql: 346 of 1,307 ms of a serving node's shard parts in a run of
 * 620 selective instant queries (bench/README.md, s15). The same few texts
 * come again and again (a dashboard's panels, the pushed part of each).
 *
 * What is kept: the typed AST `parsePromql` answers for a text, deep-frozen
 * (the evaluator builds new nodes, resolveAt included, and never writes to
 * a parsed one; freezing makes a write a TypeError instead of a change one
 * later query would see). A text that fails to parse is not kept: its
 * error is built again each time, as before.
 *
 * Scope: entries are keyed by (tenant, text). The AST holds no data, but a
 * shared entry would let one tenant learn from timing that another ran a
 * text; `scope(tenant)` hands out the parser one tenant's reads use, and
 * no lookup of one tenant reaches another's entries.
 *
 * Bounds: at most PromqlLimits.parseCacheEntriesMax entries and
 * parseCacheTextBytesMax bytes of text (UTF-16 code units × 2, the keys'
 * size in memory); a text longer than parseCacheTextBytesEachMax is parsed
 * and not kept. Least recently used first out (a Map's insertion order,
 * refreshed on a hit).
 *
 * Owner: one per node (metrics-read.ts MetricsRead), shared by the
 * coordinator's and the shard parts' evaluations on that node.
 */
import { assert } from '../../errors.js';
import { PromqlLimits } from '../../limits.js';
import type { Expr } from './ast.js';
import { parsePromql } from './parser.js';

/** ParseCacheStats count a cache's lookups (tests and /metrics-style probes). */
export interface ParseCacheStats {
  hits: number;
  misses: number;
  evictions: number;
}

/** ParseScope parses texts for one tenant through a cache (or without one). */
export interface ParseScope {
  parse(text: string): Expr;
}

/** ParseCacheBounds override the cache's bounds (tests: small ones); absent, PromqlLimits's. */
export interface ParseCacheBounds {
  readonly entriesMax: number;
  readonly textBytesMax: number;
  readonly textBytesEachMax: number;
}

/** deepFreeze freezes an AST node and every object under it (plain objects and arrays only: the AST holds nothing else). */
function deepFreeze<T>(v: T): T {
  if (v === null || typeof v !== 'object' || Object.isFrozen(v)) return v;
  for (const x of Object.values(v as object)) deepFreeze(x);
  return Object.freeze(v);
}

/** cacheKey is the entry key of a tenant's text: the tenant's length first, so no (tenant, text) pair collides with another. */
function cacheKey(tenant: string, text: string): string {
  return `${tenant.length}:${tenant}\u0000${text}`;
}

/** ParsedExprCache is a node's bounded cache of parsed PromQL per (tenant, text); see the top of this file. */
export class ParsedExprCache {
  readonly stats: ParseCacheStats = { hits: 0, misses: 0, evictions: 0 };
  readonly #bounds: ParseCacheBounds;
  /** #entries in least-recently-used order. Invariant: #textBytes is the sum of 2 × key.length over the entries. */
  readonly #entries = new Map<string, Expr>();
  #textBytes = 0;

  constructor(bounds: ParseCacheBounds = { entriesMax: PromqlLimits.parseCacheEntriesMax, textBytesMax: PromqlLimits.parseCacheTextBytesMax, textBytesEachMax: PromqlLimits.parseCacheTextBytesEachMax }) {
    assert(bounds.entriesMax >= 1 && bounds.textBytesEachMax <= bounds.textBytesMax, 'parse cache bounds: one entry fits');
    this.#bounds = bounds;
  }

  /** size is how many texts are kept. */
  get size(): number {
    return this.#entries.size;
  }

  /** scope is the parser of one tenant's texts. */
  scope(tenant: string): ParseScope {
    return { parse: (text) => this.parse(tenant, text) };
  }

  /** parse answers the tenant's text parsed (parsePromql's answer, frozen; its errors thrown as they come). */
  parse(tenant: string, text: string): Expr {
    const key = cacheKey(tenant, text);
    const hit = this.#entries.get(key);
    if (hit !== undefined) {
      this.stats.hits++;
      this.#entries.delete(key);
      this.#entries.set(key, hit);
      return hit;
    }
    this.stats.misses++;
    const expr = deepFreeze(parsePromql(text));
    const bytes = 2 * key.length;
    if (bytes > this.#bounds.textBytesEachMax) return expr;
    while (this.#entries.size >= this.#bounds.entriesMax || this.#textBytes + bytes > this.#bounds.textBytesMax) this.#evictOldest();
    this.#entries.set(key, expr);
    this.#textBytes += bytes;
    assert(this.#entries.size <= this.#bounds.entriesMax && this.#textBytes <= this.#bounds.textBytesMax, 'parse cache within its bounds');
    return expr;
  }

  #evictOldest(): void {
    const oldest = this.#entries.keys().next();
    assert(oldest.done !== true, 'an over-bound cache holds an entry');
    this.#entries.delete(oldest.value);
    this.#textBytes -= 2 * oldest.value.length;
    this.stats.evictions++;
  }
}
