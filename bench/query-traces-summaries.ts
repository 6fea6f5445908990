/**
 * query-traces-summaries.ts — `node dist/bench/query-traces-shard.js
 * --summaries-ab [--traces N] [--searches N] [--flushes N]`: what the
 * per-block trace summaries (storage/traces/trace-summaries.ts) save a
 * shard's searches, measured in one process over one LevelDB, "before" and
 * "after" alternating query by query:
 *
 * - duration search (`minDuration` 300 ms, limit 20): before reads every
 *   candidate that passes the extent prefilter whole (ShardSearchOptions
 *   summaries false, the read path before the table); after answers one-block
 *   traces from their block's table;
 * - duration search, candidate stage only: before reads every block of the
 *   candidate stage for its (trace id, start) pairs (ShardSearchOptions
 *   summaryRefs false), after takes them from the block's trace summaries
 *   (storage/traces/summary-refs.ts); both settle from summaries;
 * - attribute search (`customer.id`, a skipped key): the same options (the
 *   summaries do not apply to tag searches: a control row, equal by design).
 *
 * Each side has its own store and block cache of the default bound, so both
 * warm alike. Prints per kind: KiB read per query (the answers' stats:
 * LevelDB bytes and bytes served from the cache), LevelDB calls per query
 * (gets + getManys + iterators, counted by a wrapping KvRead), p50/p99 of
 * each and the before/after ratio of the p50s. Every answer pair must agree
 * in every field. Timing never gates anything.
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { SeededRand } from '../src/fs/seeded-rand.js';
import type { ShardDb } from '../src/storage/shard/shard-db.js';
import { SpanBlockCache } from '../src/storage/traces/block-cache.js';
import { TraceStore } from '../src/storage/traces/trace-store.js';
import type { TraceSearchQuery } from '../src/query/search-params.js';
import { searchShard } from '../src/query/trace-search-shard.js';
import type { ShardSearchAnswer, ShardSearchOptions } from '../src/query/trace-search-shard.js';
import { percentileMs } from './ingest-plan.js';
import { CountingKv } from './query-traces-round-trips.js';

/** AbKind is one query kind of an A/B run: the query of round i and each side's options. */
export interface AbKind {
  readonly name: string;
  readonly query: (i: number) => TraceSearchQuery;
  readonly before: ShardSearchOptions;
  readonly after: ShardSearchOptions;
}

/** answerText is every field of an answer's traces (ids as hex), for the equality check. */
function answerText(a: ShardSearchAnswer): string {
  return JSON.stringify(a.traces, function (this: Record<string, unknown>, k: string, v: unknown) {
    const raw = this[k];
    return raw instanceof Uint8Array ? Buffer.from(raw).toString('hex') : typeof v === 'bigint' ? String(v) : v;
  });
}

/** searchAb runs each kind `searches` times on a before and an after store over `db`, alternating which goes first, and prints the figures above. */
export async function searchAb(db: ShardDb, title: string, searches: number, kinds: readonly AbKind[]): Promise<void> {
  const stores = { before: new TraceStore({}, new SpanBlockCache()), after: new TraceStore({}, new SpanBlockCache()) };
  await stores.before.load(db);
  await stores.after.load(db);
  const kvs = { before: new CountingKv(db, false), after: new CountingKv(db, false) };
  let wrong = 0;
  const p = (xs: number[], q: number): number => Math.round(percentileMs([...xs].sort((a, b) => a - b), q) * 100) / 100;
  console.log(`${title}: ${searches} rounds a kind; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  for (const k of kinds) {
    const ms = { before: [] as number[], after: [] as number[] };
    const calls = { before: 0, after: 0 };
    const bytes = { before: 0, after: 0 };
    const settled = { before: 0, after: 0 };
    for (let i = 0; i < searches; i++) {
      const answers: string[] = [];
      const q = k.query(i);
      for (const which of i % 2 === 0 ? (['after', 'before'] as const) : (['before', 'after'] as const)) {
        const kv = kvs[which];
        const c0 = kv.calls();
        const t0 = performance.now();
        const a = await searchShard(stores[which], kv, 'bench', q, () => false, undefined, k[which]);
        ms[which].push(performance.now() - t0);
        calls[which] += kv.calls() - c0;
        bytes[which] += a.stats.bytesRead;
        settled[which] += a.summarizedTraces ?? 0;
        answers.push(answerText(a));
      }
      if (answers[0] !== answers[1]) {
        if (wrong === 0) console.log(`  first disagreement (${k.name}): ${answers[0]?.slice(0, 300)} vs ${answers[1]?.slice(0, 300)}`);
        wrong++;
      }
    }
    const per = (n: number): string => (n / searches).toFixed(1);
    const kib = (n: number): string => (n / searches / 1024).toFixed(0);
    console.log(
      `  ${k.name.padEnd(20)} before ${kib(bytes.before)} KiB, ${per(calls.before)} LevelDB calls, p50 ${p(ms.before, 50)} / p99 ${p(ms.before, 99)} ms; ` +
        `after ${kib(bytes.after)} KiB, ${per(calls.after)} calls, p50 ${p(ms.after, 50)} / p99 ${p(ms.after, 99)} ms ` +
        `(${per(settled.after)} traces a query from summaries); before/after p50 ${(p(ms.before, 50) / Math.max(0.01, p(ms.after, 50))).toFixed(2)}x`,
    );
  }
  console.log(`  wrong answers (before and after disagree): ${wrong}`);
  if (wrong > 0) process.exitCode = 1;
}

/** summariesAb is the run described at the top of this file (the data already flushed into `db`). */
export async function summariesAb(db: ShardDb, rand: SeededRand, searches: number, base: { startNs: bigint; endNs: bigint; spss: number }, names: readonly string[]): Promise<void> {
  const picks = Array.from({ length: searches }, () => rand.intn(1 << 30));
  const off: ShardSearchOptions = { earlyStop: true, summaries: false };
  const on: ShardSearchOptions = { earlyStop: true };
  await searchAb(db, 'query-traces-shard --summaries-ab', searches, [
    { name: 'duration search', query: () => ({ ...base, predicate: {}, minTraceDurationNs: 300_000_000n, limit: 20 }), before: off, after: on },
    { name: 'duration, candidates', query: () => ({ ...base, predicate: {}, minTraceDurationNs: 300_000_000n, limit: 20 }), before: { earlyStop: true, summaryRefs: false }, after: on },
    { name: 'attribute search', query: (i) => ({ ...base, predicate: { attrs: [['customer.id', names[(picks[i] as number) % names.length] as string]] }, limit: 100 }), before: off, after: on },
  ]);
}
