import t from 'tap';
import { ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { OTLPLogExporter as LogsGrpc } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPLogExporter as LogsJson } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as LogsProto } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPMetricExporter as MetricsGrpc } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as MetricsJson } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as MetricsProto } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter as TracesGrpc } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as TracesJson } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as TracesProto } from '@opentelemetry/exporter-trace-otlp-proto';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import type { PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { OtlpdbNode } from '../node.js';
import type { HostPort } from '../node-config.js';
import { httpRequest, inProcessCluster, pollUntil } from '../node-test-util.js';
import type { StatsDocument } from '../shard-service.js';

// OTLP ingest with real clients (the "OTLP ingest" issue): the OpenTelemetry
// JS SDK exporters send traces, metrics and logs over gRPC, http/protobuf and http/json
// into a 3-node cluster in this process (real sockets, fsync, LevelDB);
// every acknowledged span is read back by trace id through another node,
// and /api/v1/stats counts exactly what was sent.

const SHARDS = 4;
const TICK_MS = 20;
const POLLS_MAX = 1500;
const POLL_MS = 40;
const SEED = 5151;

const url = (a: HostPort, path = ''): string => `http://${a.host}:${a.port}${path}`;

t.test('the SDK exporters write traces, metrics and logs into a 3-node cluster; everything reads back', async (t) => {
  const c = await inProcessCluster(t, { n: 3, founders: 3, prefix: 'otlpdb-ingest-', seedBase: SEED, extra: { shards: SHARDS, replicas: 3, tickMs: TICK_MS }, otlp: true });
  for (const id of [1, 2, 3]) c.nodes.set(id, await OtlpdbNode.start({ ...c.options(id), initialCluster: c.founders }));
  for (const id of [1, 2, 3]) t.ok(await pollUntil(async () => (await httpRequest(c.api(id), '/readyz')).status === 200, POLLS_MAX, POLL_MS), `node ${id} ready`);
  const grpcOf = (id: number): HostPort => c.nodes.get(id)?.otlpGrpcAddress() as HostPort;
  const httpOf = (id: number): HostPort => c.nodes.get(id)?.otlpHttpAddress() as HostPort;
  const resource = resourceFromAttributes({ 'service.name': 'ingest-test', 'service.instance.id': 'i-1' });

  // Traces: 3 traces of 5 spans through each exporter.
  const traceExporters: [string, SpanExporter][] = [
    ['grpc+gzip', new TracesGrpc({ url: url(grpcOf(1)), compression: CompressionAlgorithm.GZIP })],
    ['http/protobuf', new TracesProto({ url: url(httpOf(2), '/v1/traces') })],
    ['http/json', new TracesJson({ url: url(httpOf(3), '/v1/traces') })],
  ];
  const sent = new Map<string, { names: string[]; via: string }>();
  for (const [via, exporter] of traceExporters) {
    const provider = new BasicTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(exporter)] });
    const tracer = provider.getTracer('ingest-test', '1.0.0');
    for (let k = 0; k < 3; k++) {
      const names: string[] = [];
      // No context manager is registered: the parent is passed explicitly.
      const root = tracer.startSpan(`root-${via}-${k}`, { kind: SpanKind.SERVER });
      names.push(`root-${via}-${k}`);
      const parent = trace.setSpan(ROOT_CONTEXT, root);
      for (let i = 0; i < 4; i++) {
        const child = tracer.startSpan(`child-${i}`, { attributes: { 'http.route': `/r/${i}`, attempt: i, ok: i % 2 === 0 } }, parent);
        child.addEvent('checkpoint', { step: i });
        child.end();
        names.push(`child-${i}`);
      }
      sent.set(root.spanContext().traceId, { names, via });
      root.end();
    }
    await provider.forceFlush();
    await provider.shutdown();
  }
  for (const [traceId, want] of sent) {
    const r = await httpRequest(c.api(3), `/api/traces/${traceId}`);
    t.equal(r.status, 200, `trace ${traceId} (${want.via}) found through node 3`);
    const doc = JSON.parse(r.body) as { batches: { resource: { attributes: { key: string }[] }; scopeSpans: { scope: { name: string }; spans: { name: string; traceId: string }[] }[] }[] };
    const spans = doc.batches.flatMap((b) => b.scopeSpans.flatMap((s) => s.spans));
    t.same(spans.map((s) => s.name).sort(), [...want.names].sort(), `every span of the ${want.via} trace`);
    t.ok(spans.every((s) => s.traceId === traceId));
    t.ok(doc.batches[0]?.resource.attributes.some((a) => a.key === 'service.name'), 'resource kept');
    t.equal(doc.batches[0]?.scopeSpans[0]?.scope.name, 'ingest-test', 'scope kept');
  }
  t.equal((await httpRequest(c.api(1), '/api/traces/0123456789abcdef0123456789abcdef')).status, 404, 'an unknown trace is 404');

  // Metrics: a counter, a histogram and an up-down counter, one export through each exporter.
  const metricExporters: [string, PushMetricExporter][] = [
    ['grpc', new MetricsGrpc({ url: url(grpcOf(2)) })],
    ['http/protobuf', new MetricsProto({ url: url(httpOf(3), '/v1/metrics') })],
    ['http/json', new MetricsJson({ url: url(httpOf(1), '/v1/metrics') })],
  ];
  let points = 0;
  for (const [via, exporter] of metricExporters) {
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
    const provider = new MeterProvider({ resource, readers: [reader] });
    const meter = provider.getMeter('ingest-test');
    const tag = via.replace('/', '_');
    const counter = meter.createCounter(`requests_${tag}`);
    const histogram = meter.createHistogram(`latency_${tag}`);
    const updown = meter.createUpDownCounter(`queue_${tag}`);
    const gauge = meter.createGauge(`temperature_${tag}`);
    for (const route of ['/a', '/b', '/c']) {
      counter.add(3, { route });
      histogram.record(12.5, { route });
      updown.add(-1, { route });
      gauge.record(21.5, { route });
      points += 4;
    }
    // shutdown collects and exports once (a forceFlush before it would export the cumulative points a second time, at a new time).
    await provider.shutdown();
  }

  // Logs: 25 records through each exporter.
  const logExporters: [string, LogRecordExporter][] = [
    ['grpc', new LogsGrpc({ url: url(grpcOf(3)) })],
    ['http/protobuf+gzip', new LogsProto({ url: url(httpOf(1), '/v1/logs'), compression: CompressionAlgorithm.GZIP })],
    ['http/json', new LogsJson({ url: url(httpOf(2), '/v1/logs') })],
  ];
  let records = 0;
  for (const [via, exporter] of logExporters) {
    const provider = new LoggerProvider({ resource, processors: [new BatchLogRecordProcessor({ exporter })] });
    const logger = provider.getLogger('ingest-test');
    for (let i = 0; i < 25; i++) {
      logger.emit({ body: `line ${i} via ${via}`, severityNumber: 9, severityText: 'INFO', attributes: { seq: i } });
      records++;
    }
    await provider.forceFlush();
    await provider.shutdown();
  }

  t.equal((await httpRequest(c.api(1), '/api/v1/admin/flush', 'POST')).status, 200, 'flushed');
  const stats = JSON.parse((await httpRequest(c.api(2), '/api/v1/stats')).body) as StatsDocument;
  t.equal(stats.traces.spans, sent.size * 5, 'stats count every span once');
  t.equal(stats.traces.traces, sent.size, 'and every trace');
  t.equal(stats.metrics.samples, points, 'every data point');
  t.equal(stats.logs.records, records, 'every log record');
  const metrics = (await httpRequest(c.api(1), '/metrics')).body;
  t.match(metrics, /otlpdb_ingest_items_accepted_total\{node="1",signal="logs"\} 25/, 'node 1 counted the http/protobuf logs it took');
  t.match(metrics, /otlpdb_ingest_limit\{node="1",name="requestBytesMax"\} 16777216/, 'limits are exported');
  t.match(metrics, /otlpdb_ingest_limit\{node="1",name="nodeHeadBytesHardMax"\} [1-9]\d*/, 'the node\'s head budget is exported');
  t.match(metrics, /otlpdb_node_head_bytes\{node="1"\} \d+/, 'and the heads\' bytes under it');
});
