/**
 * log-flush-labels.test.ts — a flush derives each row's stream labels once
 * and hands them to encodeLogBlock and encodeLogIndex (log-flush-write.ts);
 * given labels, both must write exactly the bytes they write without them,
 * over blocks of several pages, with streams whose label lists are equal in
 * value but not in identity, and the block's bytes are pinned (taken from
 * the encoder before labels were passed, main at 992b18e), as are the keys
 * and values of a whole tenant flush (writeTenantFlush, streamsOf's stream
 * tables included), and the line bytes the metas and stream tables count
 * (taken from the block's line column since s20) are each line's UTF-8
 * length.
 */
import { createHash } from 'node:crypto';
import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import type { KvWriteBatch } from '../shard/shard-db.js';
import { encodeLogBlock } from './log-block.js';
import { writeTenantFlush } from './log-flush-write.js';
import type { StreamLabel } from './log-line.js';
import { logLine, streamLabels } from './log-line.js';
import { LogKeySpace, decodeBlockMeta, decodeStreamTable } from './log-store-format.js';
import { realisticLogs } from './log-test-util.js';
import { encodeLogIndex } from './term-index-build.js';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex').slice(0, 16);

t.test('the block with labels given is the block without them, and the pinned one', async (t) => {
  const h = createHash('sha256');
  for (const seed of [1, 2, 3]) {
    const rows = realisticLogs(new SeededRand(seed), 5_000);
    const withLabels = encodeLogBlock(rows, undefined, rows.map(streamLabels));
    t.equal(sha(withLabels), sha(encodeLogBlock(rows)), `seed ${seed}: same bytes`);
    h.update(withLabels);
  }
  t.equal(h.digest('hex').slice(0, 16), '52ad29e9ebe41e6e', 'the pinned bytes');
});

t.test('small pages, labels equal in value but not identity: the same bytes', async (t) => {
  const rows = realisticLogs(new SeededRand(9), 3_000);
  // Copies of each row's labels, frozen like streamLabels' (every other row a copy of its own), and one mutable copy.
  const labels: (readonly StreamLabel[])[] = rows.map((r, i) => {
    const l = streamLabels(r);
    if (i % 2 === 0) return l;
    const copy = l.map((x) => ({ ...x }));
    return i % 3 === 0 ? copy : Object.freeze(copy);
  });
  for (const pageRows of [7, 256]) {
    t.equal(sha(encodeLogBlock(rows, pageRows, labels)), sha(encodeLogBlock(rows, pageRows)), `pageRows ${pageRows}`);
  }
  const idx = encodeLogIndex(rows, labels);
  const plain = encodeLogIndex(rows);
  t.equal(sha(idx.postings), sha(plain.postings), 'the index with labels given');
});

t.test('a whole tenant flush writes the pinned keys and values, index on and off', async (t) => {
  for (const [termIndex, pin] of [
    // Index on: re-pinned for index version 4 (positions coded short, branch logidx19; 9170019d8a582961 for version 3, branch logs17; 2158cf449ef19b06 before).
    [true, '61e3be152ed867ed'],
    [false, 'dc122ed1bb60f3c6'],
  ] as const) {
    const h = createHash('sha256');
    const batch = {
      put(k: Uint8Array, v: Uint8Array): void {
        h.update(k);
        h.update(v);
      },
    } as unknown as KvWriteBatch;
    for (const seed of [1, 2]) {
      // Every third row with a copy of its resource: its labels are equal in value to its stream's, not the same list.
      const rows = realisticLogs(new SeededRand(seed), 20_000).map((r, i) => (i % 3 === 0 ? { ...r, resource: { ...r.resource } } : r));
      h.update(JSON.stringify(await writeTenantFlush(batch, 'default', rows, seed, termIndex)));
    }
    t.equal(h.digest('hex').slice(0, 16), pin, `term index ${termIndex ? 'on' : 'off'}`);
  }
});

t.test('the metas and stream tables count each stream line bytes in UTF-8 (lines of 1-4 byte characters, rendered bodies)', async (t) => {
  const rand = new SeededRand(11);
  const chars = ['a', 'é', 'Σ', '€', '日', '😀'];
  const rows = realisticLogs(rand, 3_000).map((r, i) => {
    if (i % 7 === 0) return { ...r, body: { type: 'int' as const, value: BigInt(i) * 1_000_003n } };
    let s = '';
    for (let k = rand.intn(40); k >= 0; k--) s += chars[rand.intn(chars.length)] as string;
    return { ...r, body: { type: 'string' as const, value: s } };
  });
  // What each stream's lines weigh, by the definition (logLine's UTF-8 length).
  const want = new Map<string, number>();
  let wantTotal = 0;
  for (const r of rows) {
    const k = JSON.stringify(streamLabels(r));
    const n = Buffer.byteLength(logLine(r));
    want.set(k, (want.get(k) ?? 0) + n);
    wantTotal += n;
  }
  const got = new Map<string, number>();
  let metaTotal = 0;
  const batch = {
    put(k: Uint8Array, v: Uint8Array): void {
      if (k[0] === LogKeySpace.meta) metaTotal += decodeBlockMeta(v).lineBytes ?? Number.NaN;
      if (k[0] === LogKeySpace.streams) {
        for (const s of decodeStreamTable(v)) got.set(JSON.stringify(s.labels), (got.get(JSON.stringify(s.labels)) ?? 0) + (s.lineBytes ?? Number.NaN));
      }
    },
  } as unknown as KvWriteBatch;
  await writeTenantFlush(batch, 'default', rows, 1, true);
  t.ok(wantTotal > 3 * 3_000, 'multi-byte lines');
  t.equal(metaTotal, wantTotal, 'the metas: every line byte');
  t.same([...got.entries()].sort(), [...want.entries()].sort(), 'the stream tables: each stream line bytes');
});
