/**
 * The export responses: empty when nothing was refused, partial_success with
 * the signal's rejected count field and the message otherwise — checked by
 * decoding the protobuf bytes with protobufjs from the .proto files.
 */
import { createRequire } from 'node:module';
import t from 'tap';
import type * as Protobuf from 'protobufjs';
import { encodeExportResponseProto, exportResponseJson } from './index.js';
import type { OtlpSignal } from './index.js';
import { repoPath } from '../repo-root.js';

const require = createRequire(import.meta.url);
const protobuf = require('protobufjs') as typeof Protobuf;
const root = new protobuf.Root();
const dir = `${repoPath('src', 'otlp', 'proto')}/`;
root.resolvePath = (_o: string, target: string) => dir + target;
root.loadSync([
  'opentelemetry/proto/collector/trace/v1/trace_service.proto',
  'opentelemetry/proto/collector/metrics/v1/metrics_service.proto',
  'opentelemetry/proto/collector/logs/v1/logs_service.proto',
]);

const RESPONSES: Record<OtlpSignal, [string, string]> = {
  traces: ['opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse', 'rejectedSpans'],
  metrics: ['opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse', 'rejectedDataPoints'],
  logs: ['opentelemetry.proto.collector.logs.v1.ExportLogsServiceResponse', 'rejectedLogRecords'],
};

for (const signal of ['traces', 'metrics', 'logs'] as const) {
  t.test(`${signal} export response`, async (t) => {
    const [typeName, field] = RESPONSES[signal];
    const type = root.lookupType(typeName);
    t.equal(encodeExportResponseProto(0, '', signal).length, 0, 'nothing refused: an empty response');
    t.same(exportResponseJson(0, '', signal), {});
    for (const rejected of [1, 300, 2 ** 40 + 7]) {
      const message = `${rejected} refused: OTLP_BAD_TRACE_ID at résumé`;
      const decoded = type.toObject(type.decode(encodeExportResponseProto(rejected, message, signal)), { longs: String });
      t.same(decoded, { partialSuccess: { [field]: String(rejected), errorMessage: message } }, `protobuf, ${rejected} refused`);
      t.same(exportResponseJson(rejected, message, signal), { partialSuccess: { [field]: String(rejected), errorMessage: message } }, `JSON, ${rejected} refused`);
    }
    const warning = type.toObject(type.decode(encodeExportResponseProto(0, 'a warning', signal)));
    t.same(warning, { partialSuccess: { errorMessage: 'a warning' } }, 'a message without refusals is a warning');
  });
}
