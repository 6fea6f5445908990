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
import { logPartitionKey, seriesPartitionKey, spanPartitionKey } from '../partition/partition-key.js';
import { shardForKey } from '../partition/key-to-shard.js';
import type { GroupId } from '../raft/types.js';
import { StorageLimits } from '../limits.js';
import type { LogRow, MetricPointRow, SpanRow } from '../storage/rows.js';
import { SHARD_ENTRY_VERSION, encodeShardEntry } from '../storage/shard-entry.js';
import { streamLabels } from '../storage/logs/log-line.js';
import { seriesLabels } from '../storage/metrics/series-identity.js';

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
 */
export function splitByShard(hasher: Hasher, shardCount: number, tenant: string, requestKey: string, rows: RowBatch): Map<GroupId, RowBatch> {
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
  for (const s of rows.spans) batchOf(shardForKey(hasher, spanPartitionKey(tenant, s.traceId), shardCount)).spans.push(s);
  for (const p of rows.points) {
    const labels: Record<string, string> = {};
    for (const l of seriesLabels(p)) labels[l.name] = l.value;
    batchOf(shardForKey(hasher, seriesPartitionKey(tenant, p.name, labels), shardCount)).points.push(p);
  }
  for (const r of rows.logs) {
    const labels: Record<string, string> = {};
    for (const l of streamLabels(r)) labels[l.name] = l.value;
    batchOf(shardForKey(hasher, logPartitionKey(tenant, r.traceId, labels, requestKey), shardCount)).logs.push(r);
  }
  let n = 0;
  for (const b of out.values()) n += batchRows(b);
  assert(n === batchRows(rows), 'splitByShard keeps every row');
  return out;
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
