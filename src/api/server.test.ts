import t from 'tap';
import { badPrometheusLines, httpRequest } from '../node-test-util.js';
import { newMetrics, newPeerMetrics } from '../transport/transport-types.js';
import type { PeerMetrics } from '../transport/transport-types.js';
import { parsePrometheusText, sampleValue } from './prometheus-test-util.js';
import { ApiLimits } from '../limits.js';
import { serveApi } from './api-test-util.js';
import type { ApiSource, GroupView } from './types.js';

function group(g: number, over: Partial<GroupView> = {}): GroupView {
  return {
    group: g,
    term: 3,
    commit: 7,
    applied: 7,
    leader: 2,
    isLeader: false,
    voters: [1, 2, 3],
    learners: [],
    leaderChanges: 1,
    proposals: { total: 10 + g, resolved: 8, dropped: 1 },
    ...over,
  };
}

/** FakeSource is a plain ApiSource whose groups a test sets. */
class FakeSource implements ApiSource {
  readonly nodeId = 1;
  readonly metaGroup = 0;
  views: GroupView[] = [group(0), group(1), group(2)];
  nodes() {
    return [
      { id: 1, address: '127.0.0.1:7400', state: 'self' },
      { id: 2, address: '127.0.0.2:7400', state: 'connected' },
    ];
  }
  groups() {
    return this.views;
  }
  transportMetrics() {
    return { ...newMetrics(), framesSent: 5, framesRefused: { not_msgpack: 2 } };
  }
  driverStats() {
    return { iterations: 10, groupsSyncedMax: 3 };
  }
  walSyncHistogram() {
    // 2 syncs <= 1 ms, 3 in (1, 5] ms, 0 in (5, 10] ms, 1 above 10 ms.
    return { bucketsMs: [1, 5, 10], counts: [2, 3, 0, 1], sumMs: 40, count: 6 };
  }
  peerMetrics(): ReadonlyMap<number, PeerMetrics> {
    return new Map([
      [2, { ...newPeerMetrics(), bytesOut: 1000, bytesIn: 900, errors: 1, dropsQueueFull: 4, dropsFault: 2 }],
      [3, newPeerMetrics()],
    ]);
  }
  processMemory() {
    return { rss: 5_000, heapTotal: 4_000, heapUsed: 3_000, external: 2_000, arrayBuffers: 1_000 };
  }
  inboxDropped() {
    return 7;
  }
}


t.test('health, readiness, cluster and metrics routes answer from the source', async (t) => {
  const source = new FakeSource();
  const a = await serveApi(t, source);
  const health = await httpRequest(a, '/healthz');
  t.equal(health.status, 200);
  t.equal(health.body, 'ok');
  t.equal((await httpRequest(a, '/readyz')).status, 200, 'every group has a leader and applied its commit');

  const cluster = JSON.parse((await httpRequest(a, '/api/v1/cluster')).body) as Record<string, unknown>;
  t.same(cluster, {
    nodes: [
      { id: 1, address: '127.0.0.1:7400', state: 'self' },
      { id: 2, address: '127.0.0.2:7400', state: 'connected' },
    ],
    meta: { leader: 2, term: 3 },
    shards: [1, 2].map((id) => ({ id, leader: 2, replicas: [1, 2, 3], term: 3, commitIndex: 7, appliedIndex: 7, voters: [1, 2, 3], learners: [], move: null })),
    movesInProgress: 0,
  });

  const metrics = await httpRequest(a, '/metrics');
  t.equal(metrics.status, 200);
  t.match(metrics.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  t.same(badPrometheusLines(metrics.body), [], 'every sample line is Prometheus text');
  t.match(metrics.body, /^otlpdb_raft_term\{node="1",group="2"\} 3$/m);
  t.match(metrics.body, /^otlpdb_transport_frames_sent_total\{node="1"\} 5$/m);
  t.match(metrics.body, /^otlpdb_transport_frames_refused_total\{node="1",reason="not_msgpack"\} 2$/m);
  t.match(metrics.body, /^otlpdb_driver_groups_synced_max\{node="1"\} 3$/m);

  // The whole text parses strictly, and the new series carry the source's values.
  const fams = parsePrometheusText(metrics.body);
  const v = (name: string, labels: Record<string, string>): number | undefined => sampleValue(fams, name, labels);
  t.equal(v('otlpdb_raft_commit_index', { node: '1', group: '1' }), 7);
  t.equal(v('otlpdb_raft_is_leader', { node: '1', group: '0' }), 0);
  t.equal(v('otlpdb_raft_leader_changes_total', { node: '1', group: '2' }), 1);
  t.equal(v('otlpdb_raft_proposals_total', { node: '1', group: '2' }), 12);
  t.equal(v('otlpdb_raft_proposals_resolved_total', { node: '1', group: '2' }), 8);
  t.equal(v('otlpdb_raft_proposals_dropped_total', { node: '1', group: '2' }), 1);
  t.equal(fams.get('otlpdb_wal_fsync_duration_seconds')?.type, 'histogram');
  t.same(
    ['0.001', '0.005', '0.01', '+Inf'].map((le) => v('otlpdb_wal_fsync_duration_seconds_bucket', { node: '1', le })),
    [2, 5, 5, 6],
    'fsync buckets are cumulative, in seconds',
  );
  t.equal(v('otlpdb_wal_fsync_duration_seconds_sum', { node: '1' }), 0.04);
  t.equal(v('otlpdb_wal_fsync_duration_seconds_count', { node: '1' }), 6);
  t.equal(v('otlpdb_transport_peer_bytes_sent_total', { node: '1', peer: '2' }), 1000);
  t.equal(v('otlpdb_transport_peer_bytes_received_total', { node: '1', peer: '2' }), 900);
  t.equal(v('otlpdb_transport_peer_errors_total', { node: '1', peer: '2' }), 1);
  t.equal(v('otlpdb_transport_peer_dropped_messages_total', { node: '1', peer: '2', reason: 'queue_full' }), 4);
  t.equal(v('otlpdb_transport_peer_dropped_messages_total', { node: '1', peer: '2', reason: 'fault' }), 2);
  t.equal(v('otlpdb_transport_peer_bytes_sent_total', { node: '1', peer: '3' }), 0);
  t.equal(v('otlpdb_transport_frames_refused_total', { node: '1', reason: 'not_msgpack' }), 2);
  t.equal(v('otlpdb_node_inbox_dropped_messages_total', { node: '1' }), 7);
  t.same(
    ['process_resident_memory_bytes', 'nodejs_heap_size_total_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_external_memory_bytes', 'nodejs_array_buffers_bytes'].map((n) => v(n, { node: '1' })),
    [5_000, 4_000, 3_000, 2_000, 1_000],
    'process memory under prom-client\'s names',
  );
  t.equal(fams.get('otlpdb_transport_peer_errors_total')?.type, 'counter');
});

t.test('metrics omit the optional families when the source has none', async (t) => {
  const bare: ApiSource = {
    nodeId: 4,
    metaGroup: 0,
    nodes: () => [],
    groups: () => [group(0, { proposals: undefined })],
    transportMetrics: () => newMetrics(),
    driverStats: () => ({}),
  };
  const a = await serveApi(t, bare);
  const fams = parsePrometheusText((await httpRequest(a, '/metrics')).body);
  t.ok(fams.has('otlpdb_raft_term'));
  for (const name of ['otlpdb_raft_proposals_total', 'otlpdb_wal_fsync_duration_seconds', 'otlpdb_transport_peer_bytes_sent_total', 'otlpdb_node_inbox_dropped_messages_total', 'process_resident_memory_bytes']) {
    t.notOk(fams.has(name), `${name} absent`);
  }
});

t.test('readyz names the first group that is not ready, meta group first', async (t) => {
  const source = new FakeSource();
  const a = await serveApi(t, source);
  source.views = [group(0), group(1, { leader: 0 }), group(2, { applied: 5 })];
  let r = await httpRequest(a, '/readyz');
  t.equal(r.status, 503);
  t.match(JSON.parse(r.body), { error: { code: 'ERR_UNAVAILABLE', details: { group: 1, reason: 'no known leader' } } });
  source.views = [group(1), group(2), group(0, { applied: 5 })];
  r = await httpRequest(a, '/readyz');
  t.match(JSON.parse(r.body), { error: { code: 'ERR_UNAVAILABLE', details: { group: 0, reason: 'applied 5 < commit 7' } } });
  source.views = [group(1)];
  r = await httpRequest(a, '/readyz');
  t.match(JSON.parse(r.body), { error: { details: { group: 0, reason: 'the meta group is not hosted' } } });
});

t.test('unknown paths, wrong methods and oversized bodies are refused with JSON error codes', async (t) => {
  const a = await serveApi(t, new FakeSource());
  const missing = await httpRequest(a, '/nope?x=1');
  t.equal(missing.status, 404);
  t.match(missing.headers['content-type'], /application\/json/);
  t.match(JSON.parse(missing.body), { error: { code: 'ERR_INVALID_ARGUMENT', message: /\/nope/ } });

  const wrong = await httpRequest(a, '/healthz', 'DELETE');
  t.equal(wrong.status, 405);
  t.equal(wrong.headers.allow, 'GET');
  t.match(JSON.parse(wrong.body), { error: { code: 'ERR_INVALID_ARGUMENT' } });

  const big = await httpRequest(a, '/healthz', 'POST', Buffer.alloc(ApiLimits.requestBodyBytesMax + 1, 0x61));
  t.equal(big.status, 413);
  t.match(JSON.parse(big.body), { error: { code: 'ERR_LIMIT_EXCEEDED' } });

  const small = await httpRequest(a, '/healthz', 'POST', Buffer.from('tiny'));
  t.equal(small.status, 405, 'a body within the limit is read, then the route decides');
  t.equal((await httpRequest(a, '/healthz')).status, 200, 'the server still serves after refusing a body');
});

t.test('readyz gives the node-level reason first, and every answer names the node that gave it', async (t) => {
  const source = Object.assign(new FakeSource(), { notReadyReason: (): string | null => 'the cluster is bootstrapping' });
  source.views = [group(0), group(1)];
  const a = await serveApi(t, source);
  const r = await httpRequest(a, '/readyz');
  t.equal(r.status, 503);
  t.match(JSON.parse(r.body), { error: { code: 'ERR_UNAVAILABLE', details: { group: 0, reason: 'the cluster is bootstrapping' } } });
  t.equal(r.headers['x-otlpdb-node'], String(source.nodeId));
  source.notReadyReason = () => null;
  t.equal((await httpRequest(a, '/readyz')).status, 200);
});

t.test('the stats and flush routes answer a wrong method with 405 and Allow, and 404 when the source has no shards', async (t) => {
  const source = new FakeSource();
  const a = await serveApi(t, source);
  const post = await httpRequest(a, '/api/v1/stats', 'POST');
  t.equal(post.status, 405);
  t.equal(post.headers.allow, 'GET');
  const get = await httpRequest(a, '/api/v1/admin/flush');
  t.equal(get.status, 405);
  t.equal(get.headers.allow, 'POST');
  t.equal((await httpRequest(a, '/api/v1/stats')).status, 404, 'a source without clusterStats has no stats route');
});
