import t from 'tap';
import { OtlpdbError } from '../errors.js';
import { SeededRand } from '../fs/seeded-rand.js';
import { IngestLimits, StorageLimits } from '../limits.js';
import { initHash } from '../partition/hash.js';
import { NONE } from '../raft/types.js';
import type { GroupId, NodeId } from '../raft/types.js';
import { randomRows } from '../storage/rows-test-util.js';
import type { SpanRow } from '../storage/rows.js';
import { SHARD_ENTRY_VERSION, decodeShardEntry, encodeShardEntry, restampLeaderTime, restampLeaderTimeInPlace } from '../storage/shard-entry.js';
import { encodeApplyResult } from '../storage/shard/shard-records.js';
import type { ShardApplyResult } from '../storage/shard/shard-records.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { encodeExportResponseProto, exportResponseJson } from './export-response.js';
import { encodeRpcStatus, encodeRetryInfo, rpcStatusJson } from './rpc-status.js';
import { batchRows, encodeParts, splitByShard } from './shard-parts.js';
import type { ShardPart } from './shard-parts.js';
import { ShardWriter } from './shard-writer.js';
import type { ShardWriterDeps } from './shard-writer.js';
import { TokenBucket } from './token-bucket.js';
import { OTLP_DECODERS } from './decoders.js';
import { keepTrace, sampleUpperBound } from './head-sampling.js';
import { Ingester } from './ingest.js';
import { resolveIngestSettings } from './ingest.js';
import type { Admission, IngestSettings, OtlpSignal } from './ingest.js';
import { OtlpHttpReceiver } from './http-receiver.js';
import http from 'node:http';
import { TEST_NOW_MS } from './otlp-test-gen.js';
import { encodeJson, encodeProto, request, validSpan } from './otlp-test-cases.js';
import { resolveItemLimits } from './decode-result.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const NOW = 1_780_000_000_000;

t.test('splitByShard keeps every row, is deterministic, and keeps a series, a trace and a traced log on one shard', async (t) => {
  const hasher = await initHash();
  const rows = randomRows(new SeededRand(7), { spans: 300, points: 300, logs: 300 });
  const batch = { spans: [...rows.spans], points: [...rows.points], logs: [...rows.logs] };
  const a = splitByShard(hasher, 16, 'default', 'aaaaaaaaaaaaaaaa', batch);
  const b = splitByShard(hasher, 16, 'default', 'aaaaaaaaaaaaaaaa', batch);
  t.same([...a.keys()].sort(), [...b.keys()].sort(), 'same shards for the same request');
  let n = 0;
  for (const [shard, part] of a) {
    t.ok(shard >= 1 && shard <= 16, `shard ${shard} in [1, 16]`);
    n += batchRows(part);
    t.same(part.spans.map((s) => hex(s.spanId)), (b.get(shard)?.spans ?? []).map((s) => hex(s.spanId)));
  }
  t.equal(n, 900, 'every row placed once');
  // Every span of one trace lands on one shard, and so does a log carrying that trace id.
  const shardOfTrace = new Map<string, GroupId>();
  for (const [shard, part] of a) for (const s of part.spans) shardOfTrace.set(hex(s.traceId), shard);
  const trace = rows.spans[0] as SpanRow;
  const traced = { ...(rows.logs[0] as (typeof rows.logs)[number]), traceId: trace.traceId };
  const c = splitByShard(hasher, 16, 'default', 'bbbbbbbbbbbbbbbb', { spans: [trace, { ...trace, spanId: new Uint8Array(8).fill(9) }], points: [], logs: [traced] });
  t.equal(c.size, 1, 'a trace and its log share a shard');
  t.equal([...c.keys()][0], shardOfTrace.get(hex(trace.traceId)));
  // A point's shard does not depend on its value or time: the series decides.
  const p = rows.points[0] as (typeof rows.points)[number];
  const later = { ...p, timeUnixNano: p.timeUnixNano + 10_000_000_000n };
  const d = splitByShard(hasher, 16, 'default', 'cccccccccccccccc', { spans: [], points: [p, later], logs: [] });
  t.equal(d.size, 1, 'two points of one series share a shard');
});

t.test('encodeParts numbers parts in shard order and cuts a shard over entryBytesMax into runs', async (t) => {
  const hasher = await initHash();
  const rows = randomRows(new SeededRand(3), { spans: 40, points: 40, logs: 40 });
  const byShard = splitByShard(hasher, 4, 'default', '0123456789abcdef', { spans: [...rows.spans], points: [...rows.points], logs: [...rows.logs] });
  const parts = encodeParts('default', '0123456789abcdef', NOW, byShard);
  t.same(parts.map((p) => p.part), parts.map((_, i) => i), 'parts numbered 0..n-1');
  t.ok(parts.every((p) => p.parts === parts.length), 'every part knows the count');
  t.same(parts.map((p) => p.shard), [...parts.map((p) => p.shard)].sort((a, b) => a - b), 'in ascending shard order');
  for (const p of parts) {
    const e = decodeShardEntry(p.bytes);
    t.equal(e.part, p.part);
    t.equal(e.idempotencyKey, '0123456789abcdef');
    t.equal(e.spans.length + e.points.length + e.logs.length, p.rows);
  }
  // Spans of ten 200 KiB attributes each (2 MiB): six of them cannot share one 8 MiB entry.
  const big = 'x'.repeat(200 * 1024);
  const trace = rows.spans[0] as SpanRow;
  const spans: SpanRow[] = Array.from({ length: 6 }, (_, i) => ({
    ...trace,
    spanId: new Uint8Array(8).fill(i + 1),
    attributes: Array.from({ length: 10 }, (_, k) => ({ key: `payload${k}`, value: { type: 'string' as const, value: big } })),
  }));
  const cut = encodeParts('default', 'fedcba9876543210', NOW, new Map([[2, { spans, points: [], logs: [] }]]));
  t.ok(cut.length >= 2, `12 MiB of spans cut into ${cut.length} parts`);
  t.ok(cut.every((p) => p.bytes.length <= StorageLimits.entryBytesMax && p.shard === 2));
  t.same(cut.flatMap((p) => decodeShardEntry(p.bytes).spans.map((s) => s.spanId[0])), spans.map((s) => s.spanId[0]), 'runs keep arrival order');
  const again = encodeParts('default', 'fedcba9876543210', NOW, new Map([[2, { spans, points: [], logs: [] }]]));
  t.same(again.map((p) => hex(p.bytes)), cut.map((p) => hex(p.bytes)), 'the same rows cut the same way (retries match parts)');
});

t.test('restampLeaderTime rewrites only leaderTimeMs, in place for real clocks and by re-encoding otherwise', async (t) => {
  const rows = randomRows(new SeededRand(5), { spans: 5, points: 5, logs: 5 });
  for (const [tenant, key, part, parts] of [['default', 'aaaaaaaaaaaaaaaa', 0, 1], ['t'.repeat(40), 'bbbbbbbbbbbbbbbb', 300, 70_000]] as const) {
    const entry = { version: SHARD_ENTRY_VERSION as typeof SHARD_ENTRY_VERSION, tenant, idempotencyKey: key, part, parts, leaderTimeMs: NOW, spans: rows.spans.map((s) => ({ ...s, tenant })), points: [], logs: [] };
    const bytes = encodeShardEntry(entry);
    const re = restampLeaderTime(bytes, NOW + 12_345);
    t.equal(re.length, bytes.length, 'same length: the float64 was patched');
    t.equal(decodeShardEntry(re).leaderTimeMs, NOW + 12_345);
    t.same(hex(re), hex(encodeShardEntry({ ...entry, leaderTimeMs: NOW + 12_345 })), 'identical to encoding with the new time');
    t.equal(decodeShardEntry(bytes).leaderTimeMs, NOW, 'the input is not modified');
  }
  const small = encodeShardEntry({ version: SHARD_ENTRY_VERSION, tenant: 'default', idempotencyKey: 'cccccccccccccccc', part: 0, parts: 1, leaderTimeMs: 5, spans: [], points: [], logs: [] });
  t.equal(decodeShardEntry(restampLeaderTime(small, NOW)).leaderTimeMs, NOW, 'a small time (not a float64) is re-encoded');
  t.throws(() => restampLeaderTime(new Uint8Array([0x9b, 1, 2]), NOW), { code: 'ERR_CORRUPTION' }, 'a malformed entry is refused');
});

t.test('restampLeaderTimeInPlace patches only the entry\'s own eight bytes of a shared buffer', async (t) => {
  const rows = randomRows(new SeededRand(6), { spans: 3, points: 3, logs: 3 });
  const entries = [0, 1, 2].map((part) => encodeShardEntry({ version: SHARD_ENTRY_VERSION, tenant: 'default', idempotencyKey: 'dddddddddddddddd', part, parts: 3, leaderTimeMs: NOW, ...rows }));
  // The parts of a receive worker's answer lie side by side in one buffer (ingest-workers.ts decodeAnswer).
  const all = new Uint8Array(entries.reduce((n, e) => n + e.length, 0));
  let at = 0;
  const views = entries.map((e) => {
    all.set(e, at);
    at += e.length;
    return all.subarray(at - e.length, at);
  });
  const before = hex(all);
  const middle = views[1] as Uint8Array;
  const out = restampLeaderTimeInPlace(middle, NOW + 777);
  t.equal(out, middle, 'the same bytes, patched');
  t.equal(decodeShardEntry(middle).leaderTimeMs, NOW + 777);
  t.same(hex(middle), hex(restampLeaderTime(entries[1] as Uint8Array, NOW + 777)), 'identical to the copying restamp');
  t.equal(decodeShardEntry(views[0] as Uint8Array).leaderTimeMs, NOW, 'the part before is untouched');
  t.equal(decodeShardEntry(views[2] as Uint8Array).leaderTimeMs, NOW, 'the part after is untouched');
  let changed = 0;
  const after = hex(all);
  for (let i = 0; i < before.length; i += 2) if (before.slice(i, i + 2) !== after.slice(i, i + 2)) changed++;
  t.ok(changed > 0 && changed <= 8, `at most the float64's eight bytes changed (${changed})`);
  const small = encodeShardEntry({ version: SHARD_ENTRY_VERSION, tenant: 'default', idempotencyKey: 'cccccccccccccccc', part: 0, parts: 1, leaderTimeMs: 5, spans: [], points: [], logs: [] });
  const smallHex = hex(small);
  const re = restampLeaderTimeInPlace(small, NOW);
  t.not(re, small, 'a time that is not a float64 is re-encoded into new bytes');
  t.equal(hex(small), smallHex, 'and the input is left alone');
});

t.test('CircuitBreaker opens after consecutive failures, probes once when half-open, and closes on success', async (t) => {
  const b = new CircuitBreaker({ failuresToOpen: 3, openMs: 100 });
  for (let i = 0; i < 2; i++) b.failure(0);
  b.success();
  for (let i = 0; i < 2; i++) b.failure(0);
  t.equal(b.state(0), 'closed', 'a success resets the count');
  b.failure(10);
  t.equal(b.state(10), 'open');
  t.equal(b.opened, 1);
  t.notOk(b.tryAcquire(50), 'open: refused');
  t.equal(b.state(110), 'halfOpen');
  t.ok(b.tryAcquire(110), 'half-open: one probe');
  t.notOk(b.tryAcquire(111), 'only one probe at a time');
  b.failure(120);
  t.equal(b.state(150), 'open', 'a failed probe opens again');
  t.ok(b.tryAcquire(220));
  b.success();
  t.equal(b.state(220), 'closed', 'a good probe closes');
  t.ok(b.tryAcquire(220));
});

t.test('TokenBucket admits a burst, refills at its rate, says how long to wait, and refuses what can never fit', async (t) => {
  const b = new TokenBucket(1000, 2000, 0);
  t.equal(b.take(2000, 0), 0, 'the burst passes');
  t.equal(b.take(500, 0), 500, '500 tokens at 1000/s: wait 500 ms');
  t.equal(b.take(500, 500), 0, 'after 500 ms they are there');
  t.equal(b.take(2001, 10_000), Infinity, 'more than the burst never fits');
  t.equal(b.tokens(1_000_000), 2000, 'refill stops at the burst');
  b.configure(10, 100, 1_000_000);
  t.equal(b.tokens(1_000_000), 100, 'a smaller burst caps what was earned');
});

t.test('rpc status, retry info and export responses have the bytes the OTLP specification prescribes', async (t) => {
  // Status{code=14, message="x", details=[Any{type_url, value=RetryInfo{Duration{seconds=1, nanos=500e6}}}]}
  t.equal(hex(encodeRetryInfo(1500)), '0a0808011080cab5ee01');
  const st = encodeRpcStatus({ code: 14, message: 'x', retryAfterMs: 1500 });
  t.equal(hex(st.subarray(0, 5)), '080e120178', 'code 14, message "x"');
  t.ok(Buffer.from(st).includes(Buffer.from('type.googleapis.com/google.rpc.RetryInfo')), 'RetryInfo detail');
  t.same(rpcStatusJson({ code: 8, message: 'slow down', retryAfterMs: 2000 }), {
    code: 8,
    message: 'slow down',
    details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '2s' }],
  });
  t.equal(encodeExportResponseProto(0, '', 'traces').length, 0, 'all accepted: partial_success unset');
  t.equal(hex(encodeExportResponseProto(3, 'no', 'traces')), '0a06080312026e6f');
  t.same(exportResponseJson(3, 'no', 'metrics'), { partialSuccess: { rejectedDataPoints: '3', errorMessage: 'no' } });
  t.same(exportResponseJson(0, '', 'logs'), {});
});

/** FakeCluster is three nodes' shard leadership as the writer sees it through its deps; time advances only by sleeps. */
class FakeCluster {
  now = 0;
  leader: NodeId = 2;
  down = new Set<NodeId>();
  calls: string[] = [];
  applied = new Map<string, number>();

  deps(self: NodeId): ShardWriterDeps {
    const answer = (node: NodeId, shard: GroupId, entry: Uint8Array): Uint8Array => {
      this.calls.push(`${node}:${shard}`);
      if (this.down.has(node)) throw new OtlpdbError('ERR_UNAVAILABLE', `node ${node} unreachable`, { peer: node });
      if (node !== this.leader) throw new OtlpdbError('ERR_NOT_LEADER', 'not leader', { leaderHint: this.leader, remote: true });
      const key = hex(entry);
      this.applied.set(key, (this.applied.get(key) ?? 0) + 1);
      return encodeApplyResult(okResult(this.applied.get(key) as number > 1));
    };
    return {
      self,
      nowMs: () => this.now,
      rand: new SeededRand(11),
      sleep: async (ms) => {
        this.now += ms;
      },
      replicasOf: () => [1, 2, 3],
      localLeader: () => NONE,
      proposeHere: async (shard, entry) => answer(self, shard, entry),
      call: async (peer, shard, entry) => answer(peer, shard, entry),
    };
  }
}

function okResult(duplicate: boolean): ShardApplyResult {
  const none = { accepted: 0, refused: 0 };
  return { duplicate, invalid: null, spans: duplicate ? none : { accepted: 1, refused: 0 }, points: none, logs: none, refusals: [] };
}

const part = (shard: GroupId, n: number): ShardPart => ({ shard, part: n, parts: 4, rows: 1, bytes: new Uint8Array([shard, n]) });

t.test('ShardWriter follows leader hints, remembers them, and fails over from an unreachable node', async (t) => {
  const c = new FakeCluster();
  const w = new ShardWriter(c.deps(1));
  const [o] = await w.write([part(1, 0)], 5_000);
  t.ok(o?.ok, 'committed');
  t.same(c.calls, ['1:1', '2:1'], 'tried the preferred replica (itself), then the hinted leader');
  c.calls = [];
  await w.write([part(1, 1)], 5_000);
  t.same(c.calls, ['2:1'], 'the hint is remembered');
  c.leader = 3;
  c.down.add(2);
  c.calls = [];
  const [o2] = await w.write([part(1, 2)], c.now + 5_000);
  t.ok(o2?.ok, 'committed on the new leader');
  t.same(c.calls, ['2:1', '3:1'], 'unreachable old leader, then the next replica');
  t.equal(w.stats.notLeader, 1);
});

t.test('ShardWriter waits for a placement that becomes known during the deadline (a node just started)', async (t) => {
  const c = new FakeCluster();
  c.leader = 2;
  const deps = c.deps(4);
  let placed = false;
  const w = new ShardWriter({
    ...deps,
    replicasOf: () => (placed ? [1, 2, 3] : []),
    sleep: async (ms) => {
      c.now += ms;
      placed = true;
    },
  });
  const [o] = await w.write([part(1, 0)], 20_000);
  t.ok(o?.ok, `committed once the placement was known (${o !== undefined && !o.ok ? o.error.message : 'ok'})`);
  t.ok(c.calls.includes('2:1'), 'reached the leader');
  const never = new ShardWriter({ ...c.deps(4), replicasOf: () => [] });
  const [o2] = await never.write([part(1, 1)], c.now + 5_000);
  t.ok(o2 !== undefined && !o2.ok && o2.error.code === 'ERR_UNAVAILABLE' && o2.error.retryable, 'a shard never placed ends at the deadline, retryable');
});

t.test('ShardWriter opens a dead peer\'s breaker, ends at the deadline with a retryable error, and never retries a bug', async (t) => {
  const c = new FakeCluster();
  c.down = new Set([1, 2, 3]);
  const w = new ShardWriter(c.deps(4));
  const [o] = await w.write([part(5, 0)], 20_000);
  t.notOk(o?.ok);
  if (o !== undefined && !o.ok) {
    t.equal(o.error.code, 'ERR_UNAVAILABLE');
    t.ok(o.error.retryable, 'the client may retry');
    t.match(o.error.message, /did not commit part 0 before the deadline/);
  }
  t.ok(c.now <= 20_000, `stopped by the deadline (t=${c.now})`);
  t.ok(w.stats.breakerSkips > 0, 'open breakers skipped peers');
  t.same([...w.breakerStates().values()].filter((s) => s !== 'closed').length > 0, true, 'some breaker opened');
  const calls = c.calls.length;
  t.ok(calls < IngestLimits.partAttemptsMax, `bounded tries (${calls})`);
  const [again] = await w.write([part(5, 1)], c.now + IngestLimits.breakerOpenMs / 2);
  t.ok(again !== undefined && !again.ok && /circuit breaker to node \d+ \(shard 5\) stayed open/.test(again.error.message), `a part that only met open breakers says so, not "no known replica" (${again !== undefined && !again.ok ? again.error.message : 'ok'})`);

  const bug = new FakeCluster();
  const deps = bug.deps(1);
  const w2 = new ShardWriter({ ...deps, proposeHere: async () => Promise.reject(new OtlpdbError('ERR_INVALID_ARGUMENT', 'bad entry')) });
  const [o2] = await w2.write([part(1, 0)], 5_000);
  t.ok(o2 !== undefined && !o2.ok && o2.error.code === 'ERR_INVALID_ARGUMENT', 'a non-retryable error ends the part at once');
  t.equal(w2.stats.retries, 0);
});

t.test('ShardWriter retries an unknown outcome and the duplicate is reported, not stored twice', async (t) => {
  const c = new FakeCluster();
  c.leader = 1;
  const deps = c.deps(1);
  let first = true;
  const w = new ShardWriter({
    ...deps,
    proposeHere: async (shard, entry, ms) => {
      const r = await deps.proposeHere(shard, entry, ms);
      if (first) {
        first = false;
        throw new OtlpdbError('ERR_TIMEOUT', 'proposal outcome unknown');
      }
      return r;
    },
  });
  const [o] = await w.write([part(3, 0)], 5_000);
  t.ok(o?.ok);
  if (o?.ok === true) t.ok(o.result.duplicate, 'the second apply was a duplicate');
  t.same([...c.applied.values()], [2], 'applied twice, the state machine dedups the second');
});

t.test('ShardWriter hands a part\'s bytes to proposeHere once: a retry never stamps bytes an earlier proposal holds', async (t) => {
  const c = new FakeCluster();
  c.leader = 1;
  const deps = c.deps(1);
  // proposeHere as ShardService does it: the clock stamped into the bytes it is handed, which the log then keeps.
  const log: { bytes: Uint8Array; hex: string }[] = [];
  let clock = NOW;
  const w = new ShardWriter({
    ...deps,
    proposeHere: async (shard, entry, ms) => {
      const stamped = restampLeaderTimeInPlace(entry, (clock += 1_000));
      log.push({ bytes: stamped, hex: hex(stamped) });
      const r = await deps.proposeHere(shard, stamped, ms);
      if (log.length < 3) throw new OtlpdbError('ERR_TIMEOUT', 'proposal outcome unknown');
      return r;
    },
  });
  const rows = randomRows(new SeededRand(7), { spans: 2, points: 2, logs: 2 });
  const bytes = encodeShardEntry({ version: SHARD_ENTRY_VERSION, tenant: 'default', idempotencyKey: 'eeeeeeeeeeeeeeee', part: 0, parts: 1, leaderTimeMs: NOW, ...rows });
  const [o] = await w.write([{ shard: 3, part: 0, parts: 1, rows: 6, bytes }], 5_000);
  t.ok(o?.ok, 'committed on the third attempt');
  t.equal(log.length, 3);
  t.equal(log[0]?.bytes, bytes, 'the first attempt is handed the part\'s own bytes (no copy)');
  for (const [i, p] of log.entries()) {
    t.equal(hex(p.bytes), p.hex, `proposal ${i}'s bytes are as proposed after every later attempt`);
    t.equal(decodeShardEntry(p.bytes).leaderTimeMs, NOW + 1_000 * (i + 1), `proposal ${i} keeps its own leader time`);
  }
});

t.test('ShardWriter proposes the parts this node leads in one batch and continues a failed slot as a failed first attempt', async (t) => {
  const c = new FakeCluster();
  const batches: string[][] = [];
  const handed: Uint8Array[] = [];
  c.leader = 2; // the leader FakeCluster answers for: node 2 leads shards 4 and 6; proposeHere below answers as node 1 for the rest
  const deps2 = c.deps(1);
  const parts = [part(3, 0), part(4, 1), part(5, 2), part(6, 3)];
  const own5 = (parts[2] as ShardPart).bytes;
  let local5: Uint8Array | null = null;
  // Node 1 leads shards 3, 4 and 5 as far as it knows; in the batch shard 4 says NOT_LEADER (hint 2) and shard 5 is
  // overloaded (a retry here after a backoff, with a copy of the bytes); node 2 leads shard 6.
  const writer = new ShardWriter({
    ...deps2,
    localLeader: (shard) => (shard === 6 ? 2 : 1),
    replicasOf: (shard) => (shard === 5 ? [1] : [1, 2, 3]), // shard 5 has no other replica: its retry comes back here
    proposeHere: async (shard, entry, ms) => {
      if (shard === 5) local5 = entry;
      c.leader = 1;
      try {
        return await deps2.proposeHere(shard, entry, ms);
      } finally {
        c.leader = 2;
      }
    },
    proposeHereBatch: async (shards, entries) => {
      batches.push(shards.map((s) => String(s)));
      return shards.map((shard, k) => {
        const entry = entries[k] as Uint8Array;
        handed.push(entry);
        if (shard === 4) return new OtlpdbError('ERR_NOT_LEADER', 'not leader', { leaderHint: 2 });
        if (shard === 5) return new OtlpdbError('ERR_UNAVAILABLE', 'in flight', { overloaded: true });
        c.calls.push(`1:${shard}`);
        return encodeApplyResult(okResult(false));
      });
    },
  });
  const t0 = c.now;
  const outcomes = await writer.write(parts, c.now + 5_000);
  t.same(
    outcomes.map((o) => [o.part.shard, o.ok]),
    [
      [3, true],
      [4, true],
      [5, true],
      [6, true],
    ],
    'one outcome per part, in part order, every one committed',
  );
  t.same(batches, [['3', '4', '5']], 'the three parts this node leads went in one batch; shard 6 (led by node 2) did not');
  t.equal(handed[0], (parts[0] as ShardPart).bytes, 'the batch is handed the parts\' own bytes');
  t.ok(c.calls.includes('2:4'), 'the NOT_LEADER slot went to its hinted leader');
  t.ok(c.calls.includes('2:6'), 'the part led elsewhere was forwarded at once');
  t.ok(local5 !== null && local5 !== own5 && hex(local5) === hex(own5), 'the overloaded slot was retried here with a copy of its bytes');
  t.ok(c.now > t0, 'after a backoff');
  t.equal(writer.stats.parts, 4, 'each part counted once');
  t.equal(writer.stats.notLeader, 1);
  t.equal(writer.stats.retries, 2);
  const [again] = await writer.write([part(4, 4)], c.now + 5_000);
  t.ok(again?.ok, 'committed');
  t.same(batches.length, 1, 'the hint learned from the slot sends the next part for shard 4 to node 2, not to the batch');
});

t.test('ShardWriter: a proposeHereBatch that breaks its contract and rejects ends its parts with an error each, not the request', async (t) => {
  const c = new FakeCluster();
  c.leader = 1;
  const w = new ShardWriter({ ...c.deps(1), localLeader: () => 1, proposeHereBatch: () => Promise.reject(new Error('boom')) });
  const outcomes = await w.write([part(1, 0), part(2, 1)], 5_000);
  t.equal(outcomes.length, 2, 'one outcome per part');
  for (const o of outcomes) t.ok(!o.ok && o.error.code === 'ERR_UNAVAILABLE' && o.error.retryable, 'a retryable error the client may retry');
  t.equal(w.stats.partsFailed, 2);
});

/** ingesterOver builds an Ingester over the fake cluster with the production decoders and a settable tenant setting. */
async function ingesterOver(c: FakeCluster, tenant: { bytesPerSecond: number; burstBytes: number; traceSampleRatio: number }, settings?: IngestSettings): Promise<Ingester> {
  return new Ingester({
    ...(settings === undefined ? {} : { settings }),
    hasher: await initHash(),
    writer: new ShardWriter(c.deps(2)),
    decoders: OTLP_DECODERS,
    shardCount: () => 4,
    tenantIngest: () => tenant,
    nowMs: () => c.now,
    wallMs: () => TEST_NOW_MS,
  });
}

const MIB = 1024 * 1024;

t.test('Ingester sheds by priority as the node fills: logs first, then traces, metrics last', async (t) => {
  const ing = await ingesterOver(new FakeCluster(), { bytesPerSecond: 1e12, burstBytes: 1e12, traceSampleRatio: 1 });
  const held: Admission[] = [];
  const fill = (signal: OtlpSignal): number => {
    let n = 0;
    for (;;) {
      try {
        held.push(ing.admit(signal, 'default', 16 * MIB));
        n++;
      } catch (err) {
        t.equal((err as OtlpdbError).code, 'ERR_UNAVAILABLE', `${signal} refused as retryable`);
        t.ok((err as OtlpdbError).details['retryAfterMs'] !== undefined, 'with a retry delay');
        return n;
      }
    }
  };
  const logs = fill('logs');
  const traces = fill('traces');
  const metrics = fill('metrics');
  const bound = IngestLimits.nodeInflightBytesMax;
  t.equal(logs * 16 * MIB, Math.floor((bound * 0.6) / (16 * MIB)) * 16 * MIB, `logs stop at 60% (${logs} requests)`);
  t.ok(traces > 0 && metrics > 0, `traces (${traces} more) and metrics (${metrics} more) still got in`);
  t.ok(ing.inflightBytes <= bound, 'never past the node bound');
  t.equal(ing.inflightBytes, (logs + traces + metrics) * 16 * MIB);
  for (const a of held) ing.release(a);
  t.equal(ing.inflightBytes, 0, 'every admission released');
  t.equal(ing.stats.refusedOverload, 3);
  t.throws(() => ing.admit('traces', 'default', IngestLimits.requestBytesMax + 1), { code: 'ERR_LIMIT_EXCEEDED' }, 'an oversized body is 413 before anything');
});

t.test('Ingester refuses a tenant over its rate with the wait in the error, and a request over its burst as too large', async (t) => {
  const c = new FakeCluster();
  const ing = await ingesterOver(c, { bytesPerSecond: 1000, burstBytes: 2000, traceSampleRatio: 1 });
  ing.release(ing.admit('logs', 'acme', 1500));
  const err = (() => {
    try {
      ing.admit('logs', 'acme', 1000);
    } catch (e) {
      return e as OtlpdbError;
    }
    return null;
  })();
  t.equal(err?.code, 'ERR_RATE_LIMITED', '429');
  t.equal(err?.details['retryAfterMs'], 500, 'the bucket says when 1000 bytes will be there');
  c.now += 500;
  t.doesNotThrow(() => ing.release(ing.admit('logs', 'acme', 1000)), 'after the wait it passes');
  t.throws(() => ing.admit('logs', 'acme', 2001), { code: 'ERR_LIMIT_EXCEEDED' }, 'more than the burst can never pass');
  t.doesNotThrow(() => ing.release(ing.admit('logs', 'other', 2000)), 'another tenant has its own bucket');
});

t.test('Ingester answers partial success with the decoder\'s and the shards\' refusals, and samples spans as the SDK does', async (t) => {
  const c = new FakeCluster();
  c.leader = 2;
  const ing = await ingesterOver(c, { bytesPerSecond: 1e12, burstBytes: 1e12, traceSampleRatio: 1 });
  const bad = { ...validSpan(), traceId: new Uint8Array(16) };
  const spans = Array.from({ length: 6 }, (_, i) => ({ ...validSpan(), traceId: Uint8Array.from({ length: 16 }, (_, k) => (k * 7 + i * 31 + 1) & 0xff), spanId: Uint8Array.from({ length: 8 }, (_, k) => k + i + 1) }));
  const body = encodeProto('traces', request('traces', [...spans, bad]));
  const out = await ing.ingest({ signal: 'traces', tenant: 'default', format: 'proto', body, deadlineMs: 5_000 });
  t.equal(out.rejected, 1, 'the all-zero trace id is refused');
  t.match(out.message, /^1 spans rejected: OTLP_BAD_TRACE_ID/);
  t.equal(out.accepted, out.parts, 'the fake shards accept one row per part');
  t.ok(out.parts >= 1 && out.parts <= 4);
  // The same body again: same idempotency key, same parts; the fake leader reports duplicates.
  const again = await ing.ingest({ signal: 'traces', tenant: 'default', format: 'proto', body, deadlineMs: 5_000 });
  t.equal(again.accepted, 0, 'a retried request stores nothing new');
  t.equal(again.rejected, 1, 'and still reports what the decoder refused');

  const sampled = await ingesterOver(new FakeCluster(), { bytesPerSecond: 1e12, burstBytes: 1e12, traceSampleRatio: 0.5 });
  const many = Array.from({ length: 200 }, (_, i) => ({ ...validSpan(), traceId: Uint8Array.from({ length: 16 }, (_, k) => (k * 13 + i * 101 + 7) & 0xff) }));
  const want = many.filter((s) => keepTrace(s.traceId as Uint8Array, sampleUpperBound(0.5))).length;
  const r = await sampled.ingest({ signal: 'traces', tenant: 'default', format: 'proto', body: encodeProto('traces', request('traces', many)), deadlineMs: 5_000 });
  t.equal(sampled.stats.sampledOut, 200 - want, `head sampling dropped ${200 - want} of 200 spans, the SDK's decision`);
  t.equal(r.rejected, 0, 'sampled-out spans are not rejections');
});

t.test('a node\'s item limits reach both decoders: attributes kept, values cut, the time window', async (t) => {
  const limits = resolveItemLimits({ attributesPerItemMax: 2, attributeValueBytesMax: 8, timestampPastMsMax: 60_000 });
  const span = { ...validSpan(), attributes: [1, 2, 3].map((i) => ({ key: `k${i}`, value: { stringValue: 'x'.repeat(20) } })) };
  const old = { ...validSpan(), spanId: Uint8Array.from({ length: 8 }, (_, k) => k + 100), startTimeUnixNano: String(BigInt(TEST_NOW_MS - 120_000) * 1_000_000n), endTimeUnixNano: String(BigInt(TEST_NOW_MS - 119_000) * 1_000_000n) };
  const req = request('traces', [span, old]);
  for (const [format, body, decode] of [
    ['proto', encodeProto('traces', req), OTLP_DECODERS.traces.proto],
    ['json', encodeJson(req), OTLP_DECODERS.traces.json],
  ] as const) {
    const r = decode(body, { tenant: 'default', nowMs: TEST_NOW_MS, limits });
    t.equal(r.rows.length, 1, `${format}: the two-minute-old span is out of a one-minute window`);
    t.equal(r.rejections[0]?.code, 'OTLP_TIMESTAMP_OUT_OF_RANGE');
    const kept = r.rows[0];
    t.same(kept?.attributes.map((a) => a.key), ['k1', 'k2'], `${format}: two attributes kept`);
    t.equal(kept?.droppedAttributesCount, 1, `${format}: the third counted as dropped`);
    t.same(kept?.attributes.map((a) => (a.value.type === 'string' ? a.value.value : '')), ['xxxxxxxx', 'xxxxxxxx'], `${format}: values cut to 8 bytes`);
    t.equal(r.truncatedValues, 2);
  }
  t.throws(() => resolveItemLimits({ attributesPerItemMax: 0 }), { code: 'ERR_INVALID_ARGUMENT' });
});

t.test('a chunked OTLP/HTTP body grows its admission as it arrives: a second upload is refused with 503 when the node is full', async (t) => {
  const settings = resolveIngestSettings({ requestBytesMax: 1024 * 1024, nodeInflightBytesMax: 1024 * 1024 });
  const ing = await ingesterOver(new FakeCluster(), { bytesPerSecond: 1e12, burstBytes: 1e12, traceSampleRatio: 1 }, settings);
  const rx = await OtlpHttpReceiver.start({ host: '127.0.0.1', port: 0, ingester: ing });
  t.teardown(() => rx.stop());
  const { port } = rx.address();
  const open = (): { req: http.ClientRequest; answer: Promise<{ status: number; retryAfter: string | undefined }> } => {
    let req!: http.ClientRequest;
    const answer = new Promise<{ status: number; retryAfter: string | undefined }>((resolve, reject) => {
      req = http.request({ host: '127.0.0.1', port, path: '/v1/traces', method: 'POST', headers: { 'content-type': 'application/x-protobuf', 'transfer-encoding': 'chunked' }, agent: false }, (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined });
      });
      req.on('error', (err) => reject(err));
    });
    return { req, answer };
  };
  const first = open();
  first.req.write(Buffer.alloc(700 * 1024, 1));
  // Wait until the receiver holds the first body's bytes.
  for (let i = 0; i < 200 && ing.inflightBytes < 700 * 1024; i++) await new Promise((r) => setTimeout(r, 10));
  t.equal(ing.inflightBytes, 700 * 1024, 'the first chunked body is held within its admission');
  const second = open();
  second.req.on('error', () => {});
  second.req.write(Buffer.alloc(200 * 1024, 1));
  const refused = await second.answer;
  t.equal(refused.status, 503, 'traces past 80% of the in-flight bound: 503');
  t.equal(refused.retryAfter, '1', 'with Retry-After');
  t.ok(ing.inflightBytes <= settings.nodeInflightBytesMax, 'never past the bound');
  first.req.end();
  t.equal((await first.answer).status, 400, 'the first body is read whole (and is no OTLP request)');
  for (let i = 0; i < 200 && ing.inflightBytes > 0; i++) await new Promise((r) => setTimeout(r, 10));
  t.equal(ing.inflightBytes, 0, 'every admission released');
});
