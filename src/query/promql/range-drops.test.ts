/**
 * range-drops.test.ts — rate and increase skip their counter-reset scan on
 * a window range-columns.ts found no drop in (Window.drops 0): the answers
 * are bit for bit those of the scan run on every window (drops unknown),
 * over seeded counters with frequent resets, NaN and ±Inf, and windows of
 * several widths on grids aligned and not aligned with the samples.
 * Planted: a drop count that misses the window's last sample (a reset
 * there, skipped) is caught.
 */
import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { createPromqlEngine } from './engine.js';
import { MemorySeriesSource } from './memory-source.js';
import type { RangeFn, Window } from './range-functions.js';
import { RangeFunctions, extrapolatedRate } from './range-functions.js';
import type { FloatSeries, PromqlEngine } from './source.js';

const T0 = 1_700_000_000_000;
const HOUR = 3_600_000;

function counters(seed: number): FloatSeries[] {
  const rand = new SeededRand(seed);
  const out: FloatSeries[] = [];
  for (let i = 0; i < 12; i++) {
    const ts: number[] = [];
    const vs: number[] = [];
    let v = rand.intn(100);
    for (let t = T0 + rand.intn(15_000); t < T0 + HOUR; t += 15_000 + (rand.intn(10) === 0 ? rand.intn(120_000) : 0)) {
      const r = rand.intn(40);
      if (r === 0) v = rand.intn(5);
      else v += rand.intn(50) / 4;
      ts.push(t);
      vs.push(r === 1 ? NaN : r === 2 ? Infinity : v);
    }
    out.push({ labels: [{ name: '__name__', value: 'm' }, { name: 'pod', value: `p${i}` }], timestampsMs: Float64Array.from(ts), values: Float64Array.from(vs) });
  }
  return out;
}

function countDrops(vs: Float64Array, from: number, to: number): number {
  let n = 0;
  for (let j = Math.max(1, from); j < to; j++) if ((vs[j] as number) < (vs[j - 1] as number)) n++;
  return n;
}

/** withRate is RangeFunctions with rate and increase computed from windows whose drops `drops` says. */
function withRate(drops: (w: Window) => number | undefined): ReadonlyMap<string, RangeFn> {
  const m = new Map(RangeFunctions);
  m.set('rate', (w) => extrapolatedRate({ ...w, drops: drops(w) }, true, true));
  m.set('increase', (w) => extrapolatedRate({ ...w, drops: drops(w) }, true, false));
  return m;
}

async function answers(engine: PromqlEngine, data: readonly FloatSeries[]): Promise<number[]> {
  const out: number[] = [];
  for (const q of ['rate(m[1m])', 'rate(m[5m])', 'increase(m[10m])', 'sum(rate(m[3m]))']) {
    for (const range of [{ startMs: T0, endMs: T0 + HOUR, stepMs: 60_000 }, { startMs: T0 + 7_321, endMs: T0 + HOUR, stepMs: 15_000 }]) {
      const r = await engine.evaluate(q, range, new MemorySeriesSource(data), { lookbackMs: 300_000, signal: new AbortController().signal, maxSourceResolution: 'raw' });
      if (r.kind !== 'matrix') throw new Error('a range query answers a matrix');
      for (const s of r.series) for (const v of s.values) out.push(v);
    }
  }
  return out;
}

function firstDifference(a: readonly number[], b: readonly number[]): string | null {
  if (a.length !== b.length) return `${a.length} points vs ${b.length}`;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i]) && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return `point ${i}: ${a[i]} vs ${b[i]}`;
  return null;
}

t.test('a window without drops skips the reset scan and answers the same bits', async (t) => {
  const scanAlways = createPromqlEngine({ rangeFunctions: withRate(() => undefined) });
  const skipping = createPromqlEngine();
  for (const seed of [1, 2, 3, 4]) {
    const data = counters(seed);
    const want = await answers(scanAlways, data);
    t.equal(firstDifference(await answers(skipping, data), want), null, `seed ${seed}: ${want.length} points equal`);
  }
});

t.test('planted: a drop count missing the window\'s last sample is caught', async (t) => {
  const data = counters(2);
  const want = await answers(createPromqlEngine({ rangeFunctions: withRate(() => undefined) }), data);
  const short = createPromqlEngine({ rangeFunctions: withRate((w) => countDrops(w.vs, w.lo + 1, w.hi - 1)) });
  t.match(firstDifference(await answers(short, data), want), /point/, 'a reset at a window\'s end, skipped, changes the answer');
});

t.test('the drops range-columns gives each window are exactly the window\'s drops (many resets, gaps, windows wider and narrower than the step)', async (t) => {
  let windows = 0;
  let withDrops = 0;
  let wrong = '';
  const checking = createPromqlEngine({
    rangeFunctions: withRate((w) => {
      const want = countDrops(w.vs, w.lo + 1, w.hi);
      windows++;
      if (want > 0) withDrops++;
      if (w.drops !== want && wrong === '') wrong = `window [${w.lo}, ${w.hi}): ${w.drops} drops, want ${want}`;
      return w.drops;
    }),
  });
  for (const seed of [5, 6, 7]) await answers(checking, counters(seed));
  t.equal(wrong, '', `${windows} windows`);
  t.ok(withDrops > windows / 10, `${withDrops} windows hold a drop`);
});
