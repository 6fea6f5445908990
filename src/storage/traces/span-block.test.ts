import t from 'tap';
import { codeOf } from '../storage-test-util.js';
import { SeededRand } from '../../fs/seeded-rand.js';
import { BlockKind, openBlock, sealBlock } from '../block.js';
import { randomRows } from '../rows-test-util.js';
import type { SpanRow } from '../rows.js';
import { decodeSpanBlock, decodeSpanRows, encodeSpanBlock, openSpanBlock, readBlockColumns, serviceOf } from './span-block.js';
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
