import { Packr } from 'msgpackr';
import t from 'tap';
import { MetaStateMachine } from './control/index.js';
import { TenantDefaults } from './control/tenant.js';
import { decodeStatsReports, pickOnePerShard, retentionCutoffs, sumStats } from './shard-service.js';
import type { ShardStatsReport } from './shard-service.js';
import { codeOf } from './storage/storage-test-util.js';

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

function report(node: number, group: number, isLeader: boolean, term: number, durableIndex: number, rows: number): ShardStatsReport {
  const s = { rows, secondary: rows > 0 ? 1 : 0, dataBytes: rows * 10, indexBytes: rows };
  return { node, group, isLeader, term, durableIndex, stats: { traces: s, metrics: s, logs: s } };
}

t.test('stats count each shard once: its newest leader, else its most durable replica', async (t) => {
  const reports = [
    report(1, 1, true, 3, 10, 100),
    report(2, 1, false, 3, 12, 120), // a follower ahead on durable index does not beat the leader
    report(3, 1, true, 2, 9, 90), // a stale leader of an older term
    report(1, 2, false, 4, 5, 50),
    report(2, 2, false, 4, 7, 70),
  ];
  const best = pickOnePerShard(reports);
  t.equal(best.get(1)?.node, 1);
  t.equal(best.get(2)?.node, 2);
  const doc = sumStats(reports, 3);
  t.equal(doc.traces.spans, 170, '100 from shard 1 and 70 from shard 2, not every replica');
  t.equal(doc.metrics.samples, 170);
  t.equal(doc.logs.records, 170);
  t.equal(doc.logs.bytes, 170 * 11);
  t.same(doc.shardsMissing, [3]);
  t.equal(doc.shards, 2);
  // A planted bug (summing every replica) gives another answer, which this test would catch.
  const naive = reports.reduce((a, r) => a + r.stats.traces.rows, 0);
  t.not(naive, doc.traces.spans);
});

t.test('a peer stats answer is checked', async (t) => {
  t.same(decodeStatsReports(packr.pack([report(1, 1, true, 1, 1, 1)])), [report(1, 1, true, 1, 1, 1)]);
  for (const bad of [null, {}, [{}], [{ ...report(1, 1, true, 1, 1, 1), term: -1 }], [{ ...report(1, 1, true, 1, 1, 1), stats: { traces: {} } }]]) {
    t.equal(codeOf(() => decodeStatsReports(packr.pack(bad))), 'ERR_INVALID_ARGUMENT', JSON.stringify(bad).slice(0, 60));
  }
  t.equal(codeOf(() => decodeStatsReports(Uint8Array.of(0xc1))), 'ERR_INVALID_ARGUMENT', 'not msgpack');
});

t.test('retention cutoffs come from the tenant settings, defaults for tenants nobody configured', async (t) => {
  const nowMs = 100 * 24 * 3600 * 1000;
  const c = retentionCutoffs(new MetaStateMachine(), nowMs);
  const ns = (ms: number): bigint => BigInt(ms) * 1_000_000n;
  t.equal(c.traces.defaultBeforeNs, ns(nowMs - TenantDefaults.retentionMs.traces));
  t.equal(c.metrics.defaultBeforeNs, ns(nowMs - TenantDefaults.retentionMs.metrics));
  t.equal(c.logs.byTenant.size, 0);
  const early = retentionCutoffs(null, 1000);
  t.equal(early.traces.defaultBeforeNs, null, 'no cutoff before the epoch');
});
