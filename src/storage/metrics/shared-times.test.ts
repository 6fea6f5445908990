import t from 'tap';
import { initHash } from '../../partition/hash.js';
import { newScanStats } from '../shard/signal-store.js';
import type { MetricPointRow } from '../rows.js';
import { MetricStore } from './metric-store.js';
import { SharedTimes } from './shared-times.js';
import { Flusher, type TempDb, gauge, openTempDb, removeTempDb, stringKv, testPointRow } from './store-test-util.js';

const hasher = await initHash();
const T0 = 1_700_000_000_000;
const INTERVAL_MS = 15_000;

/** Read is one series as a raw select answers it. */
interface Read {
  readonly ts: Float64Array;
  readonly vs: Float64Array;
}

/** pointsOf is series `name`'s rows at times[i] with values value(i). */
function pointsOf(name: string, times: readonly number[], value: (i: number) => number): MetricPointRow[] {
  return times.map((tMs, i) => testPointRow('m', gauge(value(i)), [stringKv('s', name)], tMs));
}

async function readAll(store: MetricStore, tmp: TempDb): Promise<Map<string, Read>> {
  const out = new Map<string, Read>();
  for await (const batch of store.select(tmp.db, 't', [{ name: '__name__', op: '=', value: 'm' }], 0, 2 ** 50, { resolution: 'raw' }, newScanStats())) {
    for (const s of batch) {
      if (s.kind !== 'samples') continue;
      const name = s.labels.find((l) => l.name === 's')?.value ?? '';
      t.notOk(out.has(name), `series ${name} in one batch`);
      out.set(name, { ts: s.timestamps, vs: s.values });
    }
  }
  return out;
}

t.test('series that read the same timestamp columns share one times array; the others keep their own, and every sample is right', async (t) => {
  const tmp = await openTempDb();
  try {
    const store = new MetricStore({ hasher });
    const flusher = new Flusher(store, tmp.db);
    const first = Array.from({ length: 20 }, (_, i) => T0 + i * INTERVAL_MS);
    const second = Array.from({ length: 20 }, (_, i) => T0 + (20 + i) * INTERVAL_MS);
    // a and b are scraped together; c is 1 ms off; d is with them in the first flush only.
    const want = new Map<string, { ts: number[]; vs: number[] }>();
    const add = (name: string, times: number[], value: (i: number) => number): void => {
      t.equal(store.add('t', pointsOf(name, times, value), T0).refused, 0, `${name} accepted`);
      const w = want.get(name) ?? { ts: [], vs: [] };
      times.forEach((tm, i) => { w.ts.push(tm); w.vs.push(value(i)); });
      want.set(name, w);
    };
    add('a', first, (i) => i);
    add('b', first, (i) => 100 + 2 * i);
    add('c', first.map((x) => x + 1), (i) => 0.5 * i);
    add('d', first, (i) => 7 * i);
    await flusher.flush();
    add('a', second, (i) => 20 + i);
    add('b', second, (i) => 140 + 2 * i);
    add('c', second.map((x) => x + 1), (i) => 10 + 0.5 * i);
    add('d', second.map((x) => x + 3), (i) => 140 + 7 * i);
    await flusher.flush();
    const got = await readAll(store, tmp);
    for (const [name, w] of want) {
      const r = got.get(name);
      t.ok(r !== undefined, `${name} read`);
      if (r === undefined) continue;
      t.same(Array.from(r.ts), w.ts, `${name}'s times`);
      t.same(Array.from(r.vs), w.vs, `${name}'s values`);
    }
    const buf = (n: string): ArrayBufferLike | undefined => got.get(n)?.ts.buffer;
    t.equal(buf('a'), buf('b'), 'a and b share their times');
    t.not(buf('a'), buf('c'), 'c, 1 ms off, has its own');
    t.not(buf('a'), buf('d'), 'd, with a in one flush only, has its own');
    t.not(got.get('a')?.vs.buffer, got.get('b')?.vs.buffer, 'values are never shared');
  } finally {
    await removeTempDb(tmp);
  }
});

t.test('SharedTimes: one array for equal (block, column) lists; none for a series with times of its own in any block', async (t) => {
  const s = new SharedTimes();
  for (const id of [1, 2, 3, 4, 5]) s.note(id, 0, id === 5 ? 2 : 1);
  for (const id of [1, 2, 3, 4, 5]) s.note(id, 1, id === 3 ? 0 : id === 4 ? 2 : 1);
  const a = s.timesFor(1, 8);
  t.equal(s.timesFor(2, 8), a, 'series 1 and 2 read column 1 of blocks 0 and 1: one array');
  t.not(s.timesFor(3, 8), a, 'series 3 read its own times in block 1');
  t.not(s.timesFor(3, 8), s.timesFor(3, 8), 'and never shares, not even with itself');
  t.not(s.timesFor(4, 8), a, 'series 4 read another column of block 1');
  t.not(s.timesFor(5, 8), s.timesFor(4, 8), 'series 5 and 4 differ in block 0');
  t.throws(() => s.timesFor(2, 9), 'a sample count that differs from the shared array is a programmer error');
});
