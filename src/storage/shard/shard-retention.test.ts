import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { initHash } from '../../partition/hash.js';
import { randomRows } from '../rows-test-util.js';
import type { LogRow, MetricPointRow, SpanRow } from '../rows.js';
import type { RetentionBySignal } from '../../shard-service.js';
import { decodeApplyResult } from './shard-records.js';
import { ShardStateMachine } from './shard-state-machine.js';
import { entryOf, shardEntry, tempDir } from './shard-test-util.js';
import { shardStoresFactory } from './stores.js';

// Retention through the shard state machine with the real stores: whole
// time buckets older than a signal's cutoff go, per tenant when the tenant
// has its own setting; what is younger stays; counts follow.

const HOUR_NS = 3_600_000_000_000n;
const NOW_NS = 1_000n * 24n * HOUR_NS; // day 1000 after the epoch

function at<T extends SpanRow | MetricPointRow | LogRow>(rows: readonly T[], timeNs: bigint): T[] {
  return rows.map((r, i) => {
    const d = BigInt(i) * 1_000_000n;
    if ('severityNumber' in r) return { ...r, timeUnixNano: timeNs + d, observedTimeUnixNano: timeNs + d };
    if ('startTimeUnixNano' in r && 'spanId' in r) return { ...r, startTimeUnixNano: timeNs + d, endTimeUnixNano: timeNs + d + 1_000_000n };
    return { ...r, timeUnixNano: timeNs + d };
  });
}

t.test('a retention pass deletes whole expired buckets of every signal, per tenant', async (t) => {
  const { dir, cleanup } = tempDir('otlpdb-retention-');
  t.teardown(cleanup);
  const makeStores = shardStoresFactory(await initHash());
  let cutoffs: RetentionBySignal | null = null;
  const sm = new ShardStateMachine({ group: 1, dir, makeStores, peer: { fetchPage: () => Promise.reject(new Error('none')) }, nowMs: () => 0, retention: () => cutoffs });
  await sm.open({ index: 0, data: new Uint8Array(0) });
  const rand = new SeededRand(99);
  let index = 0;
  let key = 0;
  const write = (tenant: string, timeNs: bigint): number => {
    const r = randomRows(rand, { spans: 4, points: 4, logs: 4, tenant });
    const res = sm.apply([
      entryOf(
        ++index,
        shardEntry({
          tenant,
          idempotencyKey: (++key).toString(16).padStart(16, '0'),
          part: 0,
          parts: 1,
          leaderTimeMs: 1,
          spans: at(r.spans, timeNs),
          points: at(
            r.points.map((p) => ({ ...p, name: `m${key}` })),
            timeNs,
          ),
          logs: at(r.logs, timeNs),
        }),
      ),
    ]);
    return decodeApplyResult(res[0] as Uint8Array).points.accepted;
  };
  const oldNs = NOW_NS - 30n * 24n * HOUR_NS; // 30 days ago
  const newNs = NOW_NS - 2n * HOUR_NS;
  const pointsOld = write('default', oldNs) + write('keep', oldNs);
  const pointsNew = write('default', newNs) + write('keep', newNs);
  await sm.flush();
  const before = sm.stats();
  t.equal(before.traces.rows, 16);
  t.equal(before.logs.rows, 16);
  t.equal(before.metrics.rows, pointsOld + pointsNew);
  // Default tenants keep 7 days of everything; tenant 'keep' keeps 60 days of logs and traces, 7 of metrics.
  const cut = (days: bigint): bigint => NOW_NS - days * 24n * HOUR_NS;
  const byTenantLong = new Map([['keep', cut(60n)]]);
  cutoffs = {
    traces: { defaultBeforeNs: cut(7n), byTenant: byTenantLong },
    metrics: { defaultBeforeNs: cut(7n), byTenant: new Map() },
    logs: { defaultBeforeNs: cut(7n), byTenant: byTenantLong },
  };
  const deleted = await sm.runRetention();
  t.ok(deleted > 0, `the pass deleted ${deleted} keys`);
  const after = sm.stats();
  t.equal(after.traces.rows, 12, "the default tenant's old spans went; 'keep' kept its 30-day-old ones");
  t.equal(after.logs.rows, 12, 'the same for log records');
  t.equal(after.metrics.rows, pointsNew, 'every old sample went (both tenants keep 7 days of metrics)');
  t.ok(after.traces.dataBytes < before.traces.dataBytes && after.logs.dataBytes < before.logs.dataBytes, 'bytes went down');
  // Reads agree with the counts: the expired spans are gone from a search.
  const read = sm.acquireRead();
  try {
    const traces = read.stores.traces as unknown as {
      searchSpans(kv: unknown, tenant: string, q: unknown, stats: unknown): AsyncGenerator<SpanRow[]>;
    };
    let found = 0;
    const stats = { blocksScanned: 0, blocksPrunedTime: 0, blocksPrunedBloom: 0, blocksPrunedIndex: 0, bytesRead: 0, headRowsScanned: 0 };
    for await (const batch of traces.searchSpans(read.kv, 'default', { startNs: 0n, endNs: NOW_NS, predicate: {}, limit: 1000 }, stats)) found += batch.length;
    t.equal(found, 4, "only the default tenant's recent spans are found");
  } finally {
    await read.release();
  }
  await sm.close();
  // The deletions are durable: a restart reads the same counts.
  const again = new ShardStateMachine({ group: 1, dir, makeStores, peer: { fetchPage: () => Promise.reject(new Error('none')) }, nowMs: () => 0 });
  await again.open({ index: 0, data: new Uint8Array(0) });
  t.same(again.stats(), after, 'counts survive a restart');
  await again.close();
});

t.test('a head at its hard bound asks the driver to flush before applying, and proposers to back off', async (t) => {
  const { dir, cleanup } = tempDir('otlpdb-bounds-');
  t.teardown(cleanup);
  const makeStores = shardStoresFactory(await initHash());
  const sm = new ShardStateMachine({
    group: 1,
    dir,
    makeStores,
    peer: { fetchPage: () => Promise.reject(new Error('none')) },
    nowMs: () => 0,
    headBytesSoftMax: 20_000,
    headBytesHardMax: 60_000,
  });
  await sm.open({ index: 0, data: new Uint8Array(0) });
  const rand = new SeededRand(5);
  let i = 0;
  while (!sm.headFull() && i < 1000) {
    const r = randomRows(rand, { logs: 20 });
    sm.apply([entryOf(++i, shardEntry({ tenant: 'default', idempotencyKey: i.toString(16).padStart(16, '0'), part: 0, parts: 1, leaderTimeMs: 1, spans: [], points: [], logs: r.logs }))]);
    if (sm.headBytes() >= 20_000) t.equal(sm.flushDue(0), true, 'past the soft bound a flush is due');
  }
  t.ok(sm.headFull(), `the head reached its hard bound after ${i} entries`);
  t.equal(sm.mustFlushBeforeApply(), true);
  await sm.flush();
  t.equal(sm.headFull(), false, 'a flush empties the head');
  t.equal(sm.headBytes() < 20_000, true);
  t.equal(sm.durableIndex(), i);
  await sm.close();
});
