/**
 * trace-search-batch.ts — several shards' parts of one trace search sent to
 * one node in one call (trace-search.ts), as metrics-read-batch.ts does for
 * Prometheus reads:
 *
 *   shard.searchTracesBatch  request  [part, part, ...]   each part a shard.searchTraces request's bytes
 *                            answer   [item, item, ...]   one per part, in request order
 *   item = [0, answer]                  answer a shard.searchTraces answer's bytes
 *        | [1, code, message, details]  the part's error
 *
 * The frame is metrics-read-batch.ts's (its codec, its bounds: at most
 * MetricsQueryLimits.batchPartsMax parts a call, the answers of one call at
 * most batchAnswerBytesMax together, a part past it answered "ask alone").
 *
 * Why: a search asks every shard (16 by default), each at its leader after a
 * ReadIndex barrier. One call per shard was one frame, one handler and one
 * barrier started per event-loop turn as the frames came in; one call per
 * node starts all of that node's barriers in the same turn (one driver
 * iteration sends every group's heartbeat to a peer in one transport batch)
 * and sends one answer frame back. Each part is still served by runHere
 * under its own consistency (the barrier, then the pinned read), exactly as
 * a single call: nothing about promise 2 changes.
 */
import { OtlpdbError } from '../errors.js';
import { MetricsQueryLimits } from '../limits.js';
import type { GroupId, NodeId } from '../raft/types.js';
import type { PeerTransport } from '../transport/peer-transport.js';
import { askAlone, decodeBatchAnswer, decodeBatchRequest, encodeBatchAnswer, encodeBatchRequest } from './metrics-read-batch.js';
import { decodeSearchAnswer, decodeSearchRequest, encodeSearchAnswer, encodeSearchRequest } from './trace-search-wire.js';
import type { Consistency, ShardSearchRequest, WireShardAnswer } from './trace-search-wire.js';
import type { ShardSearchAnswer } from './trace-search-shard.js';
import type { TraceSearchQuery } from './search-params.js';

/** SHARD_SEARCH_TRACES_BATCH is the peer method of several shards' parts of one trace search on one node. */
export const SHARD_SEARCH_TRACES_BATCH = 'shard.searchTracesBatch';

/** SEARCH_BATCH_PARTS_MAX is the parts one batch call carries (the batch frame's bound). */
export const SEARCH_BATCH_PARTS_MAX = MetricsQueryLimits.batchPartsMax;

/**
 * serveSearchBatch answers a batch request: every part through `runPart`
 * (the node's runHere of one shard.searchTraces request) at once, each
 * outcome in request order. A malformed frame is ERR_INVALID_ARGUMENT.
 */
export async function serveSearchBatch(payload: Uint8Array, runPart: (r: ShardSearchRequest) => Promise<ShardSearchAnswer>): Promise<Uint8Array> {
  const parts = decodeBatchRequest(payload).map(decodeSearchRequest);
  const settled = await Promise.allSettled(parts.map(runPart));
  return encodeBatchAnswer(settled.map((o) => (o.status === 'fulfilled' ? encodeSearchAnswer(o.value) : (o.reason as unknown))));
}

/**
 * searchBatch asks `peer` for the parts of `shards` in one call; one
 * decoded answer or error per shard, in order. A peer that refuses the
 * whole call (a node without the method) makes every part "ask alone"; a
 * damaged part is that part's ERR_CORRUPTION (another replica is asked).
 */
export async function searchBatch(
  transport: PeerTransport,
  peer: NodeId,
  shards: readonly GroupId[],
  timeoutMs: number,
  o: { readonly tenant: string; readonly consistency: Consistency; readonly query: TraceSearchQuery },
  signal?: AbortSignal,
): Promise<(WireShardAnswer | OtlpdbError)[]> {
  const req = encodeBatchRequest(shards.map((group) => encodeSearchRequest({ group, tenant: o.tenant, consistency: o.consistency, query: o.query })));
  let answer: Uint8Array;
  try {
    answer = await transport.call(peer, SHARD_SEARCH_TRACES_BATCH, req, timeoutMs, signal);
  } catch (err) {
    if (err instanceof OtlpdbError && err.code === 'ERR_INVALID_ARGUMENT') return shards.map(() => askAlone(`node ${peer} refused the batch: ${err.message}`));
    throw err;
  }
  return decodeBatchAnswer(answer, shards.length).map((it) => {
    if (it instanceof OtlpdbError) return it;
    try {
      return decodeSearchAnswer(it, o.query.limit, o.query.spss);
    } catch (err) {
      return err instanceof OtlpdbError ? err : new OtlpdbError('ERR_CORRUPTION', String(err));
    }
  });
}
