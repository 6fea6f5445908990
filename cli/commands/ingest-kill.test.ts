import t from 'tap';
import { TraceLookupLimits } from '../../src/limits.js';
import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { parseHostPort } from '../../src/node-config.js';
import type { StatsDocument } from '../../src/shard-service.js';
import { LocalCluster, requestWithin } from './cluster-test-util.js';
import type { ClusterSpec } from './cluster-test-util.js';

// A node killed mid-stream (the "OTLP ingest" issue): real `otlpdb start`
// processes from `cluster up --detach`, the OpenTelemetry SDK's
// http/protobuf trace exporter writing to node 1 while node 2 is killed
// with SIGKILL and later restarted. The SDK retries what the cluster
// refuses (503 while shards elect new leaders); afterwards every span of
// every acknowledged batch reads back exactly once, and the stored span
// count equals the spans found (a retried request is not stored twice).
// Ports 28520-28533 (peer, API) and 29520-29533 (OTLP): apart from the
// other cluster tests. No assertion is about speed.

const SPEC: ClusterSpec = { peerPort: 28_520, apiPort: 28_530, tickMs: 20, shards: 4, nodes: 3 };
const ROUNDS = 30;
const TRACES_PER_ROUND = 5;
const CHILDREN = 3;
const KILL_AFTER_ROUND = 8;
const RESTART_AFTER_ROUND = 20;
const POLLS_MAX = 1500;
const POLL_MS = 20;
/** STATS_POLLS_MAX bounds the flush-and-count rounds waiting for a replica that applied acknowledged entries after the first flush. */
const STATS_POLLS_MAX = 20;

/** Recording wraps an exporter and remembers, per trace, whether a batch holding its spans was acknowledged. */
class Recording implements SpanExporter {
  readonly acked = new Set<string>();
  readonly failed = new Set<string>();
  readonly #inner: SpanExporter;

  constructor(inner: SpanExporter) {
    this.#inner = inner;
  }

  export(spans: ReadableSpan[], done: (r: ExportResult) => void): void {
    this.#inner.export(spans, (r) => {
      for (const s of spans) (r.code === ExportResultCode.SUCCESS ? this.acked : this.failed).add(s.spanContext().traceId);
      done(r);
    });
  }

  shutdown(): Promise<void> {
    return this.#inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.#inner.forceFlush?.() ?? Promise.resolve();
  }
}

t.test('a node killed with SIGKILL mid-stream: the SDK retries, nothing acknowledged is lost or stored twice', async (t) => {
  const c = await LocalCluster.up(t, SPEC, 'otlpdb-ingest-kill-');
  const otlp = parseHostPort('otlp', c.entry(1).otlpHttp ?? '', 0);
  const recording = new Recording(new OTLPTraceExporter({ url: `http://${otlp.host}:${otlp.port}/v1/traces`, timeoutMillis: 20_000 }));
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'kill-test' }),
    spanProcessors: [new BatchSpanProcessor(recording, { maxExportBatchSize: 512, scheduledDelayMillis: 60_000 })],
  });
  const tracer = provider.getTracer('kill-test');
  const sent = new Map<string, string[]>();
  let killedPid = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    for (let k = 0; k < TRACES_PER_ROUND; k++) {
      const root = tracer.startSpan(`r${round}-t${k}`);
      const parent = trace.setSpan(ROOT_CONTEXT, root);
      const ids = [root.spanContext().spanId];
      for (let i = 0; i < CHILDREN; i++) {
        const child = tracer.startSpan(`r${round}-t${k}-c${i}`, { attributes: { round, i } }, parent);
        ids.push(child.spanContext().spanId);
        child.end();
      }
      root.end();
      sent.set(root.spanContext().traceId, ids);
    }
    await provider.forceFlush();
    if (round === KILL_AFTER_ROUND) {
      killedPid = c.entry(2).pid;
      process.kill(killedPid, 'SIGKILL');
      t.comment(`round ${round}: node 2 (pid ${killedPid}) killed`);
    }
    if (round === RESTART_AFTER_ROUND) {
      const again = c.startNode(2, 'n2.log');
      const ok = await c.ready(2, POLLS_MAX, POLL_MS, again);
      t.ok(ok, c.explain(ok, `round ${round}: node 2 restarted and ready`));
    }
  }
  await provider.shutdown();
  t.ok(killedPid > 0, 'a node was killed mid-stream');
  t.ok(recording.acked.size >= (ROUNDS - 4) * TRACES_PER_ROUND, `the SDK's retries got ${recording.acked.size} of ${sent.size} traces acknowledged (${recording.failed.size} failed)`);

  t.equal((await requestWithin(c.api(3), '/api/v1/admin/flush', 'POST', undefined, 30_000)).status, 200, 'flushed on every node');
  let found = 0;
  for (const [traceId, ids] of sent) {
    // A lookup may wait out an election (TraceLookupLimits.lookupMsMax); the client waits longer than that.
    const r = await requestWithin(c.api(3), `/api/traces/${traceId}`, 'GET', undefined, TraceLookupLimits.lookupMsMax + 5_000);
    if (r.status === 404 && !recording.acked.has(traceId)) continue;
    if (r.status !== 200) {
      t.fail(`trace ${traceId} (${recording.acked.has(traceId) ? 'acknowledged' : 'not acknowledged'}) answered ${r.status}: ${r.body.slice(0, 200)}`);
      continue;
    }
    const doc = JSON.parse(r.body) as { batches: { scopeSpans: { spans: { spanId: string }[] }[] }[] };
    const got = doc.batches.flatMap((b) => b.scopeSpans.flatMap((s) => s.spans.map((x) => x.spanId)));
    if (got.length !== new Set(got).size) t.fail(`trace ${traceId} holds a span twice: ${got.join(',')}`);
    if ([...got].sort().join() !== [...ids].sort().join()) t.fail(`trace ${traceId}: spans ${got.join(',')} are not the ${ids.length} sent`);
    found += got.length;
  }
  t.pass(`${found} spans read back, every acknowledged trace whole`);
  const metrics = (await requestWithin(c.api(1), '/metrics', 'GET', undefined, 10_000)).body;
  t.comment(`node 1 refused ${/otlpdb_ingest_requests_refused_total\{node="1",reason="uncommitted"\} (\d+)/.exec(metrics)?.[1] ?? '?'} request(s) as uncommitted (503) while node 2 was down; the SDK retried them`);
  // /api/v1/stats sums one replica's durable (flushed) counts per shard, its leader's. A replica that applied the
  // last acknowledged entries only after the flush above (a follower then, a leader once node 2's return moved
  // leaders) counts them at its next flush, so a count under `found` is flushed again, within STATS_POLLS_MAX
  // rounds. A count over `found` is a span stored twice and fails at once.
  let stats = JSON.parse((await requestWithin(c.api(1), '/api/v1/stats', 'GET', undefined, 10_000)).body) as StatsDocument;
  for (let poll = 0; poll < STATS_POLLS_MAX && stats.traces.spans < found; poll++) {
    t.comment(`stats count ${stats.traces.spans} of ${found} spans: flushing again`);
    await new Promise((resolve) => setTimeout(resolve, 250));
    await requestWithin(c.api(3), '/api/v1/admin/flush', 'POST', undefined, 30_000);
    stats = JSON.parse((await requestWithin(c.api(1), '/api/v1/stats', 'GET', undefined, 10_000)).body) as StatsDocument;
  }
  t.equal(stats.traces.spans, found, 'stored spans = spans found: no retry stored a span twice');
  t.ok(found >= recording.acked.size * (CHILDREN + 1), 'every acknowledged span is stored');
});
