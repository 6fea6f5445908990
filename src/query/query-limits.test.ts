import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { OtlpdbError } from '../errors.js';
import { SeededRand } from '../fs/seeded-rand.js';
import { QueryLimits, TraceSearchLimits } from '../limits.js';
import type { NodeId } from '../raft/types.js';
import type { SpanRow } from '../storage/rows.js';
import { KvWriteBatch, ShardDb } from '../storage/shard/shard-db.js';
import { newScanStats } from '../storage/shard/signal-store.js';
import { TraceStore } from '../storage/traces/trace-store.js';
import { realisticSpans } from '../storage/traces/traces-test-util.js';
import { decodeTraceAnswer, encodeTraceAnswer } from '../trace-lookup.js';
import type { PeerTransport } from '../transport/peer-transport.js';
import type { TraceSearchQuery } from './search-params.js';
import { searchShard } from './trace-search-shard.js';
import type { ShardSearchAnswer } from './trace-search-shard.js';
import { fanOut } from './shard-fanout.js';
import { TraceSearch, shardPartBudget } from './trace-search.js';
import { decodeSearchAnswer, decodeSearchRequest, encodeSearchAnswer, encodeSearchRequest } from './trace-search-wire.js';

// The limits every query has (issue 6), each refused or cut with a clear
// error or `partial`, never an out-of-memory. The time range, the traces
// returned and spss are refused by validateIr (planner.test.ts) and by the
// search parameters (search-params.test.ts); here: the bytes-scanned budget
// of a shard part on a real store (and its trip over the wire), spans per
// trace of a lookup, the traces returned after the merge, and the wall time
// of a search whose shard is slow. Cancellation on a real node is in
// query-cancel.test.ts.

const TENANT = 'acme';

async function flushedStore(t: Test, spans: readonly SpanRow[]): Promise<{ store: TraceStore; db: ShardDb }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otlpdb-qlimits-'));
  const db = await ShardDb.open(dir);
  t.teardown(async () => {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const store = new TraceStore();
  for (let i = 0; i < spans.length; i += 200) {
    store.add(TENANT, spans.slice(i, i + 200), 1_000);
    store.freeze();
    const batch = new KvWriteBatch();
    await store.writeFrozen({ batch, kv: db, flushIndex: i / 200 + 1 });
    await db.write(batch);
    store.dropFrozen();
  }
  return { store, db };
}

t.test('bytes scanned: a shard part past its budget stops and answers partial; within it, the whole answer', async (t) => {
  const spans = realisticSpans(new SeededRand(11), 120, TENANT);
  const { store, db } = await flushedStore(t, spans);
  const q: TraceSearchQuery = { startNs: 0n, endNs: 1n << 62n, predicate: {}, limit: 1_000, spss: 2 };
  const never = (): number => 0;
  const whole = await searchShard(store, db, TENANT, q, shardPartBudget(q, 1, never));
  t.equal(whole.partial, false, 'the default budget reads everything');
  t.ok(whole.stats.bytesRead > 10_000, `the search read ${whole.stats.bytesRead} bytes of blocks`);
  const budget = Math.floor(whole.stats.bytesRead / 4);
  const cut = await searchShard(store, db, TENANT, { ...q, bytesScannedMax: budget }, shardPartBudget({ bytesScannedMax: budget }, 1, never));
  t.equal(cut.partial, true, 'past the budget the answer says partial');
  t.ok(cut.traces.length < whole.traces.length, `fewer traces (${cut.traces.length} of ${whole.traces.length})`);
  t.ok(cut.stats.bytesRead < whole.stats.bytesRead, 'and it stopped reading');
  const late = await searchShard(store, db, TENANT, q, shardPartBudget(q, 5, () => 10));
  t.equal(late.partial, true, 'a part whose deadline passed answers partial too');
  // The budget crosses the wire only when it is not the default, so default frames keep the earlier 17-field format.
  const frame = (query: TraceSearchQuery): unknown[] => decodeSearchRequest(encodeSearchRequest({ group: 1, tenant: TENANT, consistency: 'stale', query })).query as unknown as unknown[];
  t.equal((frame({ ...q, bytesScannedMax: budget }) as unknown as TraceSearchQuery).bytesScannedMax, budget, 'a budget travels to the shard');
  t.equal((frame(q) as unknown as TraceSearchQuery).bytesScannedMax, undefined, 'the default does not');
  const { Packr } = await import('msgpackr');
  const p = new Packr({ useRecords: false, moreTypes: false, structuredClone: false, mapsAsObjects: true });
  const raw = p.unpack(encodeSearchRequest({ group: 1, tenant: TENANT, consistency: 'stale', query: q })) as unknown[];
  t.equal((raw[3] as unknown[]).length, 17, 'a default frame has 17 fields');
  (raw[3] as unknown[]).push(QueryLimits.bytesScannedMaxCeiling + 1);
  t.throws(() => decodeSearchRequest(p.pack(raw)), { code: 'ERR_INVALID_ARGUMENT' }, 'a budget over the ceiling is refused on the shard');
});

t.test('spans per trace: a lookup answer past its byte bound is cut and says truncated', async (t) => {
  const spans = realisticSpans(new SeededRand(12), 3, TENANT);
  const one = spans.filter((s) => Buffer.compare(Buffer.from(s.traceId), Buffer.from((spans[0] as SpanRow).traceId)) === 0);
  const whole = decodeTraceAnswer(encodeTraceAnswer(TENANT, { spans: one, truncated: false }));
  t.same([whole.spans.length, whole.truncated], [one.length, false]);
  const cut = decodeTraceAnswer(encodeTraceAnswer(TENANT, { spans: one, truncated: false }, 16));
  t.equal(cut.truncated, true, 'cut at the byte bound, and said');
  t.ok(cut.spans.length < one.length);
  const store = decodeTraceAnswer(encodeTraceAnswer(TENANT, { spans: one.slice(0, 2), truncated: true }));
  t.equal(store.truncated, true, "the store's own cut (TraceStoreLimits.spansPerTraceMax, trace-store.test.ts) is carried through");
});

type Peer = (group: number) => Promise<Uint8Array>;

/** fakeSearch is a coordinator over injected peers on a fake clock: a slow call advances the clock by its whole budget, then times out. */
function fakeSearch(peers: Readonly<Record<number, Peer>>, shards = 4): { search: TraceSearch; clock: () => number } {
  let clock = 0;
  const transport = {
    handle: () => undefined,
    call: (peer: NodeId, _m: string, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array> => {
      const { group } = decodeSearchRequest(payload);
      const p = peers[peer];
      if (p === undefined) return Promise.reject(new OtlpdbError('ERR_UNAVAILABLE', 'not connected'));
      return p(group).catch((err: unknown) => {
        if (err instanceof OtlpdbError && err.code === 'ERR_TIMEOUT') clock += timeoutMs;
        throw err;
      });
    },
  } as unknown as PeerTransport;
  const search = new TraceSearch({
    self: 1,
    transport,
    driver: () => null,
    shardCount: () => shards,
    replicasOf: () => [2, 3],
    nowMs: () => clock,
    rand: new SeededRand(1),
    sleep: async (ms) => {
      clock += ms;
    },
  });
  return { search, clock: () => clock };
}

function answerFor(group: number, traces: number): ShardSearchAnswer {
  return {
    traces: Array.from({ length: traces }, (_, i) => ({ traceId: new Uint8Array(16).fill(group * 16 + i), rootServiceName: `s${group}`, rootTraceName: 'r', startNs: BigInt(group * 100 - i), durationNs: 1n, matched: 1, spans: [] })),
    partial: false,
    inspectedTraces: traces,
    inspectedSpans: traces,
    stats: newScanStats(),
  };
}

const Q: TraceSearchQuery = { startNs: 0n, endNs: 3_600_000_000_000n, predicate: {}, limit: 5, spss: 1 };

t.test('wall time: a shard slow on every replica is reported failed once the search runs out of time; the rest answer, partial', async (t) => {
  const slowShard2: Peer = async (group) => {
    if (group === 2) throw new OtlpdbError('ERR_TIMEOUT', 'call timed out');
    return encodeSearchAnswer(answerFor(group, 3));
  };
  const f = fakeSearch({ 2: slowShard2, 3: slowShard2 });
  const r = await f.search.search(TENANT, Q, 'stale');
  t.equal(r.partial, true);
  t.same(r.failedShards.map((x) => [x.shard, x.code]), [[2, 'ERR_TIMEOUT']], 'shard 2 failed for lack of time');
  t.ok(f.clock() >= TraceSearchLimits.wallMsMax, 'it kept trying until the wall time ran out');
  t.ok(f.clock() <= TraceSearchLimits.wallMsMax + TraceSearchLimits.shardCallMs, 'and not longer than one more call');
  t.equal(r.traces.length, Q.limit, 'traces returned: cut at limit after the merge');
  t.same(r.traces.map((x) => x.startNs), [400n, 399n, 398n, 300n, 299n], 'the newest `limit` of every shard answered');
});

t.test('a shard answer out of order is a damaged answer: another replica is asked', async (t) => {
  const shuffled: Peer = async (group) => {
    const a = answerFor(group, 3);
    return encodeSearchAnswer({ ...a, traces: [...a.traces].reverse() });
  };
  const bad = await shuffled(1);
  t.throws(() => decodeSearchAnswer(bad, 5, 1), { code: 'ERR_CORRUPTION', message: /out of order/ });
  const f = fakeSearch({ 2: shuffled, 3: async (g) => encodeSearchAnswer(answerFor(g, 3)) });
  const r = await f.search.search(TENANT, Q, 'stale');
  t.same(r.failedShards, [], 'every shard answered from the good replica');
  t.equal(r.partial, false);
});

t.test('fanOut given a consistency instead of a plan asks every shard, from the replica the planner would choose', async (t) => {
  const asked: [number, number][] = [];
  const deps = {
    self: 9,
    transport: {} as PeerTransport,
    driver: () => null,
    shardCount: () => 3,
    replicasOf: (shard: number) => [((shard % 3) + 1) as NodeId, (((shard + 1) % 3) + 1) as NodeId],
    nowMs: () => 0,
    rand: new SeededRand(2),
    sleep: async () => undefined,
  };
  const call = {
    what: 'probe',
    here: () => Promise.reject(new OtlpdbError('ERR_INTERNAL', 'no local replica')),
    remote: async (peer: NodeId, shard: number) => {
      asked.push([shard, peer]);
      return shard;
    },
  };
  const out = await fanOut(deps, TraceSearchLimits, 'linearizable', call);
  t.same(out.map((o) => ('answer' in o ? o.answer : -1)), [1, 2, 3]);
  t.same(asked, [[1, 2], [2, 3], [3, 1]], 'each shard from its first placed replica (no local replica, no known leader)');
  await t.rejects(fanOut({ ...deps, shardCount: () => 0 }, TraceSearchLimits, 'stale', call), { code: 'ERR_UNAVAILABLE' }, 'no placement yet');
});
