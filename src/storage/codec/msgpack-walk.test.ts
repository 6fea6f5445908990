import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { STORAGE_PACKR } from '../storage-packr.js';
import { MsgpackWalk } from './msgpack-walk.js';

// MsgpackWalk against msgpackr itself: values packed one after another are
// walked value by value, and every walk must stop exactly where the next
// packed value begins. Damaged bytes (cut anywhere, the unused byte 0xc1)
// are ERR_CORRUPTION, never a read outside the walk's bounds.

const SEED = Number(process.env.MSGPACK_WALK_SEED ?? 4242);

/** randomValue draws a value of every msgpack base type, with lengths across the 8/16/32-bit header boundaries. */
function randomValue(r: SeededRand, depth: number): unknown {
  const kind = r.intn(depth >= 2 ? 9 : 11); // containers two deep at most (300 x 300 values, not 300^3)
  switch (kind) {
    case 0:
      return null;
    case 1:
      return r.intn(2) === 0;
    case 2:
      return r.intn(256) - 128;
    case 3:
      return [0xff, 0x100, 0xffff, 0x10000, 0xffffffff, 2 ** 40, -(2 ** 31), -(2 ** 40)][r.intn(8)] as number;
    case 4:
      return r.intn(1000) / 7;
    case 5:
      return 'x'.repeat([0, 5, 31, 32, 255, 256, 70000][r.intn(7)] as number);
    case 6:
      return r.bytes([0, 1, 255, 256, 70000][r.intn(5)] as number);
    case 7:
      return BigInt(r.intn(1000)) * 2n ** 53n - 1n; // int 64 / uint 64, within 2^63
    case 8:
      return new Date(r.intn(2 ** 30) * 1000);
    case 9:
      return Array.from({ length: [0, 3, 15, 16, 300][r.intn(5)] as number }, () => randomValue(r, depth + 1));
    default: {
      const m = new Map<string, unknown>();
      const n = [0, 2, 15, 16, 40][r.intn(5)] as number;
      for (let i = 0; i < n; i++) m.set(`k${i}`, randomValue(r, depth + 1));
      return m;
    }
  }
}

/** packed answers the values packed one after another, and the offset where each begins. */
function packed(values: readonly unknown[]): { bytes: Uint8Array; starts: number[] } {
  const parts = values.map((v) => STORAGE_PACKR.pack(v));
  const starts: number[] = [];
  let at = 0;
  for (const p of parts) {
    starts.push(at);
    at += p.length;
  }
  const bytes = new Uint8Array(at);
  parts.forEach((p, i) => bytes.set(p, starts[i] as number));
  return { bytes, starts };
}

/** SkipOne passes over the one value at `pos` and answers where the next begins. */
type SkipOne = (bytes: Uint8Array, pos: number, end: number) => number;

const realSkip: SkipOne = (bytes, pos, end) => {
  const w = new MsgpackWalk(bytes, pos, end, 'test');
  w.skip();
  return w.pos;
};

/** firstMismatch walks seeded runs of packed values with `skipOne` and answers the first value it lands beside, or null. */
function firstMismatch(skipOne: SkipOne, seed: number): string | null {
  const r = new SeededRand(seed);
  for (let round = 0; round < 200; round++) {
    const values = Array.from({ length: 1 + r.intn(6) }, () => randomValue(r, 0));
    const { bytes, starts } = packed(values);
    let pos = 0;
    for (let i = 0; i < values.length; i++) {
      if (pos !== starts[i]) return `round ${round}: value ${i} found at ${pos}, msgpackr put it at ${starts[i]} (MSGPACK_WALK_SEED=${seed})`;
      pos = skipOne(bytes, pos, bytes.length);
    }
    if (pos !== bytes.length) return `round ${round}: the walk ended at ${pos} of ${bytes.length} (MSGPACK_WALK_SEED=${seed})`;
  }
  return null;
}

t.test('a walk stops where msgpackr began the next value, for every base type and header size', (t) => {
  t.equal(firstMismatch(realSkip, SEED), null);
  const whole = packed([[1, 2, 3], 'ab']);
  const w = new MsgpackWalk(whole.bytes, 0, whole.bytes.length, 'test');
  t.equal(w.arrayLength(), 3, 'arrayLength reads the header');
  w.skip(3);
  t.equal(w.pos, whole.starts[1], 'skip(count) passes that many values');
  t.throws(() => w.arrayLength(), { code: 'ERR_CORRUPTION' }, 'a string is not an array');
  t.end();
});

t.test('bytes cut anywhere, or holding 0xc1, are ERR_CORRUPTION and never read past the walk', (t) => {
  const r = new SeededRand(SEED + 1);
  // Small values only (a cut at every offset walks the bytes once per cut).
  const small: unknown[] = [];
  while (small.length < 12) {
    const v = randomValue(r, 1);
    if (STORAGE_PACKR.pack(v).length < 400) small.push(v);
  }
  const bytes = STORAGE_PACKR.pack([...small, new Map([['a', [1, 'two', 3.5, new Date(5)]]])]);
  let refused = 0;
  for (let cut = 0; cut < bytes.length; cut++) {
    const w = new MsgpackWalk(bytes, 0, cut, 'test');
    try {
      w.skip();
      t.fail(`cut at ${cut} of ${bytes.length} walked as whole`);
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_CORRUPTION') refused++;
      else t.fail(`cut at ${cut}: ${String(err)}`);
    }
    if (w.pos > cut) t.fail(`cut at ${cut}: the walk read to ${w.pos}`);
  }
  t.equal(refused, bytes.length, 'every cut refused');
  t.throws(() => new MsgpackWalk(Uint8Array.of(0x92, 0x01, 0xc1), 0, 3, 'test').skip(), { code: 'ERR_CORRUPTION', message: /0xc1/ });
  t.throws(() => new MsgpackWalk(Uint8Array.of(0xdd, 0xff, 0xff, 0xff, 0xff), 0, 5, 'test').skip(), { code: 'ERR_CORRUPTION', message: /more values than bytes/ });
  t.end();
});

t.test('planted bug: a walker that forgets the type byte of an ext value (dates) is caught by the comparison', (t) => {
  const forgetsExtType: SkipOne = (bytes, pos, end) => {
    const next = realSkip(bytes, pos, end);
    const t0 = bytes[pos] as number;
    const ext = t0 === 0xc7 || t0 === 0xc8 || t0 === 0xc9 || (t0 >= 0xd4 && t0 <= 0xd8);
    return ext ? next - 1 : next; // BUG: one byte short of the type byte.
  };
  t.match(firstMismatch(forgetsExtType, SEED), /MSGPACK_WALK_SEED/);
  t.end();
});
