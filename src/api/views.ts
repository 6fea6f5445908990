/**
 * views.ts — the pure parts of the HTTP API: readiness, the cluster
 * document and the Prometheus text, all computed from an ApiSource.
 */
import type { TransportMetrics } from '../transport/index.js';
import type { ApiSource, GroupView } from './types.js';

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

interface Family {
  readonly name: string;
  readonly type: 'gauge' | 'counter';
  readonly help: string;
  readonly samples: { readonly labels: Readonly<Record<string, string>>; readonly value: number }[];
}

const GROUP_FAMILIES: readonly { name: string; type: Family['type']; help: string; value: (g: GroupView) => number }[] = [
  { name: 'otlpdb_raft_term', type: 'gauge', help: 'Current Raft term of the group on this node.', value: (g) => g.term },
  { name: 'otlpdb_raft_commit_index', type: 'gauge', help: 'Highest log index known committed.', value: (g) => g.commit },
  { name: 'otlpdb_raft_applied_index', type: 'gauge', help: 'Highest log index applied to the state machine.', value: (g) => g.applied },
  { name: 'otlpdb_raft_is_leader', type: 'gauge', help: '1 when this node leads the group.', value: (g) => (g.isLeader ? 1 : 0) },
  { name: 'otlpdb_raft_has_leader', type: 'gauge', help: '1 when this node knows a leader of the group.', value: (g) => (g.leader === 0 ? 0 : 1) },
  {
    name: 'otlpdb_raft_leader_changes_total',
    type: 'counter',
    help: 'Leader changes this node observed since it started.',
    value: (g) => g.leaderChanges,
  },
];

/** snakeCase turns a camelCase counter name into a Prometheus name part. */
export function snakeCase(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function renderFamily(f: Family): string {
  const lines = [`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`];
  for (const s of f.samples) {
    const labels = Object.entries(s.labels)
      .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
      .join(',');
    lines.push(`${f.name}${labels === '' ? '' : `{${labels}}`} ${Number.isFinite(s.value) ? s.value : 0}`);
  }
  return lines.join('\n');
}

function transportFamilies(node: string, m: TransportMetrics): Family[] {
  const out: Family[] = [];
  for (const [key, value] of Object.entries(m)) {
    if (typeof value !== 'number') continue;
    out.push({
      name: `otlpdb_transport_${snakeCase(key)}_total`,
      type: 'counter',
      help: `Peer transport counter ${key}.`,
      samples: [{ labels: { node }, value }],
    });
  }
  out.push({
    name: 'otlpdb_transport_frames_refused_total',
    type: 'counter',
    help: 'Inbound connections or frames refused, by reason.',
    samples: Object.entries(m.framesRefused).map(([reason, value]) => ({ labels: { node, reason }, value: value ?? 0 })),
  });
  return out;
}

/** GAUGE_DRIVER_STATS are driver stats that are maxima, not counters. */
const GAUGE_DRIVER_STATS: ReadonlySet<string> = new Set(['groupsSyncedMax']);

/** prometheusText renders the node's metrics in the Prometheus text exposition format (0.0.4). */
export function prometheusText(source: ApiSource): string {
  const node = String(source.nodeId);
  const groups = source.groups();
  const families: Family[] = GROUP_FAMILIES.map((f) => ({
    name: f.name,
    type: f.type,
    help: f.help,
    samples: groups.map((g) => ({ labels: { node, group: String(g.group) }, value: f.value(g) })),
  }));
  for (const [key, value] of Object.entries(source.driverStats())) {
    const gauge = GAUGE_DRIVER_STATS.has(key);
    families.push({
      name: `otlpdb_driver_${snakeCase(key)}${gauge ? '' : '_total'}`,
      type: gauge ? 'gauge' : 'counter',
      help: `Multi-raft driver stat ${key}.`,
      samples: [{ labels: { node }, value }],
    });
  }
  families.push(...transportFamilies(node, source.transportMetrics()));
  return `${families.map(renderFamily).join('\n')}\n`;
}
