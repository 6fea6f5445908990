import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { ByteKeyTable, PART_RESOURCE, PART_SCOPE, RawIdentityMemo, rawIdentityHash } from './raw-identity-memo.js';

const enc = new TextEncoder();

/** keyBytes lays out name then attributes in one buffer and returns it with the ranges. */
function key(name: string, attrs: string): [Uint8Array, number, number, number, number] {
  const b = enc.encode(name + attrs);
  const n = enc.encode(name).length;
  return [b, 0, n, n, b.length];
}

t.test('distinct keys get distinct entries, equal keys the same, whatever the hash', async (t) => {
  for (const hash of [rawIdentityHash, (): number => 7]) {
    const m = new RawIdentityMemo(100, 1 << 20, hash);
    m.beginEntry(10, 2);
    const ten = m.tenant('acme');
    const r = m.part(PART_RESOURCE, enc.encode('host-1'), 0, 6);
    const s = m.part(PART_SCOPE, enc.encode('host-1'), 0, 6);
    t.not(r, s, 'a resource and a scope of the same bytes are different parts');
    t.equal(m.part(PART_RESOURCE, enc.encode('xhost-1'), 1, 7), r, 'a part is its bytes, wherever they are');
    const keys = [key('cpu', 'ab'), key('cpua', 'b'), key('cpu', 'ac'), key('mem', 'ab')];
    keys.forEach((k, id) => {
      t.equal(m.get(ten, r, s, 4, ...k), -1);
      m.set(id);
    });
    keys.forEach((k, id) => t.equal(m.get(ten, r, s, 4, ...k), id, `key ${id}`));
    t.equal(m.get(ten, r, s, 9, ...(keys[0] as [Uint8Array, number, number, number, number])), -1, 'another kind');
    t.equal(m.get(m.tenant('other'), r, s, 4, ...(keys[0] as [Uint8Array, number, number, number, number])), -1, 'another tenant');
  }
});

t.test('bounds: a full table remembers no more; beginEntry clears before an entry could overflow', async (t) => {
  const m = new RawIdentityMemo(4, 1 << 20);
  m.beginEntry(4, 1);
  const r = m.part(PART_RESOURCE, enc.encode('r'), 0, 1);
  for (let i = 0; i < 6; i++) {
    const k = key(`n${i}`, '');
    if (m.get(0, r, 0, 4, ...k) < 0) m.set(i);
  }
  t.equal(m.size, 4, 'at most entriesMax');
  m.beginEntry(1, 1);
  t.equal(m.size, 0, 'cleared: one more could not fit');
  const small = new ByteKeyTable(100, 8);
  const b = enc.encode('0123456789');
  t.ok(small.insert(1, 0, 0, 0, b, 0, 4, 4, 4, 1));
  t.notOk(small.insert(2, 0, 0, 0, b, 0, 5, 5, 5, 2), 'past keyBytesMax: not added');
  t.equal(small.find(2, 0, 0, 0, b, 0, 5, 5, 5), -1);
  t.equal(small.find(1, 0, 0, 0, b, 0, 4, 4, 4), 1);
});

t.test('a table grows through many keys and finds every one (random keys, seeded)', async (t) => {
  const rand = new SeededRand(17);
  const table = new ByteKeyTable(10_000, 1 << 20);
  const keys: Uint8Array[] = [];
  for (let i = 0; i < 5000; i++) {
    const b = rand.bytes(1 + rand.intn(12));
    const h = rawIdentityHash(0, 0, 0, b, 0, b.length, b.length, b.length);
    if (table.find(h, 0, 0, 0, b, 0, b.length, b.length, b.length) >= 0) continue; // A repeated random key.
    if (!table.insert(h, 0, 0, 0, b, 0, b.length, b.length, b.length, keys.length)) t.fail(`insert ${i}`);
    keys.push(b);
  }
  let wrong = 0;
  keys.forEach((b, i) => {
    if (table.find(rawIdentityHash(0, 0, 0, b, 0, b.length, b.length, b.length), 0, 0, 0, b, 0, b.length, b.length, b.length) !== i) wrong++;
  });
  t.equal(wrong, 0, `${keys.length} keys`);
});
