/**
 * logs-wire.test.ts — the log reads' peer frames: every frame round-trips;
 * planted corruptions (entries out of order, a stream index out of range,
 * more entries than asked, unsorted labels, a bad kind) are caught as
 * ERR_CORRUPTION; 3,000 seeded byte mutations of answers and requests
 * decode or are refused with a stable code, never crash; an answer past
 * answerBytesMax is cut and says so; the coordinator's label merge.
 * Reproduce: SEED=<n> npx tap src/query/logs-wire.test.ts
 */
import { Packr } from 'msgpackr';
import t from 'tap';
import { OtlpdbError } from '../errors.js';
import { SeededRand } from '../fs/seeded-rand.js';
import { LogsQueryLimits } from '../limits.js';
import { newScanStats } from '../storage/shard/signal-store.js';
import type { LogEntry, LogShardEvalRequest, SelectLogsRequest } from './logql/source.js';
import { mergeLabels } from './logs-query.js';
import { newLogSourceStats } from './logs-shard-source.js';
import {
  decodeEntriesAnswer,
  decodeEvalAnswer,
  decodeEvalRequest,
  decodeLabelsAnswer,
  decodeLabelsRequest,
  decodeSelectRequest,
  encodeEntriesAnswer,
  encodeEvalAnswer,
  encodeEvalRequest,
  encodeLabelsAnswer,
  encodeLabelsRequest,
  encodeSelectRequest,
} from './logs-wire.js';
import type { LabelsRead } from './logs-wire.js';

const SEED = Number(process.env.SEED ?? 0x3a7e);
const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false, mapsAsObjects: true });
const H = { group: 3, tenant: 'acme', consistency: 'linearizable' as const };

function entries(n: number, backward = false): LogEntry[] {
  const out: LogEntry[] = [];
  const streams = [
    [{ name: 'level', value: 'info' }, { name: 'service_name', value: 'web' }],
    [{ name: 'app', value: 'shop' }],
  ];
  for (let i = 0; i < n; i++) {
    out.push({ stream: streams[i % 2] as LogEntry['stream'], timeNs: 1_700_000_000_000_000_000n + BigInt(backward ? n - i : i), line: `line ${i} ✓`, metadata: i % 3 === 0 ? [{ name: 'trace_id', value: 'ab' }] : [] });
  }
  return out;
}

const SELECT: SelectLogsRequest = {
  matchers: [{ name: 'app', op: '=~', value: 'sh.*' }],
  startNs: 1n,
  endNs: 1_800_000_000_000_000_000n,
  direction: 'forward',
  limit: 10,
  hints: [{ contains: ['error', 'x'], caseInsensitive: true }],
};
const EVAL: LogShardEvalRequest = { expr: 'sum(count_over_time({app="shop"}[1m]))', startNs: 1n, endNs: 2n, stepNs: 60_000_000_000n, direction: 'backward', limit: 10 };

function corruption(fn: () => unknown): boolean {
  try {
    fn();
    return false;
  } catch (err) {
    return err instanceof OtlpdbError && err.code === 'ERR_CORRUPTION';
  }
}

t.test('frames round-trip', async (t) => {
  const s = decodeSelectRequest(encodeSelectRequest(H, SELECT));
  t.same(s, { header: H, req: SELECT });
  const e = decodeEvalRequest(encodeEvalRequest(H, EVAL));
  t.same(e, { header: H, req: EVAL });
  const read: LabelsRead = { op: 'values', startNs: 5n, endNs: 9n, name: 'app', selectors: [] };
  t.same(decodeLabelsRequest(encodeLabelsRequest(H, read)), { header: H, read });
  const stats = { ...newScanStats(), blocksScanned: 2, bytesRead: 99 };
  const a = { cut: false, stats, entriesRead: 10, entries: entries(10) };
  t.same(decodeEntriesAnswer(encodeEntriesAnswer(a), 'forward', 10), a);
  const ev = { kind: 'entries' as const, ...a, entries: entries(10, true) };
  t.same(decodeEvalAnswer(encodeEvalAnswer(ev), EVAL), ev);
  const partials = { kind: 'partials' as const, cut: false as const, stats, entriesRead: 3, series: [{ labels: [{ name: 'app', value: 'shop' }], stepsNs: [1n, 2n], values: [[1], [2, 3]] }] };
  t.same(decodeEvalAnswer(encodeEvalAnswer(partials), EVAL), partials);
  const st = { op: 'stats' as const, chunks: 3, entries: 7, bytes: 70, series: [[{ name: 'app', value: 'shop' }]] };
  t.same(decodeLabelsAnswer(encodeLabelsAnswer(stats, st), { ...read, op: 'stats', name: null }).result, st);
});

t.test('planted corruptions are caught', async (t) => {
  const good = encodeEntriesAnswer({ cut: false, stats: newScanStats(), entriesRead: 4, entries: entries(4) });
  const v = packr.unpack(good) as unknown[];
  const rows = v[4] as unknown[][];
  const mutate = (f: (x: unknown[]) => void): Uint8Array => {
    const c = structuredClone(v);
    f(c);
    return packr.pack(c);
  };
  t.ok(corruption(() => decodeEntriesAnswer(mutate((c) => (c[4] as unknown[]).reverse()), 'forward', 10)), 'entries out of order');
  t.ok(corruption(() => decodeEntriesAnswer(mutate((c) => (((c[4] as unknown[][])[0] as unknown[])[1] = 9)), 'forward', 10)), 'a stream index out of range');
  t.ok(corruption(() => decodeEntriesAnswer(good, 'forward', 3)), 'more entries than asked');
  t.ok(corruption(() => decodeEntriesAnswer(mutate((c) => ((c[3] as unknown[][])[0] as unknown[]).reverse()), 'forward', 10)), 'unsorted stream labels');
  t.ok(corruption(() => decodeEntriesAnswer(mutate((c) => (((c[4] as unknown[][])[0] as unknown[])[0] = '-1')), 'forward', 10)), 'a negative time');
  t.ok(corruption(() => decodeEntriesAnswer(mutate((c) => (c[1] = [1, 2, 3])), 'forward', 10)), 'short stats');
  t.ok(rows.length === 4, 'the fixture has rows');
  const ev = packr.unpack(encodeEvalAnswer({ kind: 'partials', cut: false, stats: newScanStats(), entriesRead: 0, series: [{ labels: [], stepsNs: [1n, 2n], values: [[1], [2]] }] })) as unknown[];
  ev[3] = 'matrix';
  t.ok(corruption(() => decodeEvalAnswer(packr.pack(ev), EVAL)), 'a bad kind');
  ev[3] = 'partials';
  ((ev[5] as unknown[][])[0] as unknown[])[1] = ['2', '1'];
  t.ok(corruption(() => decodeEvalAnswer(packr.pack(ev), EVAL)), 'steps not ascending');
  t.ok(corruption(() => decodeLabelsAnswer(encodeLabelsAnswer(newScanStats(), { op: 'names', values: ['b', 'a'] }), { op: 'names', startNs: 0n, endNs: 1n, name: null, selectors: [] })), 'unsorted names');
});

t.test('seeded mutations never crash a decoder', async (t) => {
  const rand = new SeededRand(SEED);
  const frames: [Uint8Array, (b: Uint8Array) => unknown, string][] = [
    [encodeEntriesAnswer({ cut: false, stats: newScanStats(), entriesRead: 6, entries: entries(6) }), (b) => decodeEntriesAnswer(b, 'forward', 10), 'ERR_CORRUPTION'],
    [encodeEvalAnswer({ kind: 'entries', cut: false, stats: newScanStats(), entriesRead: 6, entries: entries(6, true) }), (b) => decodeEvalAnswer(b, EVAL), 'ERR_CORRUPTION'],
    [encodeSelectRequest(H, SELECT), decodeSelectRequest, 'ERR_INVALID_ARGUMENT'],
    [encodeEvalRequest(H, EVAL), decodeEvalRequest, 'ERR_INVALID_ARGUMENT'],
    [encodeLabelsRequest(H, { op: 'series', startNs: 1n, endNs: 2n, name: null, selectors: [[{ name: 'a', op: '=', value: 'b' }]] }), decodeLabelsRequest, 'ERR_INVALID_ARGUMENT'],
  ];
  let refused = 0;
  for (let i = 0; i < 3000; i++) {
    const [frame, decode, code] = frames[i % frames.length] as (typeof frames)[number];
    const b = new Uint8Array(frame);
    const kind = rand.intn(3);
    let m: Uint8Array = b;
    if (kind === 0) b[rand.intn(b.length)] = rand.intn(256);
    else if (kind === 1) m = b.subarray(0, rand.intn(b.length));
    else {
      const k = rand.intn(b.length);
      b[k] = (b[k] as number) ^ (1 << rand.intn(8));
    }
    try {
      decode(m);
    } catch (err) {
      if (!(err instanceof OtlpdbError) || err.code !== code) {
        t.fail(`SEED=${SEED} mutation ${i}: ${String(err)}`);
        return;
      }
      refused++;
    }
  }
  t.ok(refused > 1000, `most mutations are refused (${refused})`);
});

t.test('an answer past answerBytesMax is cut and says so', async (t) => {
  const big = 'x'.repeat(200 * 1024);
  const many = Array.from({ length: Math.ceil(LogsQueryLimits.answerBytesMax / big.length) + 4 }, (_, i): LogEntry => ({ stream: [], timeNs: BigInt(i), line: big, metadata: [] }));
  const a = decodeEntriesAnswer(encodeEntriesAnswer({ cut: false, stats: newScanStats(), entriesRead: many.length, entries: many }), 'forward', null);
  t.ok(a.cut, 'cut');
  t.ok(a.entries.length < many.length && a.entries.length > 0, 'fewer entries');
});

t.test('the label merge: distinct, sorted, stats summed, cut reported', async (t) => {
  const stats = newLogSourceStats();
  const r = mergeLabels({ op: 'names', startNs: 0n, endNs: 1n, name: null, selectors: [] }, [{ op: 'names', values: ['b', 'c'] }, { op: 'names', values: ['a', 'b'] }], stats);
  t.same(r, { op: 'names', values: ['a', 'b', 'c'] });
  const s = mergeLabels(
    { op: 'stats', startNs: 0n, endNs: 1n, name: null, selectors: [] },
    [
      { op: 'stats', chunks: 1, entries: 2, bytes: 3, series: [[{ name: 'a', value: '1' }]] },
      { op: 'stats', chunks: 2, entries: 3, bytes: 4, series: [[{ name: 'a', value: '1' }], [{ name: 'a', value: '2' }]] },
    ],
    stats,
  );
  t.same(s, { op: 'stats', chunks: 3, entries: 5, bytes: 7, series: [[{ name: 'a', value: '1' }], [{ name: 'a', value: '2' }]] }, 'a stream on two shards counts once');
  t.same(stats.partialFailures, []);
});
