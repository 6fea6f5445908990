/**
 * shard-parts.ts — one OTLP request's rows split by shard (DESIGN.md §4) and
 * encoded as shard entries, one Raft entry per part (DESIGN.md §5 step 2).
 *
 * Partition keys: a span by (tenant, trace id); a metric point by (tenant,
 * metric name, the labels of its series as series-identity.ts defines them),
 * so that every point of a series lands in one shard; a log record by its
 * trace id when it has one, else by (tenant, stream labels as log-line.ts
 * defines them, the request's idempotency key), so one hot stream still
 * spreads over shards request by request.
 *
 * Parts are numbered in ascending shard order; a shard whose rows do not fit
 * one entry (StorageLimits.entryBytesMax, rowsPerEntryMax) is cut into
 * consecutive runs of its rows in arrival order. Numbering is a pure function
 * of the rows, the tenant, the key and the shard count, so a retried request
 * gets the same (key, part) pairs on any node and the idempotency window
 * recognises every part.
 */
import { OtlpdbError, assert } from '../errors.js';
import type { Hasher } from '../partition/hash.js';
import type { LabelBlock } from '../partition/partition-key-buffer.js';
import { PartitionKeyBuffer } from '../partition/partition-key-buffer.js';
import { TRACE_ID_BYTES, logPartitionKey, seriesPartitionKey, spanPartitionKey } from '../partition/partition-key.js';
import { shardForKey } from '../partition/key-to-shard.js';
import type { GroupId } from '../raft/types.js';
import { StorageLimits } from '../limits.js';
import type { LogRow, MetricPointRow, Resource, SpanRow } from '../storage/rows.js';
import { SHARD_ENTRY_VERSION, encodeShardEntry } from '../storage/shard-entry.js';
import type { SeriesShardLookup } from './series-shard-memo.js';
import { streamLabels } from '../storage/logs/log-line.js';
import { escapeLabelName, pointLabelsInto, resourceLabelsInto, seriesLabels } from '../storage/metrics/series-identity.js';

/** RowBatch is the rows of one request (or of one shard's part of it). */
export interface RowBatch {
  readonly spans: SpanRow[];
  readonly points: MetricPointRow[];
  readonly logs: LogRow[];
}

/** ShardPart is one encoded shard entry of a request, ready to propose. */
export interface ShardPart {
  readonly shard: GroupId;
  readonly part: number;
  readonly parts: number;
  readonly rows: number;
  readonly bytes: Uint8Array;
}

/** emptyBatch is a new batch without rows. */
export function emptyBatch(): RowBatch {
  return { spans: [], points: [], logs: [] };
}

/** batchRows counts a batch's rows. */
export function batchRows(b: RowBatch): number {
  return b.spans.length + b.points.length + b.logs.length;
}

/**
 * splitByShard puts every row of `rows` (all of tenant `tenant`) in the batch
 * of its shard in [1, shardCount]; `requestKey` is the request's idempotency
 * key (it spreads trace-less logs). Rows keep their arrival order per shard.
 *
 * The shard of a row is shardForKey of its partition key (partition-key.ts),
 * written into a reused buffer (PartitionKeyBuffer) from labels in reused
 * arrays instead of a Record per row; rows the buffer leaves to the
 * reference functions (and every error) take the reference path, so the
 * shard is the same function of the row as routeReference's, which the test
 * in shard-parts.test.ts compares it with.
 */
export function splitByShard(hasher: Hasher, shardCount: number, tenant: string, requestKey: string, rows: RowBatch, raw?: RawPointIdentities): Map<GroupId, RowBatch> {
  assert(Number.isSafeInteger(shardCount) && shardCount >= 1, 'splitByShard shardCount >= 1');
  const out = new Map<GroupId, RowBatch>();
  const batchOf = (shard: GroupId): RowBatch => {
    let b = out.get(shard);
    if (b === undefined) {
      b = emptyBatch();
      out.set(shard, b);
    }
    return b;
  };
  const keys = KEY_SCRATCH;
  let lastTraceId: Uint8Array | null = null;
  let lastTraceShard = 0;
  for (const s of rows.spans) {
    // The spans of one trace usually follow each other: one key per run of equal trace ids.
    if (lastTraceId === null || !sameBytes(lastTraceId, s.traceId)) {
      const key = keys.traceKey(tenant, s.traceId) ?? spanPartitionKey(tenant, s.traceId);
      lastTraceShard = shardForKey(hasher, key, shardCount);
      lastTraceId = s.traceId;
    }
    batchOf(lastTraceShard).spans.push(s);
  }
  if (rows.points.length > 0) {
    const labels = new SeriesLabelScratch(keys);
    if (raw === undefined) {
      for (const p of rows.points) batchOf(shardForKey(hasher, labels.key(tenant, p) ?? seriesKeyReference(tenant, p), shardCount)).points.push(p);
    } else {
      splitPointsRemembered(hasher, shardCount, tenant, rows.points, raw, labels, batchOf);
    }
  }
  // Trace-less records of one resource and severity share a stream, hence a shard within this request.
  const streams = new Map<Resource, Map<string, GroupId>>();
  for (const r of rows.logs) {
    const key = r.traceId.length === TRACE_ID_BYTES ? keys.traceKey(tenant, r.traceId) : null;
    if (key !== null) {
      batchOf(shardForKey(hasher, key, shardCount)).logs.push(r);
      continue;
    }
    if (!isNoTraceId(r.traceId)) {
      // A trace id of a bad length: the reference path throws its error.
      batchOf(shardForKey(hasher, logKeyReference(tenant, requestKey, r), shardCount)).logs.push(r);
      continue;
    }
    let bySeverity = streams.get(r.resource);
    if (bySeverity === undefined) {
      bySeverity = new Map();
      streams.set(r.resource, bySeverity);
    }
    const severity = `${r.severityNumber}:${r.severityText}`;
    let shard = bySeverity.get(severity);
    if (shard === undefined) {
      shard = shardForKey(hasher, logKeyReference(tenant, requestKey, r), shardCount);
      bySeverity.set(severity, shard);
    }
    batchOf(shard).logs.push(r);
  }
  let n = 0;
  for (const b of out.values()) n += batchRows(b);
  assert(n === batchRows(rows), 'splitByShard keeps every row');
  return out;
}

/**
 * RawPointIdentities lets splitByShard remember series' shards across
 * requests (series-shard-memo.ts): the request body and, per point, the
 * range of its attribute fields in it (decodeMetricsProto's
 * pointAttributeRanges: two entries per point, -1 for a point without one).
 */
export interface RawPointIdentities {
  readonly memo: SeriesShardLookup;
  readonly body: Uint8Array;
  readonly ranges: Int32Array;
}

/**
 * splitPointsRemembered routes points as splitByShard does, taking a
 * point's shard from `raw.memo` when its head and attribute bytes are
 * remembered, and remembering what the regular path gives otherwise.
 */
function splitPointsRemembered(hasher: Hasher, shardCount: number, tenant: string, points: readonly MetricPointRow[], raw: RawPointIdentities, labels: SeriesLabelScratch, batchOf: (shard: GroupId) => RowBatch): void {
  const { memo, body, ranges } = raw;
  assert(ranges.length === 2 * points.length, 'an attribute range per point');
  memo.beginRequest(points.length);
  let headRow: MetricPointRow | null = null;
  let head = -1;
  for (let i = 0; i < points.length; i++) {
    const p = points[i] as MetricPointRow;
    const at = ranges[2 * i] as number;
    const end = ranges[2 * i + 1] as number;
    if (at >= 0) {
      assert(at <= end && end <= body.length, 'an attribute range within the body');
      if (headRow === null || !sameHead(headRow, p)) {
        const key = labels.headKey(tenant, p);
        head = key === null ? -1 : memo.head(key);
        headRow = p;
      }
      if (head >= 0) {
        let shard = memo.shard(head, shardCount, body, at, end);
        if (shard < 0) {
          shard = shardForKey(hasher, labels.key(tenant, p) ?? seriesKeyReference(tenant, p), shardCount);
          memo.remember(head, shardCount, body, at, end, shard);
        }
        batchOf(shard).points.push(p);
        continue;
      }
    }
    batchOf(shardForKey(hasher, labels.key(tenant, p) ?? seriesKeyReference(tenant, p), shardCount)).points.push(p);
  }
}

/** sameHead says whether two points share every part of their series identity besides their attributes (the tenant is the request's). */
function sameHead(a: MetricPointRow, b: MetricPointRow): boolean {
  if (a.resource !== b.resource || a.scope !== b.scope || a.name !== b.name || a.unit !== b.unit) return false;
  const x = a.data;
  const y = b.data;
  if (x.type !== y.type) return false;
  if (x.type === 'sum' && y.type === 'sum') return x.temporality === y.temporality && x.monotonic === y.monotonic;
  if ((x.type === 'histogram' && y.type === 'histogram') || (x.type === 'exponentialHistogram' && y.type === 'exponentialHistogram')) return x.temporality === y.temporality;
  return true;
}

/**
 * encodeParts encodes every shard's rows as shard entries with the request's
 * tenant, idempotency key and this node's clock (the leader restamps it, see
 * restampLeaderTime). A shard's rows over one entry's bounds are halved
 * until every run fits; a single row that does not fit alone is
 * ERR_LIMIT_EXCEEDED (the receiver's limits keep that from happening).
 */
export function encodeParts(tenant: string, idempotencyKey: string, nowMs: number, byShard: ReadonlyMap<GroupId, RowBatch>): ShardPart[] {
  const shards = [...byShard.keys()].sort((a, b) => a - b);
  const runs: { shard: GroupId; rows: RowBatch }[] = [];
  for (const shard of shards) {
    const rows = byShard.get(shard) as RowBatch;
    if (batchRows(rows) > 0) runs.push({ shard, rows });
  }
  const encodeAll = (): ShardPart[] | null => {
    const out: ShardPart[] = [];
    for (let i = 0; i < runs.length; i++) {
      const r = runs[i] as { shard: GroupId; rows: RowBatch };
      let bytes: Uint8Array;
      try {
        bytes = encodeShardEntry({ version: SHARD_ENTRY_VERSION, tenant, idempotencyKey, part: i, parts: runs.length, leaderTimeMs: nowMs, ...r.rows });
      } catch (err) {
        if (!(err instanceof OtlpdbError) || err.code !== 'ERR_LIMIT_EXCEEDED') throw err;
        const n = batchRows(r.rows);
        if (n <= 1) throw err;
        runs.splice(i, 1, ...halves(r.shard, r.rows));
        return null;
      }
      out.push({ shard: r.shard, part: i, parts: runs.length, rows: batchRows(r.rows), bytes });
    }
    return out;
  };
  // Each failed pass splits one run, so the loop ends within (rows) passes; the bound guards the reasoning.
  for (let pass = 0; pass <= StorageLimits.rowsPerEntryMax * 2 + runs.length; pass++) {
    const parts = encodeAll();
    if (parts !== null) return parts;
  }
  throw new OtlpdbError('ERR_INTERNAL', 'encodeParts did not converge');
}

/** halves cuts a shard's rows into two runs of about equal row counts, in order. */
function halves(shard: GroupId, rows: RowBatch): { shard: GroupId; rows: RowBatch }[] {
  const all = batchRows(rows);
  let budget = Math.ceil(all / 2);
  const first = emptyBatch();
  const second = emptyBatch();
  for (const k of ['spans', 'points', 'logs'] as const) {
    const list = rows[k] as unknown[];
    const take = Math.min(budget, list.length);
    (first[k] as unknown[]).push(...list.slice(0, take));
    (second[k] as unknown[]).push(...list.slice(take));
    budget -= take;
  }
  assert(batchRows(first) > 0 && batchRows(second) > 0, 'halves are both non-empty');
  return [
    { shard, rows: first },
    { shard, rows: second },
  ];
}

/**
 * routeReference is the shard of one row by the definition splitByShard
 * must keep (a Record of the row's labels, then the partition-key.ts
 * function): the slow path, for tests and for the rows the fast path leaves
 * to it.
 */
export function routeReference(hasher: Hasher, shardCount: number, tenant: string, requestKey: string, row: { kind: 'span'; row: SpanRow } | { kind: 'point'; row: MetricPointRow } | { kind: 'log'; row: LogRow }): GroupId {
  switch (row.kind) {
    case 'span':
      return shardForKey(hasher, spanPartitionKey(tenant, row.row.traceId), shardCount);
    case 'point':
      return shardForKey(hasher, seriesKeyReference(tenant, row.row), shardCount);
    case 'log':
      return shardForKey(hasher, logKeyReference(tenant, requestKey, row.row), shardCount);
  }
}

function seriesKeyReference(tenant: string, p: MetricPointRow): Uint8Array {
  const labels: Record<string, string> = {};
  for (const l of seriesLabels(p)) labels[l.name] = l.value;
  return seriesPartitionKey(tenant, p.name, labels);
}

function logKeyReference(tenant: string, requestKey: string, r: LogRow): Uint8Array {
  const labels: Record<string, string> = {};
  for (const l of streamLabels(r)) labels[l.name] = l.value;
  return logPartitionKey(tenant, r.traceId, labels, requestKey);
}

/**
 * KEY_SCRATCH is the key buffer of splitByShard. Module-level scratch is
 * safe: JavaScript runs splitByShard synchronously to its end, and the
 * buffer's only state kept between calls is a prefix it compares in full.
 */
const KEY_SCRATCH = new PartitionKeyBuffer();

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** isNoTraceId says whether a log record's trace id means "none" to logPartitionKey (empty or all zero). */
function isNoTraceId(id: Uint8Array): boolean {
  for (let i = 0; i < id.length; i++) if (id[i] !== 0) return false;
  return true;
}

/**
 * SeriesLabelScratch holds the series labels of one point at a time in
 * parallel arrays (seriesLabels' order, the resource's labels apart), for
 * one splitByShard call: a resource's labels are rendered and encoded once
 * per call (a LabelBlock), and attribute keys escaped once per distinct key.
 * Its maps are bounded by the request's distinct resources and keys (a
 * request is bounded by IngestLimits.requestBytesMax).
 */
class SeriesLabelScratch {
  readonly names: string[] = [];
  readonly values: string[] = [];
  /** A resource's block, or null: no labels (empty block) or labels the fast path leaves to the reference (slow). */
  readonly #resources = new Map<Resource, { block: LabelBlock | null; slow: boolean }>();
  readonly #escaped = new Map<string, string>();
  readonly #escape = (key: string): string => {
    let name = this.#escaped.get(key);
    if (name === undefined) {
      name = escapeLabelName(key);
      this.#escaped.set(key, name);
    }
    return name;
  };

  constructor(readonly keys: PartitionKeyBuffer) {}

  /** key is the partition key of `p` (a view of the key buffer), or null for the reference path. */
  key(tenant: string, p: MetricPointRow): Uint8Array | null {
    const res = this.#resource(p.resource);
    if (res.slow) return null;
    const n = pointLabelsInto(p, this.names, this.values, 0, this.#escape);
    return this.keys.seriesKey(tenant, p.name, this.names, this.values, n, res.block);
  }

  /**
   * headKey is the partition key `p` would have without its point
   * attributes (a view of the key buffer): the bytes that name its head in
   * SeriesShardMemo; null when the fast path leaves it to the reference.
   */
  headKey(tenant: string, p: MetricPointRow): Uint8Array | null {
    const res = this.#resource(p.resource);
    if (res.slow) return null;
    // pointLabelsInto writes the point attributes last, one label each.
    const n = pointLabelsInto(p, this.names, this.values, 0, this.#escape) - p.attributes.length;
    assert(n >= 0, 'headKey keeps the otel_ labels');
    return this.keys.seriesKey(tenant, p.name, this.names, this.values, n, res.block);
  }

  #resource(resource: Resource): { block: LabelBlock | null; slow: boolean } {
    let res = this.#resources.get(resource);
    if (res === undefined) {
      const n = resourceLabelsInto(resource, this.names, this.values, 0);
      const block = n === 0 ? null : this.keys.labelBlock(this.names, this.values, n);
      res = { block, slow: n > 0 && block === null };
      this.#resources.set(resource, res);
    }
    return res;
  }
}
