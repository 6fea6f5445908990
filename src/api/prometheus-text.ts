/**
 * prometheus-text.ts — GET /metrics: a node's metrics in the Prometheus text
 * exposition format 0.0.4, computed from an ApiSource (pure: no clock, no I/O).
 *
 * Families, all labelled node="id":
 * - per group (group="N"): otlpdb_raft_term, _commit_index, _applied_index,
 *   _is_leader, _has_leader, _leader_changes_total and, when the source
 *   tracks them, otlpdb_raft_proposals_total, _proposals_resolved_total,
 *   _proposals_dropped_total;
 * - otlpdb_driver_*: the driver's counters (gauges for maxima);
 * - otlpdb_transport_*_total: the transport totals, and
 *   otlpdb_transport_frames_refused_total{reason} for refused peer input;
 * - per peer (peer="id"): otlpdb_transport_peer_bytes_sent_total, ...
 *   (PEER_FAMILIES), drops by reason="queue_full"|"fault";
 * - otlpdb_node_inbox_dropped_messages_total;
 * - otlpdb_ingest_*: OTLP requests, items accepted and rejected per
 *   signal="traces"|"metrics"|"logs", requests refused by reason, truncated
 *   attribute values, in-flight bytes, the shard writer's counters, open
 *   breakers, and otlpdb_ingest_limit{name} for every named ingest limit;
 * - otlpdb_wal_fsync_duration_seconds: a histogram (_bucket{le}, _sum,
 *   _count) made cumulative here from the source's per-bucket counts.
 *
 * Invariants of the output: each family is one block (HELP, TYPE, then
 * its samples), no family name repeats, label values are escaped, and every
 * value is a finite number (a non-finite one renders as 0).
 */
import { assert } from '../errors.js';
import type { PeerMetrics, TransportMetrics } from '../transport/index.js';
import type { ApiSource, GroupView, IngestMetricsView, ProposalCounts, WalSyncHistogram } from './types.js';

type Labels = Readonly<Record<string, string>>;

interface Sample {
  /** suffix is appended to the family name (`_bucket`, `_sum`, `_count` of a histogram), else empty. */
  readonly suffix: string;
  readonly labels: Labels;
  readonly value: number;
}

interface Family {
  readonly name: string;
  readonly type: 'gauge' | 'counter' | 'histogram';
  readonly help: string;
  readonly samples: readonly Sample[];
}

const GROUP_FAMILIES: readonly { name: string; type: 'gauge' | 'counter'; help: string; value: (g: GroupView) => number }[] = [
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

const PROPOSAL_FAMILIES: readonly { name: string; help: string; value: (p: ProposalCounts) => number }[] = [
  { name: 'otlpdb_raft_proposals_total', help: 'Proposals made through this node since it started.', value: (p) => p.total },
  { name: 'otlpdb_raft_proposals_resolved_total', help: 'Proposals that committed and were applied.', value: (p) => p.resolved },
  { name: 'otlpdb_raft_proposals_dropped_total', help: 'Proposals refused by Raft or failed (no leader, transfer, timeout).', value: (p) => p.dropped },
];

const PEER_FAMILIES: readonly { name: string; help: string; value: (p: PeerMetrics) => number }[] = [
  { name: 'otlpdb_transport_peer_bytes_sent_total', help: 'Bytes written to the peer.', value: (p) => p.bytesOut },
  { name: 'otlpdb_transport_peer_bytes_received_total', help: 'Bytes of frames read from the peer after its Hello.', value: (p) => p.bytesIn },
  { name: 'otlpdb_transport_peer_frames_sent_total', help: 'Frames written to the peer.', value: (p) => p.framesSent },
  { name: 'otlpdb_transport_peer_frames_received_total', help: 'Frames read from the peer after its Hello.', value: (p) => p.framesReceived },
  { name: 'otlpdb_transport_peer_messages_sent_total', help: 'Raft messages written to the peer.', value: (p) => p.messagesSent },
  { name: 'otlpdb_transport_peer_messages_received_total', help: 'Raft messages delivered from the peer.', value: (p) => p.messagesReceived },
  { name: 'otlpdb_transport_peer_dial_failures_total', help: 'Connections to the peer that could not be made.', value: (p) => p.dialFailures },
  { name: 'otlpdb_transport_peer_errors_total', help: 'Socket errors and refused frames on the peer connections.', value: (p) => p.errors },
];

/** snakeCase turns a camelCase counter name into a Prometheus name part. */
export function snakeCase(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

/** escapeLabel escapes a label value: backslash, double quote and line feed. */
export function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function renderFamily(f: Family): string {
  const lines = [`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`];
  for (const s of f.samples) {
    const labels = Object.entries(s.labels)
      .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
      .join(',');
    lines.push(`${f.name}${s.suffix}${labels === '' ? '' : `{${labels}}`} ${Number.isFinite(s.value) ? s.value : 0}`);
  }
  return lines.join('\n');
}

function simple(name: string, type: 'gauge' | 'counter', help: string, samples: readonly { labels: Labels; value: number }[]): Family {
  return { name, type, help, samples: samples.map((s) => ({ suffix: '', labels: s.labels, value: s.value })) };
}

function transportFamilies(node: string, m: TransportMetrics): Family[] {
  const out: Family[] = [];
  for (const [key, value] of Object.entries(m)) {
    if (typeof value !== 'number') continue;
    out.push(simple(`otlpdb_transport_${snakeCase(key)}_total`, 'counter', `Peer transport counter ${key}.`, [{ labels: { node }, value }]));
  }
  out.push(
    simple(
      'otlpdb_transport_frames_refused_total',
      'counter',
      'Inbound connections or frames refused (bad peer input), by reason.',
      Object.entries(m.framesRefused).map(([reason, value]) => ({ labels: { node, reason }, value: value ?? 0 })),
    ),
  );
  return out;
}

function peerFamilies(node: string, peers: ReadonlyMap<number, PeerMetrics>): Family[] {
  const ids = [...peers.keys()].sort((a, b) => a - b);
  const at = (id: number): PeerMetrics => {
    const p = peers.get(id);
    assert(p !== undefined, 'sorted ids come from the map');
    return p;
  };
  const out = PEER_FAMILIES.map((f) => simple(f.name, 'counter', f.help, ids.map((id) => ({ labels: { node, peer: String(id) }, value: f.value(at(id)) }))));
  out.push(
    simple(
      'otlpdb_transport_peer_dropped_messages_total',
      'counter',
      'Messages to the peer dropped before sending, by reason (queue_full, fault).',
      ids.flatMap((id) => [
        { labels: { node, peer: String(id), reason: 'queue_full' }, value: at(id).dropsQueueFull },
        { labels: { node, peer: String(id), reason: 'fault' }, value: at(id).dropsFault },
      ]),
    ),
  );
  return out;
}

/** checkHistogram asserts the shape WalSyncHistogram documents: a bad one is a bug of the source. */
function checkHistogram(h: WalSyncHistogram): void {
  assert(h.counts.length === h.bucketsMs.length + 1, 'histogram: one count per bucket plus +Inf');
  for (let i = 0; i < h.bucketsMs.length; i++) {
    const b = h.bucketsMs[i];
    assert(b !== undefined && Number.isFinite(b) && b >= 0, 'histogram: bucket bounds are finite and non-negative');
    assert(i === 0 || b > (h.bucketsMs[i - 1] ?? 0), 'histogram: bucket bounds strictly increase');
  }
  let total = 0;
  for (const c of h.counts) {
    assert(Number.isSafeInteger(c) && c >= 0, 'histogram: counts are non-negative integers');
    total += c;
  }
  assert(total === h.count, 'histogram: the per-bucket counts sum to count');
  assert(Number.isFinite(h.sumMs) && h.sumMs >= 0, 'histogram: sumMs is finite and non-negative');
}

/** walFamily renders the fsync histogram in seconds with cumulative buckets, as Prometheus expects. */
function walFamily(node: string, h: WalSyncHistogram): Family {
  checkHistogram(h);
  const samples: Sample[] = [];
  let cumulative = 0;
  for (let i = 0; i < h.counts.length; i++) {
    cumulative += h.counts[i] ?? 0;
    const bound = h.bucketsMs[i];
    samples.push({ suffix: '_bucket', labels: { node, le: bound === undefined ? '+Inf' : String(bound / 1000) }, value: cumulative });
  }
  assert(cumulative === h.count, 'the +Inf bucket holds every sync');
  samples.push({ suffix: '_sum', labels: { node }, value: h.sumMs / 1000 });
  samples.push({ suffix: '_count', labels: { node }, value: h.count });
  return { name: 'otlpdb_wal_fsync_duration_seconds', type: 'histogram', help: 'WAL fsync latency.', samples };
}

/** GAUGE_DRIVER_STATS are driver stats that are maxima, not counters. */
const GAUGE_DRIVER_STATS: ReadonlySet<string> = new Set(['groupsSyncedMax', 'walSegments', 'walSegmentsMax', 'flushesInFlight']);

/** prometheusText renders the node's metrics in the Prometheus text exposition format (0.0.4). */
export function prometheusText(source: ApiSource): string {
  const node = String(source.nodeId);
  const groups = source.groups();
  const families: Family[] = GROUP_FAMILIES.map((f) =>
    simple(
      f.name,
      f.type,
      f.help,
      groups.map((g) => ({ labels: { node, group: String(g.group) }, value: f.value(g) })),
    ),
  );
  const tracked = groups.filter((g) => g.proposals !== undefined);
  if (tracked.length > 0) {
    for (const f of PROPOSAL_FAMILIES) {
      families.push(simple(f.name, 'counter', f.help, tracked.map((g) => ({ labels: { node, group: String(g.group) }, value: g.proposals ? f.value(g.proposals) : 0 }))));
    }
  }
  for (const [key, value] of Object.entries(source.driverStats())) {
    const gauge = GAUGE_DRIVER_STATS.has(key);
    families.push(simple(`otlpdb_driver_${snakeCase(key)}${gauge ? '' : '_total'}`, gauge ? 'gauge' : 'counter', `Multi-raft driver stat ${key}.`, [{ labels: { node }, value }]));
  }
  families.push(...transportFamilies(node, source.transportMetrics()));
  const peers = source.peerMetrics?.();
  if (peers !== undefined) families.push(...peerFamilies(node, peers));
  const parts = source.shardParts?.();
  if (parts !== undefined) {
    families.push(simple('otlpdb_shard_parts_running', 'gauge', 'Shard parts of queries (searches, reads) this node is serving now.', [{ labels: { node }, value: parts.running }]));
    families.push(
      simple('otlpdb_shard_parts_cancelled_total', 'counter', 'Shard parts this node stopped because their caller cancelled them (its query answered or its client went away).', [
        { labels: { node }, value: parts.cancelled },
      ]),
    );
  }
  const inboxDropped = source.inboxDropped?.();
  if (inboxDropped !== undefined) {
    families.push(
      simple('otlpdb_node_inbox_dropped_messages_total', 'counter', 'Received messages dropped because the node inbox was full.', [{ labels: { node }, value: inboxDropped }]),
    );
  }
  const mem = source.processMemory?.();
  if (mem !== undefined) {
    // The names Prometheus's Node.js client (prom-client) gives them, so existing dashboards read them.
    families.push(
      simple('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', [{ labels: { node }, value: mem.rss }]),
      simple('nodejs_heap_size_total_bytes', 'gauge', 'V8 heap size in bytes.', [{ labels: { node }, value: mem.heapTotal }]),
      simple('nodejs_heap_size_used_bytes', 'gauge', 'V8 heap used in bytes.', [{ labels: { node }, value: mem.heapUsed }]),
      simple('nodejs_external_memory_bytes', 'gauge', 'Memory of C++ objects bound to JavaScript objects (Buffers included) in bytes.', [{ labels: { node }, value: mem.external }]),
      simple('nodejs_array_buffers_bytes', 'gauge', 'Memory of ArrayBuffers and SharedArrayBuffers (Buffers included) in bytes.', [{ labels: { node }, value: mem.arrayBuffers }]),
    );
  }
  const ingest = source.ingestMetrics?.();
  if (ingest !== undefined) families.push(...ingestFamilies(node, ingest));
  const wal = source.walSyncHistogram?.();
  if (wal !== undefined) families.push(walFamily(node, wal));
  assert(new Set(families.map((f) => f.name)).size === families.length, 'no metric family name repeats');
  return `${families.map(renderFamily).join('\n')}\n`;
}

/** ingestFamilies renders the OTLP write path's counters and limits. */
function ingestFamilies(node: string, m: IngestMetricsView): Family[] {
  const signals = Object.entries(m.bySignal);
  return [
    simple('otlpdb_ingest_requests_total', 'counter', 'OTLP export requests received, by signal.', signals.map(([signal, c]) => ({ labels: { node, signal }, value: c.requests }))),
    simple('otlpdb_ingest_items_accepted_total', 'counter', 'Spans, data points and log records stored (committed), by signal.', signals.map(([signal, c]) => ({ labels: { node, signal }, value: c.accepted }))),
    simple('otlpdb_ingest_items_rejected_total', 'counter', 'Items refused inside accepted requests (partial success), by signal.', signals.map(([signal, c]) => ({ labels: { node, signal }, value: c.rejected }))),
    simple('otlpdb_ingest_requests_refused_total', 'counter', 'Whole requests refused, by reason.', Object.entries(m.refused).map(([reason, value]) => ({ labels: { node, reason }, value }))),
    simple('otlpdb_ingest_truncated_values_total', 'counter', 'Attribute values cut at the value length limit.', [{ labels: { node }, value: m.truncatedValues }]),
    simple('otlpdb_ingest_sampled_out_spans_total', 'counter', 'Spans dropped by the tenant\'s head sampling.', [{ labels: { node }, value: m.sampledOut }]),
    simple('otlpdb_ingest_inflight_bytes', 'gauge', 'Request bytes admitted and not yet answered.', [{ labels: { node }, value: m.inflightBytes }]),
    ...(m.headBytes === undefined
      ? []
      : [simple('otlpdb_node_head_bytes', 'gauge', 'Accounted bytes of all shard heads on the node (bounded by the ingest limits nodeHeadBytesSoftMax and nodeHeadBytesHardMax).', [{ labels: { node }, value: m.headBytes }])]),
    ...Object.entries(m.writer).map(([key, value]) =>
      simple(`otlpdb_ingest_writer_${snakeCase(key)}_total`, 'counter', `Shard writer counter ${key}.`, [{ labels: { node }, value }]),
    ),
    simple('otlpdb_ingest_breakers_open', 'gauge', 'Peers whose circuit breaker is open or half-open.', [{ labels: { node }, value: m.breakersOpen }]),
    simple('otlpdb_ingest_limit', 'gauge', 'Named OTLP ingest limits in force.', Object.entries(m.limits).map(([name, value]) => ({ labels: { node, name }, value }))),
  ];
}
