/**
 * Scan.ascii with an AsciiMemo (issue 5, s17): readEntryHeader remembers the
 * last tenant and idempotency key it read. What a user relies on: every
 * entry's header reads as it would without the memo — a key that differs
 * from the previous one in any byte, a string of the same length with a
 * non-ASCII byte, an empty string and one longer than the memo keeps.
 */
import t from 'tap';
import { SeededRand } from '../fs/seeded-rand.js';
import { STORAGE_PACKR } from './storage-packr.js';
import { ASCII_MEMO_BYTES_MAX, AsciiMemo, Scan } from './entry-scan.js';
import { peekEntry } from './entry-header.js';
import { SHARD_ENTRY_VERSION } from './shard-entry.js';

/** strBytes is msgpack's encoding of `s` as a string (fixstr / str8 / str16), bytes as given (latin1: one byte per code unit). */
function strBytes(s: string): Uint8Array {
  const body = Buffer.from(s, 'latin1');
  const n = body.length;
  const head = n < 32 ? [0xa0 | n] : n < 256 ? [0xd9, n] : [0xda, n >> 8, n & 0xff];
  return new Uint8Array([...head, ...body]);
}

t.test('ascii with a memo reads what ascii without one reads, over seeded strings that repeat and differ by one byte', async (t) => {
  const rand = new SeededRand(7717);
  const memo = new AsciiMemo();
  const pool = ['default', 'tenant-a', 'tenant-b', '0123456789abcdef', '0123456789abcdee', '', 'x'.repeat(ASCII_MEMO_BYTES_MAX + 1)];
  let hits = 0;
  for (let i = 0; i < 2000; i++) {
    let s = pool[rand.intn(pool.length)] as string;
    const r = rand.intn(8);
    if (r === 0 && s.length > 0) {
      // One byte changed: maybe to another ASCII byte, maybe to a non-ASCII one.
      const k = rand.intn(s.length);
      s = s.slice(0, k) + String.fromCharCode(rand.intn(2) === 0 ? 0x61 + rand.intn(26) : 0x80 + rand.intn(128)) + s.slice(k + 1);
    }
    const bytes = strBytes(s);
    const before = memo.s;
    const a = new Scan(bytes).ascii(1024, memo);
    const b = new Scan(bytes).ascii(1024);
    const want = [...s].every((ch) => ch.charCodeAt(0) < 0x80) ? s : null;
    if (a !== want || b !== want) {
      t.fail(`draw ${i}: ${JSON.stringify(s)} read as ${JSON.stringify(a)} with the memo, ${JSON.stringify(b)} without`);
      return;
    }
    if (a !== null && a === before && s.length > 0) hits++;
  }
  t.ok(hits > 100, `${hits} reads answered by the memo`);
});

t.test('peekEntry reads each entry\'s own tenant and key when consecutive entries differ in one character', async (t) => {
  const header = (tenant: string, key: string): Uint8Array =>
    STORAGE_PACKR.pack([SHARD_ENTRY_VERSION, tenant, key, 0, 1, 1_790_000_000_000, [], [], [], [], []]);
  const cases: [string, string][] = [
    ['tenant-a', '0123456789abcdef'],
    ['tenant-b', '0123456789abcdef'],
    ['tenant-b', '0123456789abcdee'],
    ['tenant-b', '1123456789abcdee'],
    ['default', '1123456789abcdee'],
    ['default', '1123456789abcdee'],
  ];
  for (const [tenant, key] of cases) {
    const p = peekEntry(header(tenant, key));
    t.equal(p?.header.tenant, tenant, `tenant ${tenant}`);
    t.equal(p?.header.idempotencyKey, key, `key ${key}`);
  }
});

t.test('planted bug: a memo that takes a new string but keeps the old bytes is caught by the comparison above', async (t) => {
  // The bug: on a miss, memo.s and memo.length change but memo.bytes keep the previous string's bytes
  // (emulated by putting them back after each read). Reading the previous string again then answers the new one.
  const memo = new AsciiMemo();
  const keys = ['0123456789abcdef', '0123456789abcdee', '0123456789abcdef'];
  const wrong: string[] = [];
  keys.forEach((key, i) => {
    const kept = memo.bytes.slice();
    const a = new Scan(strBytes(key)).ascii(1024, memo);
    if (i > 0) memo.bytes.set(kept); // The first read fills the memo as it should; later ones lose their copy.
    if (a !== key) wrong.push(`${key} read as ${String(a)}`);
  });
  t.ok(wrong.length > 0, `caught: ${wrong.join('; ')}`);
});
