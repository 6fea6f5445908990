import t from 'tap';
import { codeOf } from './storage-test-util.js';
import { SeededRand } from '../fs/seeded-rand.js';
import { StorageLimits } from '../limits.js';
import { IdempotencyWindow, randomPairHash, seededPairHash } from './idempotency.js';

const MIN = 60_000;
/** RING_FIRST_TEST is idempotency.ts's first ring capacity: a window past it has grown. */
const RING_FIRST_TEST = 1024;
const key = (n: number): string => n.toString(16).padStart(16, '0');


t.test('a remembered pair is seen until the window passes', async (t) => {
  const w = new IdempotencyWindow();
  t.notOk(w.seen(key(1), 0));
  t.ok(w.remember(key(1), 0, 1000));
  t.notOk(w.remember(key(1), 0, 2000), 'remembering twice changes nothing');
  t.ok(w.seen(key(1), 0));
  t.notOk(w.seen(key(1), 1), 'another part of the same request is distinct');
  t.equal(w.expire(1000 + StorageLimits.idempotencyWindowMsDefault - 1), 0, 'not yet');
  t.ok(w.seen(key(1), 0));
  t.equal(w.expire(1000 + StorageLimits.idempotencyWindowMsDefault), 1, 'expires exactly at the window');
  t.notOk(w.seen(key(1), 0));
  t.equal(w.stats().expired, 1);
});

t.test('a leader clock that goes backwards cannot reorder the window', async (t) => {
  const w = new IdempotencyWindow({ windowMs: 10 * MIN });
  w.remember(key(1), 0, 20 * MIN);
  w.remember(key(2), 0, 5 * MIN); // a new leader with a slow clock: clamped to 20 min
  t.equal(w.expire(25 * MIN), 0, 'the second key is not older than the first');
  t.ok(w.seen(key(2), 0));
  t.equal(w.expire(30 * MIN), 2);
});

t.test('a full window evicts its oldest pairs first and counts them', async (t) => {
  const w = new IdempotencyWindow({ keysMax: 3 });
  for (let i = 0; i < 5; i++) w.remember(key(i), 0, i);
  t.notOk(w.seen(key(0), 0));
  t.notOk(w.seen(key(1), 0));
  t.ok(w.seen(key(2), 0) && w.seen(key(3), 0) && w.seen(key(4), 0));
  t.same(w.stats(), { keys: 3, evicted: 2, expired: 0, highWaterMs: 4 });
});

t.test('two replicas applying the same sequence end with identical snapshots; restore reproduces the state', async (t) => {
  const seed = 77;
  const ops: [string, number, number][] = [];
  const rand = new SeededRand(seed);
  let now = 1_790_000_000_000;
  for (let i = 0; i < 20_000; i++) {
    // A burst (eviction) then a steady rate (expiry); leaders' clocks jitter backwards sometimes.
    now += i < 10_000 ? rand.intn(20) - 5 : rand.intn(2000) - 500;
    ops.push([key(rand.intn(5000)), rand.intn(4), now]);
  }
  const apply = (w: IdempotencyWindow): number => {
    let dup = 0;
    for (const [k, part, at] of ops) {
      w.expire(at);
      if (w.seen(k, part)) dup++;
      else w.remember(k, part, at);
    }
    return dup;
  };
  const a = new IdempotencyWindow({ windowMs: 2 * MIN, keysMax: 1500 });
  const b = new IdempotencyWindow({ windowMs: 2 * MIN, keysMax: 1500 });
  const dupA = apply(a);
  t.equal(apply(b), dupA, 'same duplicates');
  t.ok(dupA > 0 && a.stats().evicted > 0 && a.stats().expired > 0, `exercised duplicates, eviction and expiry: ${JSON.stringify(a.stats())} (seed ${seed})`);
  const snap = a.snapshot();
  t.same(b.snapshot(), snap, 'identical snapshots');
  const c = new IdempotencyWindow();
  c.restore(snap);
  t.same(c.snapshot(), snap, 'restore then snapshot is the identity');
  t.same(c.stats(), a.stats());
  let differ = 0;
  for (let i = 0; i < 5000; i++) if (c.seen(key(i), 1) !== a.seen(key(i), 1)) differ++;
  t.equal(differ, 0, 'the restored window answers seen() like the original');
});

t.test('restore refuses malformed snapshots and leaves the window unchanged', async (t) => {
  const w = new IdempotencyWindow({ keysMax: 10 });
  for (let i = 0; i < 5; i++) w.remember(key(i * 0x1234567), i, 1000 + i);
  const snap = w.snapshot();
  const target = new IdempotencyWindow();
  target.remember(key(99), 0, 1);
  const before = target.snapshot();
  const bad: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['truncated', snap.subarray(0, snap.length - 1)],
    ['extended', Uint8Array.from([...snap, 0])],
    ['version', Uint8Array.from(snap, (b, i) => (i === 0 ? 2 : b))],
    ['count over keysMax', Uint8Array.from(snap, (b, i) => (i === 36 ? 4 : b))],
    ['time order', Uint8Array.from(snap, (b, i) => (i === 41 + 12 + 7 ? 0xff : b))],
    ['duplicate pair', Uint8Array.from([...snap.subarray(0, 41 + 80), ...snap.subarray(41 + 60, 41 + 80)])],
  ];
  for (const [what, bytes] of bad) t.equal(codeOf(() => target.restore(bytes)), 'ERR_CORRUPTION', what);
  t.same(target.snapshot(), before, 'unchanged after every refusal');
});

t.test('the last pair seen is reused by remember, never for another pair, and a malformed key is still refused', async (t) => {
  const w = new IdempotencyWindow({ keysMax: 100_000 });
  const ref = new Set<string>();
  const rand = new SeededRand(91);
  let wrong = 0;
  for (let i = 0; i < 20_000; i++) {
    // Neighbouring pairs: the same key with another part, another key with the same part.
    const k = key(rand.intn(50));
    const part = rand.intn(3);
    const other = rand.intn(2) === 0 ? [key(rand.intn(50)), part] : [k, rand.intn(3)];
    if (w.seen(k, part) !== ref.has(`${k}/${part}`)) wrong++;
    const [k2, p2] = other as [string, number];
    if (rand.intn(2) === 0) {
      if (w.remember(k2, p2, i) !== !ref.has(`${k2}/${p2}`)) wrong++;
      ref.add(`${k2}/${p2}`);
    } else {
      if (w.remember(k, part, i) !== !ref.has(`${k}/${part}`)) wrong++;
      ref.add(`${k}/${part}`);
    }
  }
  t.equal(wrong, 0, 'every answer as a plain set of pairs gives it');
  w.seen(key(1), 0);
  t.throws(() => w.seen('XYZ', 0), 'a malformed key is refused');
  t.throws(() => w.remember(key(1), -1, 5), 'a malformed part is refused right after a good pair');
});

t.test('the pair table answers as a list of pairs in window order, under a colliding hash, through growth, eviction and expiry', async (t) => {
  // A reference: the pairs in window order, looked up by a linear scan (what the window must answer).
  for (const [name, pairHash] of [
    ['the default hash (a random seed)', undefined],
    ['a seeded hash', seededPairHash(99)],
    ['a hash of 4 values', (hi: number, lo: number, part: number) => (hi ^ lo ^ part) & 3],
    ['a constant hash', () => 7],
  ] as const) {
    for (const seed of [5, 6, 7]) {
      const rand = new SeededRand(seed);
      const keysMax = 1100 + rand.intn(2000);
      const w = new IdempotencyWindow({ windowMs: 5000, keysMax, ...(pairHash === undefined ? {} : { pairHash }) });
      const ref: { k: string; part: number; at: number }[] = [];
      let high = 0;
      let wrong = 0;
      let now = 1_000_000;
      let evicted = 0;
      let expired = 0;
      // Keys whose halves differ in one or both words, the same key with other parts, and parts past 2^31.
      const keyOf = (): string => {
        const hi = rand.intn(3) === 0 ? 0xffff_fff0 + rand.intn(16) : rand.intn(40);
        return hi.toString(16).padStart(8, '0') + (rand.intn(4) === 0 ? 0x8000_0000 + rand.intn(8) : rand.intn(400)).toString(16).padStart(8, '0');
      };
      const steps = pairHash === undefined ? 20_000 : 4_000;
      let most = 0;
      for (let i = 0; i < steps; i++) {
        // A burst (eviction: the window fills within its time), then a steady rate (expiry), clocks jittering backwards.
        now += i < steps / 2 ? rand.intn(3) - 1 : rand.intn(20) - 4;
        const cutoff = now - 5000;
        let gone = 0;
        while (ref.length > 0 && (ref[0] as { at: number }).at <= cutoff) {
          ref.shift();
          gone++;
        }
        expired += gone;
        if (w.expire(now) !== gone) wrong++;
        const k = keyOf();
        const part = rand.intn(5) === 0 ? 0xffff_fffe + rand.intn(2) : rand.intn(3);
        const there = ref.some((p) => p.k === k && p.part === part);
        if (w.seen(k, part) !== there) wrong++;
        if (!there) {
          high = Math.max(high, now);
          while (ref.length >= keysMax) {
            ref.shift();
            evicted++;
          }
          ref.push({ k, part, at: high });
          most = Math.max(most, ref.length);
        }
        if (w.remember(k, part, now) === there) wrong++;
        // Now and then, ask about pairs at random: a remembered one must be found, a forgotten one must not.
        if (i % 7 === 0) {
          const p = ref[rand.intn(ref.length)] as { k: string; part: number };
          if (!w.seen(p.k, p.part)) wrong++;
          const q = { k: keyOf(), part: rand.intn(3) };
          if (w.seen(q.k, q.part) !== ref.some((r) => r.k === q.k && r.part === q.part)) wrong++;
        }
      }
      t.equal(wrong, 0, `${name}, seed ${seed}: every answer is the list's`);
      t.same(w.stats(), { keys: ref.length, evicted, expired, highWaterMs: high }, `${name}, seed ${seed}: counters`);
      t.ok(evicted > 0 && expired > 0 && most > RING_FIRST_TEST, `${name}, seed ${seed}: exercised eviction (${evicted}), expiry (${expired}) and growth (${most} pairs)`);
      // The snapshot lists the pairs in window order, key halves big-endian, as the string keys did.
      const snap = w.snapshot();
      const v = new DataView(snap.buffer, snap.byteOffset, snap.byteLength);
      let order = 0;
      ref.forEach((p, j) => {
        const at = 41 + 20 * j;
        const k = v.getBigUint64(at).toString(16).padStart(16, '0');
        if (k !== p.k || v.getUint32(at + 8) !== p.part || Number(v.getBigUint64(at + 12)) !== p.at) order++;
      });
      t.equal(order, 0, `${name}, seed ${seed}: the snapshot is the list`);
      const r = new IdempotencyWindow(pairHash === undefined ? {} : { pairHash });
      r.restore(snap);
      t.same(r.snapshot(), snap, `${name}, seed ${seed}: restored`);
      let differ = 0;
      for (const p of ref) if (!r.seen(p.k, p.part)) differ++;
      t.equal(differ, 0, `${name}, seed ${seed}: the restored window finds every pair`);
    }
  }
});

t.test('a key of the wrong length or with characters outside lower-case hex is refused, as before', async (t) => {
  const w = new IdempotencyWindow();
  for (const bad of ['', '0123456789abcde', '0123456789abcdef0', '0123456789ABCDEF', '0123456789abcdeg', ' 123456789abcdef', '0123456789abcde/'])
    t.throws(() => w.seen(bad, 0), JSON.stringify(bad));
  t.notOk(w.seen('0123456789abcdef', 0xffff_ffff));
  t.throws(() => w.seen('0123456789abcdef', 2 ** 32), 'a part past u32');
});

t.test('the pair hash depends on its seed, so slots cannot be computed outside the process', async (t) => {
  const rand = new SeededRand(31);
  const a = seededPairHash(1);
  const b = seededPairHash(2);
  let same = 0;
  const slotsA = new Set<number>();
  for (let i = 0; i < 1000; i++) {
    const [hi, lo, part] = [rand.intn(2 ** 31), rand.intn(2 ** 31), rand.intn(16)];
    if (a(hi, lo, part) === b(hi, lo, part)) same++;
    slotsA.add(a(hi, lo, part) & 1023);
  }
  t.ok(same <= 2, `two seeds hash alike at most by chance (${same} of 1000)`);
  t.ok(slotsA.size > 550, `a seeded hash spreads pairs over the slots (${slotsA.size} of 1024 slots for 1000 pairs)`);
  const c = randomPairHash();
  const d = randomPairHash();
  let sameRandom = 0;
  for (let i = 0; i < 100; i++) if (c(i, i + 1, 0) === d(i, i + 1, 0)) sameRandom++;
  t.ok(sameRandom <= 1, `two windows draw different seeds (${sameRandom} of 100 alike)`);
});
