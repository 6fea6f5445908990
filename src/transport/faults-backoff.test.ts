import t from 'tap';
import { SeededRand } from '../fs/seeded-rand.js';
import { reconnectDelayMs } from './backoff.js';
import { FaultInjector } from './faults.js';
import { msg } from './transport-test-util.js';

t.test('reconnectDelayMs doubles from baseMs, is capped at maxMs, and jitters only downwards', async (t) => {
  const rand = new SeededRand(1);
  const noJitter = { baseMs: 10, maxMs: 1000, jitterPercent: 0 };
  t.same(
    Array.from({ length: 10 }, (_, i) => reconnectDelayMs(i + 1, rand, noJitter)),
    [10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000],
  );
  t.equal(reconnectDelayMs(1_000_000, rand, noJitter), 1000, 'huge failure counts stay capped');
  const jitter = { baseMs: 10, maxMs: 1000, jitterPercent: 50 };
  const seen = new Set<number>();
  for (let f = 1; f <= 200; f++) {
    const d = reconnectDelayMs(f, rand, jitter);
    const ceiling = Math.min(1000, 10 * 2 ** Math.min(f - 1, 30));
    if (d > ceiling || d < ceiling / 2) t.fail(`delay ${d} outside [${ceiling / 2}, ${ceiling}]`);
    if (f > 20) seen.add(d);
  }
  t.ok(seen.size > 10, 'jitter spreads capped delays');
  const s1 = Array.from({ length: 10 }, (_, i) => reconnectDelayMs(i + 1, new SeededRand(9), jitter));
  const s2 = Array.from({ length: 10 }, (_, i) => reconnectDelayMs(i + 1, new SeededRand(9), jitter));
  t.same(s1, s2, 'same seed, same delays');
});

t.test('FaultInjector is deterministic per seed and never invents messages', async (t) => {
  const run = (seed: number): string => {
    const f = new FaultInjector(new SeededRand(seed));
    f.set(2, { dropProbability: 0.2, duplicateProbability: 0.2, reorderProbability: 0.3 });
    const out: number[] = [];
    for (let i = 0; i < 100; i++) out.push(...f.apply(2, [msg({ group: 1, from: 1, to: 2, index: i })]).map((m) => m.index));
    for (const msgs of f.clear().values()) out.push(...msgs.map((m) => m.index));
    for (const i of out) if (i < 0 || i >= 100) t.fail('invented message');
    return out.join(',');
  };
  t.equal(run(4), run(4), 'same seed, same decisions');
  t.not(run(4), run(5), 'another seed, other decisions');
  const f = new FaultInjector(new SeededRand(1));
  t.same(f.apply(3, [msg({ group: 1, from: 1, to: 3, index: 1 })]).length, 1, 'no faults: unchanged');
  t.throws(() => f.set(3, { reorderProbability: -0.1 }), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => f.set(3, { delayMs: 1.5 }), { code: 'ERR_INVALID_ARGUMENT' });
});
