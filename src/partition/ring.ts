/**
 * ring.ts — a consistent-hash ring of node ids with virtual nodes.
 *
 * Each node owns `vnodesPerNode` points at xxhash64(encode(node, i)); a shard
 * sits at xxhash64(encode(shard)). Walking clockwise from the shard's point and
 * keeping the first occurrence of each node gives the shard's preference list;
 * its first R entries are the shard's replicas. Adding a node only inserts
 * points, so a shard's list changes only where the new node lands in it.
 *
 * Invariants (checked when the ring is built):
 * - `#points` is sorted ascending by (hash, owner node id), so the ring depends
 *   only on the member set, never on the order members were listed in.
 * - `#points.length === nodes.length * vnodesPerNode`, and `#owners[i]` is the
 *   index in `nodes` of the owner of `#points[i]`.
 * - `nodes` is sorted and free of duplicates.
 * The ring is immutable after construction; a membership change builds a new one.
 */
import { assert } from '../errors.js';
import { PartitionLimits } from '../limits.js';
import { checkNodeIds, checkReplicationFactor, checkShardId, checkVnodesPerNode } from './validate.js';
import type { Hasher } from './hash.js';
import type { ShardId } from './key-to-shard.js';

const utf8 = new TextEncoder();

// Domain tags keep vnode points and shard points from ever hashing the same bytes.
const TAG_VNODE = 0x76; // 'v'
const TAG_SHARD = 0x73; // 's'

/**
 * vnodePointKey is the byte string hashed for virtual node `index` of `nodeId`:
 *
 *   +-----+-----------------+----------------+------------------+
 *   | 'v' | id length (u16) | id (UTF-8)     | index (u32, BE)  |
 *   +-----+-----------------+----------------+------------------+
 */
function vnodePointKey(nodeId: string, index: number): Uint8Array {
  const id = utf8.encode(nodeId);
  assert(id.length <= PartitionLimits.nodeIdBytesMax, 'node id length was validated');
  const out = new Uint8Array(1 + 2 + id.length + 4);
  const view = new DataView(out.buffer);
  out[0] = TAG_VNODE;
  view.setUint16(1, id.length, false);
  out.set(id, 3);
  view.setUint32(3 + id.length, index, false);
  return out;
}

/** shardPointKey is the byte string hashed for a shard: 's' then the shard id (u32, BE). */
function shardPointKey(shardId: ShardId): Uint8Array {
  const out = new Uint8Array(5);
  out[0] = TAG_SHARD;
  new DataView(out.buffer).setUint32(1, shardId, false);
  return out;
}

/**
 * HashRing places shards on nodes by consistent hashing with virtual nodes.
 * It exists so that a membership change moves about 1/N of the replicas
 * instead of reshuffling them all.
 */
export class HashRing {
  /** nodes are the member node ids, sorted. */
  readonly nodes: readonly string[];
  /** vnodesPerNode is the number of ring points each node owns. */
  readonly vnodesPerNode: number;
  readonly #hasher: Hasher;
  readonly #points: BigUint64Array;
  readonly #owners: Uint32Array;

  constructor(hasher: Hasher, nodes: Iterable<string>, vnodesPerNode: number = PartitionLimits.vnodesPerNodeDefault) {
    checkVnodesPerNode(vnodesPerNode);
    this.nodes = Object.freeze(checkNodeIds(nodes));
    this.vnodesPerNode = vnodesPerNode;
    this.#hasher = hasher;

    const count = this.nodes.length * vnodesPerNode;
    const hashes = new BigUint64Array(count);
    const owners = new Uint32Array(count);
    for (let n = 0; n < this.nodes.length; n++) {
      const id = this.nodes[n];
      assert(id !== undefined, 'node index in range');
      for (let v = 0; v < vnodesPerNode; v++) {
        hashes[n * vnodesPerNode + v] = hasher.h64(vnodePointKey(id, v));
        owners[n * vnodesPerNode + v] = n;
      }
    }
    // Sort point indices by (hash, owner). Owners index the sorted node list,
    // so ties between equal hashes break by node id.
    const order = Array.from({ length: count }, (_, i) => i);
    order.sort((a, b) => {
      const ha = hashes[a] ?? 0n;
      const hb = hashes[b] ?? 0n;
      if (ha !== hb) return ha < hb ? -1 : 1;
      return (owners[a] ?? 0) - (owners[b] ?? 0);
    });
    this.#points = new BigUint64Array(count);
    this.#owners = new Uint32Array(count);
    for (let i = 0; i < count; i++) {
      const from = order[i] ?? 0;
      this.#points[i] = hashes[from] ?? 0n;
      this.#owners[i] = owners[from] ?? 0;
    }
    for (let i = 1; i < count; i++) {
      assert((this.#points[i - 1] ?? 0n) <= (this.#points[i] ?? 0n), 'ring points are sorted');
    }
  }

  /** pointCount is the number of points on the ring (nodes × vnodesPerNode). */
  get pointCount(): number {
    return this.#points.length;
  }

  /**
   * preferenceList is every node, each once, in clockwise order from the
   * shard's point. Its first R entries are `replicasFor(shardId, R)`; placement
   * reads further when it must skip a node that is already full.
   */
  preferenceList(shardId: ShardId): string[] {
    assert(Number.isInteger(shardId) && shardId >= 1 && shardId <= PartitionLimits.shardCountMax, 'shardId in range');
    return this.#walk(shardId, this.nodes.length);
  }

  /**
   * replicasFor is the R distinct nodes that hold `shardId`, in preference
   * order (the first is the preferred leader). R is capped at the node count:
   * a 2-node cluster gives 2 replicas even when R is 3.
   */
  replicasFor(shardId: ShardId, replicationFactor: number): string[] {
    checkShardId(shardId, PartitionLimits.shardCountMax);
    checkReplicationFactor(replicationFactor);
    return this.#walk(shardId, Math.min(replicationFactor, this.nodes.length));
  }

  #walk(shardId: ShardId, want: number): string[] {
    assert(want >= 1 && want <= this.nodes.length, 'want in [1, nodes]');
    const start = this.#firstAtOrAfter(this.#hasher.h64(shardPointKey(shardId)));
    const taken = new Uint8Array(this.nodes.length);
    const out: string[] = [];
    const count = this.#points.length;
    // Bounded: one full turn of the ring visits every node at least once.
    for (let step = 0; step < count && out.length < want; step++) {
      const owner = this.#owners[(start + step) % count] ?? 0;
      if (taken[owner] === 0) {
        taken[owner] = 1;
        const id = this.nodes[owner];
        assert(id !== undefined, 'owner indexes nodes');
        out.push(id);
      }
    }
    assert(out.length === want, 'a full turn of the ring yields every node');
    return out;
  }

  /** #firstAtOrAfter is the index of the first point with hash >= h, wrapping to 0. */
  #firstAtOrAfter(h: bigint): number {
    let lo = 0;
    let hi = this.#points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#points[mid] ?? 0n) < h) lo = mid + 1;
      else hi = mid;
    }
    return lo === this.#points.length ? 0 : lo;
  }
}
