import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import type { SpanRow } from '../rows.js';
import { randomRows } from '../rows-test-util.js';
import { decodeShardEntry, encodeShardEntry, SHARD_ENTRY_VERSION } from '../shard-entry.js';
import { canon, codeOf } from '../storage-test-util.js';
import { EntrySpanRanges, locateEntrySpans } from './entry-spans.js';
import { SpanHead } from './span-head.js';
import { SpanEntryColumns } from '../span-entry.js';
import { estimateSpanBytes } from './trace-store.js';
import { realisticSpans } from './traces-test-util.js';

// ---------------------------------------------------------------- harness

function entryOf(tenant: string, spans: readonly SpanRow[], extra: Partial<{ points: ReturnType<typeof randomRows>['points']; logs: ReturnType<typeof randomRows>['logs'] }> = {}): Uint8Array {
  return encodeShardEntry({
    version: SHARD_ENTRY_VERSION,
    tenant,
    idempotencyKey: '00000000000000ab',
    part: 0,
    parts: 1,
    leaderTimeMs: 1,
    spans,
    points: extra.points ?? [],
    logs: extra.logs ?? [],
  });
}

/** keep adds an entry's spans to a head as TraceStore.addEntry does. */
function keep(head: SpanHead, bytes: Uint8Array): { rows: readonly SpanRow[] } {
  const rows = decodeShardEntry(bytes).spans;
  const c = new SpanEntryColumns();
  locateEntrySpans(bytes, rows.length, c);
  rows.forEach((s, i) => c.setRow(i, s));
  head.add(bytes, c);
  return { rows };
}

/** headRows reads every span of a head back, trace by trace, in head order. */
function headRows(head: SpanHead): SpanRow[] {
  const r = head.reader();
  const out: SpanRow[] = [];
  for (const [, tn] of head.traces()) for (let s = head.firstSlot(tn); s !== -1; s = head.nextSlot(s)) out.push(r.row(s));
  return out;
}

// ---------------------------------------------------------------- entry-spans.ts

t.test('locateEntrySpans finds exactly the spans decodeShardEntry reads, with points and logs around them', (t) => {
  const rand = new SeededRand(301);
  for (let round = 0; round < 40; round++) {
    const rows = randomRows(rand, { spans: 1 + rand.intn(30), points: rand.intn(5), logs: rand.intn(5), tenant: 'acme' });
    const bytes = entryOf('acme', rows.spans, rows);
    const decoded = decodeShardEntry(bytes).spans;
    const ranges = new EntrySpanRanges();
    locateEntrySpans(bytes, decoded.length, ranges);
    if (ranges.count !== decoded.length) t.fail(`round ${round}: ${ranges.count} ranges for ${decoded.length} spans`);
    // Each range holds one span alone: a head made of them reads the same rows back.
    const head = new SpanHead('acme');
    keep(head, bytes);
    const back = new Map(headRows(head).map((s) => [canon([s.traceId, s.spanId]), canon(s)]));
    const want = new Map(decoded.map((s) => [canon([s.traceId, s.spanId]), canon(s)]));
    if (canon([...back].sort()) !== canon([...want].sort())) t.fail(`round ${round}: the head reads back other spans than the entry holds`);
  }
  t.pass('40 random entries read back span for span');
  t.end();
});

t.test('locateEntrySpans refuses what it cannot walk with ERR_CORRUPTION and never reads past the bytes', (t) => {
  const spans = realisticSpans(new SeededRand(302), 2, 'acme');
  const bytes = entryOf('acme', spans);
  const ranges = new EntrySpanRanges();
  t.equal(codeOf(() => locateEntrySpans(bytes, spans.length + 1, ranges)), 'ERR_CORRUPTION', 'a span count other than the decoder found');
  t.equal(codeOf(() => locateEntrySpans(bytes.subarray(0, bytes.length - 3), spans.length, ranges)), 'ERR_CORRUPTION', 'truncated bytes');
  const unused = new Uint8Array(bytes); // A copy (Buffer.prototype.slice would be a view).
  unused[0] = 0xc1; // The one byte msgpack never uses.
  t.equal(codeOf(() => locateEntrySpans(unused, spans.length, ranges)), 'ERR_CORRUPTION', 'a byte that is no msgpack value');
  t.equal(codeOf(() => locateEntrySpans(bytes, spans.length, ranges)), 'ok', 'the intact entry walks');
  t.end();
});

// ---------------------------------------------------------------- span-head.ts

t.test('a head reads back the latest version of every span, in first-seen order per trace', (t) => {
  const spans = realisticSpans(new SeededRand(303), 40, 'acme');
  const head = new SpanHead('acme');
  keep(head, entryOf('acme', spans.slice(0, 300)));
  keep(head, entryOf('acme', spans.slice(300)));
  t.equal(head.spanCount, spans.length, 'every span has a slot');
  t.equal(head.traceCount, 40, 'every trace has a number');
  t.same(headRows(head).map(canon), spans.map(canon), 'the rows read back are the rows added, in order (the generator keeps traces together)');
  // Rewrite every third span of the first trace: last write wins, the slot keeps its place.
  const firstTrace = spans.filter((s) => Buffer.compare(s.traceId, (spans[0] as SpanRow).traceId) === 0);
  const rewritten = firstTrace.filter((_, i) => i % 3 === 0).map((s) => ({ ...s, name: `${s.name} v2`, status: { code: 2 as const, message: 'v2' } }));
  keep(head, entryOf('acme', [...rewritten].reverse()));
  t.equal(head.spanCount, spans.length, 'a rewrite adds no slot');
  const v2 = new Map(rewritten.map((s) => [canon(s.spanId), canon(s)]));
  t.same(
    headRows(head).map(canon),
    spans.map((s) => v2.get(canon(s.spanId)) ?? canon(s)),
    'rewritten spans read as their new version, each at its old place',
  );
  const slot = head.slotOf(String.fromCharCode(...(spans[0] as SpanRow).traceId), (spans[0] as SpanRow).spanId);
  t.ok(slot >= 0 && head.statusCode(slot) === 2 && head.kind(slot) === (spans[0] as SpanRow).kind, 'the columns follow the latest version');
  t.equal(head.slotOf(String.fromCharCode(...(spans[0] as SpanRow).traceId), new Uint8Array(8)), -1, 'an unknown span id has no slot');
  t.end();
});

t.test('a head past many table and column growths still finds every span once', (t) => {
  const spans = realisticSpans(new SeededRand(304), 400, 'acme');
  const head = new SpanHead('acme');
  for (let at = 0; at < spans.length; at += 500) keep(head, entryOf('acme', spans.slice(at, at + 500)));
  keep(head, entryOf('acme', spans.slice(0, 500))); // Every span of the first entry again.
  t.equal(head.spanCount, spans.length, 'one slot per distinct span');
  let missing = 0;
  for (const s of spans) if (head.slotOf(String.fromCharCode(...s.traceId), s.spanId) === -1) missing++;
  t.equal(missing, 0, 'every span is found by (trace, span id)');
  t.end();
});

t.test('planted bug: a changed byte in a span of the head is caught when the span is read, not returned', (t) => {
  const spans = realisticSpans(new SeededRand(305), 3, 'acme');
  const head = new SpanHead('acme');
  keep(head, entryOf('acme', spans));
  t.equal(headRows(head).length, spans.length, 'intact: every span reads');
  const slotOf = (s: SpanRow): number => head.slotOf(String.fromCharCode(...s.traceId), s.spanId);
  // Flip one bit in the middle of the second span's bytes: still valid msgpack in most places, so only the CRC can tell.
  const { span, context } = head.recordViews(slotOf(spans[1] as SpanRow));
  const at = span.length >> 1;
  span[at] = (span[at] as number) ^ 0x01;
  const r = head.reader();
  t.equal(codeOf(() => r.row(slotOf(spans[1] as SpanRow))), 'ERR_CORRUPTION', 'the changed span is ERR_CORRUPTION');
  t.equal(codeOf(() => r.row(slotOf(spans[0] as SpanRow))), 'ok', 'the span before it still reads');
  span[at] = (span[at] as number) ^ 0x01;
  t.equal(codeOf(() => head.reader().row(slotOf(spans[1] as SpanRow))), 'ok', 'restored, it reads again');
  // The resources and scopes every span of the entry points into.
  context[2] = (context[2] as number) ^ 0x20;
  t.equal(codeOf(() => head.reader().row(slotOf(spans[0] as SpanRow))), 'ERR_CORRUPTION', 'a changed context byte is ERR_CORRUPTION too');
  t.end();
});

t.test('a head keeps its tenant on every row and counts what it holds', (t) => {
  const spans = realisticSpans(new SeededRand(306), 5, 'acme');
  const head = new SpanHead('acme');
  const empty = head.bytes();
  const bytes = entryOf('acme', spans);
  keep(head, bytes);
  t.ok(headRows(head).every((s) => s.tenant === 'acme'), 'rows carry the head tenant');
  t.ok(head.bytes() >= empty + bytes.length / 2, 'the held bytes count the copied span bytes');
  const before = head.bytes();
  keep(head, entryOf('acme', spans.slice(0, 1)));
  t.ok(head.bytes() > before, 'a rewrite holds more, not less: the old version stays until the head is dropped');
  t.equal(head.estimateSum, spans.reduce((n, s) => n + estimateSpanBytes(s), 0), 'the row estimate of the latest versions is kept for the flush');
  t.end();
});

t.test('entries larger than a slab, and many small ones, land in slabs and read back', (t) => {
  const spans = realisticSpans(new SeededRand(307), 700, 'acme');
  const head = new SpanHead('acme');
  keep(head, entryOf('acme', spans.slice(0, 9000))); // ~1.6 MB: larger than the first slabs.
  for (let at = 9000; at < spans.length; at += 7) keep(head, entryOf('acme', spans.slice(at, at + 7)));
  t.equal(head.spanCount, spans.length, 'every span has a slot');
  t.same(headRows(head).map(canon), spans.map(canon), 'every span reads back');
  t.end();
});
