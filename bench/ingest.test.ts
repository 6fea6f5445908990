import { existsSync } from 'node:fs';
import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { IngestBenchLimits } from '../src/limits.js';
import { encodeExportResponseProto } from '../src/otlp/export-response.js';
import { decodeLogsProto } from '../src/otlp/proto-logs.js';
import { decodeMetricsProto } from '../src/otlp/proto-metrics.js';
import { decodeTracesProto } from '../src/otlp/proto-traces.js';
import { slotPool } from './ingest-load.js';
import type { LoadSlot } from './ingest-load.js';
import { buildTemplate, makeBody } from './ingest-payloads.js';
import {
  decodeExportResponse,
  ingestDecodeRatio,
  itemsPerCpuSec,
  parseIngestArgs,
  percentileMs,
  phaseFigures,
  targetItemsPerSec,
  targetMet,
} from './ingest-plan.js';
import type { PhaseCounts } from './ingest-plan.js';
import { runIngestBench } from './ingest-run.js';
import { DIAG_DIR, keepDiagnostics } from './ingest-diag.js';

// Not a timed test: it checks the bench's flags, bodies and arithmetic
// exactly, and that one tiny real run stores exactly what it acknowledged,
// so the published figures mean something. It asserts no timing.

const counts = (over: Partial<PhaseCounts>): PhaseCounts => ({
  ok: 0, rejectedItems: 0, okBodyBytes: 0, non2xx: 0, errors: 0, statusCodes: {}, elapsedSec: 1, latenciesMs: [], ...over,
});

t.test('parseIngestArgs: defaults, every flag, and refusals', async (t) => {
  t.same(parseIngestArgs([]), {
    signals: ['traces', 'metrics', 'logs'], nodes: 1, durationSec: 10, connections: 16, batch: 512, protocols: ['http', 'grpc'], keepDir: false, json: false,
  });
  t.equal(parseIngestArgs(['--keep-dir']).keepDir, true);
  t.equal(parseIngestArgs(['--cpu-prof', '/tmp/p']).cpuProfDir, '/tmp/p');
  t.throws(() => parseIngestArgs(['--cpu-prof']), /--cpu-prof/);
  t.throws(() => parseIngestArgs(['--cpu-prof', '--json']), /--cpu-prof/);
  t.same(parseIngestArgs(['--signal', 'logs', '--nodes', '3', '--duration', '5', '--connections', '64', '--batch', '1000', '--grpc', '--json']), {
    signals: ['logs'], nodes: 3, durationSec: 5, connections: 64, batch: 1000, protocols: ['grpc'], keepDir: false, json: true,
  });
  t.same(parseIngestArgs(['--signal', 'all', '--http']).protocols, ['http']);
  t.same(parseIngestArgs(['--grpc-first']).protocols, ['grpc', 'http'], '--grpc-first swaps the phases of a signal');
  t.throws(() => parseIngestArgs(['--grpc-first', '--grpc']), /--grpc-first/);
  t.throws(() => parseIngestArgs(['--http', '--grpc-first']), /--grpc-first/);
  t.same(parseIngestArgs(['--signal', 'all']).signals, ['traces', 'metrics', 'logs']);
  t.throws(() => parseIngestArgs(['--signal', 'spans']), /--signal/);
  t.throws(() => parseIngestArgs(['--nodes', '2']), /--nodes/);
  t.throws(() => parseIngestArgs(['--duration', '0']), /--duration/);
  t.throws(() => parseIngestArgs(['--duration', '1.5']), /--duration/);
  t.throws(() => parseIngestArgs(['--duration']), /--duration/);
  t.throws(() => parseIngestArgs(['--connections', String(IngestBenchLimits.connectionsMax + 1)]), /--connections/);
  t.throws(() => parseIngestArgs(['--batch', '100']), /--batch/);
  t.throws(() => parseIngestArgs(['--grpc', '--http']), /exclude/);
  t.throws(() => parseIngestArgs(['--sginal', 'logs']), /unknown argument/);
});

t.test('decodeExportResponse reads partial_success as the receivers encode it', async (t) => {
  t.same(decodeExportResponse(new Uint8Array(0)), { rejected: 0, message: '' });
  t.same(decodeExportResponse(encodeExportResponseProto(0, '', 'traces')), { rejected: 0, message: '' });
  // 300 needs a two-byte varint: both bytes >= 0x80 on the wire would not survive a UTF-8 round trip.
  t.same(decodeExportResponse(encodeExportResponseProto(300, '300 spans rejected: ERR_X: bad', 'traces')), { rejected: 300, message: '300 spans rejected: ERR_X: bad' });
  t.same(decodeExportResponse(encodeExportResponseProto(7, '', 'logs')), { rejected: 7, message: '' });
  t.throws(() => decodeExportResponse(Uint8Array.of(0x0a, 0x05, 0x08)), /past the end/);
});

t.test('figures: items count acknowledged items only; MB/s, percentiles, ratio and targets follow', async (t) => {
  const lat = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted on purpose
  const f = phaseFigures(counts({ ok: 10, rejectedItems: 12, okBodyBytes: 5_000_000, elapsedSec: 2, latenciesMs: lat }), 512);
  t.equal(f.itemsAcknowledged, 10 * 512 - 12);
  t.equal(f.itemsPerSec, 2554);
  t.equal(f.mbPerSec, 2.5);
  t.equal(f.latencyP50Ms, 50);
  t.equal(f.latencyP99Ms, 99);
  // Failed requests add nothing to the rate.
  t.equal(phaseFigures(counts({ ok: 10, non2xx: 900, elapsedSec: 2 }), 1000).itemsPerSec, 5000);
  t.equal(percentileMs([7], 50), 7);
  t.equal(percentileMs([7], 99), 7);
  t.equal(percentileMs([], 99), 0);
  t.equal(percentileMs([1, 2, 3, 4], 50), 2);
  t.equal(percentileMs([1, 2, 3, 4], 51), 3);
  t.equal(ingestDecodeRatio(2554, 45_756), 0.056);
  t.equal(ingestDecodeRatio(1, 3), 0.333);
  t.equal(ingestDecodeRatio(5, 0), null, 'no ratio without a decode rate');
  // Items per CPU-second sum the nodes' CPU time (three nodes share the work of one phase).
  t.equal(itemsPerCpuSec(90_000, [1.5]), 60_000);
  t.equal(itemsPerCpuSec(90_000, [0.5, 0.5, 0.5]), 60_000);
  t.equal(itemsPerCpuSec(10, [3]), 3);
  t.equal(itemsPerCpuSec(10, [1, null]), null, 'no figure when a node was unreadable');
  t.equal(itemsPerCpuSec(10, [0]), null, 'no figure without CPU time');
  t.equal(targetItemsPerSec('traces', 1), 100_000);
  t.equal(targetItemsPerSec('metrics', 1), 500_000);
  t.equal(targetItemsPerSec('logs', 1), 200_000);
  t.equal(targetItemsPerSec('traces', 3), 40_000);
  t.equal(targetItemsPerSec('metrics', 3), 200_000);
  t.equal(targetItemsPerSec('logs', 3), 80_000);
  const fast = phaseFigures(counts({ ok: 200, elapsedSec: 1 }), 512);
  t.ok(targetMet('traces', 1, fast), '102,400 spans/s meets 100,000');
  t.notOk(targetMet('traces', 1, phaseFigures(counts({ ok: 200, non2xx: 1, elapsedSec: 1 }), 512)), 'a failed request voids the target');
  t.notOk(targetMet('metrics', 1, fast));
  t.throws(() => phaseFigures(counts({ ok: 1, rejectedItems: 513 }), 512), /rejections within/);
});

t.test('bodies: realistic sizes, every item decodes, every request distinct, metric times per slot strictly increasing', async (t) => {
  const now = Date.now();
  const base = now - 60_000;
  const traces = buildTemplate('traces', 512, now, 1);
  t.ok(traces.bytes.length / 512 > 280 && traces.bytes.length / 512 < 380, `spans of ~300 bytes (${traces.bytes.length / 512})`);
  const a = decodeTracesProto(makeBody(traces, 1, 0, base), { tenant: 'bench', nowMs: now });
  const b = decodeTracesProto(makeBody(traces, 1, 1, base), { tenant: 'bench', nowMs: now });
  const c = decodeTracesProto(makeBody(traces, 2, 0, base), { tenant: 'bench', nowMs: now });
  t.equal(a.rows.length, 512);
  t.equal(a.rejected, 0);
  t.equal(a.rows[0]?.attributes.length, IngestBenchLimits.spanAttributes);
  const ids = (r: typeof a): Set<string> => new Set(r.rows.map((s) => Buffer.from(s.traceId).toString('hex')));
  t.equal(ids(a).size, 512 / IngestBenchLimits.spansPerTrace, 'spansPerTrace spans per trace');
  const all = new Set([...ids(a), ...ids(b), ...ids(c)]);
  t.equal(all.size, (3 * 512) / IngestBenchLimits.spansPerTrace, 'no trace id shared between requests');

  const metrics = buildTemplate('metrics', 1000, now, 1);
  const m0 = decodeMetricsProto(makeBody(metrics, 5, 0, base), { tenant: 'bench', nowMs: now });
  const m1 = decodeMetricsProto(makeBody(metrics, 5, 1, base), { tenant: 'bench', nowMs: now });
  t.equal(m0.rows.length, 1000);
  t.equal(m0.rejected, 0);
  t.ok(m0.rows.every((p) => p.timeUnixNano === BigInt(base) * 1_000_000n), 'request 0 at baseMs');
  t.ok(m1.rows.every((p) => p.timeUnixNano === BigInt(base + 1) * 1_000_000n), 'request 1 one ms later');
  const series = new Set(m0.rows.map((p) => `${p.name}|${JSON.stringify(p.attributes, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`));
  t.equal(series.size, 1000, 'the points of a body are distinct series');
  t.ok(Buffer.from(makeBody(metrics, 5, 0, base)).includes('bench-host-00000005'), 'the slot names the host');

  const logs = buildTemplate('logs', 512, now, 1);
  const l = decodeLogsProto(makeBody(logs, 0, 3, base), { tenant: 'bench', nowMs: now });
  t.equal(l.rows.length, 512);
  t.equal(l.rejected, 0);
  t.not(makeBody(logs, 0, 3, base).compare(makeBody(logs, 0, 4, base)), 0, 'log bodies differ per request');
});

t.test('slotPool hands out the same slots again in the next phase, and new ones past them', async (t) => {
  let n = 0;
  const pool: LoadSlot[] = [];
  const first = slotPool(pool, () => n++);
  const a = first();
  const b = first();
  a.seq = 5;
  const second = slotPool(pool, () => n++);
  t.equal(second(), a);
  t.equal(second(), b);
  t.equal(second().slot, 2);
  t.equal(a.seq, 5, 'the sequence continues');
});

t.test('keepDiagnostics copies the node logs and the /metrics samples, not the data', async (t) => {
  const root = t.testdir({
    cluster: { 'n1.log': 'node one\n', 'n2.log': 'node two\n', 'cluster.json': '{}', n1: { 'data.ldb': 'x' } },
    [DIAG_DIR]: { '01-logs-grpc-n1.metrics.txt': 'otlpdb_ingest_inflight_bytes 0\n' },
  });
  const kept = await keepDiagnostics(root);
  t.teardown(() => rm(kept, { recursive: true, force: true }));
  t.same((await readdir(kept)).sort(), [DIAG_DIR, 'n1.log', 'n2.log']);
  t.equal(await readFile(join(kept, 'n2.log'), 'utf8'), 'node two\n');
  t.same(await readdir(join(kept, DIAG_DIR)), ['01-logs-grpc-n1.metrics.txt']);
  t.ok(existsSync(join(root, 'cluster', 'n1.log')), 'the original stays (the caller removes it)');
});

t.test('a tiny real run (1 node, R=1, 1 s per phase) stores exactly what it acknowledged, and --keep-dir keeps its logs and samples', async (t) => {
  const lines: string[] = [];
  const report = await runIngestBench(
    { signals: ['traces', 'metrics', 'logs'], nodes: 1, durationSec: 1, connections: 2, batch: 512, protocols: ['http', 'grpc'], receiveWorkers: undefined, keepDir: true, json: true },
    // Ports of their own, away from the bench (14200...) and other tests.
    { ports: { api: 31_810, peer: 31_820, otlpGrpc: 31_830, otlpHttp: 31_840 }, log: (l) => lines.push(l), decodeSec: 0.2, warmupSec: 0 },
  );
  const kept = report.keptDir;
  t.ok(kept !== null, '--keep-dir names the kept directory');
  if (kept !== null) {
    t.teardown(() => rm(kept, { recursive: true, force: true }));
    t.ok(existsSync(join(kept, 'cluster', 'n1.log')), 'the node log is kept');
    const samples = (await readdir(join(kept, DIAG_DIR))).sort();
    t.same(samples, ['01-traces-http', '02-traces-grpc', '03-metrics-http', '04-metrics-grpc', '05-logs-http', '06-logs-grpc'].map((p) => `${p}-n1.metrics.txt`));
    t.match(await readFile(join(kept, DIAG_DIR, '06-logs-grpc-n1.metrics.txt'), 'utf8'), /otlpdb_ingest_inflight_bytes/, 'a sample holds the node\'s /metrics');
  }
  t.equal(report.phases.length, 6, 'three signals over two protocols');
  t.equal(report.checks.length, 3);
  for (const k of report.checks) {
    t.ok(k.acknowledged > 0, `${k.signal}: something was acknowledged`);
    t.equal(k.stored, k.acknowledged, `${k.signal}: stored == acknowledged`);
    t.ok(k.match);
  }
  t.same(report.shardsMissing, []);
  for (const p of report.phases) t.equal(p.latenciesDropped, 0);
});
