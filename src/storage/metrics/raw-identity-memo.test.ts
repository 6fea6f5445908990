import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { ByteKeyTable, PART_RESOURCE, PART_SCOPE, RawIdentityMemo, rawIdentityHash } from './raw-identity-memo.js';
import type { RawIdentityHash } from './raw-identity-memo.js';

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

/**
 * spread hashes n distinct keys shaped like a point's identity (a fixed name,
 * then attribute bytes that differ from key to key in 1 to 3 bytes placed at
 * every offset, word-aligned or in the tail) and counts the keys whose full
 * hash, and whose slot in a table of 4n slots, another key already had.
 */
function spread(hash: RawIdentityHash, n: number, seed: number): { sameHash: number; sameSlot: number } {
  const rand = new SeededRand(seed);
  const name = new TextEncoder().encode('\xa9system.cpu.time\xa0\xa1s');
  const hashes = new Set<number>();
  const slots = new Set<number>();
  const seen = new Set<string>();
  let sameHash = 0;
  let sameSlot = 0;
  const mask = 4 * n - 1;
  while (seen.size < n) {
    const len = 8 + rand.intn(40);
    const key = new Uint8Array(name.length + len);
    key.set(name);
    for (let i = name.length; i < key.length; i++) key[i] = 0x61 + (i % 7);
    const changed = 1 + rand.intn(3);
    for (let j = 0; j < changed; j++) key[name.length + rand.intn(len)] = rand.intn(256);
    const id = Buffer.from(key).toString('hex');
    if (seen.has(id)) continue;
    seen.add(id);
    const h = hash(0, 1, 2, key, 0, name.length, name.length, key.length);
    if (hashes.has(h)) sameHash++;
    hashes.add(h);
    if (slots.has(h & mask)) sameSlot++;
    slots.add(h & mask);
  }
  return { sameHash, sameSlot };
}

t.test('rawIdentityHash spreads near-equal keys over the slots; planted: a hash that skips the bytes after the last whole word is caught', async (t) => {
  const n = 4096;
  // Uniform hashing into 4n slots: about n - 4n(1 - e^(-1/4)) = 460 keys land on a taken slot; 600 leaves room for the draw.
  for (const seed of [21, 22]) {
    const s = spread(rawIdentityHash, n, seed);
    t.ok(s.sameHash <= 2, `seed ${seed}: ${s.sameHash} full-hash collisions among ${n} keys`);
    t.ok(s.sameSlot <= 600, `seed ${seed}: ${s.sameSlot} keys on a taken slot of ${4 * n}`);
  }
  const noTail: RawIdentityHash = (a, b, c, bytes, x0, x1, y0, y1) => rawIdentityHash(a, b, c, bytes, x0, x1, y0, y1 - ((y1 - y0) & 3));
  const planted = spread(noTail, n, 21);
  t.ok(planted.sameHash > 2 || planted.sameSlot > 600, `planted: ${planted.sameHash} full-hash collisions, ${planted.sameSlot} on a taken slot`);
});

t.test('keys at any offset of a shared buffer, of any length, differing in one byte anywhere, are told apart under a colliding hash (word and tail compare)', async (t) => {
  const rand = new SeededRand(23);
  const collide: RawIdentityHash = () => 7;
  for (let round = 0; round < 20; round++) {
    const m = new RawIdentityMemo(1000, 1 << 20, collide);
    const buf = rand.bytes(4096);
    const base = rand.bytes(1 + rand.intn(40));
    const n1 = rand.intn(base.length + 1);
    // Each key: the base bytes copied to a random offset of buf, with one byte changed (none for the first); remembered keys' copies in `kept`.
    const kept: Buffer[] = [];
    let wrong = 0;
    for (let i = 0; i < 24; i++) {
      const at = rand.intn(4096 - base.length);
      buf.set(base, at);
      if (i > 0) { const j = at + rand.intn(base.length); buf[j] = (buf[j] as number) ^ (1 + rand.intn(255)); }
      const bytes = Buffer.from(buf.subarray(at, at + base.length));
      const id = m.get(0, 0, 0, 0, buf, at, at + n1, at + n1, at + base.length);
      const same = kept.findIndex((k) => k.equals(bytes));
      if (same >= 0 ? id !== same : id !== -1) wrong++;
      if (id < 0) {
        m.set(kept.length);
        kept.push(bytes);
      }
    }
    t.equal(wrong, 0, `round ${round}: ${base.length} bytes, ranges of ${n1} and ${base.length - n1}, ${kept.length} distinct`);
  }
});
