/**
 * views.ts — the pure parts of the HTTP API: readiness and the cluster
 * document, computed from an ApiSource (the Prometheus text is in
 * prometheus-text.ts).
 */
import type { ApiSource } from './types.js';

/** Readiness says whether a node serves: every hosted group knows a leader and applied its commit. */
export type Readiness = { readonly ready: true } | { readonly ready: false; readonly group: number; readonly reason: string };

/** readiness checks the meta group first, then every other hosted group in id order. */
export function readiness(source: ApiSource): Readiness {
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
  readonly nodes: readonly { readonly id: number; readonly address: string; readonly state: string }[];
  readonly meta: { readonly leader: number; readonly term: number };
  readonly shards: readonly {
    readonly id: number;
    readonly leader: number;
    readonly replicas: readonly number[];
    readonly term: number;
    readonly commitIndex: number;
    readonly appliedIndex: number;
  }[];
}

/** clusterDocument renders this node's view of the cluster (leader 0: none known). */
export function clusterDocument(source: ApiSource): ClusterDocument {
  const groups = source.groups();
  const meta = groups.find((g) => g.group === source.metaGroup);
  return {
    nodes: source.nodes().map((n) => ({ id: n.id, address: n.address, state: n.state })),
    meta: { leader: meta?.leader ?? 0, term: meta?.term ?? 0 },
    shards: groups
      .filter((g) => g.group !== source.metaGroup)
      .map((g) => ({
        id: g.group,
        leader: g.leader,
        replicas: [...g.voters, ...g.learners].sort((a, b) => a - b),
        term: g.term,
        commitIndex: g.commit,
        appliedIndex: g.applied,
      })),
  };
}
