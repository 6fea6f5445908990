import t from 'tap';
import { OtlpdbError } from '../errors.js';
import { SeededRand } from '../fs/seeded-rand.js';
import { NONE } from '../raft/types.js';
import type { NodeId } from '../raft/types.js';
import { newScanStats } from '../storage/shard/signal-store.js';
import type { PeerTransport } from '../transport/peer-transport.js';
import type { TraceSearchQuery } from './search-params.js';
import type { ShardSearchAnswer } from './trace-search-shard.js';
import { TraceSearch } from './trace-search.js';
import { SHARD_SEARCH_TRACES, decodeSearchRequest, encodeSearchAnswer } from './trace-search-wire.js';
import { SHARD_SEARCH_TRACES_BATCH } from './trace-search-batch.js';
import { decodeBatchRequest, encodeBatchAnswer } from './metrics-read-batch.js';

// The coordinator of a trace search over injected peers (TraceSearchDeps is
// the seam): failover from a dead replica, leader hints, a shard electing a
// leader (backoff), a shard no replica answers (partial), every shard
// failing (503), and cancellation when the client goes away. The real
// cluster is in trace-search-cluster.test.ts.

const SHARDS = 4;
// The range is within QueryLimits.rangeMsMax: every query is validated as an IR (ir.ts), whatever its front end.
const Q: TraceSearchQuery = { startNs: 0n, endNs: 3_600_000_000_000n, predicate: {}, limit: 3, spss: 2 };

/** answerFor is shard `group`'s canned answer: one trace whose id and start name the shard. */
function answerFor(group: number): ShardSearchAnswer {
  const traceId = new Uint8Array(16).fill(group);
  return {
    traces: [{ traceId, rootServiceName: `svc-${group}`, rootTraceName: 'root', startNs: BigInt(group) * 1_000n, durationNs: 5n, matched: 1, spans: [] }],
    partial: false,
    inspectedTraces: 1,
    inspectedSpans: 2,
    stats: { ...newScanStats(), blocksScanned: 1 },
  };
}

type Peer = (group: number, call: number) => Promise<Uint8Array>;

interface Harness {
  readonly search: TraceSearch;
  readonly calls: { peer: NodeId; group: number }[];
  readonly sleeps: number[];
}

function harness(peers: Readonly<Record<number, Peer>>, replicas: readonly NodeId[] = [2, 3]): Harness {
  const calls: { peer: NodeId; group: number }[] = [];
  const sleeps: number[] = [];
  const perPeer = new Map<NodeId, number>();
  const transport: PeerTransport = {
    handle: () => undefined,
    call: (peer: NodeId, method: string, payload: Uint8Array): Promise<Uint8Array> => {
      // A peer first for two or more shards gets them in one batch (trace-search-batch.ts): each part as a single call.
      if (method === SHARD_SEARCH_TRACES_BATCH) {
        return Promise.allSettled(decodeBatchRequest(payload).map((part) => transport.call(peer, SHARD_SEARCH_TRACES, part, 1_000))).then((all) => {
          // A dead peer fails the whole call, as its connection would.
          if (peers[peer] === undefined) throw new OtlpdbError('ERR_UNAVAILABLE', `node ${peer} is not connected`);
          return encodeBatchAnswer(all.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as unknown))));
        });
      }
      const { group } = decodeSearchRequest(payload);
      calls.push({ peer, group });
      const n = perPeer.get(peer) ?? 0;
      perPeer.set(peer, n + 1);
      const p = peers[peer];
      return p === undefined ? Promise.reject(new OtlpdbError('ERR_UNAVAILABLE', `node ${peer} is not connected`)) : p(group, n);
    },
  } as unknown as PeerTransport;
  let clock = 0;
  const search = new TraceSearch({
    self: 1,
    transport,
    driver: () => null,
    shardCount: () => SHARDS,
    replicasOf: () => replicas,
    nowMs: () => clock,
    rand: new SeededRand(5),
    sleep: async (ms) => {
      sleeps.push(ms);
      clock += ms;
    },
  });
  return { search, calls, sleeps };
}

const answers: Peer = async (group) => encodeSearchAnswer(answerFor(group));
const dead: Peer = async () => {
  throw new OtlpdbError('ERR_UNAVAILABLE', 'connection closed');
};

t.test('a dead replica hands every shard to the next one; the merge keeps the newest `limit` traces', async (t) => {
  const h = harness({ 2: dead, 3: answers });
  const r = await h.search.search('acme', Q, 'stale');
  t.same(r.failedShards, []);
  t.equal(r.partial, false);
  t.equal(r.shardsAsked, SHARDS);
  t.same(r.traces.map((x) => x.rootServiceName), ['svc-4', 'svc-3', 'svc-2'], 'newest start first, cut at limit 3');
  t.equal(r.inspectedSpans, 2 * SHARDS, 'stats are summed over the shards');
  t.equal(r.stats.blocksScanned, SHARDS);
  t.same(new Set(h.calls.filter((c) => c.peer === 3).map((c) => c.group)), new Set([1, 2, 3, 4]), 'node 3 answered every shard');
});

t.test('ERR_NOT_LEADER with a hint goes straight to the hinted leader', async (t) => {
  const notLeader: Peer = async () => {
    throw new OtlpdbError('ERR_NOT_LEADER', 'not the leader', { leaderHint: 4, remote: true });
  };
  const h = harness({ 2: notLeader, 3: dead, 4: answers });
  const r = await h.search.search('acme', Q, 'linearizable');
  t.same(r.failedShards, []);
  t.ok(h.calls.every((c) => c.peer !== 3), 'the hint skips node 3');
  t.same(h.sleeps, [], 'no pause: a leader was known');
});

t.test('a shard electing a leader (ERR_NOT_LEADER without a hint everywhere) is waited for with backoff', async (t) => {
  const electing: Peer = async (group, call) => {
    if (call < 2 * SHARDS) throw new OtlpdbError('ERR_NOT_LEADER', 'election in progress', { leaderHint: NONE, remote: true });
    return encodeSearchAnswer(answerFor(group));
  };
  const h = harness({ 2: electing, 3: electing });
  const r = await h.search.search('acme', Q, 'linearizable');
  t.same(r.failedShards, [], 'every shard answered once the election ended');
  t.ok(h.sleeps.length > 0, `the search paused between rounds (${h.sleeps.length} pauses)`);
  t.ok(h.sleeps.every((ms) => ms >= 1 && ms <= 1_000), 'pauses within retryBackoffMaxMs');
});

t.test('a shard no replica answers is reported; the answer is partial; every shard failing is ERR_UNAVAILABLE', async (t) => {
  const shard2Dead: Peer = async (group) => {
    if (group === 2) throw new OtlpdbError('ERR_UNAVAILABLE', 'connection closed');
    return encodeSearchAnswer(answerFor(group));
  };
  const h = harness({ 2: shard2Dead, 3: shard2Dead });
  const r = await h.search.search('acme', Q, 'stale');
  t.same(r.failedShards.map((f) => f.shard), [2]);
  t.match(r.failedShards[0]?.message, /connection closed/, 'the failure names the replicas\' last error');
  t.equal(r.partial, true);
  t.same(r.traces.map((x) => x.rootServiceName), ['svc-4', 'svc-3', 'svc-1']);
  const none = harness({ 2: dead, 3: dead });
  await t.rejects(none.search.search('acme', Q, 'stale'), { code: 'ERR_UNAVAILABLE', message: /no shard answered/ });
  const refused = harness({
    2: async () => {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'bad request', { remote: true });
    },
    3: answers,
  });
  await t.rejects(refused.search.search('acme', Q, 'stale'), { code: 'ERR_INVALID_ARGUMENT' }, 'every shard refusing the query is that refusal (400), not 503');
  t.same(
    refused.calls.map((c) => c.peer),
    [2, 2, 2, 2],
    'a refusal is not retried elsewhere: it would be refused there too',
  );
});

t.test('a client that goes away cancels the search at once, even with shard calls still in flight', async (t) => {
  const hang: Peer = () => new Promise<Uint8Array>(() => undefined);
  const h = harness({ 2: hang, 3: hang });
  const ac = new AbortController();
  const pending = h.search.search('acme', Q, 'stale', ac.signal);
  await new Promise((r) => setImmediate(r));
  t.equal(h.calls.length, SHARDS, 'one call per shard is in flight');
  ac.abort();
  await t.rejects(pending, { code: 'ERR_UNAVAILABLE', message: /cancelled/ });
  const before = new AbortController();
  before.abort();
  await t.rejects(h.search.search('acme', Q, 'stale', before.signal), { message: /cancelled/ }, 'an already cancelled search calls nobody');
  t.equal(h.calls.length, SHARDS, 'no further calls');
});
