/**
 * log-store-test-util.ts — the differential harness the logs store tests
 * share: a throwaway LevelDB, a flush as a node runs it, seeded rows over
 * three hourly buckets, random scan queries, the oracle's answer and the
 * store's, and a run of random queries that reports the first mismatches
 * with the seed to reproduce them. Test code only.
 */
import type { SeededRand } from '../../fs/seeded-rand.js';
import { LogStoreLimits } from '../../limits.js';
import type { LogRow } from '../rows.js';
import { KvWriteBatch } from '../shard/shard-db.js';
import type { ShardDb } from '../shard/shard-db.js';
import { newScanStats } from '../shard/signal-store.js';
import type { ScanStats } from '../shard/signal-store.js';
import { canon, tempShardDb } from '../storage-test-util.js';
import type { LogScanQuery } from './log-scan.js';
import type { LogStore } from './log-store.js';
import { bucketOf, bucketStartNs } from './log-store-format.js';
import { oracleQuery, randomQuery, realisticLogs } from './log-test-util.js';

/** U64_MAX is the open end of a scan's time range. */
export const U64_MAX = (1n << 64n) - 1n;
/** BASE_BUCKET is the first of the three hourly buckets genStoreRows spreads rows over. */
export const BASE_BUCKET = bucketOf(1_795_000_000_000_000_000n);

/** openTestDb is storage-test-util's tempShardDb: a LevelDB in a fresh temp folder, closed and removed at the test's end. */
export const openTestDb = tempShardDb;

/** flushStore freezes the head, writes the frozen part in one batch and drops it, as a node's flush does. */
export async function flushStore(store: LogStore, db: ShardDb, flushIndex: number): Promise<{ indexBytes: number }> {
  store.freeze();
  const batch = new KvWriteBatch();
  const r = await store.writeFrozen({ batch, kv: db, flushIndex });
  await db.write(batch);
  store.dropFrozen();
  return r;
}

/** genStoreRows is `n` realistic rows of tenant acme at seeded times over three hourly buckets from BASE_BUCKET. */
export function genStoreRows(rand: SeededRand, n: number): LogRow[] {
  return realisticLogs(rand, n, 'acme').map((row) => {
    const time = bucketStartNs(BASE_BUCKET + rand.intn(3)) + BigInt(rand.intn(3600)) * 1_000_000_000n + BigInt(rand.intn(1000));
    return { ...row, timeUnixNano: time, observedTimeUnixNano: time };
  });
}

/** drawStoreQuery is a random scan query over `rows` (randomQuery's terms, phrases and matchers; a random direction and limit). */
export function drawStoreQuery(rand: SeededRand, rows: readonly LogRow[]): LogScanQuery {
  const lq = randomQuery(rand, rows);
  return {
    startNs: lq.minTimeNs ?? 0n,
    endNs: lq.maxTimeNs ?? U64_MAX,
    streamMatchers: lq.streamMatchers,
    terms: lq.terms,
    phrases: lq.phrases,
    direction: rand.intn(2) === 0 ? 'forward' : 'backward',
    limit: [1, 5, 40, LogStoreLimits.queryRowsMax][rand.intn(4)] as number,
  };
}

/** storeReference is the oracle's answer to q: matching rows in time order (reversed when backward), cut to the limit. */
export function storeReference(rows: readonly LogRow[], q: LogScanQuery): string[] {
  const idx = oracleQuery(rows, { streamMatchers: q.streamMatchers, terms: q.terms, phrases: q.phrases, minTimeNs: q.startNs, maxTimeNs: q.endNs });
  const hits = idx.map((i) => rows[i] as LogRow).sort((a, b) => (a.timeUnixNano < b.timeUnixNano ? -1 : a.timeUnixNano > b.timeUnixNano ? 1 : 0));
  if (q.direction === 'backward') hits.reverse();
  return hits.slice(0, q.limit).map(canon);
}

/** storeAnswer is the store's answer to q for tenant acme, row by row in canonical form. */
export async function storeAnswer(store: LogStore, db: ShardDb, q: LogScanQuery, stats: ScanStats = newScanStats()): Promise<string[]> {
  const out: string[] = [];
  for await (const batch of store.queryLogs(db, 'acme', q, stats)) for (const h of batch) out.push(canon(h.row));
  return out;
}

/** storeDifferential runs `n` random queries and returns the first mismatches (at most 3), each naming `seed`. */
export async function storeDifferential(store: LogStore, db: ShardDb, rows: readonly LogRow[], rand: SeededRand, n: number, seed: number): Promise<string[]> {
  const bad: string[] = [];
  for (let i = 0; i < n && bad.length < 3; i++) {
    const q = drawStoreQuery(rand, rows);
    const want = storeReference(rows, q);
    const got = await storeAnswer(store, db, q);
    if (got.length !== want.length || got.some((g, k) => g !== want[k])) bad.push(`query ${i} ${canon(q)}: got ${got.length}, want ${want.length} (SEED=${seed})`);
  }
  return bad;
}
