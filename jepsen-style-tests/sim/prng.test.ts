import t from 'tap';
import { Prng } from './prng.js';

t.test('the same seed gives the same stream; different seeds differ', async (t) => {
  const a = new Prng(42);
  const b = new Prng(42);
  const c = new Prng(43);
  const xs = Array.from({ length: 100 }, () => a.nextU32());
  const ys = Array.from({ length: 100 }, () => b.nextU32());
  const zs = Array.from({ length: 100 }, () => c.nextU32());
  t.same(xs, ys);
  t.not(JSON.stringify(xs), JSON.stringify(zs));
});

t.test('seeds cover the whole 32-bit range', async (t) => {
  t.doesNotThrow(() => new Prng(0).nextU32());
  t.doesNotThrow(() => new Prng(0xffffffff).nextU32());
  t.throws(() => new Prng(2 ** 32), { code: 'ERR_INTERNAL' });
  t.throws(() => new Prng(-1), { code: 'ERR_INTERNAL' });
  t.throws(() => new Prng(1.5), { code: 'ERR_INTERNAL' });
});

t.test('intn is uniform enough: chi-square over 10 buckets', async (t) => {
  const r = new Prng(7);
  const n = 100_000;
  const buckets = new Array<number>(10).fill(0);
  for (let i = 0; i < n; i++) {
    const v = r.intn(10);
    if (v < 0 || v >= 10) t.fail(`out of range ${v}`);
    buckets[v] = (buckets[v] ?? 0) + 1;
  }
  const expected = n / 10;
  const chi = buckets.reduce((s, b) => s + (b - expected) ** 2 / expected, 0);
  // 9 degrees of freedom: p = 0.001 at 27.9.
  t.ok(chi < 27.9, `chi-square ${chi.toFixed(2)} < 27.9`);
});

t.test('float, chance, range, pick and shuffle stay in bounds', async (t) => {
  const r = new Prng(9);
  let hits = 0;
  for (let i = 0; i < 10_000; i++) {
    const f = r.float();
    if (f < 0 || f >= 1) t.fail(`float out of range ${f}`);
    if (r.chance(0.25)) hits++;
    const x = r.range(3, 5);
    if (x < 3 || x > 5) t.fail(`range out of bounds ${x}`);
  }
  t.ok(hits > 2200 && hits < 2800, `chance(0.25) hit ${hits}/10000`);
  t.equal(r.chance(0), false);
  t.equal(r.chance(1), true);
  t.ok(['a', 'b'].includes(r.pick(['a', 'b'])));
  const xs = [1, 2, 3, 4, 5, 6, 7, 8];
  t.same([...r.shuffle([...xs])].sort(), xs, 'shuffle is a permutation');
  t.throws(() => r.pick([]), { code: 'ERR_INTERNAL' });
});

t.test('fork derives independent streams without advancing the parent', async (t) => {
  const a = new Prng(1234);
  const b = new Prng(1234);
  const net1 = a.fork('network');
  a.fork('workload').nextU32();
  t.equal(a.nextU32(), b.nextU32(), 'forking does not consume parent draws');
  const net2 = b.fork('network');
  t.equal(net1.nextU32(), net2.nextU32(), 'the same label gives the same stream');
  t.not(a.fork('x').nextU32(), a.fork('y').nextU32(), 'different labels differ');
});
