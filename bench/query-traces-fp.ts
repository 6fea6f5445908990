/**
 * query-traces-fp.ts — `node dist/bench/query-traces-fp.js [--traces N]
 * [--flushes F] [--searches S] [--profile]`: how many blocks an attribute search on a
 * skipped key (the bench's `customer.id=cN`) lets through its page filters
 * that hold the customer, and how many are false positives; with the pages,
 * bytes, LevelDB calls and CPU a search costs. One shard (TraceStore over a
 * real LevelDB in a temporary directory), N traces shaped like
 * query-traces-data.ts (query-traces-shard.ts shardSpans), written in start
 * order in F flushes (a block per flush and hour bucket, so the blocks that
 * hold a customer are known from the data). The bench's 2M-span cluster searches ~431 blocks
 * of ~4,700 spans; `--traces 20000 --flushes 100` gives ~100 blocks of ~4,000.
 * Counts, not timing, are the figures; the CPU ms is process.cpuUsage.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SeededRand } from '../src/fs/seeded-rand.js';
import type { SpanRow } from '../src/storage/rows.js';
import { KvWriteBatch, ShardDb } from '../src/storage/shard/shard-db.js';
import { TraceStore } from '../src/storage/traces/trace-store.js';
import { bucketOf } from '../src/storage/traces/trace-keys.js';
import { searchShard } from '../src/query/trace-search-shard.js';
import { Session } from 'node:inspector/promises';
import { CountingKv } from './query-traces-round-trips.js';
import { topFrames } from './raft-core-cluster.js';
import { shardSpans } from './query-traces-shard.js';
import { positiveIntArg } from './cli-args.js';

async function main(): Promise<void> {
  const traces = positiveIntArg('traces', 20_000);
  const flushes = positiveIntArg('flushes', 100);
  const searches = positiveIntArg('searches', 100);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otlpdb-bench-fp-'));
  const db = await ShardDb.open(dir);
  try {
    const { spans, customers } = shardSpans(new SeededRand(3200), traces, 'bench');
    const byTrace = new Map<string, SpanRow[]>();
    for (const s of spans) {
      const k = Buffer.from(s.traceId).toString('hex');
      const list = byTrace.get(k);
      if (list === undefined) byTrace.set(k, [s]);
      else list.push(s);
    }
    const ordered = [...byTrace.entries()].sort((a, b) => ((a[1][0] as SpanRow).startTimeUnixNano < (b[1][0] as SpanRow).startTimeUnixNano ? -1 : 1));
    const store = new TraceStore();
    await store.load(db);
    // A flush writes a block per hour bucket of its spans: block (flush, bucket) holds a trace's spans of that bucket.
    const blocksOf = new Map<string, Set<string>>();
    const per = Math.ceil(ordered.length / flushes);
    let blocks = 0;
    for (let f = 0; f * per < ordered.length; f++) {
      const part = ordered.slice(f * per, (f + 1) * per);
      const buckets = new Set<string>();
      for (const [hex, list] of part) {
        const set = new Set(list.map((s) => `${f}/${bucketOf(s.startTimeUnixNano)}`));
        blocksOf.set(hex, set);
        for (const b of set) buckets.add(b);
      }
      store.add('bench', part.flatMap(([, s]) => s), 1_000);
      store.freeze();
      const batch = new KvWriteBatch();
      const r = await store.writeFrozen({ batch, kv: db, flushIndex: f + 1 });
      if (r.blocks !== buckets.size) throw new Error(`flush ${f} wrote ${r.blocks} blocks for ${buckets.size} buckets; use more --flushes`);
      blocks += r.blocks;
      await db.write(batch);
      store.dropFrozen();
    }
    const names = [...customers.keys()];
    // --profile: the top self-time frames of the searches only (not of the load).
    const session = new Session();
    if (process.argv.includes('--profile')) {
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
    }
    const rand = new SeededRand(77);
    const sum = { passed: 0, holding: 0, scanned: 0, bytes: 0, calls: 0, cpuMs: 0, traces: 0 };
    for (let i = 0; i < searches; i++) {
      const c = names[rand.intn(names.length)] as string;
      const holding = new Set([...(customers.get(c) ?? [])].flatMap((hex) => [...(blocksOf.get(hex) ?? [])]));
      const kv = new CountingKv(db, false);
      const cpu = process.cpuUsage();
      const a = await searchShard(store, kv, 'bench', { startNs: 0n, endNs: 1n << 63n, predicate: { attrs: [['customer.id', c]] }, limit: 100, spss: 3 }, () => false);
      const used = process.cpuUsage(cpu);
      sum.cpuMs += (used.user + used.system) / 1000;
      sum.passed += blocks - a.stats.blocksPrunedBloom - a.stats.blocksPrunedTime;
      sum.holding += holding.size;
      sum.scanned += a.stats.blocksScanned;
      sum.bytes += a.stats.bytesRead;
      sum.calls += kv.gets + kv.getManys + kv.iterators;
      sum.traces += a.traces.length;
      if (a.traces.length !== (customers.get(c)?.size ?? 0)) throw new Error(`customer ${c}: ${a.traces.length} traces, want ${customers.get(c)?.size ?? 0}`);
    }
    if (process.argv.includes('--profile')) {
      const { profile } = await session.post('Profiler.stop');
      for (const line of topFrames(profile, 20)) console.log(line);
    }
    const m = (v: number): string => (v / searches).toFixed(1);
    console.log(`query-traces-fp: ${spans.length} spans, ${traces} traces in ${blocks} blocks (${flushes} flushes); ${searches} attribute searches (customer.id), means a search:`);
    console.log(`  blocks let through ${m(sum.passed)} (holding the customer ${m(sum.holding)}, false positives ${m(sum.passed - sum.holding)}), blocksScanned ${m(sum.scanned)}`);
    console.log(`  KiB read ${(sum.bytes / searches / 1024).toFixed(0)}, LevelDB calls ${m(sum.calls)}, CPU ${m(sum.cpuMs)} ms, traces ${m(sum.traces)}; 0 wrong answers`);
  } finally {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
