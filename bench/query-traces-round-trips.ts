/**
 * query-traces-round-trips.ts — `node dist/bench/query-traces-shard.js
 * --round-trips-ab [--traces N] [--searches N] [--flushes N]`: the LevelDB
 * round trips a shard's trace queries still made after the block cache
 * (bench/README.md "Block cache"), removed since, measured in one process
 * over one LevelDB, the "before" and "after" reads alternating:
 *
 * - before: a store that reads as the code did (BeforeStore below): every
 *   meta without its shadow flag (so every opened block's markers are
 *   scanned, as when metas had no flag), the duration search's candidate
 *   index scanned twice (traceExtent, then traceById), tag reads without the
 *   block cache;
 * - after: the store as it is.
 *
 * Both have their own block cache of the default bound, so both warm alike.
 * Prints, per query kind, p50/p99 of each, the before/after ratio of the
 * p50s, and the LevelDB calls per query (gets, getManys, iterators) of each.
 * Every answer pair must agree. Timing never gates anything.
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { SeededRand } from '../src/fs/seeded-rand.js';
import { ByteWriter } from '../src/storage/codec/varint.js';
import type { KeyRange, KvEntry, KvRead, ShardDb } from '../src/storage/shard/shard-db.js';
import type { ScanStats } from '../src/storage/shard/signal-store.js';
import { newScanStats } from '../src/storage/shard/signal-store.js';
import { SpanBlockCache } from '../src/storage/traces/block-cache.js';
import type { TagRead, TagReadAnswer, TagReadBounds } from '../src/storage/traces/tag-read.js';
import { readTags } from '../src/storage/traces/tag-read.js';
import { TraceKeySpace as K, decodeBlockMeta, encodeBlockMeta } from '../src/storage/traces/trace-keys.js';
import type { TraceExtent, TraceRefs, TraceResult } from '../src/storage/traces/trace-store.js';
import { TraceStore } from '../src/storage/traces/trace-store.js';
import { searchShard } from '../src/query/trace-search-shard.js';
import { percentileMs } from './ingest-plan.js';

/** CountingKv counts the LevelDB calls made through it; with `unflag`, metas come back without their shadow flag. */
export class CountingKv implements KvRead {
  gets = 0;
  getManys = 0;
  iterators = 0;
  readonly #w = new ByteWriter();
  constructor(
    readonly inner: KvRead,
    readonly unflag: boolean,
  ) {}
  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    this.gets++;
    return this.inner.get(key);
  }
  getMany(keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    this.getManys++;
    return this.inner.getMany(keys);
  }
  async *pages(range: KeyRange, pageEntries?: number): AsyncGenerator<readonly KvEntry[]> {
    this.iterators++;
    for await (const page of this.inner.pages(range, pageEntries)) {
      if (!this.unflag || page[0]?.key[0] !== K.meta) {
        yield page;
        continue;
      }
      yield page.map((e) => {
        const { marked: _marked, ...rest } = decodeBlockMeta(e.value);
        return { key: e.key, value: encodeBlockMeta(this.#w, rest) };
      });
    }
  }
  calls(): number {
    return this.gets + this.getManys + this.iterators;
  }
}

/** BeforeStore reads the trace-id index of a duration candidate twice and tags without the cache (the heads are empty here). */
class BeforeStore extends TraceStore {
  override async traceRefs(): Promise<TraceRefs> {
    // Read nothing: traceExtent and traceById below scan on their own, as before.
    return { refs: [], truncated: true };
  }
  override async traceExtent(kv: KvRead, tenant: string, traceId: Uint8Array, stats: ScanStats): Promise<TraceExtent | null> {
    return super.traceExtent(kv, tenant, traceId, stats);
  }
  override async traceById(kv: KvRead, tenant: string, traceId: Uint8Array): Promise<TraceResult> {
    // Its own scan of the index, as before (this.traceRefs above reads nothing).
    return super.traceById(kv, tenant, traceId, await super.traceRefs(kv, tenant, traceId, newScanStats()));
  }
  override async readTags(kv: KvRead, tenant: string, q: TagRead, expired: () => boolean, bounds?: TagReadBounds): Promise<TagReadAnswer> {
    return readTags([], kv, tenant, q, expired, bounds, null);
  }
}

/** roundTripsAb is the run described at the top of this file (the data already flushed into `db`). */
export async function roundTripsAb(
  db: ShardDb,
  rand: SeededRand,
  searches: number,
  base: { startNs: bigint; endNs: bigint; spss: number },
  names: readonly string[],
): Promise<void> {
  const before = new BeforeStore({}, new SpanBlockCache());
  const after = new TraceStore({}, new SpanBlockCache());
  await before.load(db);
  await after.load(db);
  const kvs = { before: new CountingKv(db, true), after: new CountingKv(db, false) };
  let wrong = 0;
  const p = (xs: number[], q: number): number => Math.round(percentileMs([...xs].sort((a, b) => a - b), q) * 100) / 100;
  const ids = (a: { traces: readonly { traceId: Uint8Array }[] }): string => a.traces.map((t) => Buffer.from(t.traceId).toString('hex')).join();
  const window = { startNs: base.startNs, endNs: base.endNs };
  const kinds: { name: string; run: (s: TraceStore, kv: KvRead, i: number) => Promise<string> }[] = [
    { name: 'attribute search', run: async (s, kv, i) => ids(await searchShard(s, kv, 'bench', { ...base, predicate: { attrs: [['customer.id', names[i % names.length] as string]] }, limit: 100 }, () => false)) },
    { name: 'duration search', run: async (s, kv) => ids(await searchShard(s, kv, 'bench', { ...base, predicate: {}, minTraceDurationNs: 300_000_000n, limit: 20 }, () => false)) },
    { name: 'tag names', run: async (s, kv) => JSON.stringify((await s.readTags(kv, 'bench', { ...window, target: { kind: 'names', scopes: ['span', 'resource'] }, valuesMax: 1000 }, () => false)).entries) },
    { name: 'tag values', run: async (s, kv) => JSON.stringify((await s.readTags(kv, 'bench', { ...window, target: { kind: 'values', scope: 'span', key: 'customer.id' }, valuesMax: 1000 }, () => false)).entries) },
  ];
  console.log(`query-traces-shard --round-trips-ab: ${searches} rounds a kind; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  for (const k of kinds) {
    const ms = { before: [] as number[], after: [] as number[] };
    const calls = { before: 0, after: 0 };
    const picks = Array.from({ length: searches }, () => rand.intn(1 << 30));
    for (let i = 0; i < searches; i++) {
      const answers: string[] = [];
      for (const which of i % 2 === 0 ? (['after', 'before'] as const) : (['before', 'after'] as const)) {
        const kv = kvs[which];
        const c0 = kv.calls();
        const t0 = performance.now();
        answers.push(await k.run(which === 'after' ? after : before, kv, picks[i] as number));
        ms[which].push(performance.now() - t0);
        calls[which] += kv.calls() - c0;
      }
      if (answers[0] !== answers[1]) {
        if (wrong === 0) console.log(`  first disagreement (${k.name}): ${answers[0]?.slice(0, 200)} vs ${answers[1]?.slice(0, 200)}`);
        wrong++;
      }
    }
    const ratio = p(ms.before, 50) / Math.max(0.01, p(ms.after, 50));
    console.log(
      `  ${k.name.padEnd(17)} before p50 ${p(ms.before, 50)} / p99 ${p(ms.before, 99)} ms, ${(calls.before / searches).toFixed(1)} LevelDB calls; ` +
        `after p50 ${p(ms.after, 50)} / p99 ${p(ms.after, 99)} ms, ${(calls.after / searches).toFixed(1)} calls; before/after p50 ${ratio.toFixed(2)}x`,
    );
  }
  console.log(`  wrong answers (before and after disagree): ${wrong}`);
  if (wrong > 0) process.exitCode = 1;
}
