/**
 * page-filters-test-util.ts — the data and searches the page filter tests
 * share (page-filters.test.ts, page-filters-block.test.ts): realistic traces
 * with a skipped key (`customer.id`, too many values for a block to index),
 * searches on it, and an answer's comparable form. Test code only.
 */
import type { Test } from 'tap';
import type { SeededRand } from '../../fs/seeded-rand.js';
import type { SpanRow } from '../rows.js';
import type { ShardDb } from '../shard/shard-db.js';
import type { ShardSearchAnswer } from '../../query/trace-search-shard.js';
import type { TraceSearchQuery } from '../../query/search-params.js';
import type { TraceStore } from './trace-store.js';
import { addAndFlush, realisticSpans, tempTraceDb } from './traces-test-util.js';

/** TENANT is the tests' tenant. */
export const TENANT = 'acme';
/** CUSTOMERS is how many `customer.id` values the traces take. */
export const CUSTOMERS = 150;

/** customerSpans: realistic traces, each with a `customer.id` of `customers` values (too many for a block to index: a skipped key), on every span. */
export function customerSpans(rand: SeededRand, traces: number, customers = CUSTOMERS): SpanRow[] {
  const customer = new Map<string, string>();
  return realisticSpans(rand, traces, TENANT).map((s) => {
    const k = Buffer.from(s.traceId).toString('hex');
    let c = customer.get(k);
    if (c === undefined) customer.set(k, (c = `c${rand.intn(customers)}`));
    return { ...s, attributes: [...s.attributes, { key: 'customer.id', value: { type: 'string', value: c } }] };
  });
}

/** storeWith flushes `spans` in `flushes` flushes into a fresh LevelDB. */
export async function storeWith(t: Test, spans: readonly SpanRow[], flushes: number, store: TraceStore): Promise<ShardDb> {
  const db = await tempTraceDb(t, 'otlpdb-page-filters-');
  await addAndFlush(store, db, TENANT, spans, Math.ceil(spans.length / flushes), 1);
  return db;
}

/** json is an answer's traces and partial flag, ids in hex, for equality. */
export const json = (a: ShardSearchAnswer): string =>
  JSON.stringify({ traces: a.traces, partial: a.partial }, function (this: Record<string, unknown>, k: string, v: unknown) {
    const raw = this[k];
    return raw instanceof Uint8Array ? Buffer.from(raw).toString('hex') : typeof v === 'bigint' ? String(v) : v;
  });

/** randomSearch is a search on the skipped key: a tag search (sometimes with another tag) or the TraceQL equality, for a customer that may not exist. */
export function randomSearch(rand: SeededRand, spans: readonly SpanRow[]): TraceSearchQuery {
  const c = `c${rand.intn(CUSTOMERS + 20)}`;
  const s = spans[rand.intn(spans.length)] as SpanRow;
  const base = { startNs: 0n, endNs: 1n << 63n, limit: [3, 20, 1000][rand.intn(3)] as number, spss: 3 };
  switch (rand.intn(4)) {
    case 0:
      return { ...base, predicate: {}, traceql: `{ span.customer.id = ${JSON.stringify(c)} }` };
    case 1:
      return { ...base, predicate: { attrs: [['customer.id', c]], name: s.name } };
    default:
      return { ...base, predicate: { attrs: [['customer.id', c]] } };
  }
}

