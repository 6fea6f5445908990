import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { FloatHead } from './store-head.js';

/** Sample is one write to a head: series id, time (ms) and value. */
interface Sample {
  readonly id: number;
  readonly t: number;
  readonly v: number;
}

/** samplesOf draws seeded writes: times advance per series, one in ten repeats its series' last time (a replacement). */
function samplesOf(seed: number, count: number): Sample[] {
  const rand = new SeededRand(seed);
  const last = new Map<number, number>();
  const out: Sample[] = [];
  for (let k = 0; k < count; k++) {
    // A few hot series cross many chunk boundaries; the rest get a few samples each.
    const id = rand.intn(3) === 0 ? rand.intn(3) : rand.intn(400);
    const prev = last.get(id);
    const t = prev !== undefined && rand.intn(10) === 0 ? prev : (prev ?? 1_700_000_000_000) + 1 + rand.intn(10_000);
    last.set(id, t);
    out.push({ id, t, v: rand.intn(2 ** 30) / 7 - 1e6 });
  }
  return out;
}

/** headDiff is null when two heads hold the same series, in the same order, with the same samples; else the first difference. */
function headDiff(a: FloatHead, b: FloatHead): string | null {
  const ka = [...a.keys()];
  const kb = [...b.keys()];
  if (ka.join() !== kb.join()) return `series ${ka.length} against ${kb.length}, or in another order`;
  for (const id of ka) {
    const ca = a.get(id)?.columns();
    const cb = b.get(id)?.columns();
    if (ca === undefined || cb === undefined || ca.ts.length !== cb.ts.length) return `series ${id}: sample counts differ`;
    for (let i = 0; i < ca.ts.length; i++) {
      if (ca.ts[i] !== cb.ts[i] || !Object.is(ca.vs[i], cb.vs[i])) return `series ${id} sample ${i}: (${ca.ts[i]}, ${ca.vs[i]}) against (${cb.ts[i]}, ${cb.vs[i]})`;
    }
  }
  return null;
}

/** fill writes the samples to `byValue` with push and to `byColumns` with pushAt over columns, reading column index `skew` off (0: right). */
function fill(samples: readonly Sample[], byValue: FloatHead, byColumns: FloatHead, skew: number): number {
  const ts = Float64Array.from(samples, (s) => s.t);
  const vs = Float64Array.from(samples, (s) => s.v);
  let mismatched = 0;
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i] as Sample;
    const j = Math.min(i + skew, samples.length - 1);
    const a = byValue.push(s.id, s.t, s.v);
    // A skewed read may go back in time for the series: the head refuses that (an assert), which counts as caught too.
    try {
      if (byColumns.pushAt(s.id, ts, vs, j) !== a) mismatched++;
    } catch {
      mismatched++;
    }
  }
  return mismatched;
}

t.test('FloatHead.pushAt over columns keeps what push of the same samples keeps', async (t) => {
  for (const seed of [1, 2, 3]) {
    const samples = samplesOf(seed, 60_000);
    const byValue = new FloatHead();
    const byColumns = new FloatHead();
    t.equal(fill(samples, byValue, byColumns, 0), 0, `seed ${seed}: every append or replacement answered alike`);
    t.equal(headDiff(byValue, byColumns), null, `seed ${seed}: the same series and samples`);
    t.ok(Math.max(...[...byValue.keys()].map((id) => byValue.samplesOf(id))) > 4_000, `seed ${seed}: some series cross many chunks (of at most 1,024 samples)`);
  }
});

t.test('push keeps working after pushAt, on the same series (its one-slot scratch is not shared state)', async (t) => {
  const head = new FloatHead();
  const ts = Float64Array.of(10, 20, 30);
  const vs = Float64Array.of(1.5, 2.5, 3.5);
  t.ok(head.pushAt(7, ts, vs, 0));
  t.ok(head.push(7, 15, -1));
  t.ok(head.pushAt(7, ts, vs, 1));
  t.notOk(head.push(7, 20, 4), 'a write at the last time replaces');
  t.ok(head.pushAt(7, ts, vs, 2));
  const c = head.get(7)?.columns();
  t.same(c === undefined ? null : [[...c.ts], [...c.vs]], [
    [10, 15, 20, 30],
    [1.5, -1, 4, 3.5],
  ]);
  t.same([...ts, ...vs], [10, 20, 30, 1.5, 2.5, 3.5], 'the caller\'s columns are only read');
});

t.test('planted bug: a pushAt that reads the next index is caught by the comparison', async (t) => {
  const samples = samplesOf(4, 20_000);
  const byValue = new FloatHead();
  const byColumns = new FloatHead();
  const mismatched = fill(samples, byValue, byColumns, 1);
  const d = headDiff(byValue, byColumns);
  t.ok(mismatched > 0 || d !== null, `caught: ${mismatched} answers differ; ${d}`);
  t.not(d, null, 'the heads differ');
});
