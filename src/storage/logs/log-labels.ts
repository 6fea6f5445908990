/**
 * log-labels.ts — the label reads of the logs store (Loki /labels,
 * /label/{name}/values, /series): answered from the label-pair keys (0x34)
 * and the blocks' stream tables (0x35) of the buckets in the time range,
 * never from the blocks, plus the store's head through a visitor.
 *
 * Semantics: bucket granularity. A label (or stream) counts when some
 * record of a bucket that overlaps [startNs, endNs] has it; that is what the
 * keys can tell without opening blocks. Results are sorted and bounded by
 * LogStoreLimits.labelResultsMax (past it: ERR_LIMIT_EXCEEDED). ScanStats:
 * bytesRead counts the keys and values these reads scan (label keys carry
 * their data in the key).
 */
import { OtlpdbError, assert } from '../../errors.js';
import { LogStoreLimits } from '../../limits.js';
import type { LogRow } from '../rows.js';
import { prefixEnd } from '../shard/keys.js';
import type { KvEntry, KvRead } from '../shard/shard-db.js';
import type { ScanStats } from '../shard/signal-store.js';
import { streamKey } from './log-block.js';
import type { StreamLabel } from './log-line.js';
import { logLine, streamLabels } from './log-line.js';
import { matchesStream } from './log-head.js';
import { LogKeySpace, bucketKey, checkTimeRange, decodeStreamTable, labelNamePrefix, parseBlockKey, parseKeyBucket, parseLabelEntry } from './log-store-format.js';
import type { LogTimeRange } from './log-store-format.js';
import type { StreamMatcher } from './term-index.js';
import { normalizeLogQuery } from './term-index.js';

/** HeadVisitor calls `f` with every head record of the tenant in buckets [b0, b1] (the store counts them as scanned). */
export type HeadVisitor = (b0: number, b1: number, f: (row: LogRow) => void) => void;

function tooMany(what: string): OtlpdbError {
  return new OtlpdbError('ERR_LIMIT_EXCEEDED', `more than LogStoreLimits.labelResultsMax (${LogStoreLimits.labelResultsMax}) ${what}`);
}

/** firstKey returns the first entry in [gte, lt), or null. */
async function firstKey(kv: KvRead, gte: Uint8Array, lt: Uint8Array, stats: ScanStats): Promise<KvEntry | null> {
  for await (const page of kv.pages({ gte, lt, limit: 1 }, 1)) {
    const e = page[0];
    if (e !== undefined) {
      stats.bytesRead += e.key.length + e.value.length;
      return e;
    }
  }
  return null;
}

/**
 * readLabelNames lists the stream label names of `tenant` in the buckets that
 * overlap the range (sorted). It reads label keys only, one seek per
 * (bucket, name). ERR_LIMIT_EXCEEDED past LogStoreLimits.labelResultsMax.
 */
export async function readLabelNames(kv: KvRead, tenant: string, range: LogTimeRange, stats: ScanStats, visitHead: HeadVisitor): Promise<string[]> {
  const { b0, b1 } = checkTimeRange(range.startNs, range.endNs);
  const names = new Set<string>();
  const add = (n: string): void => {
    names.add(n);
    if (names.size > LogStoreLimits.labelResultsMax) throw tooMany('label names');
  };
  visitHead(b0, b1, (row) => {
    for (const l of streamLabels(row)) add(l.name);
  });
  const end = bucketKey(LogKeySpace.label, tenant, b1 + 1);
  let cursor = bucketKey(LogKeySpace.label, tenant, b0);
  for (;;) {
    const e = await firstKey(kv, cursor, end, stats);
    if (e === null) break;
    const p = parseLabelEntry(e.key, e.value, tenant);
    add(p.name);
    // Skip the rest of this name in this bucket; a cut name (value present) may share its cut prefix, so step by one key.
    cursor = e.value.length === 0 ? nextPrefix(labelNamePrefix(tenant, p.bucket, p.name)) : successor(e.key);
  }
  return [...names].sort();
}

/**
 * readLabelValues lists the values of label `name` of `tenant` in the buckets
 * that overlap the range (sorted), from the keys under
 * `0x34 tenant bucket name*` of each bucket that has label keys.
 */
export async function readLabelValues(kv: KvRead, tenant: string, name: string, range: LogTimeRange, stats: ScanStats, visitHead: HeadVisitor): Promise<string[]> {
  const { b0, b1 } = checkTimeRange(range.startNs, range.endNs);
  const values = new Set<string>();
  const add = (v: string): void => {
    values.add(v);
    if (values.size > LogStoreLimits.labelResultsMax) throw tooMany('label values');
  };
  visitHead(b0, b1, (row) => {
    const v = streamLabels(row).find((l) => l.name === name)?.value;
    if (v !== undefined) add(v);
  });
  const end = bucketKey(LogKeySpace.label, tenant, b1 + 1);
  let cursor = bucketKey(LogKeySpace.label, tenant, b0);
  for (;;) {
    const first = await firstKey(kv, cursor, end, stats);
    if (first === null) break;
    const bucket = parseKeyBucket(first.key, tenant);
    const prefix = labelNamePrefix(tenant, bucket, name);
    for await (const page of kv.pages({ gte: prefix, lt: nextPrefix(prefix) }, LogStoreLimits.scanPageEntries)) {
      for (const e of page) {
        stats.bytesRead += e.key.length + e.value.length;
        const p = parseLabelEntry(e.key, e.value, tenant);
        if (p.name === name) add(p.value);
      }
    }
    cursor = bucketKey(LogKeySpace.label, tenant, bucket + 1);
  }
  return [...values].sort();
}

/**
 * readSeries lists the distinct streams (label sets) of `tenant` that satisfy
 * every matcher in the buckets that overlap the range, sorted by their
 * streamKey; from the blocks' stream tables (0x35), never the blocks.
 */
export async function readSeries(
  kv: KvRead,
  tenant: string,
  matchers: readonly StreamMatcher[],
  range: LogTimeRange,
  stats: ScanStats,
  visitHead: HeadVisitor,
): Promise<StreamLabel[][]> {
  const { b0, b1 } = checkTimeRange(range.startNs, range.endNs);
  normalizeLogQuery({ streamMatchers: matchers });
  const found = new Map<string, StreamLabel[]>();
  const add = (labels: readonly StreamLabel[]): void => {
    if (!matchesStream(labels, matchers)) return;
    const k = streamKey(labels);
    if (found.has(k)) return;
    found.set(k, labels.slice());
    if (found.size > LogStoreLimits.labelResultsMax) throw tooMany('series');
  };
  visitHead(b0, b1, (row) => add(streamLabels(row)));
  const range2 = { gte: bucketKey(LogKeySpace.streams, tenant, b0), lt: bucketKey(LogKeySpace.streams, tenant, b1 + 1) };
  for await (const page of kv.pages(range2, LogStoreLimits.scanPageEntries)) {
    for (const e of page) {
      stats.bytesRead += e.value.length;
      parseBlockKey(e.key, tenant);
      for (const s of decodeStreamTable(e.value)) add(s.labels);
    }
  }
  return [...found.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map((e) => e[1]);
}

/** nextPrefix is prefixEnd for the store's prefixes, which never are all 0xff. */
function nextPrefix(prefix: Uint8Array): Uint8Array {
  const end = prefixEnd(prefix);
  assert(end !== null, 'a logs key prefix is not all 0xff');
  return end;
}

/** successor is the smallest key after `k`. */
function successor(k: Uint8Array): Uint8Array {
  const out = new Uint8Array(k.length + 1);
  out.set(k);
  return out;
}

/** IndexStats is Loki's /index/stats answer for one shard: the matching streams, the blocks holding them, their entries and line bytes. */
export interface IndexStats {
  /** chunks counts the blocks (and the head, when it holds a matching record) with a matching stream. */
  readonly chunks: number;
  readonly entries: number;
  /** bytes is the UTF-8 bytes of the matching lines (0 for blocks whose stream table predates per-stream bytes). */
  readonly bytes: number;
  /** series are the distinct matching streams, sorted by streamKey. */
  readonly series: StreamLabel[][];
}

/**
 * readIndexStats answers /index/stats for `tenant` from the stream tables
 * (0x35) of the buckets that overlap the range and the head: every stream
 * `keep` admits counts, with its rows and line bytes. Bucket granularity, as
 * the other label reads. ERR_LIMIT_EXCEEDED past labelResultsMax streams.
 */
export async function readIndexStats(
  kv: KvRead,
  tenant: string,
  keep: (labels: readonly StreamLabel[]) => boolean,
  range: LogTimeRange,
  stats: ScanStats,
  visitHead: HeadVisitor,
): Promise<IndexStats> {
  const { b0, b1 } = checkTimeRange(range.startNs, range.endNs);
  const found = new Map<string, StreamLabel[]>();
  const verdicts = new Map<string, boolean>();
  const admit = (labels: readonly StreamLabel[]): boolean => {
    const k = streamKey(labels);
    let v = verdicts.get(k);
    if (v === undefined) {
      v = keep(labels);
      if (verdicts.size < LogStoreLimits.labelResultsMax * 4) verdicts.set(k, v);
    }
    if (v && !found.has(k)) {
      found.set(k, labels.slice());
      if (found.size > LogStoreLimits.labelResultsMax) throw tooMany('series');
    }
    return v;
  };
  let chunks = 0;
  let entries = 0;
  let bytes = 0;
  let headHit = false;
  visitHead(b0, b1, (row) => {
    if (!admit(streamLabels(row))) return;
    headHit = true;
    entries++;
    bytes += Buffer.byteLength(logLine(row));
  });
  if (headHit) chunks++;
  const r = { gte: bucketKey(LogKeySpace.streams, tenant, b0), lt: bucketKey(LogKeySpace.streams, tenant, b1 + 1) };
  for await (const page of kv.pages(r, LogStoreLimits.scanPageEntries)) {
    for (const e of page) {
      stats.bytesRead += e.value.length;
      parseBlockKey(e.key, tenant);
      let hit = false;
      for (const st of decodeStreamTable(e.value)) {
        if (!admit(st.labels)) continue;
        hit = true;
        entries += st.rows;
        bytes += st.lineBytes ?? 0;
      }
      if (hit) chunks++;
    }
  }
  const series = [...found.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map((x) => x[1]);
  assert(chunks >= 0 && entries >= 0 && bytes >= 0, 'index stats are counts');
  return { chunks, entries, bytes, series };
}
