/**
 * decoders.ts — the decoders a node's write path uses (ingest.ts Decoders),
 * by signal and body format, and the decoding limits it exports in /metrics.
 */
import { OtlpLimits } from '../limits.js';
import type { Decoders } from './ingest.js';
import { decodeLogsJson } from './json-logs.js';
import { decodeMetricsJson } from './json-metrics.js';
import { decodeTracesJson } from './json-traces.js';
import { decodeLogsProto } from './proto-logs.js';
import { decodeMetricsProto } from './proto-metrics.js';
import { decodeTracesProto } from './proto-traces.js';

/** OTLP_DECODERS are the production decoders. */
export const OTLP_DECODERS: Decoders = {
  traces: { proto: decodeTracesProto, json: decodeTracesJson },
  metrics: { proto: decodeMetricsProto, json: decodeMetricsJson },
  logs: { proto: decodeLogsProto, json: decodeLogsJson },
};

/** OTLP_LIMITS are the decoding limits by name (numbers only), for /metrics. */
export const OTLP_LIMITS: Readonly<Record<string, number>> = Object.fromEntries(Object.entries(OtlpLimits).filter(([, v]) => typeof v === 'number')) as Record<string, number>;
