/**
 * block-write.test.ts — writeBlockByPages (a flush's block written from one
 * page of decoded rows at a time) puts the same keys and the same bytes, in
 * the same order, as writeBlock (the whole block's rows at once), for seeded
 * span sets of every shape a flush cuts (one row, a page, a page and a row,
 * blocks of thousands of rows, skipped keys, skipped value keys, ties in
 * start and span id) and every write layout; a planted difference in one
 * page's rows is caught.
 */
import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { ByteWriter } from '../codec/varint.js';
import type { SpanRow } from '../rows.js';
import { KvWriteBatch } from '../shard/shard-db.js';
import type { KvRead } from '../shard/shard-db.js';
import type { FlushContext } from '../shard/signal-store.js';
import { assert } from '../../errors.js';
import { ShardDbLimits, SpanPageLimits, StoreLimits } from '../../limits.js';
import type { TraceWriteLayout } from './block-write.js';
import { writeBlockByPages } from './block-write.js';
import type { FillKind } from './flush-cache-fill.js';
import { encodePageFilters, encodePageTerms } from './page-filters.js';
import { encodeSplitSpanBlock } from './span-block.js';
import { idKey } from './span-head.js';
import { decodeSpanBlockIndex, encodeSpanBlockIndex } from './span-index.js';
import type { BlockMeta, BlockRef } from './trace-keys.js';
import { TraceKeySpace as K, blockKey, encodeBlockMeta, encodeTraceEntry, pageKey, traceEntryKey } from './trace-keys.js';
import { encodeTraceSummaries, summarizeBlockTraces } from './trace-summaries.js';
import { customerSpans } from './page-filters-test-util.js';
import { bucketOf } from './trace-keys.js';
import { realisticSpans } from './traces-test-util.js';

/**
 * writeBlock puts one block, its index, its page filters, its trace
 * summaries, its trace entries and its meta into ctx.batch, laid out as
 * `layout` says; `sole(traceId)` says no other block holds the trace (the
 * summaries' flag); `note`, when given, is told the head and the page
 * filters put (flush-cache-fill.ts keeps them for the cache). Returns the
 * bytes (meta counted as index), and the meta written with its key's and
 * value's bytes (block-meta-table.ts keeps it). This is the
 * whole-block writer the flush used until s19 (block-write.ts's
 * writeBlockByPages replaced it), kept here as the reference whose bytes
 * the page-at-a-time writer must equal.
 */
function writeBlock(
  w: ByteWriter,
  layout: TraceWriteLayout,
  ctx: FlushContext,
  tenant: string,
  ref: BlockRef,
  spans: readonly SpanRow[],
  sole: (traceId: Uint8Array) => boolean,
  note?: (kind: FillKind, key: Uint8Array, bytes: Uint8Array) => void,
): { dataBytes: number; indexBytes: number; meta: BlockMeta; metaBytes: number } {
    assert(spans.length >= 1 && spans.length <= StoreLimits.blockRowsMax, 'a block holds 1 ..= blockRowsMax spans');
    const bk = blockKey(K.block, tenant, ref);
    // Format 3: the head under the block key, each page under its own key (a lookup reads only its pages).
    const block = encodeSplitSpanBlock(spans);
    assert(block.head.length <= ShardDbLimits.valueBytesMax, 'a span block head fits one LevelDB value');
    ctx.batch.put(bk, block.head);
    note?.('h', bk, block.head);
    let dataBytes = bk.length + block.head.length;
    assert(block.pages.length <= 0xffff, 'page numbers fit a u16');
    block.pages.forEach((page, p) => {
      const pk = pageKey(tenant, ref, p);
      ctx.batch.put(pk, page);
      dataBytes += pk.length + page.length;
    });
    const ik = blockKey(K.index, tenant, ref);
    // Page filters of version 3 (page-filters.ts) hold the skipped-key terms for the block and page by
    // page, and the skipped keys, in place of the index's block-level skipped-terms bloom; the layout
    // 'blockBloom' writes version 1 beside that bloom, as before (tests' older blocks).
    const legacy = layout === 'blockBloom';
    const index = encodeSpanBlockIndex(spans, { skippedTermsFilter: legacy });
    ctx.batch.put(ik, index);
    let indexBytes = ik.length + index.length;
    const paged = spans.length > SpanPageLimits.pageRowsDefault;
    const skipped = decodeSpanBlockIndex(index);
    let filters: Uint8Array | null;
    if (legacy) filters = paged ? encodePageFilters(w, spans, SpanPageLimits.pageRowsDefault, skipped) : null;
    else filters = encodePageTerms(w, spans, SpanPageLimits.pageRowsDefault, skipped, layout === 'pageTermsV2' ? 2 : 3, dataBytes);
    if (filters !== null) {
      const fk = blockKey(K.pageFilters, tenant, ref);
      assert(filters.length <= ShardDbLimits.valueBytesMax, 'a block page filters value fits one LevelDB value');
      ctx.batch.put(fk, filters);
      note?.('p', fk, filters);
      indexBytes += fk.length + filters.length;
    }
    // The trace summaries (trace-summaries.ts) let a search settle a one-block trace without its
    // pages. They copy span fields, so they count as the block's data, as Tempo's trace-level
    // columns (root service and name, start, duration) are part of its parquet blocks.
    // NB: counted as index instead, index/data would be about 15% (4.5 B/span of summaries),
    // over the storage issue's 10% target; the flush test's 10% check relies on this choice.
    const sk = blockKey(K.summaries, tenant, ref);
    const sv = encodeTraceSummaries(w, summarizeBlockTraces(spans, sole));
    assert(sv.length <= ShardDbLimits.valueBytesMax, 'a block trace summary table fits one LevelDB value');
    ctx.batch.put(sk, sv);
    dataBytes += sk.length + sv.length;
    const traces = new Map<string, { id: Uint8Array; spans: number; minStartNs: bigint; maxEndNs: bigint; pages: { first: number; last: number } }>();
    // Rows are stored in `spans` order, in pages of pageRowsDefault rows (encodeSplitSpanBlock).
    const pageRows = SpanPageLimits.pageRowsDefault;
    let row = 0;
    let minStartNs = spans[0]?.startTimeUnixNano as bigint;
    let maxStartNs = minStartNs;
    let maxEndNs = 0n;
    for (const s of spans) {
      if (s.startTimeUnixNano < minStartNs) minStartNs = s.startTimeUnixNano;
      if (s.startTimeUnixNano > maxStartNs) maxStartNs = s.startTimeUnixNano;
      if (s.endTimeUnixNano > maxEndNs) maxEndNs = s.endTimeUnixNano;
      const tk = idKey(s.traceId);
      const t = traces.get(tk);
      const page = Math.floor(row++ / pageRows);
      if (t === undefined) traces.set(tk, { id: s.traceId, spans: 1, minStartNs: s.startTimeUnixNano, maxEndNs: s.endTimeUnixNano, pages: { first: page, last: page } });
      else {
        t.spans++;
        t.pages.last = page;
        if (s.startTimeUnixNano < t.minStartNs) t.minStartNs = s.startTimeUnixNano;
        if (s.endTimeUnixNano > t.maxEndNs) t.maxEndNs = s.endTimeUnixNano;
      }
    }
    for (const t of traces.values()) {
      const tk = traceEntryKey(tenant, t.id, ref);
      const tv = encodeTraceEntry(w, ref.bucket, t);
      ctx.batch.put(tk, tv);
      indexBytes += tk.length + tv.length;
    }
    // No marker yet: a later flush that writes one sets the flag (#markMetas).
    const meta: BlockMeta = { rows: spans.length, traces: traces.size, dataBytes, indexBytes, minStartNs, maxStartNs, maxEndNs, marked: false };
    const mk = blockKey(K.meta, tenant, ref);
    const mv = encodeBlockMeta(w, meta);
    ctx.batch.put(mk, mv);
    return { dataBytes, indexBytes: indexBytes + mk.length + mv.length, meta, metaBytes: mk.length + mv.length };
}

const PAGE = SpanPageLimits.pageRowsDefault;
/** FILTERS_SPACE is the hex of the page filters' key space byte (a put of page filters starts with it). */
const FILTERS_SPACE = K.pageFilters.toString(16).padStart(2, '0');
const LAYOUTS: readonly TraceWriteLayout[] = ['pageTerms', 'pageTermsV2', 'blockBloom'];

/** variedSpans adds what realisticSpans lacks: doubles and arrays (value terms, some skipped), keys skipped late in a block, parentless spans and ties in start and span id. */
function variedSpans(rand: SeededRand, traces: number): SpanRow[] {
  const spans = customerSpans(rand, traces);
  return spans.map((s, i) => {
    const extra = [
      { key: 'latency.ms', value: { type: 'double' as const, value: rand.intn(400) / 4 } },
      // Keys skipped late, pages into a block: a new value every few rows, and a value too long to index now and then.
      { key: 'batch.id', value: { type: 'string' as const, value: `b${Math.floor(i / 12)}` } },
      { key: 'batch.weight', value: { type: 'double' as const, value: Math.floor(i / 9) + 0.25 } },
      { key: 'note', value: { type: 'string' as const, value: rand.intn(700) === 0 ? 'x'.repeat(300) : 'short' } },
      { key: 'retry.codes', value: { type: 'array' as const, values: [{ type: 'int' as const, value: BigInt(rand.intn(9)) }, { type: 'double' as const, value: rand.intn(3) + 0.5 }] } },
    ];
    const prev = spans[i - 1];
    // A few spans share the previous span's start and id (a duplicate the summaries order stably), a few lose their parent.
    const tie = prev !== undefined && idEq(prev.traceId, s.traceId) && rand.intn(20) === 0;
    return {
      ...s,
      attributes: [...s.attributes, ...extra],
      parentSpanId: rand.intn(15) === 0 ? new Uint8Array(0) : s.parentSpanId,
      ...(tie ? { spanId: prev.spanId, startTimeUnixNano: prev.startTimeUnixNano } : {}),
    };
  });
}

function idEq(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

function ctxOf(batch: KvWriteBatch): FlushContext {
  // Neither writer reads the store: kv is never touched.
  return { batch, kv: null as unknown as KvRead, flushIndex: 7 };
}

/** refOf names a block of `spans` in the bucket of their first start (the flush's blocks hold one bucket). */
function refOf(spans: readonly SpanRow[]): { bucket: number; flushIndex: number; part: number } {
  return { bucket: bucketOf((spans[0] as SpanRow).startTimeUnixNano), flushIndex: 7, part: 1 };
}

const sole = (id: Uint8Array): boolean => ((id[0] as number) & 1) === 0;

interface Written {
  readonly ops: string[];
  readonly report: string;
}

function written(batch: KvWriteBatch, r: ReturnType<typeof writeBlock>): Written {
  const ops = batch.ops.map((o) => `${o.type} ${Buffer.from(o.key).toString('hex')} ${o.value === undefined ? '' : Buffer.from(o.value).toString('hex')}`);
  const report = JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  return { ops, report };
}

function whole(spans: readonly SpanRow[], layout: TraceWriteLayout): Written {
  const batch = new KvWriteBatch();
  const r = writeBlock(new ByteWriter(), layout, ctxOf(batch), 'acme', refOf(spans), spans, sole);
  return written(batch, r);
}

function byPages(spans: readonly SpanRow[], layout: TraceWriteLayout, change?: (p: number, rows: SpanRow[]) => SpanRow[]): { w: Written; asked: number[] } {
  const batch = new KvWriteBatch();
  const asked: number[] = [];
  const pageOf = (p: number): SpanRow[] => {
    asked.push(p);
    // Copies, as the head's reader decodes new rows each time.
    const rows = spans.slice(p * PAGE, (p + 1) * PAGE).map((s) => ({ ...s }));
    return change === undefined ? rows : change(p, rows);
  };
  const r = writeBlockByPages(new ByteWriter(), layout, ctxOf(batch), 'acme', refOf(spans), spans.length, pageOf, sole);
  return { w: written(batch, r), asked };
}

/** firstDifference is the first op (or the report) where two writes differ, or null. */
function firstDifference(a: Written, b: Written): string | null {
  if (a.ops.length !== b.ops.length) return `ops ${a.ops.length} vs ${b.ops.length}`;
  for (let i = 0; i < a.ops.length; i++) if (a.ops[i] !== b.ops[i]) return `op ${i}`;
  return a.report === b.report ? null : 'report';
}

t.test('writeBlockByPages puts writeBlock\'s bytes for seeded blocks of every shape and layout', (t) => {
  let blocks = 0;
  let withFilters = 0;
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    const rand = new SeededRand(seed);
    const spans = seed % 2 === 0 ? variedSpans(rand, 400) : realisticSpans(rand, 400, 'acme');
    // Windows as a flush cuts them: one row, a page, a page and a row, and larger blocks from different offsets.
    const windows = [1, PAGE, PAGE + 1, 1000 + rand.intn(300), Math.min(spans.length - 500, 4000)];
    for (const rows of windows) {
      const from = rand.intn(spans.length - rows);
      const block = spans.slice(from, from + rows);
      for (const layout of LAYOUTS) {
        const a = whole(block, layout);
        const b = byPages(block, layout);
        const d = firstDifference(a, b.w);
        if (d !== null) t.fail(`seed ${seed}, ${rows} rows, ${layout}: differs at ${d}`);
        const pages = Math.ceil(rows / PAGE);
        // Pages are asked in order, once each (the page filters' items come from the index builder).
        t.same(b.asked, Array.from({ length: pages }, (_, p) => p), 'each page decoded once, in order');
        if (a.ops.some((o) => o.startsWith(`put ${FILTERS_SPACE}`))) withFilters++;
        blocks++;
      }
    }
  }
  t.equal(blocks, 90, 'every seeded block compared');
  t.ok(withFilters > 30, `many blocks carry page filters (skipped keys, late-skipped ones too), so those are compared too (${withFilters})`);
  t.end();
});

t.test('planted: one changed attribute value in one page is caught by the comparison', (t) => {
  const rand = new SeededRand(11);
  const block = variedSpans(rand, 300).slice(0, 3 * PAGE + 17);
  for (const layout of LAYOUTS) {
    const a = whole(block, layout);
    t.equal(firstDifference(a, byPages(block, layout).w), null, `${layout}: equal without the plant`);
    const planted = byPages(block, layout, (p, rows) => {
      if (p !== 2) return rows;
      const s = rows[5] as SpanRow;
      rows[5] = { ...s, attributes: s.attributes.map((kv) => (kv.key === 'http.method' ? { key: kv.key, value: { type: 'string' as const, value: 'PLANTED' } } : kv)) };
      return rows;
    });
    t.not(firstDifference(a, planted.w), null, `${layout}: the planted page differs`);
  }
  t.end();
});

t.test('writeBlockByPages refuses a page of the wrong size', (t) => {
  const rand = new SeededRand(12);
  const block = realisticSpans(rand, 40, 'acme').slice(0, PAGE + 3);
  const batch = new KvWriteBatch();
  t.throws(() => writeBlockByPages(new ByteWriter(), 'pageTerms', ctxOf(batch), 'acme', refOf(block), block.length, (p) => block.slice(p * PAGE, p * PAGE + 2), sole), /page/);
  t.end();
});
