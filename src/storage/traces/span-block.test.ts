import t from 'tap';
import { codeOf } from '../storage-test-util.js';
import { SeededRand } from '../../fs/seeded-rand.js';
import { BlockKind, openBlock, sealBlock } from '../block.js';
import { randomRows } from '../rows-test-util.js';
import type { SpanRow } from '../rows.js';
import type { BlockColumnName, SpanPage } from './span-block.js';
import {
  decodeSpanBlock,
  decodeSpanRows,
  decodeSpanRowsByPage,
  encodeSpanBlock,
  encodeSplitSpanBlock,
  isSplitHead,
  joinSplitBlock,
  openSpanBlock,
  openSplitHead,
  readBlockColumns,
  readSplitTraceSpans,
  readTraceIds,
  readTraceSpans,
  serviceOf,
  splitTracePages,
} from './span-block.js';
import { realisticSpans } from './traces-test-util.js';


t.test('random span blocks round-trip exactly and re-encode to the same bytes', async (t) => {
  const seed = 20261127;
  const rand = new SeededRand(seed);
  let rows = 0;
  for (let i = 0; i < 60; i++) {
    const { spans } = randomRows(rand, { spans: rand.intn(40), tenant: `tenant-${rand.intn(3)}` });
    const bytes = encodeSpanBlock(spans);
    const back = decodeSpanBlock(bytes);
    rows += back.length;
    t.same(back, spans, `block ${i} (seed ${seed})`);
    t.same(encodeSpanBlock(back), bytes, `block ${i} re-encodes byte-identically (seed ${seed})`);
  }
  t.ok(rows > 800, `checked ${rows} rows`);
});

t.test('realistic traces round-trip exactly', async (t) => {
  const seed = 77;
  const spans = realisticSpans(new SeededRand(seed), 200);
  t.same(decodeSpanBlock(encodeSpanBlock(spans)), spans, `seed ${seed}`);
});

t.test('an empty block round-trips', async (t) => {
  t.same(decodeSpanBlock(encodeSpanBlock([])), []);
});

t.test('readBlockColumns returns exactly the asked columns, equal to the rows', async (t) => {
  const seed = 31;
  const { spans } = randomRows(new SeededRand(seed), { spans: 50 });
  const bytes = encodeSpanBlock(spans);
  const cols = readBlockColumns(bytes, ['traceId', 'name', 'service', 'startTime', 'duration', 'status', 'kind']);
  t.equal(cols.rows, spans.length);
  t.same(cols.traceId, spans.map((s) => s.traceId));
  t.same(cols.name, spans.map((s) => s.name));
  t.same(cols.service, spans.map((s) => serviceOf(s.resource)));
  t.same(cols.startTime, spans.map((s) => s.startTimeUnixNano));
  t.same(cols.duration, spans.map((s) => s.endTimeUnixNano - s.startTimeUnixNano));
  t.same(Array.from(cols.status ?? []), spans.map((s) => s.status.code));
  t.same(Array.from(cols.kind ?? []), spans.map((s) => s.kind));
  t.equal(cols.spanId, undefined, 'a column not asked for is not decoded');
  const some = readBlockColumns(bytes, ['name']);
  t.same(Object.keys(some).sort(), ['name', 'rows']);
});

t.test('every truncation and every sampled bit flip is ERR_CORRUPTION, never data', async (t) => {
  const seed = 4242;
  const rand = new SeededRand(seed);
  const { spans } = randomRows(rand, { spans: 12 });
  const bytes = encodeSpanBlock(spans);
  const outcomes: Record<string, number> = {};
  for (let len = 0; len < bytes.length; len++) {
    const code = codeOf(() => decodeSpanBlock(bytes.subarray(0, len)));
    outcomes[code] = (outcomes[code] ?? 0) + 1;
  }
  for (let i = 0; i < 400; i++) {
    const flipped = Uint8Array.from(bytes);
    const bit = rand.intn(flipped.length * 8);
    flipped[bit >>> 3] = (flipped[bit >>> 3] as number) ^ (1 << (bit & 7));
    const code = codeOf(() => decodeSpanBlock(flipped));
    outcomes[code] = (outcomes[code] ?? 0) + 1;
    const colsCode = codeOf(() => readBlockColumns(flipped, ['name']));
    outcomes[colsCode] = (outcomes[colsCode] ?? 0) + 1;
  }
  t.same(Object.keys(outcomes), ['ERR_CORRUPTION'], `outcomes ${JSON.stringify(outcomes)} (seed ${seed})`);
});

t.test('spans of two tenants, or a short id, are refused as ERR_INVALID_ARGUMENT', async (t) => {
  const { spans } = randomRows(new SeededRand(3), { spans: 2 });
  const [a, b] = spans as [SpanRow, SpanRow];
  t.equal(codeOf(() => encodeSpanBlock([a, { ...b, tenant: 'other' }])), 'ERR_INVALID_ARGUMENT');
  t.equal(codeOf(() => encodeSpanBlock([{ ...a, traceId: new Uint8Array(15) }])), 'ERR_INVALID_ARGUMENT');
  t.equal(codeOf(() => encodeSpanBlock([{ ...a, parentSpanId: new Uint8Array(4) }])), 'ERR_INVALID_ARGUMENT');
});

// Bytes per span, printed by this test at the commit that added the key dictionary:
//   realistic (seed 77, 7963 spans): 90.0 B/span (shard-entry msgpack of the same spans: 182.7 B/span);
//     by column: rest 56.8, parentSpanId 8.5, spanId 8.0, startTime 5.5, duration 3.3, traceId 2.8, flags 2.0, others ~1 each.
//   randomRows (seed 9, 2000 spans): 283.9 B/span (shard entry 290.0), rest 212.0 of it.
t.test('bytes per span (printed)', async (t) => {
  const realistic = realisticSpans(new SeededRand(77), 500);
  const rb = encodeSpanBlock(realistic);
  const { spans } = randomRows(new SeededRand(9), { spans: 2000 });
  const xb = encodeSpanBlock(spans);
  t.comment(`realistic: ${realistic.length} spans, ${rb.length} B, ${(rb.length / realistic.length).toFixed(1)} B/span`);
  t.comment(`randomRows: ${spans.length} spans, ${xb.length} B, ${(xb.length / spans.length).toFixed(1)} B/span`);
  t.ok(rb.length / realistic.length < 400, 'a realistic span takes under 400 bytes');
});

t.test('resealed bit flips and truncations (checksum valid) are ERR_CORRUPTION or a decodable block, never another error', async (t) => {
  const seed = 5151;
  const rand = new SeededRand(seed);
  const outcomes: Record<string, number> = {};
  const tally = (bytes: Uint8Array): void => {
    const code = codeOf(() => {
      const rows = decodeSpanBlock(bytes);
      // A block that decodes must re-encode: its rows are valid spans.
      encodeSpanBlock(rows);
    });
    outcomes[code] = (outcomes[code] ?? 0) + 1;
  };
  for (let i = 0; i < 20; i++) {
    const { spans } = randomRows(rand, { spans: 1 + rand.intn(8) });
    const payload = openBlock(encodeSpanBlock(spans), BlockKind.spans);
    for (let j = 0; j < 100; j++) {
      const flipped = Uint8Array.from(payload);
      const bit = rand.intn(flipped.length * 8);
      flipped[bit >>> 3] = (flipped[bit >>> 3] as number) ^ (1 << (bit & 7));
      tally(sealBlock(BlockKind.spans, flipped));
    }
    for (let j = 0; j < 20; j++) tally(sealBlock(BlockKind.spans, payload.subarray(0, rand.intn(payload.length))));
  }
  t.same(Object.keys(outcomes).filter((k) => k !== 'ok' && k !== 'ERR_CORRUPTION'), [], `outcomes ${JSON.stringify(outcomes)} (seed ${seed})`);
  t.ok((outcomes.ERR_CORRUPTION ?? 0) > 0, `some flips are caught by structure alone (seed ${seed})`);
});

t.test('decodeSpanRows decodes exactly the asked rows, in the asked order', async (t) => {
  const seed = 91;
  const rand = new SeededRand(seed);
  for (let i = 0; i < 20; i++) {
    const { spans } = randomRows(rand, { spans: 1 + rand.intn(60), tenant: 'acme' });
    const view = openSpanBlock(encodeSpanBlock(spans));
    const rows = Array.from({ length: rand.intn(spans.length + 1) }, () => rand.intn(spans.length));
    t.same(
      decodeSpanRows(view, rows),
      rows.map((r) => spans[r]),
      `block ${i}: rows ${rows.join(',')} (seed ${seed})`,
    );
  }
  const spans = realisticSpans(new SeededRand(seed), 20);
  const view = openSpanBlock(encodeSpanBlock(spans));
  t.same(decodeSpanRows(view, [spans.length - 1, 0]), [spans[spans.length - 1], spans[0]], 'realistic rows, last and first');
  t.equal(codeOf(() => decodeSpanRows(view, [spans.length])), 'ERR_INTERNAL', 'a row past the block is a programmer error');
});

t.test('decodeSpanRowsByPage: its parts, concatenated, are decodeSpanRows; one part a page the rows touch', async (t) => {
  const seed = 92;
  const rand = new SeededRand(seed);
  for (let i = 0; i < 30; i++) {
    const { spans } = randomRows(rand, { spans: 1 + rand.intn(200), tenant: 'acme' });
    const pageRows = 1 + rand.intn(40);
    const view = openSpanBlock(encodeSpanBlock(spans, { pageRows }));
    const picked = new Set(Array.from({ length: rand.intn(spans.length + 1) }, () => rand.intn(spans.length)));
    const rows = [...picked].sort((a, b) => a - b);
    const parts = [...decodeSpanRowsByPage(view, rows)];
    t.same(parts.flat(), decodeSpanRows(view, rows), `block ${i}: ${rows.length} rows, pages of ${pageRows} (seed ${seed})`);
    t.equal(parts.length, new Set(rows.map((r) => Math.floor(r / pageRows))).size, 'one part a page');
    // Not ascending: one part, decodeSpanRows's own.
    const shuffled = [...rows].reverse();
    t.same([...decodeSpanRowsByPage(view, shuffled)].flat(), decodeSpanRows(view, shuffled), 'rows in any order decode alike');
  }
  const spans = realisticSpans(new SeededRand(seed), 20);
  const v1 = openSpanBlock(encodeSpanBlock(spans, { formatVersion: 1 }));
  t.same([...decodeSpanRowsByPage(v1, [0, 5, 9])], [decodeSpanRows(v1, [0, 5, 9])], 'format 1: one part');
  t.same([...decodeSpanRowsByPage(v1, [])], [], 'no rows: no part');
});

/** previousLookup is traceById's block read before format 2: open and check the whole block, then decode the trace's rows. */
function previousLookup(bytes: Uint8Array, traceId: Uint8Array): SpanRow[] {
  const view = openSpanBlock(bytes);
  const { dict, ids } = readTraceIds(view);
  const at = dict.findIndex((id) => Buffer.compare(id, traceId) === 0);
  const rows: number[] = [];
  for (let i = 0; i < ids.length; i++) if (ids[i] === at) rows.push(i);
  return at < 0 ? [] : decodeSpanRows(view, rows);
}

/** tracedRows is randomRows' spans spread over `traces` trace ids, grouped by trace (as a flush writes them) or shuffled. */
function tracedRows(rand: SeededRand, spans: number, traces: number, grouped: boolean): SpanRow[] {
  const ids = Array.from({ length: traces }, () => rand.bytes(16));
  const rows = randomRows(rand, { spans, tenant: 'acme' }).spans.map((s) => ({ ...s, traceId: ids[rand.intn(traces)] as Uint8Array }));
  if (!grouped) return rows;
  const order = new Map(ids.map((id, i) => [Buffer.from(id).toString('hex'), i]));
  return rows.sort((a, b) => (order.get(Buffer.from(a.traceId).toString('hex')) as number) - (order.get(Buffer.from(b.traceId).toString('hex')) as number));
}

t.test('differential: a paged lookup returns what the whole-block lookup of a format-1 block returned', async (t) => {
  const seed = 6061;
  const rand = new SeededRand(seed);
  let lookups = 0;
  for (let i = 0; i < 8; i++) {
    const spans = i % 4 === 3 ? realisticSpans(rand, 1 + rand.intn(8), 'acme') : tracedRows(rand, 1 + rand.intn(60), 1 + rand.intn(10), i % 2 === 0);
    const pageRows = 1 + rand.intn(20);
    const v1 = encodeSpanBlock(spans, { formatVersion: 1 });
    const v2 = encodeSpanBlock(spans, { pageRows });
    t.same(decodeSpanBlock(v2), decodeSpanBlock(v1), `block ${i}: both formats decode to the same rows (seed ${seed})`);
    const ids = new Map(spans.map((s) => [Buffer.from(s.traceId).toString('hex'), s.traceId]));
    ids.set('absent', rand.bytes(16));
    for (const id of ids.values()) {
      const want = previousLookup(v1, id);
      t.same(readTraceSpans(v2, id).spans, want, `block ${i}, pages of ${pageRows}: trace ${Buffer.from(id).toString('hex')} (seed ${seed})`);
      t.same(readTraceSpans(v1, id).spans, want, `block ${i}: a format-1 block still answers`);
      lookups++;
    }
  }
  t.ok(lookups > 30, `${lookups} lookups compared`);
});

t.test('a format-1 block (written before paging) still reads through every reader', async (t) => {
  const spans = realisticSpans(new SeededRand(17), 40);
  const v1 = encodeSpanBlock(spans, { formatVersion: 1 });
  const v2 = encodeSpanBlock(spans, { pageRows: 16 });
  t.equal(openBlock(v1, BlockKind.spans)[0], 1, 'format version byte 1');
  t.equal(openBlock(v2, BlockKind.spans)[0], 2, 'format version byte 2');
  t.same(decodeSpanBlock(v1), spans);
  t.equal(openSpanBlock(v1).paged, false);
  t.ok(openSpanBlock(v2).pages.length > 2, 'the paged block has pages');
  const names: BlockColumnName[] = ['traceId', 'spanId', 'name', 'service', 'startTime', 'duration', 'status', 'kind'];
  t.same(readBlockColumns(v2, names), readBlockColumns(v1, names), 'every column reads the same from both formats');
  const id = (spans[spans.length - 1] as SpanRow).traceId;
  t.same(readTraceSpans(v1, id).spans, readTraceSpans(v2, id).spans);
  t.ok(readTraceSpans(v2, id).checkedBytes < v2.length / 2, 'a paged lookup checks a fraction of the block');
  t.equal(readTraceSpans(v1, id).checkedBytes, v1.length, 'a format-1 lookup checks all of it');
});

t.test('planted corruption: a flipped byte in a page is ERR_CORRUPTION for its traces, and no flip ever returns wrong rows', async (t) => {
  const seed = 7071;
  const rand = new SeededRand(seed);
  const spans = realisticSpans(rand, 24, 'acme');
  const bytes = encodeSpanBlock(spans, { pageRows: 32 });
  const view = openSpanBlock(bytes);
  // Plant: one byte in the middle of page 1's name chunk.
  const page = view.pages[1] as SpanPage;
  const chunk = page.chunks[5] as Uint8Array;
  const at = chunk.byteOffset - bytes.byteOffset + (chunk.length >> 1);
  const planted = Uint8Array.from(bytes);
  planted[at] = (planted[at] as number) ^ 0x40;
  const inPage = (spans[page.firstRow] as SpanRow).traceId;
  const err = codeOf(() => readTraceSpans(planted, inPage));
  t.equal(err, 'ERR_CORRUPTION', 'a trace of the corrupted page is refused');
  const other = spans.find((s, i) => i >= 3 * 32 && Buffer.compare(s.traceId, (spans[3 * 32 - 1] as SpanRow).traceId) !== 0) as SpanRow;
  t.same(readTraceSpans(planted, other.traceId).spans, previousLookup(bytes, other.traceId), 'a trace of another page still reads (only its pages are checked)');
  t.equal(codeOf(() => decodeSpanBlock(planted)), 'ERR_CORRUPTION', 'a whole-block read refuses it too');
  // Sampled flips anywhere: a lookup either refuses with ERR_CORRUPTION or returns exactly the stored rows.
  const ids = [...new Map(spans.map((s) => [Buffer.from(s.traceId).toString('hex'), s.traceId])).values()];
  const outcomes: Record<string, number> = {};
  for (let i = 0; i < 150; i++) {
    const flipped = Uint8Array.from(bytes);
    const bit = rand.intn(flipped.length * 8);
    flipped[bit >>> 3] = (flipped[bit >>> 3] as number) ^ (1 << (bit & 7));
    const id = ids[rand.intn(ids.length)] as Uint8Array;
    const code = codeOf(() => {
      const got = readTraceSpans(flipped, id).spans;
      if (JSON.stringify(got, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) !== JSON.stringify(previousLookup(bytes, id), (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))) throw new Error('wrong rows');
    });
    outcomes[code] = (outcomes[code] ?? 0) + 1;
  }
  t.same(Object.keys(outcomes).filter((k) => k !== 'ok' && k !== 'ERR_CORRUPTION'), [], `outcomes ${JSON.stringify(outcomes)} (seed ${seed})`);
  t.ok((outcomes.ERR_CORRUPTION ?? 0) > 0 && (outcomes.ok ?? 0) > 0, `flips outside the trace's pages leave it readable (seed ${seed})`);
});

/** splitLookup reads one trace from a format-3 block the way the store does: the head, then only the trace's pages. */
function splitLookup(head: Uint8Array, pages: readonly (Uint8Array | undefined)[], id: Uint8Array): SpanRow[] {
  const h = openSplitHead(head);
  const at = splitTracePages(h, id);
  if (at === null) return [];
  return readSplitTraceSpans(h, id, pages.slice(at.first, at.last + 1)).spans;
}

t.test('differential: a split block (format 3) reads what its format-2 block reads, whole and by trace', async (t) => {
  const seed = 9091;
  const rand = new SeededRand(seed);
  let lookups = 0;
  for (let i = 0; i < 10; i++) {
    const spans = i % 3 === 2 ? realisticSpans(rand, 1 + rand.intn(12), 'acme') : tracedRows(rand, 1 + rand.intn(80), 1 + rand.intn(12), i % 2 === 0);
    const pageRows = 1 + rand.intn(24);
    const v2 = encodeSpanBlock(spans, { pageRows });
    const split = encodeSplitSpanBlock(spans, { pageRows });
    t.ok(isSplitHead(split.head) && !isSplitHead(v2), 'the head says format 3, a whole block does not');
    t.equal(split.pages.length, Math.ceil(spans.length / pageRows), `block ${i}: one value per page`);
    const joined = joinSplitBlock(openSplitHead(split.head), split.pages);
    t.same(decodeSpanRows(joined, Array.from({ length: spans.length }, (_, r) => r)), spans, `block ${i}: the joined block decodes to the rows (seed ${seed})`);
    const names: BlockColumnName[] = ['traceId', 'spanId', 'name', 'service', 'startTime', 'duration', 'status', 'kind'];
    t.same(readBlockColumns(joined, names), readBlockColumns(v2, names), `block ${i}: every column reads as format 2's`);
    const ids = new Map(spans.map((s) => [Buffer.from(s.traceId).toString('hex'), s.traceId]));
    ids.set('absent', rand.bytes(16));
    for (const id of ids.values()) {
      t.same(splitLookup(split.head, split.pages, id), readTraceSpans(v2, id).spans, `block ${i}: trace ${Buffer.from(id).toString('hex')} (seed ${seed})`);
      lookups++;
    }
  }
  t.ok(lookups > 40, `${lookups} lookups compared`);
});

t.test('a split block lookup needs only its trace\'s pages: the others may be absent', async (t) => {
  const spans = realisticSpans(new SeededRand(23), 30, 'acme');
  const split = encodeSplitSpanBlock(spans, { pageRows: 16 });
  t.ok(split.pages.length >= 4, 'several pages');
  const id = (spans[spans.length - 1] as SpanRow).traceId;
  const h = openSplitHead(split.head);
  const at = splitTracePages(h, id);
  const n = spans.filter((s) => Buffer.compare(s.traceId, id) === 0).length;
  t.ok(at !== null && at.last < split.pages.length && at.last - at.first <= Math.ceil(n / 16), 'a trace sits on the pages its rows need, plus one at most');
  const sparse = split.pages.map((p, i) => (at !== null && i >= at.first && i <= at.last ? p : undefined));
  t.same(splitLookup(split.head, sparse, id), spans.filter((s) => Buffer.compare(s.traceId, id) === 0));
  const headBytes = split.head.length;
  const total = headBytes + split.pages.reduce((n, p) => n + p.length, 0);
  t.ok(headBytes < total / 3, `the head is ${headBytes} of ${total} bytes`);
});

t.test('planted corruption in a split block: a flipped page byte, a missing page, a swapped page and a flipped head are ERR_CORRUPTION', async (t) => {
  const spans = realisticSpans(new SeededRand(29), 30, 'acme');
  const split = encodeSplitSpanBlock(spans, { pageRows: 16 });
  const h = openSplitHead(split.head);
  const id = (spans[0] as SpanRow).traceId;
  const at = splitTracePages(h, id);
  t.ok(at !== null && at.first === 0, 'the first trace is on page 0');
  const flipped = split.pages.map((p) => Uint8Array.from(p));
  const p0 = flipped[0] as Uint8Array;
  p0[p0.length >> 1] = (p0[p0.length >> 1] as number) ^ 0x10;
  t.equal(codeOf(() => splitLookup(split.head, flipped, id)), 'ERR_CORRUPTION', 'a flipped byte in the trace\'s page');
  t.equal(codeOf(() => joinSplitBlock(h, flipped)), 'ERR_CORRUPTION', 'a whole-block read of it');
  const missing = split.pages.map((p, i) => (i === 1 ? undefined : p));
  t.equal(codeOf(() => joinSplitBlock(h, missing)), 'ERR_CORRUPTION', 'a missing page');
  t.equal(codeOf(() => joinSplitBlock(h, split.pages.slice(1))), 'ERR_CORRUPTION', 'a page too few');
  const swapped = [split.pages[1], split.pages[0], ...split.pages.slice(2)];
  t.equal(codeOf(() => joinSplitBlock(h, swapped)), 'ERR_CORRUPTION', 'two pages swapped');
  t.equal(codeOf(() => splitLookup(split.head, swapped, id)), 'ERR_CORRUPTION', 'a lookup given the wrong page');
  for (let i = 0; i < 40; i++) {
    const head = Uint8Array.from(split.head);
    const bit = (i * 997) % (head.length * 8);
    head[bit >>> 3] = (head[bit >>> 3] as number) ^ (1 << (bit & 7));
    const code = codeOf(() => openSplitHead(head));
    if (code !== 'ERR_CORRUPTION') t.fail(`head bit ${bit}: ${code}`);
  }
  t.pass('every sampled head flip is ERR_CORRUPTION');
  t.same(splitLookup(split.head, split.pages, id), spans.filter((s) => Buffer.compare(s.traceId, id) === 0), 'the intact block reads');
});
