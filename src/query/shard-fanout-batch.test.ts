import t from 'tap';
import { OtlpdbError } from '../errors.js';
import { SeededRand } from '../fs/seeded-rand.js';
import { MetricsQueryLimits as L, TraceSearchLimits } from '../limits.js';
import type { GroupId, NodeId } from '../raft/types.js';
import type { PeerTransport } from '../transport/peer-transport.js';
import { Packr } from 'msgpackr';
import { encodeErrorDetails } from '../transport/codec.js';
import { askAlone, batchOverflow, decodeBatchAnswer, decodeBatchRequest, encodeBatchAnswer, encodeBatchRequest } from './metrics-read-batch.js';
import { decodeMetricsRequest, encodeMetricsRequest } from './metrics-read-wire.js';
import type { MetricsShardRequest } from './metrics-read-wire.js';
import type { ShardTarget } from './planner.js';
import { fanOut } from './shard-fanout.js';
import type { ShardCall } from './shard-fanout.js';

// The batched first attempt of a fan-out (shard-fanout.ts, ShardCall.batch;
// metrics-read-batch.ts): the shards a peer is asked first for go to it in
// one call, and a shard whose item failed is routed on exactly as after a
// failed single call (leader hint, next replica, a part asked alone), so a
// batch never turns an error into an answer nor loses a shard.

const deps = {
  self: 1 as NodeId,
  transport: {} as PeerTransport,
  driver: () => null,
  shardCount: () => 6,
  replicasOf: () => [2, 3, 1] as NodeId[],
  nowMs: () => 0,
  rand: new SeededRand(7),
  sleep: async () => undefined,
};

/** target is shard `shard` asked first of `first`, its replicas 2, 3, 1. */
const target = (shard: number, first: number): ShardTarget => ({ shard, first, replicas: [2, 3, 1] });

interface Log {
  readonly batches: [NodeId, GroupId[]][];
  readonly singles: [NodeId, GroupId][];
  readonly here: GroupId[];
}

/** fakeCall answers `shard * 10 + node`; `item` may replace a batch item (by shard) with an error. */
function fakeCall(log: Log, item: (peer: NodeId, shard: GroupId) => OtlpdbError | null = () => null, partsMax = 64): ShardCall<number> {
  return {
    what: 'probe',
    here: async (shard) => {
      log.here.push(shard);
      return shard * 10 + 1;
    },
    remote: async (peer, shard) => {
      log.singles.push([peer, shard]);
      return shard * 10 + peer;
    },
    batch: async (peer, shards) => {
      log.batches.push([peer, [...shards]]);
      return shards.map((s) => item(peer, s) ?? s * 10 + peer);
    },
    batchPartsMax: partsMax,
  };
}

const newLog = (): Log => ({ batches: [], singles: [], here: [] });
const answers = (out: Awaited<ReturnType<typeof fanOut<number>>>): (number | string)[] => out.map((o) => ('answer' in o ? o.answer : o.error.code));

t.test('one batch call per peer first for two or more shards; a lone shard and local shards are asked singly', async (t) => {
  const log = newLog();
  const plan = [target(1, 2), target(2, 3), target(3, 2), target(4, 1), target(5, 2), target(6, 3)];
  const out = await fanOut(deps, TraceSearchLimits, plan, fakeCall(log));
  t.same(answers(out), [12, 23, 32, 41, 52, 63], 'every shard answered by its first replica, in target order');
  t.same(log.batches, [
    [2, [1, 3, 5]],
    [3, [2, 6]],
  ]);
  t.same(log.singles, [], 'no single call');
  t.same(log.here, [4], 'the local shard runs here');

  const lone = newLog();
  await fanOut(deps, TraceSearchLimits, [target(1, 2), target(2, 3)], fakeCall(lone));
  t.same(lone.batches, [], 'one shard per peer: no batch');
  t.same(lone.singles, [
    [2, 1],
    [3, 2],
  ]);
});

t.test('a batch is split at batchPartsMax', async (t) => {
  const log = newLog();
  const plan = [1, 2, 3, 4, 5].map((s) => target(s, 2));
  const out = await fanOut(deps, TraceSearchLimits, plan, fakeCall(log, () => null, 2));
  t.same(answers(out), [12, 22, 32, 42, 52]);
  t.same(
    log.batches.map(([, s]) => s),
    [[1, 2], [3, 4], [5]],
  );
});

t.test('a failed item is routed on as a failed single call: the leader hint, a part asked alone, a refusal kept; the others keep their answers', async (t) => {
  const log = newLog();
  const item = (peer: NodeId, shard: GroupId): OtlpdbError | null => {
    if (shard === 1) return new OtlpdbError('ERR_NOT_LEADER', 'not the leader', { group: 1, leaderHint: 3 });
    if (shard === 3) return batchOverflow(9 * 1024 * 1024);
    if (shard === 5) return new OtlpdbError('ERR_INVALID_ARGUMENT', 'bad regex');
    return null;
  };
  const plan = [target(1, 2), target(3, 2), target(5, 2), target(7, 2)];
  const out = await fanOut(deps, TraceSearchLimits, plan, fakeCall(log, item));
  t.same(answers(out), [13, 32, 'ERR_INVALID_ARGUMENT', 72]);
  t.same(log.batches, [[2, [1, 3, 5, 7]]]);
  t.same(
    [...log.singles].sort((a, b) => a[1] - b[1]),
    [
      [3, 1],
      [2, 3],
    ],
    'shard 1 from the hinted leader; shard 3 alone from the same replica; shard 5 not asked again',
  );
});

t.test('a batch call that fails whole routes each of its shards on to its next replica', async (t) => {
  const log = newLog();
  const call: ShardCall<number> = {
    ...fakeCall(log),
    batch: async (peer, shards) => {
      log.batches.push([peer, [...shards]]);
      throw new OtlpdbError('ERR_UNAVAILABLE', 'peer is not connected', { peer });
    },
  };
  const out = await fanOut(deps, TraceSearchLimits, [target(1, 2), target(2, 2)], call);
  t.same(answers(out), [13, 23], 'from the next placed replica');
  t.same(log.singles, [
    [3, 1],
    [3, 2],
  ]);
});

t.test('planted bug: a route that took a failed item as answered would lose the shard (the tests above can fail)', async (t) => {
  // The same failing batch through a fan-out whose batch hides errors as answers: shard 1's answer is wrong.
  const log = newLog();
  const buggy: ShardCall<number> = {
    ...fakeCall(log),
    batch: async (_peer, shards) => shards.map((s) => (s === 1 ? -1 : s * 10 + 2)), // BUG: an error became an answer.
  };
  const out = await fanOut(deps, TraceSearchLimits, [target(1, 2), target(3, 2)], buggy);
  t.not(answers(out)[0], 13, 'the check above (13, from the hinted leader) fails under the bug');
});

t.test('batch frames: parts and items round-trip in order; an answer past the batch bound asks alone; malformed frames are refused', async (t) => {
  const req: MetricsShardRequest = { op: 'select', group: 3, tenant: 'acme', consistency: 'linearizable', budget: { seriesMax: 10, samplesMax: 100 }, matchers: [{ name: 'pod', op: '=', value: 'p-1' }], startMs: 0, endMs: 1000 };
  const parts = decodeBatchRequest(encodeBatchRequest([encodeMetricsRequest(req), encodeMetricsRequest({ ...req, group: 4 })])).map(decodeMetricsRequest);
  t.same(
    parts.map((p) => [p.group, p.consistency]),
    [
      [3, 'linearizable'],
      [4, 'linearizable'],
    ],
    'every part keeps its shard and its consistency (the server runs each under it)',
  );
  const big = new Uint8Array(L.batchAnswerBytesMax);
  const items = decodeBatchAnswer(encodeBatchAnswer([Uint8Array.of(1, 2), new OtlpdbError('ERR_NOT_LEADER', 'no', { leaderHint: 2 }), big, new Error('boom')]), 4);
  t.same(items[0], Uint8Array.of(1, 2));
  t.match(items[1], { code: 'ERR_NOT_LEADER', details: { leaderHint: 2 } });
  t.match(items[2], { code: 'ERR_UNAVAILABLE', details: { askAlone: true } }, 'past the bound: asked alone');
  t.match(items[3], { code: 'ERR_INTERNAL' });
  t.match(askAlone('x'), { details: { askAlone: true } });
  t.throws(() => decodeBatchAnswer(encodeBatchAnswer([Uint8Array.of(1)]), 2), { code: 'ERR_CORRUPTION' }, 'an item missing');
  t.throws(() => decodeBatchRequest(Uint8Array.of(0xc1)), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => encodeBatchRequest([]), { code: 'ERR_INVALID_ARGUMENT' });
});

t.test('a batch answer written in one buffer is the bytes packr.pack made of its list, answers given as bytes or as AnswerBytes', async (t) => {
  const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false, mapsAsObjects: true });
  const rand = new SeededRand(2108);
  const asWritten = (b: Uint8Array): { byteLength: number; writeInto: (o: Uint8Array, at: number) => void } => ({ byteLength: b.length, writeInto: (o, at) => o.set(b, at) });
  // 15 and 16 items: a fixarray and an array16; answers at every bin header size.
  for (const parts of [1, 15, 16, 40]) {
    const items: (Uint8Array | OtlpdbError | ReturnType<typeof asWritten>)[] = [];
    const want: unknown[] = [];
    for (let i = 0; i < parts; i++) {
      const kind = rand.intn(4);
      if (kind === 3) {
        const e = new OtlpdbError('ERR_NOT_LEADER', `part ${i}`, { leaderHint: i });
        items.push(e);
        want.push([1, e.code, e.message, encodeErrorDetails(e.details)]);
        continue;
      }
      const n = [0, 200, 256, 65_536][rand.intn(4)] as number;
      const b = rand.bytes(n);
      items.push(kind === 0 ? b : asWritten(b));
      want.push([0, b]);
    }
    const got = encodeBatchAnswer(items);
    t.ok(Buffer.compare(Buffer.from(got), Buffer.from(packr.pack(want))) === 0, `${parts} parts: the same bytes`);
    t.equal(decodeBatchAnswer(got, parts).length, parts, 'read back');
  }
  const over = decodeBatchAnswer(encodeBatchAnswer([asWritten(new Uint8Array(L.batchAnswerBytesMax)), asWritten(Uint8Array.of(5))]), 2);
  t.ok(over[0] instanceof Uint8Array, 'the first answer up to the bound is kept');
  t.match(over[1], { code: 'ERR_UNAVAILABLE', details: { askAlone: true } }, 'the next, past the bound, is asked alone');
});
