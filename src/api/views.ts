/**
 * views.ts — the pure parts of the HTTP API: readiness and the cluster
 * document, computed from an ApiSource (the Prometheus text is in
 * prometheus-text.ts).
 */
import type { ApiSource, GroupView } from './types.js';

/** Readiness says whether a node serves: every hosted group knows a leader and applied its commit. */
export type Readiness = { readonly ready: true } | { readonly ready: false; readonly group: number; readonly reason: string };

/** readiness checks the meta group first, then every other hosted group in id order. */
export function readiness(source: ApiSource): Readiness {
  const why = source.notReadyReason?.() ?? null;
  if (why !== null) return { ready: false, group: source.metaGroup, reason: why };
  const groups = source.groups();
  const meta = groups.find((g) => g.group === source.metaGroup);
  if (meta === undefined) return { ready: false, group: source.metaGroup, reason: 'the meta group is not hosted' };
  for (const g of [meta, ...groups.filter((x) => x !== meta)]) {
    if (g.leader === 0) return { ready: false, group: g.group, reason: 'no known leader' };
    if (g.applied < g.commit) return { ready: false, group: g.group, reason: `applied ${g.applied} < commit ${g.commit}` };
  }
  return { ready: true };
}

/** ClusterDocument is the body of GET /api/v1/cluster. */
export interface ClusterDocument {
  readonly nodes: readonly { readonly id: number; readonly address: string; readonly state: string; readonly member?: string }[];
  readonly meta: { readonly leader: number; readonly term: number };
  readonly shards: readonly {
    readonly id: number;
    readonly leader: number;
    readonly replicas: readonly number[];
    readonly term: number;
    readonly commitIndex: number;
    readonly appliedIndex: number;
    readonly voters: readonly number[];
    readonly learners: readonly number[];
    /** placed are the replicas the recorded placement names (absent before the placement is recorded). */
    readonly placed?: readonly number[];
    /** move is the replica move in progress (membership differs from the placement, or learners are catching up), or null. */
    readonly move: ShardMove | null;
  }[];
  /** movesInProgress counts the shards whose move is not null. */
  readonly movesInProgress: number;
}

/** ShardMove says how a shard's membership still differs from its placement. */
export interface ShardMove {
  /** adding: placed nodes not yet voters (learners catching up, or not added yet). */
  readonly adding: readonly number[];
  /** removing: voters the placement no longer names. */
  readonly removing: readonly number[];
}

/** shardMove compares a shard's membership with its placement (null placement: only learners count as a move). */
export function shardMove(voters: readonly number[], learners: readonly number[], placed: readonly number[] | null): ShardMove | null {
  const target = placed ?? voters;
  const adding = [...new Set([...target.filter((n) => !voters.includes(n)), ...learners])].sort((a, b) => a - b);
  const removing = voters.filter((n) => !target.includes(n)).sort((a, b) => a - b);
  return adding.length === 0 && removing.length === 0 ? null : { adding, removing };
}

/**
 * clusterDocument renders the cluster (leader 0: none known) from `groups`
 * (default: this node's own). With reports from several nodes, each group is
 * shown as its leader reports it (the highest term wins), else as the
 * most advanced replica that answered.
 */
export function clusterDocument(source: ApiSource, reported?: readonly GroupView[]): ClusterDocument {
  const groups = reported === undefined ? source.groups() : bestViews(reported);
  const meta = groups.find((g) => g.group === source.metaGroup);
  const placement = source.placement?.() ?? null;
  const shards = groups
    .filter((g) => g.group !== source.metaGroup)
    .map((g) => {
      const placed = placement?.get(g.group) ?? null;
      return {
        id: g.group,
        leader: g.leader,
        replicas: [...g.voters, ...g.learners].sort((a, b) => a - b),
        term: g.term,
        commitIndex: g.commit,
        appliedIndex: g.applied,
        voters: [...g.voters].sort((a, b) => a - b),
        learners: [...g.learners].sort((a, b) => a - b),
        ...(placed === null ? {} : { placed: [...placed].sort((a, b) => a - b) }),
        move: shardMove(g.voters, g.learners, placed),
      };
    });
  return {
    nodes: source.nodes().map((n) => ({ id: n.id, address: n.address, state: n.state, ...(n.member === undefined ? {} : { member: n.member }) })),
    meta: { leader: meta?.leader ?? 0, term: meta?.term ?? 0 },
    shards,
    movesInProgress: shards.filter((x) => x.move !== null).length,
  };
}

/** bestViews keeps one view per group: the highest term first, then a leader's, then the highest commit. */
export function bestViews(views: readonly GroupView[]): GroupView[] {
  const best = new Map<number, GroupView>();
  const rank = (v: GroupView): readonly number[] => [v.term, v.isLeader ? 1 : 0, v.commit];
  const better = (a: GroupView, b: GroupView): boolean => {
    const x = rank(a);
    const y = rank(b);
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return (x[i] as number) > (y[i] as number);
    return false;
  };
  for (const v of views) {
    const cur = best.get(v.group);
    if (cur === undefined || better(v, cur)) best.set(v.group, v);
  }
  return [...best.values()].sort((a, b) => a.group - b.group);
}
