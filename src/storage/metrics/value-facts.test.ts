/**
 * value-facts.test.ts — the facts a decoder hands on with a column
 * (storage/codec/value-facts.ts: finite, non-decreasing) are never claimed
 * of values they do not hold: joinFacts over seeded cuts of seeded columns;
 * chunk blocks of seeded series (counters with resets, also on a chunk's
 * first sample, decimal counters, gauges, NaN, staleness markers, ±Inf,
 * flat runs; regular and irregular times; chunks of 1 to 120 samples)
 * decoded at an offset into a larger column; the store's select over five
 * flushes and two-hour buckets. And they are claimed where a rate scan
 * needs them (nearly every plain counter), so the test is not vacuous.
 *
 * Planted in the source and caught (each reverted): compact decimal's
 * header proof without its rMin >= 0 ("series 22 (gauge, chunks of 120)
 * claims 3, the values are 1"); joinFacts without its seam compare ("round
 * 6 (reset): joined 3, whole 1"); a chunk block's chunks joined by AND
 * alone ("series 3 (reset-at-chunk, chunks of 16) claims 3, the values are
 * 1"); the store's blocks of one series joined by AND alone (the store
 * test: "series 3: claims 3, the values are 1"); the value-by-value loop's
 * `m < before` check dropped ("series 2 (reset, chunks of 16) claims 3").
 */
import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { initHash } from '../../partition/hash.js';
import { STALE_NAN } from '../../query/promql/eval-types.js';
import { VALUES_COUNTER_SAFE, VALUES_FINITE, VALUES_NON_DECREASING, joinFacts } from '../codec/value-facts.js';
import { newScanStats } from '../shard/signal-store.js';
import type { MetricData } from '../rows.js';
import { ChunkBlockDecoder, ChunkBlockEncoder, type ChunkBlockSeries } from './chunk-block.js';
import { MetricStore } from './metric-store.js';
import { Flusher, openTempDb, removeTempDb, row } from './store-test-util.js';

const hasher = await initHash();
const T0 = 1_700_000_000_000;
const TENANT = 'acme';

/** truthOf is what the values really are: the facts a decoder may claim (value-facts.ts), computed sample by sample. */
function truthOf(vs: Float64Array, from = 0, to = vs.length): number {
  let finite = true;
  let rising = true;
  for (let j = from; j < to; j++) {
    if (!Number.isFinite(vs[j] as number)) finite = false;
    if (j > from && !((vs[j] as number) >= (vs[j - 1] as number))) rising = false;
  }
  return (finite ? VALUES_FINITE : 0) | (finite && rising ? VALUES_NON_DECREASING : 0);
}

/** claimsHold says every fact claimed is true of the values (a claim of non-decreasing always comes with finite). */
function claimsHold(claimed: number, truth: number): boolean {
  if ((claimed & VALUES_NON_DECREASING) !== 0 && (claimed & VALUES_FINITE) === 0) return false;
  return (claimed & ~truth) === 0;
}

type Kind = 'counter' | 'decimal-counter' | 'reset' | 'reset-at-chunk' | 'gauge' | 'nan' | 'stale' | 'inf' | 'flat';
const KINDS: readonly Kind[] = ['counter', 'decimal-counter', 'reset', 'reset-at-chunk', 'gauge', 'nan', 'stale', 'inf', 'flat'];

/** valuesOf draws n values of a kind (seeded): counters with and without resets (a reset may sit exactly on a chunk's first sample), gauges, NaN, staleness markers, ±Inf. */
function valuesOf(rand: SeededRand, kind: Kind, n: number, chunkSamples: number): Float64Array {
  const vs = new Float64Array(n);
  let level = rand.intn(1000);
  for (let i = 0; i < n; i++) {
    switch (kind) {
      case 'counter':
        level += rand.intn(100);
        break;
      case 'decimal-counter':
        level = Math.round((level + rand.intn(500) / 100) * 100) / 100;
        break;
      case 'reset':
        level = rand.intn(40) === 0 ? rand.intn(10) : level + rand.intn(100);
        break;
      case 'reset-at-chunk':
        level = i > 0 && i % chunkSamples === 0 && rand.intn(2) === 0 ? rand.intn(Math.max(1, level)) : level + rand.intn(7);
        break;
      case 'gauge':
        level = rand.intn(10_000) / 100;
        break;
      case 'nan':
      case 'stale':
      case 'inf':
        level += rand.intn(100);
        break;
      case 'flat':
        break;
    }
    vs[i] = level;
  }
  const odd = kind === 'nan' ? NaN : kind === 'stale' ? STALE_NAN : kind === 'inf' ? (rand.intn(2) === 0 ? Infinity : -Infinity) : null;
  if (odd !== null) vs[rand.intn(n)] = odd;
  return vs;
}

/** timesOf is n times: a regular 15 s scrape, or irregular gaps (seeded). */
function timesOf(rand: SeededRand, n: number, irregular: boolean): Float64Array {
  let t = T0 + rand.intn(1000);
  return Float64Array.from({ length: n }, () => (t += irregular ? 1 + rand.intn(40_000) : 15_000));
}

t.test('joinFacts: both sides\' facts, non-decreasing across the seam only when the value after it is >= the one before it', async (t) => {
  const vs = Float64Array.of(1, 2, 2, 1, 5);
  t.equal(joinFacts(VALUES_COUNTER_SAFE, VALUES_COUNTER_SAFE, vs, 2, 1), VALUES_COUNTER_SAFE, '2 then 2');
  t.equal(joinFacts(VALUES_COUNTER_SAFE, VALUES_COUNTER_SAFE, vs, 3, 2), VALUES_FINITE, '2 then 1 drops');
  t.equal(joinFacts(VALUES_FINITE, VALUES_COUNTER_SAFE, vs, 2, 1), VALUES_FINITE);
  t.equal(joinFacts(VALUES_COUNTER_SAFE, 0, vs, 2, 1), 0);
  t.equal(joinFacts(0, VALUES_COUNTER_SAFE, vs, 0, 3), VALUES_COUNTER_SAFE, 'nothing before');
  t.equal(joinFacts(VALUES_COUNTER_SAFE, 0, vs, 3, 0), VALUES_COUNTER_SAFE, 'nothing after');
  // Pieces whose facts are their truth join into the whole's truth (seeded cuts of seeded columns).
  const rand = new SeededRand(11);
  let checked = 0;
  for (let round = 0; round < 3000; round++) {
    const n = 1 + rand.intn(40);
    const kind = KINDS[rand.intn(KINDS.length)] as Kind;
    const col = valuesOf(rand, kind, n, 1 + rand.intn(8));
    let facts = 0;
    for (let at = 0; at < n; ) {
      const piece = Math.min(n - at, rand.intn(6));
      facts = at === 0 ? truthOf(col, 0, piece) : joinFacts(facts, truthOf(col, at, at + piece), col, at, piece);
      at += piece;
    }
    if (facts !== truthOf(col)) t.fail(`round ${round} (${kind}): joined ${facts}, whole ${truthOf(col)}`);
    checked++;
  }
  t.equal(checked, 3000);
});

t.test('a chunk block\'s decoded facts hold for every series, and a counter\'s compact decimal chunks claim both', async (t) => {
  const enc = new ChunkBlockEncoder();
  const dec = new ChunkBlockDecoder();
  for (const seed of [1, 2, 3]) {
    const rand = new SeededRand(seed);
    const claimed = new Map<Kind, number>();
    const seen = new Map<Kind, number>();
    for (let round = 0; round < 40; round++) {
      const chunkSamples = [1, 7, 16, 120][rand.intn(4)] as number;
      const n = 1 + rand.intn(500);
      const irregular = rand.intn(3) === 0;
      const shared = timesOf(rand, n, irregular);
      const series: (ChunkBlockSeries & { kind: Kind })[] = [];
      for (let id = 0; id < 24; id++) {
        const kind = KINDS[id % KINDS.length] as Kind;
        const ts = rand.intn(4) === 0 ? timesOf(rand, 1 + rand.intn(500), true) : shared;
        series.push({ id, ts, vs: valuesOf(rand, kind, ts.length, chunkSamples), kind });
      }
      for (const bytes of enc.encode(0, series, chunkSamples)) {
        const block = dec.open(bytes, 0, null);
        for (let k = 0; k < block.ids.length; k++) {
          const s = series[block.ids[k] as number] as (typeof series)[number];
          // Decoded at an offset into a larger column whose other values are junk: the facts are of the series' part only.
          const at = rand.intn(3);
          const ts = new Float64Array(at + s.ts.length + 1).fill(-5);
          const vs = new Float64Array(ts.length).fill(NaN);
          const facts = dec.decodeInto(block, k, ts, vs, at);
          const truth = truthOf(vs, at, at + s.ts.length);
          if (!claimsHold(facts, truth)) t.fail(`seed ${seed} round ${round}: series ${s.id} (${s.kind}, chunks of ${chunkSamples}) claims ${facts}, the values are ${truth}`);
          seen.set(s.kind, (seen.get(s.kind) ?? 0) + 1);
          if (facts === VALUES_COUNTER_SAFE) claimed.set(s.kind, (claimed.get(s.kind) ?? 0) + 1);
        }
      }
    }
    // Not vacuous: an integer counter without resets is mostly coded as compact decimal of delta order with rMin >= 0
    // (a chunk coded in level or delta-of-delta order by packed runs proves nothing: finite only).
    const counters = seen.get('counter') ?? 0;
    t.ok((claimed.get('counter') ?? 0) >= counters / 2, `seed ${seed}: plain counters claim both facts (${claimed.get('counter')} of ${counters})`);
    t.ok((claimed.get('decimal-counter') ?? 0) > 0, `seed ${seed}: decimal counters claim both facts (${claimed.get('decimal-counter')} of ${seen.get('decimal-counter')})`);
    t.ok((claimed.get('reset-at-chunk') ?? 0) < (seen.get('reset-at-chunk') ?? 0), `seed ${seed}: a reset on a chunk's first sample is seen at the seam`);
  }
});

/** sum is a cumulative monotonic sum's data. */
function sum(v: number): MetricData {
  return { type: 'sum', temporality: 2, monotonic: true, value: { type: 'double', value: v } };
}

t.test('the store\'s select hands each series\' facts on, joined over flushes and chunks, and they hold', async (t) => {
  const tmp = await openTempDb();
  try {
    const rand = new SeededRand(21);
    const store = new MetricStore({ hasher, seriesMax: 100, chunkSamples: 16, selectBucketsPerBatch: 1 });
    const flusher = new Flusher(store, tmp.db);
    const kinds: Kind[] = [...KINDS, 'counter', 'counter'];
    // 5 flushes of 40 minutes at 15 s (160 samples each): a series' run spans several blocks and two-hour buckets.
    const per = 160;
    const columns = kinds.map((kind) => valuesOf(rand, kind, 5 * per, per));
    for (let f = 0; f < 5; f++) {
      const rows = [];
      for (let i = f * per; i < (f + 1) * per; i++) for (let s = 0; s < kinds.length; s++) rows.push(row(TENANT, { name: 'c', host: `h${s}`, tMs: T0 + i * 15_000, data: sum(columns[s]?.[i] as number) }));
      t.equal(store.add(TENANT, rows, 0).refusals.length, 0);
      await flusher.flush();
    }
    let slices = 0;
    let claimed = 0;
    for (const [minMs, maxMs] of [[0, Infinity], [T0 + 3_000_000, T0 + 9_000_000]] as const) {
      for await (const batch of store.select(tmp.db, TENANT, [{ name: '__name__', op: '=', value: 'c' }], minMs, maxMs, { resolution: 'raw' }, newScanStats())) {
        for (const s of batch) {
          if (s.kind !== 'samples') continue;
          slices++;
          const facts = s.facts ?? 0;
          if (!claimsHold(facts, truthOf(s.values))) t.fail(`series ${s.seriesId}: claims ${facts}, the values are ${truthOf(s.values)}`);
          if (facts === VALUES_COUNTER_SAFE) claimed++;
        }
      }
    }
    t.ok(slices > 2 * kinds.length, `${slices} slices read`);
    t.ok(claimed >= slices / 4, `${claimed} of ${slices} slices claim both facts`);
  } finally {
    await removeTempDb(tmp);
  }
});
