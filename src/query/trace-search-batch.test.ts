import t from 'tap';
import { OtlpdbError } from '../errors.js';
import { SeededRand } from '../fs/seeded-rand.js';
import type { NodeId } from '../raft/types.js';
import { newScanStats } from '../storage/shard/signal-store.js';
import type { PeerTransport } from '../transport/peer-transport.js';
import { decodeBatchRequest, encodeBatchAnswer } from './metrics-read-batch.js';
import type { TraceSearchQuery } from './search-params.js';
import { SHARD_SEARCH_TRACES_BATCH, searchBatch, serveSearchBatch } from './trace-search-batch.js';
import type { ShardSearchAnswer } from './trace-search-shard.js';
import { TraceSearch } from './trace-search.js';
import { SHARD_SEARCH_TRACES, decodeSearchRequest, encodeSearchAnswer } from './trace-search-wire.js';
import type { ShardSearchRequest, WireShardAnswer } from './trace-search-wire.js';

// A trace search's parts for one peer in one call (trace-search-batch.ts):
// every part answered by its own shard in request order, a part's error
// kept as that part's (code and leader hint), a peer without the method
// makes every part "ask alone", and the coordinator asks each peer once and
// merges what a search of single calls merges. The planted bug (a server
// that answers the parts out of order) is caught by the same checks.

const Q: TraceSearchQuery = { startNs: 0n, endNs: 3_600_000_000_000n, predicate: {}, limit: 20, spss: 2 };
const O = { tenant: 'acme', consistency: 'linearizable' as const, query: Q };

/** answerFor is shard `group`'s canned answer: one trace whose id bytes and start name the shard. */
function answerFor(group: number): ShardSearchAnswer {
  return {
    traces: [{ traceId: new Uint8Array(16).fill(group), rootServiceName: `svc-${group}`, rootTraceName: 'root', startNs: BigInt(group) * 1_000n, durationNs: 5n, matched: 1, spans: [] }],
    partial: false,
    inspectedTraces: 1,
    inspectedSpans: group,
    stats: { ...newScanStats(), blocksScanned: group },
  };
}

/** runPart serves one part: shard 3 is led elsewhere (ERR_NOT_LEADER naming node 3), the rest answer. */
async function runPart(r: ShardSearchRequest): Promise<ShardSearchAnswer> {
  if (r.tenant !== 'acme' || r.consistency !== 'linearizable' || r.query.limit !== Q.limit) throw new OtlpdbError('ERR_INTERNAL', 'the part lost its request');
  if (r.group === 3) throw new OtlpdbError('ERR_NOT_LEADER', 'node 2 does not lead shard 3', { group: 3, leaderHint: 3 });
  return answerFor(r.group);
}

/** plantedServe is the planted bug: a batch server that answers the parts in reverse order. */
async function plantedServe(payload: Uint8Array, run: (r: ShardSearchRequest) => Promise<ShardSearchAnswer>): Promise<Uint8Array> {
  const parts = decodeBatchRequest(payload).map(decodeSearchRequest).reverse();
  const settled = await Promise.allSettled(parts.map(run));
  return encodeBatchAnswer(settled.map((o) => (o.status === 'fulfilled' ? encodeSearchAnswer(o.value) : (o.reason as unknown))));
}

type Serve = typeof serveSearchBatch;

/** transportOf answers batch calls through `serve` (single calls through runPart); `calls` logs [peer, method]. */
function transportOf(serve: Serve, calls: [NodeId, string][] = []): PeerTransport {
  return {
    handle: () => undefined,
    call: async (peer: NodeId, method: string, payload: Uint8Array): Promise<Uint8Array> => {
      calls.push([peer, method]);
      if (method === SHARD_SEARCH_TRACES_BATCH) return serve(payload, runPart);
      if (method === SHARD_SEARCH_TRACES) return encodeSearchAnswer(await runPart(decodeSearchRequest(payload)));
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', `no handler for ${method}`);
    },
  } as unknown as PeerTransport;
}

/** misplaced lists the items that are not their own shard's answer or error (empty when the batch is right). */
function misplaced(shards: readonly number[], items: readonly (WireShardAnswer | OtlpdbError)[]): string[] {
  const bad: string[] = [];
  shards.forEach((g, i) => {
    const it = items[i];
    if (g === 3) {
      if (!(it instanceof OtlpdbError) || it.code !== 'ERR_NOT_LEADER' || it.details['leaderHint'] !== 3) bad.push(`shard ${g}: want its ERR_NOT_LEADER`);
    } else if (it instanceof OtlpdbError || it === undefined || it.traces[0]?.traceId[0] !== g || it.inspectedSpans !== g || it.stats.blocksScanned !== g) {
      bad.push(`shard ${g}: not its answer`);
    }
  });
  return bad;
}

t.test('a batch answers every part with its own shard\'s answer or error, in request order', async (t) => {
  const shards = [1, 2, 3, 4, 5];
  const items = await searchBatch(transportOf(serveSearchBatch), 2, shards, 1_000, O);
  t.equal(items.length, shards.length, 'one item a part');
  t.same(misplaced(shards, items), [], 'each item is its shard\'s');
});

t.test('planted bug: a server answering the parts out of order is caught by the same check', async (t) => {
  const shards = [1, 2, 3, 4, 5];
  const items = await searchBatch(transportOf(plantedServe), 2, shards, 1_000, O);
  t.ok(misplaced(shards, items).length >= 4, `the check sees the misplaced items: ${misplaced(shards, items).join('; ')}`);
});

t.test('a peer without the method makes every part "ask alone"; a damaged item is that part\'s ERR_CORRUPTION', async (t) => {
  const refusing = { call: async () => Promise.reject(new OtlpdbError('ERR_INVALID_ARGUMENT', 'no handler for shard.searchTracesBatch')) } as unknown as PeerTransport;
  const alone = await searchBatch(refusing, 2, [1, 2], 1_000, O);
  t.same(alone.map((e) => (e instanceof OtlpdbError ? [e.code, e.details['askAlone']] : 'answer')), [['ERR_UNAVAILABLE', true], ['ERR_UNAVAILABLE', true]]);
  const damaged = { call: async () => encodeBatchAnswer([encodeSearchAnswer(answerFor(1)), new Uint8Array([0xc1])]) } as unknown as PeerTransport;
  const items = await searchBatch(damaged, 2, [1, 2], 1_000, O);
  t.notOk(items[0] instanceof OtlpdbError, 'the whole item answers');
  t.equal(items[1] instanceof OtlpdbError ? items[1].code : 'answer', 'ERR_CORRUPTION', 'the damaged item is ERR_CORRUPTION');
});

t.test('the coordinator asks each peer once for its shards and merges every shard; a failed item is routed on alone', async (t) => {
  const calls: [NodeId, string][] = [];
  const search = new TraceSearch({
    self: 1,
    transport: transportOf(serveSearchBatch, calls),
    driver: () => null,
    shardCount: () => 4,
    replicasOf: () => [2, 3],
    nowMs: () => 0,
    rand: new SeededRand(5),
    sleep: async () => undefined,
  });
  const r = await search.search('acme', Q, 'linearizable');
  // Shard 3's item names node 3 as its leader: it is asked there alone (and node 3's runPart refuses it again: no leader answers it).
  t.same(calls.slice(0, 1), [[2, SHARD_SEARCH_TRACES_BATCH]], 'the first call is one batch to node 2');
  t.ok(calls.slice(1).every(([, m]) => m === SHARD_SEARCH_TRACES), 'after it, single calls only (shard 3 routed on)');
  t.same(r.traces.map((x) => x.rootServiceName).sort(), ['svc-1', 'svc-2', 'svc-4'], 'every answering shard merged');
  t.same(r.failedShards.map((f) => f.shard), [3], 'the refused shard is reported');
});
