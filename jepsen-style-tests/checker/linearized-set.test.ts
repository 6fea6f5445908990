import t from 'tap';
import { LinearizedSet, idHash } from './linearized-set.js';

t.test('set, clear and has track membership and count', async (t) => {
  const s = new LinearizedSet(100);
  s.set(0);
  s.set(31);
  s.set(32);
  s.set(99);
  t.equal(s.count, 4);
  t.ok(s.has(31) && s.has(32) && s.has(99));
  t.notOk(s.has(1));
  s.clear(31);
  t.notOk(s.has(31));
  t.equal(s.count, 3);
  t.throws(() => s.set(0), { code: 'ERR_INTERNAL' }, 'setting a set id is a bug');
  t.throws(() => s.clear(1), { code: 'ERR_INTERNAL' }, 'clearing an absent id is a bug');
  t.throws(() => s.set(100), { code: 'ERR_INTERNAL' }, 'ids are below size');
});

t.test('the hash depends only on the members, not on the order they were added', async (t) => {
  const a = new LinearizedSet(200);
  const b = new LinearizedSet(200);
  for (const id of [5, 70, 130, 199]) a.set(id);
  for (const id of [199, 3, 130, 70, 5]) b.set(id);
  b.clear(3);
  t.equal(a.hash, b.hash);
  b.clear(70);
  t.not(a.hash, b.hash);
  t.not(idHash(0), idHash(1));
  t.equal(new LinearizedSet(10).hash, 0, 'the empty set hashes to 0');
});

t.test('windows are canonical snapshots: equal sets match, different sets do not', async (t) => {
  const a = new LinearizedSet(130);
  for (let id = 0; id < 70; id++) a.set(id); // two full words and a partial one
  a.set(100);
  const w = a.window();
  t.equal(w.loWord, 2, 'the full words are not copied');
  t.equal(w.words.length, 2, 'the window spans words 2 and 3');
  const b = new LinearizedSet(130);
  b.set(100);
  for (let id = 69; id >= 0; id--) b.set(id);
  t.ok(b.matches(w), 'the same members built in another order match');
  b.clear(100);
  t.notOk(b.matches(w));
  b.set(101);
  t.notOk(b.matches(w));
  b.clear(101);
  b.set(100);
  b.clear(10);
  t.notOk(b.matches(w), 'a hole below the window does not match');
  a.set(101);
  t.notOk(a.matches(w), 'a snapshot does not change with its set');
  const empty = new LinearizedSet(64);
  t.same({ lo: empty.window().loWord, len: empty.window().words.length }, { lo: 0, len: 0 });
  for (let id = 0; id < 64; id++) empty.set(id);
  t.same({ lo: empty.window().loWord, len: empty.window().words.length }, { lo: 2, len: 0 }, 'a full set has no window');
});

t.test('includes is the subset test over windows', async (t) => {
  const small = new LinearizedSet(100);
  const big = new LinearizedSet(100);
  for (const id of [1, 40, 90]) small.set(id);
  for (const id of [1, 2, 40, 90, 95]) big.set(id);
  t.ok(big.includes(small.window()));
  t.notOk(small.includes(big.window()));
  t.ok(big.includes(new LinearizedSet(100).window()), 'everything includes the empty set');
  const full = new LinearizedSet(100);
  for (let id = 0; id < 64; id++) full.set(id);
  t.notOk(big.includes(full.window()), 'full words below the window must be full here too');
  for (let id = 0; id < 64; id++) if (!big.has(id)) big.set(id);
  t.ok(big.includes(full.window()));
});
