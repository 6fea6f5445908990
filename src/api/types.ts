/**
 * types.ts — what the HTTP API reads from a node. The API never touches
 * Raft or the transport directly: a node implements ApiSource, so the
 * server can be tested with any source and the node stays the only owner
 * of its driver and transport.
 */
import type { KvEntry, KvListResult, MetaCommand, MetaResult } from '../control/index.js';
import type { GroupId, NodeId } from '../raft/types.js';
import type { TransportMetrics } from '../transport/index.js';

/** NodeView is one cluster member as this node sees it. */
export interface NodeView {
  readonly id: NodeId;
  /** address is the member's peer address (`host:port`). */
  readonly address: string;
  /** state is `self` for this node, else the transport link's state (`connected`, `connecting`, `backoff`, `idle`). */
  readonly state: string;
}

/** GroupView is one hosted Raft group as this replica sees it. */
export interface GroupView {
  readonly group: GroupId;
  readonly term: number;
  readonly commit: number;
  readonly applied: number;
  /** leader is the known leader, or 0 (NONE). */
  readonly leader: NodeId;
  readonly isLeader: boolean;
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  /** leaderChanges counts the leader changes this node observed since it started. */
  readonly leaderChanges: number;
}

/** ApiSource is the read-only view of a node the API serves. */
export interface ApiSource {
  readonly nodeId: NodeId;
  /** metaGroup is the id of the meta group (0). */
  readonly metaGroup: GroupId;
  nodes(): readonly NodeView[];
  /** groups lists every hosted group, in ascending id order. */
  groups(): readonly GroupView[];
  transportMetrics(): TransportMetrics;
  /** driverStats returns the driver's numeric counters by name. */
  driverStats(): Readonly<Record<string, number>>;
  /** control serves the control KV and locks; absent, those routes answer 503 ERR_UNAVAILABLE. */
  readonly control?: ControlSource;
}

/**
 * ControlSource is the meta group's control KV and locks as the API uses
 * them. A node implements it: propose runs a command on the meta group
 * (forwarding to its leader when this node does not lead; the leader stamps
 * lock commands with its own clock), and the reads follow a linearizable
 * read barrier on this node.
 */
export interface ControlSource {
  /** propose commits one meta command and resolves with its result (a refusal is a result, not a rejection). */
  propose(command: MetaCommand): Promise<MetaResult>;
  /** kvGet reads one key after a read barrier; null when absent. `revision` is the KV revision at the read. */
  kvGet(key: string): Promise<{ readonly entry: KvEntry | null; readonly revision: number }>;
  /** kvList lists keys with a prefix after a read barrier. */
  kvList(prefix: string, limit: number): Promise<KvListResult & { readonly revision: number }>;
}
