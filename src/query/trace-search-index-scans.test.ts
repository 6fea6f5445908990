import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { SeededRand } from '../fs/seeded-rand.js';
import type { SpanRow } from '../storage/rows.js';
import type { KvRead } from '../storage/shard/shard-db.js';
import { KvWriteBatch, ShardDb } from '../storage/shard/shard-db.js';
import { TraceKeySpace } from '../storage/traces/trace-keys.js';
import type { TraceResult } from '../storage/traces/trace-store.js';
import { TraceStore } from '../storage/traces/trace-store.js';
import { SpaceScanCounter, realisticSpans } from '../storage/traces/traces-test-util.js';
import { searchShard } from './trace-search-shard.js';

// A duration search scans each candidate's trace-id index once (traceRefs,
// then traceExtent and traceById from its answer). Counted through a KvRead
// that counts the iterators over the index; a planted store that scans again
// in traceById is counted too. Whole traces per flush, so no shadow marker
// makes a search scan the index for another reason. Seeded; no timing.

const TENANT = 'acme';

/** TwiceStore is the planted regression: traceById scans the index again instead of taking the search's scan. */
class TwiceStore extends TraceStore {
  override async traceById(kv: KvRead, tenant: string, traceId: Uint8Array): Promise<TraceResult> {
    return super.traceById(kv, tenant, traceId);
  }
}

t.test('a duration search scans each candidate trace-id index once; a planted second scan is counted', async (t) => {
  const spans = realisticSpans(new SeededRand(77), 60, TENANT);
  const byTrace = new Map<string, SpanRow[]>();
  for (const s of spans) {
    const k = Buffer.from(s.traceId).toString('hex');
    byTrace.set(k, [...(byTrace.get(k) ?? []), s]);
  }
  const traces = [...byTrace.values()];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otlpdb-index-scans-'));
  const db = await ShardDb.open(dir);
  t.teardown(async () => {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const writer = new TraceStore();
  await writer.load(db);
  for (let f = 0; f < 3; f++) {
    writer.add(TENANT, traces.slice(f * 20, (f + 1) * 20).flat(), 0);
    writer.freeze();
    const batch = new KvWriteBatch();
    await writer.writeFrozen({ kv: db, batch, flushIndex: f + 1 });
    await db.write(batch);
    writer.dropFrozen();
  }
  const q = { startNs: 0n, endNs: 1n << 62n, predicate: {}, minTraceDurationNs: 1n, limit: 20, spss: 3 };
  const run = async (store: TraceStore): Promise<{ scans: number; inspected: number; answer: string }> => {
    await store.load(db);
    const kv = new SpaceScanCounter(db, TraceKeySpace.traceId);
    // summaries: false — the candidates are read whole (traceById), the path whose index scans are counted here.
    const a = await searchShard(store, kv, TENANT, q, () => false, undefined, { earlyStop: true, summaries: false });
    return { scans: kv.scans, inspected: a.inspectedTraces, answer: a.traces.map((x) => Buffer.from(x.traceId).toString('hex')).join() };
  };
  const once = await run(new TraceStore());
  const twice = await run(new TwiceStore());
  t.ok(once.inspected >= 10, `the search inspected ${once.inspected} candidates`);
  t.equal(once.scans, once.inspected, 'one index scan per candidate');
  t.equal(twice.answer, once.answer, 'the planted store answers the same');
  t.ok(twice.scans > twice.inspected, `planted: ${twice.scans} scans for ${twice.inspected} candidates, and the count catches it`);
});
