import t from 'tap';
import type { Test } from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { ShardLimits } from '../../limits.js';
import { randomRows } from '../rows-test-util.js';
import { HeadBudget, nodeHeadBudget } from './head-budget.js';
import type { HeadMember } from './head-budget.js';
import { KeySpace } from './keys.js';
import { ShardStateMachine } from './shard-state-machine.js';
import type { ShardStores } from './shard-state-machine.js';
import { CountingStore, entryOf, shardEntry, tempDir } from './shard-test-util.js';

/** Fixed is a member whose head is whatever the test sets. */
class Fixed implements HeadMember {
  bytes = 0;
  headBytes(): number {
    return this.bytes;
  }
}

t.test('the budget: full past its hard bound; past a bound, only heads at least the average flush', (t) => {
  const b = new HeadBudget(1_000, 2_000);
  const [x, y, z] = [new Fixed(), new Fixed(), new Fixed()];
  for (const m of [x, y, z]) b.join(m);
  b.join(x);
  t.equal(b.members, 3, 'joining twice is one membership');
  x.bytes = 600;
  y.bytes = 300;
  t.notOk(b.flushDue(x), 'under the soft bound nobody is due');
  z.bytes = 100; // total 1,000: at the soft bound, average 333
  t.ok(b.flushDue(x), 'the largest head is due');
  t.notOk(b.flushDue(y), 'a head below the average is not');
  t.notOk(b.flushDue(z));
  t.notOk(b.full());
  t.notOk(b.mustFlushBeforeApply(x), 'under the hard bound apply does not wait');
  x.bytes = 1_600; // total 2,000
  t.ok(b.full(), 'at the hard bound every member refuses proposals');
  t.ok(b.mustFlushBeforeApply(x));
  t.notOk(b.mustFlushBeforeApply(y), 'a small head does not wait: flushing it frees little');
  b.leave(x);
  t.equal(b.totalBytes(), 400, 'a member that left is not counted');
  t.notOk(b.full());
  // Equal heads: every one is at the average, so every one is due.
  const e = new HeadBudget(10, 20);
  const ms = [new Fixed(), new Fixed()];
  for (const m of ms) {
    m.bytes = 5;
    e.join(m);
  }
  t.ok(ms.every((m) => e.flushDue(m)), 'equal heads are all due');
  t.end();
});

t.test('a node\'s budget is a share of its heap', (t) => {
  const heap = 4 * 1024 * 1024 * 1024;
  const b = nodeHeadBudget(heap);
  t.equal(b.hardBytes, Math.floor((heap * ShardLimits.nodeHeadHeapPercent) / 100));
  t.ok(b.softBytes < b.hardBytes);
  t.ok(b.softBytes >= 16 * ShardLimits.headBytesSoftMax, '16 replicas at their own soft bound stay under the node\'s on a 4 GiB heap');
  t.ok(nodeHeadBudget(1).softBytes < nodeHeadBudget(1).hardBytes, 'even a tiny heap gets a valid budget');
  t.end();
});

function stores(): ShardStores {
  return {
    traces: new CountingStore('traces', KeySpace.TracesFirst),
    metrics: new CountingStore('metrics', KeySpace.MetricsFirst),
    logs: new CountingStore('logs', KeySpace.LogsFirst),
  };
}

/** REPLICA_BYTES_MAX is each replica's own hard bound here: far above what the test adds, so only the node's budget acts. */
const REPLICA_BYTES_MAX = 1_000_000;

/**
 * overBudget opens replicas A and B with `budgetOf(i)`, applies one entry
 * of 30 spans, points and logs (CountingStore: 100 bytes a row, 9,000 in
 * all) to A only, and reports what each replica then says.
 */
async function overBudget(t: Test, budgetOf: (i: number) => HeadBudget): Promise<{ aFull: boolean; bFull: boolean; aMust: boolean; bMust: boolean; aDue: boolean; bDue: boolean; bFullAfterFlush: boolean }> {
  const replicas: ShardStateMachine[] = [];
  for (let i = 0; i < 2; i++) {
    const { dir, cleanup } = tempDir('otlpdb-budget-');
    t.teardown(cleanup);
    const sm = new ShardStateMachine({
      group: i + 1,
      dir,
      makeStores: stores,
      peer: { fetchPage: () => Promise.reject(new Error('no peer in this test')) },
      nowMs: () => 1_000_000,
      headBytesSoftMax: REPLICA_BYTES_MAX / 2,
      headBytesHardMax: REPLICA_BYTES_MAX,
      headBudget: budgetOf(i),
    });
    await sm.open({ index: 0, data: new Uint8Array(0) });
    replicas.push(sm);
  }
  const [a, b] = replicas as [ShardStateMachine, ShardStateMachine];
  const rows = randomRows(new SeededRand(3), { spans: 30, points: 30, logs: 30 });
  a.apply([entryOf(1, shardEntry({ tenant: 'default', idempotencyKey: '00000000000000aa', part: 0, parts: 1, leaderTimeMs: 1_000, ...rows }))]);
  const out = { aFull: a.headFull(), bFull: b.headFull(), aMust: a.mustFlushBeforeApply(), bMust: b.mustFlushBeforeApply(), aDue: a.flushDue(1_000_000), bDue: b.flushDue(1_000_000) };
  await a.flush();
  const bFullAfterFlush = b.headFull();
  for (const sm of replicas) await sm.close();
  return { ...out, bFullAfterFlush };
}

t.test('replicas sharing a budget refuse proposals together once their heads together are full, and the large one flushes', async (t) => {
  const shared = new HeadBudget(4_000, 8_000);
  const got = await overBudget(t, () => shared);
  t.same(got, { aFull: true, bFull: true, aMust: true, bMust: false, aDue: true, bDue: false, bFullAfterFlush: false }, 'B refuses while A\'s head fills the node; A flushes; then B takes writes again');
  t.equal(shared.members, 0, 'closed replicas leave the budget');

  // Planted bug: a budget per replica instead of one per node. B's own budget never sees A's head.
  const own = await overBudget(t, () => new HeadBudget(4_000, 8_000));
  t.equal(own.bFull, false, 'planted: with budgets of their own B keeps taking writes while the node is over, and the check above catches it');
});
