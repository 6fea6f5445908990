import t from 'tap';
import { SeededRand } from '../fs/seeded-rand.js';
import { TraceSearchLimits } from '../limits.js';
import type { GroupId, NodeId } from '../raft/types.js';
import type { ScanStats } from '../storage/shard/signal-store.js';
import { TraceStore } from '../storage/traces/trace-store.js';
import { addAndFlush, realisticSpans, tempTraceDb } from '../storage/traces/traces-test-util.js';
import type { PeerTransport } from '../transport/peer-transport.js';
import type { ShardTarget } from './planner.js';
import type { TraceSearchQuery } from './search-params.js';
import { cancellableCheck, fanOut } from './shard-fanout.js';
import type { ShardCall } from './shard-fanout.js';
import { shardPartBudget } from './trace-search.js';
import { searchShard } from './trace-search-shard.js';

// Shard parts stop when their query is over (DESIGN.md §7.5): the fan-out
// gives every part a signal that aborts when the fan-out settles or its
// client goes away (the peer side of it is the transport's CallCancel,
// src/transport/call-cancel.test.ts), and a trace-search part checks it
// with its budget, between blocks. Counted in checks, never in time.

const deps = {
  self: 1 as NodeId,
  transport: {} as PeerTransport,
  driver: () => null,
  shardCount: () => 4,
  replicasOf: () => [2, 3, 1] as NodeId[],
  nowMs: () => 0,
  rand: new SeededRand(7),
  sleep: async () => undefined,
};
const target = (shard: number, first: number): ShardTarget => ({ shard, first, replicas: [2, 3, 1] });

t.test('a fan-out cancelled by its client aborts the signal of every part still running, here and on peers', async (t) => {
  const seen: { shard: GroupId; where: string; signal: AbortSignal }[] = [];
  let release: () => void = () => {};
  const held = new Promise<void>((r) => (release = r));
  const call: ShardCall<number> = {
    what: 'probe',
    here: async (shard, _deadline, signal) => {
      seen.push({ shard, where: 'here', signal });
      await held;
      return shard;
    },
    remote: async (_peer, shard, _timeout, signal) => {
      seen.push({ shard, where: 'remote', signal });
      await held;
      return shard;
    },
  };
  const client = new AbortController();
  const run = fanOut(deps, TraceSearchLimits, [target(1, 1), target(2, 2), target(3, 3)], call, client.signal).catch((e: unknown) => e);
  await new Promise((r) => setImmediate(r));
  t.equal(seen.length, 3, 'three parts running');
  t.ok(
    seen.every((s) => !s.signal.aborted),
    'none cancelled yet',
  );
  client.abort();
  const err = await run;
  t.match(err, { code: 'ERR_UNAVAILABLE' }, 'the fan-out fails as cancelled');
  t.ok(
    seen.every((s) => s.signal.aborted),
    'every running part, local and remote, was told',
  );
  release();
});

t.test('a settled fan-out aborts its parts signal; an answered part is unaffected', async (t) => {
  let signal: AbortSignal | null = null;
  const call: ShardCall<number> = {
    what: 'probe',
    here: async (shard) => shard,
    remote: async (_peer, shard, _timeout, s) => {
      signal = s;
      return shard;
    },
  };
  const out = await fanOut(deps, TraceSearchLimits, [target(1, 2), target(2, 1)], call);
  t.same(
    out.map((o) => ('answer' in o ? o.answer : -1)),
    [1, 2],
  );
  t.equal((signal as AbortSignal | null)?.aborted, true, 'after the fan-out answered, whatever still holds its signal sees it aborted');
});

const TENANT = 'acme';

t.test('a trace-search part stops at its first budget check after its cancel; planted: a part that ignores it reads on', async (t) => {
  const rand = new SeededRand(20261129);
  const spans = realisticSpans(rand, 400, TENANT);
  const store = new TraceStore();
  const db = await tempTraceDb(t, 'otlpdb-shard-cancel-');
  await addAndFlush(store, db, TENANT, spans, 97, 1);
  // A broad search (every trace, a large limit) reads every block.
  const q: TraceSearchQuery = { startNs: 0n, endNs: 1n << 63n, predicate: {}, limit: 100_000, spss: 3 };
  const whole = await searchShard(store, db, TENANT, q, () => false);
  t.ok(whole.stats.blocksScanned >= 8, `the whole search reads ${whole.stats.blocksScanned} blocks`);
  t.equal(whole.partial, false);

  /** run searches with the part's budget, its cancel fired at the `at`-th check; how many checks came after. */
  const run = async (at: number, honour: boolean): Promise<{ after: number; partial: boolean; blocks: number }> => {
    const cancel = new AbortController();
    const budget = shardPartBudget(q, Number.MAX_SAFE_INTEGER, () => 0, honour ? cancel.signal : undefined);
    let checks = 0;
    let after = 0;
    const expired = (s: Readonly<ScanStats>): boolean => {
      checks++;
      if (cancel.signal.aborted) after++;
      if (checks === at) cancel.abort();
      return budget(s);
    };
    const a = await searchShard(store, db, TENANT, q, expired);
    return { after, partial: a.partial, blocks: a.stats.blocksScanned };
  };
  for (const at of [1, 2, 3]) {
    const r = await run(at, true);
    t.equal(r.after, 1, `cancelled at check ${at}: stopped at the next check`);
    t.equal(r.partial, true, 'and answered partial (runHere turns it into the cancel error)');
    t.ok(r.blocks < whole.stats.blocksScanned, `read ${r.blocks} of ${whole.stats.blocksScanned} blocks`);
  }
  const planted = await run(1, false);
  t.ok(planted.after > 1, `planted: a part without its cancel made ${planted.after} checks after it (caught)`);
  t.equal(planted.blocks, whole.stats.blocksScanned, 'and read every block');
});

t.test('cancellableCheck: the cancel or the deadline', async (t) => {
  const c = new AbortController();
  let late = false;
  const check = cancellableCheck(() => late, c.signal);
  t.equal(check(), false);
  late = true;
  t.equal(check(), true, 'the deadline');
  late = false;
  c.abort();
  t.equal(check(), true, 'the cancel');
  t.equal(cancellableCheck(() => false, undefined)(), false, 'no signal: the deadline alone');
});
