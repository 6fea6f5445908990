/**
 * otlp/index.ts — the public surface of OTLP decoding: request bodies
 * (protobuf or OTLP/JSON) straight to the shard rows of src/storage/rows.ts,
 * with per-item validation, and the export responses with partial success.
 * See src/otlp/README.md for the design, the rules and their codes.
 */
export { OtlpRejectionCodes } from './decode-result.js';
export type { OtlpDecodeOptions, OtlpDecodeResult, OtlpRejection, OtlpRejectionCode, OtlpSignal } from './decode-result.js';
export { encodeExportResponseProto, exportResponseJson } from './export-response.js';
export { decodeLogsProto } from './proto-logs.js';
export { decodeMetricsProto } from './proto-metrics.js';
export { decodeTracesProto } from './proto-traces.js';
export { decodeLogsJson } from './json-logs.js';
export { decodeMetricsJson } from './json-metrics.js';
export { decodeTracesJson } from './json-traces.js';
