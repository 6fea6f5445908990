/**
 * log-count.ts — counting a shard's matching log rows without building
 * them (LogStore.countLogs): what a range aggregation over lines
 * (count_over_time, rate, bytes_over_time, bytes_rate) whose pipeline is
 * line filters only needs of each matching row — its stream, its time, its
 * line's bytes when asked, and its structured metadata only when it has
 * some (query/logql/range-count.ts turns that into per-step partials).
 *
 * Which rows: the same as LogStore.selectLogs with no limit over the same
 * query (time range inclusive at both ends, `=`/`!=` stream matchers by the
 * postings, the stream filter, the line test), from the heads and the
 * blocks, each record once: a block written from a head this read captured
 * is counted from the capture (as log-store.ts's reads). A block is pruned
 * by its meta's time, then by indexedCandidates (log-scan.ts: bloom,
 * postings, hint candidate rows), exactly as a read prunes it.
 *
 * What a matching block row costs: its time from the block's time column
 * (a number offset; no bigint), its stream id from its page's stream
 * section, one bit from its page's id and rest sections (log-count-page.ts:
 * does it carry metadata?), and, only when the query has a line test or
 * wants bytes, its page's line column. A row with metadata is built whole
 * (its page decoded, as a read would); no other row is. No row is held:
 * memory is the pages of one block at a time.
 *
 * The sink sees times as nanoseconds past q.startNs, as numbers: exact
 * because q.endNs − q.startNs < LOG_COUNT_SPAN_NS_MAX (2^53), asserted.
 */
import { assert } from '../../errors.js';
import { bucketOf, checkTimeRange } from './log-store-format.js';
import type { LogBlockId, LogBlockMeta } from './log-store-format.js';
import type { LogRow } from '../rows.js';
import type { KvRead } from '../shard/shard-db.js';
import type { ScanStats } from '../shard/signal-store.js';
import { decodeBlockStreams, decodePageStreams } from './log-block-decode.js';
import type { LogBlockReads } from './log-block-read.js';
import { pageMetadataRows } from './log-count-page.js';
import { logRowMatches } from './log-head.js';
import type { LineHintPlan } from './log-hints.js';
import { lineAdmits } from './log-hints.js';
import type { StreamLabel } from './log-line.js';
import { logLine, streamLabels } from './log-line.js';
import type { HeadView, LogScanQuery } from './log-scan.js';
import { blockMetaGroups, indexedCandidates, scanLogBlock } from './log-scan.js';
import type { NormalizedLogQuery, StreamMatcher } from './term-index.js';
import { normalizeLogQuery } from './term-index.js';

/** LOG_COUNT_SPAN_NS_MAX bounds endNs − startNs (exclusive) of a count: every row's offset from startNs is then an exact double. */
export const LOG_COUNT_SPAN_NS_MAX = 2 ** 53;

/** LogCountQuery is one count over a tenant's rows (see the file comment). */
export interface LogCountQuery {
  /** startNs and endNs bound the record time, both inclusive; endNs − startNs < LOG_COUNT_SPAN_NS_MAX. */
  readonly startNs: bigint;
  readonly endNs: bigint;
  readonly streamMatchers: readonly StreamMatcher[];
  /** streamFilter, when given, must hold for a row's stream labels (regex matchers); it is asked once per stream of a block. */
  readonly streamFilter?: (labels: readonly StreamLabel[]) => boolean;
  /** hints prune blocks and candidate rows (log-hints.ts, log-hint-rows.ts); with no line test, a row's line must also satisfy lineAdmits. */
  readonly hints: LineHintPlan | null;
  /** lineTest, when given, must hold for a row's line (exact); null: no line is decoded unless lineBytes. */
  readonly lineTest: ((line: string) => boolean) | null;
  /** lineBytes asks for each row's line's UTF-8 bytes (bytes_over_time). */
  readonly lineBytes: boolean;
}

/** LogCountSink receives every matching row once, in no particular order. */
export interface LogCountSink {
  /**
   * row: the row's stream labels (one list shared by a stream's rows of a
   * block or head), its time as nanoseconds past the query's startNs, its
   * line's UTF-8 bytes (0 unless lineBytes), and the row itself when it
   * carries structured metadata (attributes, a trace or span id), else null.
   */
  row(stream: readonly StreamLabel[], offsetNs: number, lineBytes: number, withMetadata: LogRow | null): void;
}

/** LogCountContext is what countLogRows needs of its store: the read's LevelDB and tenant, the block reads, the heads captured, its unindexed-row check, and a check between blocks (a deadline; it throws to stop). */
export interface LogCountContext {
  readonly kv: KvRead;
  readonly tenant: string;
  readonly reads: LogBlockReads;
  readonly views: readonly HeadView[];
  readonly unindexedRowMatches: (row: LogRow, nq: NormalizedLogQuery, minTimeNs: bigint, maxTimeNs: bigint) => boolean;
  readonly between?: () => void;
}

/** hasMetadata says whether a row carries structured metadata (what log-count-page.ts's pageMetadataRows marks). */
export function hasMetadata(row: LogRow): boolean {
  return row.attributes.length > 0 || row.traceId.length > 0 || row.spanId.length > 0;
}

/** countLogRows calls `sink.row` with every row of `tenant` that matches `q` (see the file comment). Fills `stats`. Throws ERR_INVALID_ARGUMENT, ERR_LIMIT_EXCEEDED, ERR_CORRUPTION. */
export async function countLogRows(c: LogCountContext, q: LogCountQuery, stats: ScanStats, sink: LogCountSink): Promise<void> {
  const { b0, b1 } = checkTimeRange(q.startNs, q.endNs);
  assert(q.endNs - q.startNs < BigInt(LOG_COUNT_SPAN_NS_MAX), 'a count spans less than 2^53 ns');
  const nq = normalizeLogQuery({ streamMatchers: q.streamMatchers, minTimeNs: q.startNs, maxTimeNs: q.endNs });
  const verdicts = new WeakMap<object, boolean>();
  const streamOk = (labels: readonly StreamLabel[]): boolean => {
    if (q.streamFilter === undefined) return true;
    let v = verdicts.get(labels);
    if (v === undefined) {
      v = q.streamFilter(labels);
      verdicts.set(labels, v);
    }
    return v;
  };
  const lineOk = (line: string): boolean => (q.lineTest !== null ? q.lineTest(line) : q.hints === null || lineAdmits(q.hints, line));
  const wantLine = q.lineTest !== null || q.lineBytes || q.hints !== null;
  // A row already built (a head's, an unindexed block's): every check on the row itself.
  const countRow = (row: LogRow): void => {
    const stream = streamLabels(row);
    if (!streamOk(stream)) return;
    const line = wantLine ? logLine(row) : '';
    if (wantLine && !lineOk(line)) return;
    sink.row(stream, Number(row.timeUnixNano - q.startNs), q.lineBytes ? Buffer.byteLength(line, 'utf8') : 0, hasMetadata(row) ? row : null);
  };

  for (const v of c.views) {
    for (let i = 0; i < v.count; i++) {
      const row = v.rows[i] as LogRow;
      stats.headRowsScanned++;
      const b = bucketOf(row.timeUnixNano);
      if (b < b0 || b > b1 || !logRowMatches(row, nq, q.startNs, q.endNs)) continue;
      countRow(row);
    }
  }
  const servedFromHead = (flushIndex: number): boolean => c.views.some((v) => v.flushIndex() === flushIndex);
  const groups = blockMetaGroups(c.kv, c.tenant, b0, b1, false, stats);
  for await (const g of groups) {
    for (const { id, meta } of g.blocks) {
      if (servedFromHead(id.flushIndex)) continue;
      c.between?.();
      await countBlock(c, id, meta, q, nq, stats, { streamOk, lineOk, wantLine, countRow }, sink);
    }
  }
}

interface RowChecks {
  readonly streamOk: (labels: readonly StreamLabel[]) => boolean;
  readonly lineOk: (line: string) => boolean;
  readonly wantLine: boolean;
  readonly countRow: (row: LogRow) => void;
}

/** countBlock counts one block's matching rows (see the file comment). */
async function countBlock(c: LogCountContext, id: LogBlockId, meta: LogBlockMeta, q: LogCountQuery, nq: NormalizedLogQuery, stats: ScanStats, k: RowChecks, sink: LogCountSink): Promise<void> {
  if (meta.maxTimeNs < q.startNs || meta.minTimeNs > q.endNs) {
    stats.blocksPrunedTime++;
    return;
  }
  if (meta.unindexed === true) {
    // Rows of a block without its index are built by the read's own path (every row checked), then counted.
    const scanQ: LogScanQuery = { startNs: q.startNs, endNs: q.endNs, direction: 'forward', limit: meta.rows };
    const cands = await scanLogBlock({ ...c }, id, meta, { streamMatchers: q.streamMatchers, minTimeNs: q.startNs, maxTimeNs: q.endNs }, nq, stats, meta.rows, false, scanQ);
    for (const cand of cands) k.countRow(cand.row as LogRow);
    return;
  }
  let cand = await indexedCandidates(c, id, meta, nq, stats, { hints: q.hints });
  if (cand === null) return;
  const bv = await c.reads.block(c.kv, c.tenant, id, meta, stats);
  stats.blocksScanned++;
  const opened = bv.opened;
  if (opened.minTimeNs < q.startNs || opened.maxTimeNs > q.endNs) cand = cand.filter(bv.times.inRange(q.startNs, q.endNs));
  if (cand.length === 0) return;
  const offsetOf = bv.times.offsetsFrom(q.startNs);
  const shared = decodeBlockStreams(opened);
  const size = opened.pageRows;
  for (let at = 0; at < cand.length; ) {
    const p = Math.floor((cand[at] as number) / size);
    const first = p * size;
    let end = at;
    while (end < cand.length && (cand[end] as number) < first + size) end++;
    const { streams, streamIds } = decodePageStreams(opened, p, shared);
    const withMeta = pageMetadataRows(opened, p);
    const metaRows: number[] = [];
    const metaBytes: number[] = [];
    for (let j = at; j < end; j++) {
      const o = cand[j] as number;
      const local = o - first;
      const stream = streams[streamIds[local] as number] as StreamLabel[];
      if (!k.streamOk(stream)) continue;
      let bytes = 0;
      if (k.wantLine) {
        const line = bv.line(o);
        if (!k.lineOk(line)) continue;
        if (q.lineBytes) bytes = Buffer.byteLength(line, 'utf8');
      }
      if (withMeta[local] === 1) {
        metaRows.push(o);
        metaBytes.push(bytes);
        continue;
      }
      sink.row(stream, offsetOf(o), bytes, null);
    }
    if (metaRows.length > 0) {
      const rows = bv.rowsAt(metaRows);
      rows.forEach((row, i) => {
        assert(hasMetadata(row), 'a row marked with metadata has some');
        sink.row(streamLabels(row), offsetOf(metaRows[i] as number), metaBytes[i] as number, row);
      });
    }
    at = end;
  }
}
