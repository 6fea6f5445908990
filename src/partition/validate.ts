/**
 * validate.ts — argument checks shared by the partition modules. Each check
 * throws OtlpdbError ERR_INVALID_ARGUMENT naming the value and the accepted
 * range, because shard counts, replication factors and member sets arrive from
 * operators (CLI flags, the admin API) and must be refused clearly.
 */
import { OtlpdbError } from '../errors.js';
import { PartitionLimits } from '../limits.js';

const utf8 = new TextEncoder();

function checkIntInRange(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new OtlpdbError(
      'ERR_INVALID_ARGUMENT',
      `${name} ${String(value)} is out of range: expected an integer in [${min}, ${max}]`,
      { name, value, min, max },
    );
  }
}

/** checkShardCount refuses a shard count S outside [1, PartitionLimits.shardCountMax]. */
export function checkShardCount(shardCount: number): void {
  checkIntInRange('shardCount', shardCount, 1, PartitionLimits.shardCountMax);
}

/** checkShardId refuses a shard id outside [1, shardCount] (shard ids are Raft group ids; group 0 is meta). */
export function checkShardId(shardId: number, shardCount: number): void {
  checkIntInRange('shardId', shardId, 1, shardCount);
}

/** checkReplicationFactor refuses a replication factor R outside [1, PartitionLimits.replicationFactorMax]. */
export function checkReplicationFactor(replicationFactor: number): void {
  checkIntInRange('replicationFactor', replicationFactor, 1, PartitionLimits.replicationFactorMax);
}

/** checkVnodesPerNode refuses a virtual node count outside [1, PartitionLimits.vnodesPerNodeMax]. */
export function checkVnodesPerNode(vnodesPerNode: number): void {
  checkIntInRange('vnodesPerNode', vnodesPerNode, 1, PartitionLimits.vnodesPerNodeMax);
}

/**
 * checkNodeIds refuses an empty member set, too many members, an empty or
 * over-long id, and duplicates. It returns the ids sorted (by UTF-16 code
 * units), the canonical order every caller uses so that results never depend
 * on the order the members were listed in.
 */
export function checkNodeIds(nodes: Iterable<string>): string[] {
  const list = [...nodes];
  if (list.length === 0) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'node set is empty: expected between 1 and ' +
      `${PartitionLimits.nodesMax} distinct node ids`, { count: 0 });
  }
  checkIntInRange('node count', list.length, 1, PartitionLimits.nodesMax);
  const seen = new Set<string>();
  for (const id of list) {
    if (typeof id !== 'string' || id.length === 0) {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', `node id ${JSON.stringify(id)} is invalid: expected a non-empty string`, {
        id,
      });
    }
    const bytes = utf8.encode(id).length;
    if (bytes > PartitionLimits.nodeIdBytesMax) {
      throw new OtlpdbError(
        'ERR_INVALID_ARGUMENT',
        `node id ${JSON.stringify(id.slice(0, 32))}... is ${bytes} bytes: expected at most ${PartitionLimits.nodeIdBytesMax}`,
        { bytes, max: PartitionLimits.nodeIdBytesMax },
      );
    }
    if (seen.has(id)) {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', `node id ${JSON.stringify(id)} is listed twice: node ids must be distinct`, {
        id,
      });
    }
    seen.add(id);
  }
  return list.sort(compareStrings);
}

/** compareStrings orders strings by UTF-16 code units, independent of locale. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
