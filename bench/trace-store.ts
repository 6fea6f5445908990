/**
 * trace-store.ts — `node dist/bench/trace-store.js [--traces N] [--flushes N] [--layout pageTerms|pageTermsV2|blockBloom] [--json]`:
 * the traces store of one shard replica (src/storage/traces/trace-store.ts)
 * on a real LevelDB in a temporary directory, fed the seeded realistic spans
 * of traces-test-util.ts (N traces per flush, ~16 spans each, one hour bucket
 * per flush).
 *
 * Figures: bytes per span of blocks and of indexes (FlushReport) and their
 * ratio; writeFrozen time per flush and the part of it spent probing the
 * trace-id index for the exact distinct-trace count (one seek per trace);
 * traceById latency; searchSpans latency of a selective query and of a full
 * scan (each the median of a few runs after a warm-up). Timing never gates anything.
 * `--layout blockBloom` writes the blocks' skipped-key terms as before page
 * filters of version 2 (TraceWriteLayout), for the flush cost before/after.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { SeededRand } from '../src/fs/seeded-rand.js';
import { StoreLimits, TraceStoreLimits } from '../src/limits.js';
import type { SpanRow } from '../src/storage/rows.js';
import { KvWriteBatch, ShardDb } from '../src/storage/shard/shard-db.js';
import { newScanStats } from '../src/storage/shard/signal-store.js';
import { prefixRange, tracePrefix } from '../src/storage/traces/trace-keys.js';
import { TraceStore } from '../src/storage/traces/trace-store.js';
import type { TraceWriteLayout } from '../src/storage/traces/trace-store.js';
import { realisticSpans } from '../src/storage/traces/traces-test-util.js';
import { positiveIntArg } from './cli-args.js';

const TRACES = positiveIntArg('traces', 500);
const FLUSHES = positiveIntArg('flushes', 8);
const JSON_OUT = process.argv.includes('--json');
const LAYOUT: TraceWriteLayout = process.argv.includes('blockBloom') ? 'blockBloom' : process.argv.includes('pageTermsV2') ? 'pageTermsV2' : 'pageTerms';

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otlpdb-bench-traces-'));
  const db = await ShardDb.open(dir);
  try {
    const rand = new SeededRand(42);
    const store = new TraceStore({}, null, undefined, LAYOUT);
    await store.load(db);
    let spans = 0;
    let dataBytes = 0;
    let indexBytes = 0;
    let writeMs = 0;
    let probeMs = 0;
    const traceIds: Uint8Array[] = [];
    for (let f = 0; f < FLUSHES; f++) {
      const shift = BigInt(f) * StoreLimits.traceBucketNs;
      const rows: SpanRow[] = realisticSpans(rand, TRACES, 'default').map((s) => ({
        ...s,
        startTimeUnixNano: s.startTimeUnixNano + shift,
        endTimeUnixNano: s.endTimeUnixNano + shift,
      }));
      store.add('default', rows, 0);
      const ids = [...new Map(rows.map((s) => [Buffer.from(s.traceId).toString('hex'), s.traceId])).values()];
      traceIds.push(...ids);
      // The scan writeFrozen makes per trace, timed on its own, as it runs them (flushProbesInflightMax at a time).
      const p0 = performance.now();
      const probe = async (id: Uint8Array): Promise<void> => {
        for await (const page of db.pages(prefixRange(tracePrefix('default', id)))) void page;
      };
      for (let at = 0; at < ids.length; at += TraceStoreLimits.flushProbesInflightMax) await Promise.all(ids.slice(at, at + TraceStoreLimits.flushProbesInflightMax).map(probe));
      probeMs += performance.now() - p0;
      store.freeze();
      const batch = new KvWriteBatch();
      const t0 = performance.now();
      const r = await store.writeFrozen({ batch, kv: db, flushIndex: f + 1 });
      writeMs += performance.now() - t0;
      await db.write(batch);
      store.dropFrozen();
      spans += r.rows;
      dataBytes += r.dataBytes;
      indexBytes += r.indexBytes;
    }
    const lookups = 200;
    const t1 = performance.now();
    let found = 0;
    for (let i = 0; i < lookups; i++) found += (await store.traceById(db, 'default', traceIds[rand.intn(traceIds.length)] as Uint8Array)).spans.length;
    const traceByIdUs = ((performance.now() - t1) * 1000) / lookups;
    const search = async (predicate: object): Promise<{ ms: number; rows: number; blocks: number }> => {
      const stats = newScanStats();
      const t2 = performance.now();
      let rows = 0;
      for await (const b of store.searchSpans(db, 'default', { startNs: 0n, endNs: (1n << 64n) - 1n, predicate, limit: TraceStoreLimits.searchLimitMax }, stats)) rows += b.length;
      return { ms: performance.now() - t2, rows, blocks: stats.blocksScanned };
    };
    // One warm-up run, then the median of a few: a single cold run measured the JIT as much as the scan.
    const median = async (predicate: object, runs: number): Promise<{ ms: number; rows: number; blocks: number }> => {
      await search(predicate);
      const all: { ms: number; rows: number; blocks: number }[] = [];
      for (let i = 0; i < runs; i++) all.push(await search(predicate));
      return all.sort((a, b) => a.ms - b.ms)[runs >> 1] as { ms: number; rows: number; blocks: number };
    };
    const selective = await median({ service: 'payment', status: 2 }, 5);
    const full = await median({}, 3);
    const out = {
      spans,
      traces: store.stats().secondary,
      dataBytesPerSpan: dataBytes / spans,
      indexBytesPerSpan: indexBytes / spans,
      indexOverData: indexBytes / dataBytes,
      writeFrozenMsPerFlush: writeMs / FLUSHES,
      distinctTraceProbeMsPerFlush: probeMs / FLUSHES,
      distinctTraceProbeUsPerTrace: (probeMs * 1000) / traceIds.length,
      traceByIdUs,
      traceByIdSpansAvg: found / lookups,
      searchSelective: selective,
      searchFull: full,
    };
    if (JSON_OUT) console.log(JSON.stringify(out));
    else {
      console.log(`${spans} spans, ${out.traces} traces in ${FLUSHES} flushes, layout ${LAYOUT}`);
      console.log(`blocks ${out.dataBytesPerSpan.toFixed(1)} B/span, indexes ${out.indexBytesPerSpan.toFixed(1)} B/span, index/data ${(100 * out.indexOverData).toFixed(2)}%`);
      console.log(`writeFrozen ${out.writeFrozenMsPerFlush.toFixed(1)} ms/flush, of which the distinct-trace probes ~${out.distinctTraceProbeMsPerFlush.toFixed(1)} ms (${out.distinctTraceProbeUsPerTrace.toFixed(1)} us/trace)`);
      console.log(`traceById ${out.traceByIdUs.toFixed(0)} us (${out.traceByIdSpansAvg.toFixed(1)} spans)`);
      console.log(`search service=payment status=error: ${selective.rows} spans in ${selective.ms.toFixed(1)} ms (${selective.blocks} blocks); full scan: ${full.rows} spans in ${full.ms.toFixed(1)} ms`);
    }
  } finally {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
