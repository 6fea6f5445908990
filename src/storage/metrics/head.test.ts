import t from 'tap';
import { CodecLimits, MetricHeadLimits } from '../../limits.js';
import { SeededRand } from '../../fs/seeded-rand.js';
import { initHash } from '../../partition/hash.js';
import { decodeChunk } from '../codec/index.js';
import { AppendOutcome, AppendOutcomeInfo, MetricHead } from './head.js';
import { checkAgainstOracle } from './head-test-util.js';
import type { Matcher } from './label-index.js';

const hasher = await initHash();
const job = (v: string): { name: string; value: string }[] => [{ name: 'job', value: v }];

function drain(head: MetricHead, id: number, minT = -Infinity, maxT = Infinity): [number, number][] {
  const it = head.samples(id, minT, maxT);
  const out: [number, number][] = [];
  while (it.next()) out.push([it.t, it.v]);
  return out;
}

t.test('samples are cut into chunks of chunkSamplesDefault and read back in range', async (t) => {
  const head = new MetricHead({ hasher });
  const n = CodecLimits.chunkSamplesDefault * 2 + 7;
  for (let i = 0; i < n; i++) t.equal(head.append('t', 'up', job('a'), 1000 + i * 15_000, i % 3), AppendOutcome.Appended);
  const st = head.stats();
  t.equal(st.series, 1);
  t.equal(st.samples, n);
  t.equal(st.chunks, 2);
  t.equal(st.openSamples, 7);
  t.equal(head.seriesChunks(0).length, 2);
  t.equal(decodeChunk(head.seriesChunks(0)[1] as Uint8Array).ts[0], 1000 + CodecLimits.chunkSamplesDefault * 15_000, 'chunk 2 starts where chunk 1 ended');
  const all = drain(head, 0);
  t.equal(all.length, n);
  t.same(all[n - 1], [1000 + (n - 1) * 15_000, (n - 1) % 3]);
  const mid = drain(head, 0, 1000 + 100 * 15_000, 1000 + 130 * 15_000);
  t.same(mid.map(([ts]) => (ts - 1000) / 15_000), Array.from({ length: 31 }, (_, i) => 100 + i), 'a range across a chunk boundary');
  t.same(drain(head, 0, 0, 999), [], 'before the first sample');
  t.same(drain(head, 0, 5, 4), [], 'an empty range');
  t.throws(() => head.samples(1, 0, 1), { code: 'ERR_NOT_FOUND' });
});

t.test('Prometheus append rules: out of order refused, same ts + same value ignored, same ts + other value refused', async (t) => {
  const head = new MetricHead({ hasher });
  t.equal(head.append('t', 'up', job('a'), 2000, 1), AppendOutcome.Appended);
  t.equal(head.append('t', 'up', job('a'), 1999, 1), AppendOutcome.OutOfOrder);
  t.equal(head.lastRefusal?.code, 'ERR_INVALID_ARGUMENT');
  t.match(head.lastRefusal?.message, /out of order sample/);
  t.equal(head.append('t', 'up', job('a'), 2000, 1), AppendOutcome.Unchanged);
  t.equal(head.lastRefusal, null);
  t.equal(head.append('t', 'up', job('a'), 2000, 2), AppendOutcome.DuplicateTimestamp);
  t.match(head.lastRefusal?.message, /duplicate sample for timestamp/);
  t.equal(head.append('t', 'up', job('a'), 3000, -0), AppendOutcome.Appended);
  t.equal(head.append('t', 'up', job('a'), 3000, 0), AppendOutcome.DuplicateTimestamp, '0 and -0 differ in bits');
  t.equal(head.append('t', 'up', job('a'), 4000, NaN), AppendOutcome.Appended);
  t.equal(head.append('t', 'up', job('a'), 4000, NaN), AppendOutcome.Unchanged, 'a resent NaN (staleness marker) is ignored');
  t.equal(head.append('t', 'up', job('a'), 4000.5, 1), AppendOutcome.InvalidSample);
  t.equal(head.append('t', 'up', job('a'), 2 ** 51, 1), AppendOutcome.InvalidSample);
  t.equal(head.append('t', 'up', [{ name: 'bad-name', value: 'x' }], 5000, 1), AppendOutcome.InvalidSeries);
  t.equal(head.append('t', 'up', job('x'.repeat(MetricHeadLimits.labelValueBytesMax + 1)), 5000, 1), AppendOutcome.SeriesTooLarge);
  t.equal(head.append('t', 'up', job('a'), 3000, 5), AppendOutcome.OutOfOrder, 'old samples stay refused when the chunk is still open');
  t.equal(head.stats().samples, 3);
  t.same(drain(head, 0).map(([ts]) => ts), [2000, 3000, 4000]);
});

t.test('the duplicate rule holds across a chunk cut', async (t) => {
  const head = new MetricHead({ hasher, chunkSamples: 2 });
  head.append('t', 'up', job('a'), 1, 10);
  head.append('t', 'up', job('a'), 2, 20);
  t.equal(head.stats().openSamples, 0, 'the open buffer was cut');
  t.equal(head.append('t', 'up', job('a'), 2, 20), AppendOutcome.Unchanged);
  t.equal(head.append('t', 'up', job('a'), 2, 21), AppendOutcome.DuplicateTimestamp);
  t.equal(head.append('t', 'up', job('a'), 1, 10), AppendOutcome.OutOfOrder);
});

t.test('series limit: new series refused with ERR_LIMIT_EXCEEDED (not retryable); existing series still append', async (t) => {
  const head = new MetricHead({ hasher, seriesMax: 2 });
  t.equal(head.append('t', 'up', job('a'), 1, 1), AppendOutcome.Appended);
  t.equal(head.append('u', 'up', job('a'), 1, 1), AppendOutcome.Appended);
  t.equal(head.append('t', 'up', job('b'), 1, 1), AppendOutcome.SeriesLimit);
  t.equal(head.lastRefusal?.code, 'ERR_LIMIT_EXCEEDED');
  t.equal(head.lastRefusal?.retryable, false);
  t.equal(head.append('t', 'up', job('a'), 2, 1), AppendOutcome.Appended);
  t.equal(head.stats().series, 2);
  t.same(head.labelValues('t', 'job'), ['a'], 'the refused series left no trace in the index');
});

t.test('head full: refused with ERR_UNAVAILABLE (retryable); bytes stay within headBytesMax plus one chunk', async (t) => {
  const headBytesMax = 64 * 1024;
  const head = new MetricHead({ hasher, headBytesMax });
  const rand = new SeededRand(7);
  let firstFull = -1;
  let fullCount = 0;
  const chunkBytesMax = 16 * CodecLimits.chunkSamplesDefault + 64;
  let bytesMaxSeen = 0;
  let otherOutcomes = 0;
  for (let i = 0; i < 20_000; i++) {
    const o = head.append('t', 'cpu', job(`j${i % 200}`), 1000 * Math.floor(i / 200), rand.nextU32() / 7);
    if (o === AppendOutcome.HeadFull) {
      if (firstFull < 0) {
        firstFull = i;
        t.equal(head.lastRefusal?.code, 'ERR_UNAVAILABLE');
        t.equal(head.lastRefusal?.retryable, true);
        t.match(head.lastRefusal?.message, /head full, flush needed/);
      }
      fullCount++;
    } else if (o !== AppendOutcome.Appended) otherOutcomes++;
    bytesMaxSeen = Math.max(bytesMaxSeen, head.bytes);
  }
  t.equal(otherOutcomes, 0, 'every sample is appended or refused as head full');
  t.ok(bytesMaxSeen <= headBytesMax + chunkBytesMax, `bytes within the bound (${bytesMaxSeen} <= ${headBytesMax} + ${chunkBytesMax})`);
  t.ok(firstFull > 0, `the head filled up (first refusal at sample ${firstFull})`);
  t.ok(fullCount > 0);
  const st = head.stats();
  t.equal(st.samples, 20_000 - fullCount);
  t.ok(st.bytes > headBytesMax * 0.9, `the head used its budget (${st.bytes} bytes)`);
});

t.test('appendBatch reports per-sample outcomes and counts, never throws for a bad sample', async (t) => {
  const head = new MetricHead({ hasher, seriesMax: 2 });
  const names = ['up', 'up', 'up', 'up', 'up', 'up'];
  const labels = [job('a'), job('a'), job('a'), [{ name: '0bad', value: 'x' }], job('b'), job('c')];
  const ts = [10, 5, 10, 10, 10, 10];
  const vs = [1, 1, 2, 1, 1, 1];
  const outcomes = new Uint8Array(6);
  const r = head.appendBatch('t', names, labels, ts, vs, outcomes);
  t.same([...outcomes], [
    AppendOutcome.Appended,
    AppendOutcome.OutOfOrder,
    AppendOutcome.DuplicateTimestamp,
    AppendOutcome.InvalidSeries,
    AppendOutcome.Appended,
    AppendOutcome.SeriesLimit,
  ]);
  t.equal(r.accepted, 2);
  t.equal(r.refused, 4);
  t.equal(r.byOutcome[AppendOutcome.OutOfOrder], 1);
  t.equal(r.firstRefusal?.code, 'ERR_INVALID_ARGUMENT');
  t.equal(r.firstRefusal?.details.index, 1);
  t.equal(r.firstRefusal?.details.outcome, 'OutOfOrder');
  t.throws(() => head.appendBatch('t', ['up'], [], [1], [1]), { code: 'ERR_INVALID_ARGUMENT' });
});

t.test('every refusal outcome names an error code; accepted ones none', async (t) => {
  for (const [name, o] of Object.entries(AppendOutcome)) {
    const info = AppendOutcomeInfo[o];
    t.equal(info.name, name);
    t.equal(info.code === null, o === AppendOutcome.Appended || o === AppendOutcome.Unchanged, name);
  }
});

t.test('tenant scoping: a tenant never sees another tenant\'s series', async (t) => {
  const head = new MetricHead({ hasher });
  head.append('a', 'up', job('x'), 1, 1);
  head.append('b', 'up', job('x'), 1, 1);
  head.append('b', 'up', [{ name: 'secret', value: 's' }], 1, 1);
  const m: Matcher[] = [{ name: '__name__', op: '=', value: 'up' }];
  t.same([...head.select('a', m)], [0]);
  t.same([...head.select('b', m)], [1, 2]);
  t.same([...head.select('c', m)], []);
  t.same(head.labelNames('a'), ['__name__', 'job']);
  t.same(head.labelNames('b'), ['__name__', 'job', 'secret']);
  t.same(head.labelValues('a', 'secret'), []);
});

t.test('determinism: two heads fed the same appends hold identical stats and chunks', async (t) => {
  const run = (): MetricHead => {
    const rand = new SeededRand(1234);
    const head = new MetricHead({ hasher, headBytesMax: 512 * 1024, seriesMax: 300 });
    for (let i = 0; i < 60_000; i++) {
      const s = rand.intn(400);
      head.append(`t${s % 3}`, s % 2 === 0 ? 'cpu' : 'mem', job(`j${s}`), 15_000 * Math.floor(i / 400) + rand.intn(3) * 1000, rand.intn(4) === 0 ? rand.intn(100) / 10 : rand.nextU32() / 3);
    }
    return head;
  };
  const a = run();
  const b = run();
  t.same(a.stats(), b.stats());
  t.ok(a.stats().chunks > 0, `chunks were cut (${JSON.stringify(a.stats())})`);
  let differ = 0;
  for (let id = 0; id < a.stats().series; id++) {
    const ca = a.seriesChunks(id);
    const cb = b.seriesChunks(id);
    if (ca.length !== cb.length) differ++;
    else for (let k = 0; k < ca.length; k++) if (Buffer.compare(ca[k] as Uint8Array, cb[k] as Uint8Array) !== 0) differ++;
  }
  t.equal(differ, 0, 'identical encoded chunks');
});

const SEEDS = Number(process.env.MHEAD_SEEDS ?? 40);
t.test(`property: head agrees with the naive oracle on appends, select and samples (${SEEDS} seeds)`, async (t) => {
  const base = Number(process.env.MHEAD_SEED ?? 1);
  for (let seed = base; seed < base + SEEDS; seed++) {
    const opts = { seed, appends: 3000, selects: 150, chunkSamples: 1 + (seed % 7), seriesMax: seed % 3 === 0 ? 40 : 100_000 };
    const err = checkAgainstOracle(hasher, opts);
    if (err !== null) {
      t.fail(`seed ${seed} (rerun: MHEAD_SEED=${seed} MHEAD_SEEDS=1): ${err}`);
      return;
    }
  }
  t.pass(`${SEEDS} seeds agree`);
});

t.test('planted bug: the oracle comparison catches != implemented as =', async (t) => {
  let caught = 0;
  for (let seed = 1; seed <= 10; seed++) {
    const err = checkAgainstOracle(hasher, {
      seed,
      appends: 1000,
      selects: 60,
      chunkSamples: 4,
      seriesMax: 100_000,
      select: (head, tenant, ms) => head.select(tenant, ms.map((m) => (m.op === '!=' ? { ...m, op: '=' as const } : m))),
    });
    if (err !== null) caught++;
  }
  t.equal(caught, 10, 'every seed catches the broken matcher');
});

t.test('planted bug: the oracle comparison catches an unanchored regex', async (t) => {
  let caught = 0;
  for (let seed = 1; seed <= 10; seed++) {
    const err = checkAgainstOracle(hasher, {
      seed,
      appends: 1000,
      selects: 60,
      chunkSamples: 4,
      seriesMax: 100_000,
      select: (head, tenant, ms) => head.select(tenant, ms.map((m) => (m.op === '=~' || m.op === '!~' ? { ...m, value: `.*(?:${m.value}).*` } : m))),
    });
    if (err !== null) caught++;
  }
  t.ok(caught >= 8, `most seeds catch it (${caught}/10)`);
});
