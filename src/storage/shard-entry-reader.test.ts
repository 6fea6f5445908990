import t from 'tap';
import { SeededRand } from '../fs/seeded-rand.js';
import { StorageLimits } from '../limits.js';
import { randomRows, seededEntry } from './rows-test-util.js';
import { decodeShardEntry, decodeStoredEntry, encodeShardEntry } from './shard-entry.js';
import type { ShardEntry } from './shard-entry.js';
import { codeOf } from './storage-test-util.js';
import { WireReader } from './wire-reader.js';
import { realisticLogs } from './logs/log-test-util.js';

/** randomEntry is an entry of any shape and one of three tenants; a third of them are realistic logs (repeating keys and values). */
function randomEntry(rand: SeededRand): ShardEntry {
  const tenant = ['default', 'acme', 'globex'][rand.intn(3)] as string;
  const n = 1 + rand.intn(8);
  const shape = rand.intn(3);
  const rows = shape === 0 ? { spans: [], points: [], logs: realisticLogs(rand, n, tenant) } : randomRows(rand, { spans: rand.intn(2) * n, points: rand.intn(2) * n, logs: shape === 1 ? n : 0, tenant });
  return seededEntry(rand, tenant, rows);
}

/** print renders a decoded entry with its ids in hex, so that two decodes compare by value and a changed id byte shows. */
function print(e: ShardEntry): string {
  return JSON.stringify(e, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? `0x${Buffer.from(v).toString('hex')}` : v));
}

/** corrupt flips a few bytes of an encoded entry (most of them then fail to decode). */
function corrupt(rand: SeededRand, bytes: Uint8Array): Uint8Array {
  const out = Uint8Array.from(bytes);
  for (let f = 0; f < 1 + rand.intn(3); f++) out[rand.intn(out.length)] = rand.intn(256);
  return out;
}

/**
 * sharingDisagreement decodes a sequence of entries (some corrupt) with
 * `decode`, keeping every result as a head does, and names the first
 * difference from the reference, a fresh reader per entry: at decode time
 * (same rows, or the same error code), and again once the whole sequence
 * is decoded (a later decode must not change an earlier entry's rows,
 * which share its reader's id slab and interned values). Null when none.
 */
function sharingDisagreement(seed: number, entries: number, decode: (b: Uint8Array) => ShardEntry): string | null {
  const rand = new SeededRand(seed);
  const kept: { i: number; decoded: ShardEntry; printed: string }[] = [];
  for (let i = 0; i < entries; i++) {
    const good = encodeShardEntry(randomEntry(rand));
    const bytes = rand.intn(8) === 0 ? corrupt(rand, good) : good;
    const refCode = codeOf(() => decodeStoredEntry(bytes, new WireReader('stored')));
    const code = codeOf(() => decode(bytes));
    if (code !== refCode) return `entry ${i}: ${code}, reference ${refCode}`;
    if (code !== 'ok') continue;
    const decoded = decode(bytes);
    const printed = print(decodeStoredEntry(bytes, new WireReader('stored')));
    if (print(decoded) !== printed) return `entry ${i}: rows differ from a fresh reader's`;
    kept.push({ i, decoded, printed });
  }
  for (const k of kept) if (print(k.decoded) !== k.printed) return `entry ${k.i}: changed by later decodes`;
  return null;
}

t.test('decodeShardEntry with its shared reader: the rows of a fresh reader, unchanged by later decodes', async (t) => {
  const entries = 3 * StorageLimits.storedReaderEntriesMax + 17;
  t.equal(sharingDisagreement(101, entries, decodeShardEntry), null, `${entries} entries, seed 101 (the reader replaced 3 times)`);
  t.equal(sharingDisagreement(102, entries, decodeShardEntry), null, `${entries} entries, seed 102`);
});

t.test('the shared reader shares interned values between entries', async (t) => {
  // Four decodes in a row cross at most one reader boundary (storedReaderEntriesMax >= 4), so one of the two pairs is
  // decoded by one reader: its second entry's attributes are objects of its first entry.
  t.ok(StorageLimits.storedReaderEntriesMax >= 4, 'a reader decodes at least four entries');
  const rand = new SeededRand(103);
  const logsEntry = (): ShardEntry => {
    const e = randomEntry(rand);
    return { ...e, spans: [], points: [], logs: realisticLogs(rand, 8, e.tenant) };
  };
  const [a, b, c, d] = [logsEntry(), logsEntry(), logsEntry(), logsEntry()].map((e) => decodeShardEntry(encodeShardEntry(e))) as [ShardEntry, ShardEntry, ShardEntry, ShardEntry];
  const sharedOf = (x: ShardEntry, y: ShardEntry): number => y.logs.flatMap((row) => row.attributes).filter((kv) => x.logs.some((r) => r.attributes.includes(kv))).length;
  const shared = Math.max(sharedOf(a, b), sharedOf(c, d));
  t.ok(shared > 0, `${shared} attributes of a second entry are objects of the first one`);
  // The reference shares nothing between entries.
  const fresh = [logsEntry(), logsEntry()].map((e) => decodeStoredEntry(encodeShardEntry(e), new WireReader('stored'))) as [ShardEntry, ShardEntry];
  t.equal(sharedOf(fresh[0], fresh[1]), 0, 'fresh readers share no attribute objects');
});

t.test('the checker catches a planted reader that reuses its id slab from the start for every entry', async (t) => {
  /** SlabRewinder copies every entry's ids from the start of one buffer, as a shared reader that rewound its slab per entry would. */
  class SlabRewinder extends WireReader {
    readonly #slab = new Uint8Array(StorageLimits.idSlabBytes);
    #at = 0;
    rewind(): void {
      this.#at = 0;
    }

    override id(v: unknown, what: string, length: number, optional: boolean): Uint8Array {
      const checked = super.id(v, what, length, optional);
      if (checked.length === 0) return checked;
      const out = this.#slab.subarray(this.#at, this.#at + checked.length);
      out.set(checked);
      this.#at += checked.length;
      return out;
    }
  }
  const planted = new SlabRewinder('stored');
  const d = sharingDisagreement(104, 40, (b) => {
    planted.rewind();
    return decodeStoredEntry(b, planted);
  });
  t.match(d ?? '', /changed by later decodes/, `caught: ${d ?? 'not caught'}`);
});
