import t from 'tap';
import { newMetrics } from '../transport/transport-types.js';
import { parsePrometheusText, sampleValue } from './prometheus-test-util.js';
import { escapeLabel, prometheusText } from './prometheus-text.js';
import type { ApiSource, WalSyncHistogram } from './types.js';

function source(wal?: WalSyncHistogram): ApiSource {
  return {
    nodeId: 1,
    metaGroup: 0,
    nodes: () => [],
    groups: () => [{ group: 0, term: 1, commit: 1, applied: 1, leader: 1, isLeader: true, voters: [1], learners: [], leaderChanges: 1 }],
    transportMetrics: () => ({ ...newMetrics(), framesRefused: { bad_handshake: 3, wrong_cluster: 1 } }),
    driverStats: () => ({ iterations: 1 }),
    walSyncHistogram: () => wal,
  };
}

t.test('the parser catches planted mistakes (it can fail)', async (t) => {
  const ok = '# HELP a_total A.\n# TYPE a_total counter\na_total{x="1"} 1\n';
  t.ok(parsePrometheusText(ok).has('a_total'), 'a valid text parses');
  const bad: Array<[string, string, RegExp]> = [
    ['no trailing line feed', ok.slice(0, -1), /line feed/],
    ['no TYPE', 'b 1\n', /no TYPE/],
    ['typed twice', '# TYPE a gauge\na 1\n# TYPE a gauge\n', /TYPE twice/],
    ['split block', '# TYPE a gauge\n# TYPE b gauge\nb 1\na 1\n', /not in the block/],
    ['bad escape', '# TYPE a gauge\na{x="\\t"} 1\n', /bad escape/],
    ['unquoted', '# TYPE a gauge\na{x=1} 1\n', /not quoted/],
    ['repeated label', '# TYPE a gauge\na{x="1",x="2"} 1\n', /repeated label/],
    ['duplicate series', '# TYPE a gauge\na{x="1"} 1\na{x="1"} 2\n', /duplicate series/],
    ['bad value', '# TYPE a gauge\na 1,5\n', /bad value/],
    ['not cumulative', '# TYPE h histogram\nh_bucket{le="1"} 5\nh_bucket{le="+Inf"} 4\nh_sum 1\nh_count 4\n', /not cumulative/],
    ['no +Inf', '# TYPE h histogram\nh_bucket{le="1"} 5\nh_sum 1\nh_count 5\n', /\+Inf/],
    ['count differs', '# TYPE h histogram\nh_bucket{le="+Inf"} 5\nh_sum 1\nh_count 6\n', /_count differs/],
  ];
  for (const [name, text, why] of bad) t.throws(() => parsePrometheusText(text), why, name);
});

t.test('label values are escaped so that any string parses back', async (t) => {
  const odd = 'a"b\\c\nd';
  const text = `# TYPE m gauge\nm{v="${escapeLabel(odd)}"} 1\n`;
  t.equal(sampleValue(parsePrometheusText(text), 'm', { v: odd }), 1);
});

t.test('the fsync histogram is rendered cumulative in seconds; a malformed one is refused', async (t) => {
  const text = prometheusText(source({ bucketsMs: [0.5, 2, 100], counts: [1, 0, 4, 2], sumMs: 1500, count: 7 }));
  const fams = parsePrometheusText(text);
  const les = fams
    .get('otlpdb_wal_fsync_duration_seconds')
    ?.samples.filter((s) => s.name.endsWith('_bucket'))
    .map((s) => [s.labels.le, s.value]);
  t.same(les, [
    ['0.0005', 1],
    ['0.002', 1],
    ['0.1', 5],
    ['+Inf', 7],
  ]);
  t.equal(sampleValue(fams, 'otlpdb_wal_fsync_duration_seconds_sum', { node: '1' }), 1.5);
  t.equal(sampleValue(fams, 'otlpdb_transport_frames_refused_total', { node: '1', reason: 'bad_handshake' }), 3);
  t.notOk(parsePrometheusText(prometheusText(source(undefined))).has('otlpdb_wal_fsync_duration_seconds'), 'no histogram when the source has none');

  t.throws(() => prometheusText(source({ bucketsMs: [1, 2], counts: [1, 1], sumMs: 1, count: 2 })), { code: 'ERR_INTERNAL' }, 'counts without +Inf');
  t.throws(() => prometheusText(source({ bucketsMs: [2, 1], counts: [1, 1, 0], sumMs: 1, count: 2 })), { code: 'ERR_INTERNAL' }, 'bounds not increasing');
  t.throws(() => prometheusText(source({ bucketsMs: [1], counts: [1, 1], sumMs: 1, count: 3 })), { code: 'ERR_INTERNAL' }, 'counts not summing to count');
});
