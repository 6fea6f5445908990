/**
 * decoders.ts — the decoders a node's write path uses (ingest.ts Decoders),
 * by signal and body format, and the decoding limits it exports in /metrics.
 */
import { OtlpdbError } from '../errors.js';
import { OtlpLimits } from '../limits.js';
import type { Decoder, Decoders } from './ingest.js';
import { decodeLogsProto } from './proto-logs.js';
import { decodeMetricsProto } from './proto-metrics.js';
import { decodeTracesProto } from './proto-traces.js';

/** jsonNotYet refuses OTLP/JSON bodies until the JSON decoders land (NB: a refusal, not a stub: clients get 415). */
const jsonNotYet: Decoder<never> = () => {
  throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'OTLP/JSON bodies are not accepted by this build; send application/x-protobuf', { unsupportedMediaType: true });
};

/** OTLP_DECODERS are the production decoders. */
export const OTLP_DECODERS: Decoders = {
  traces: { proto: decodeTracesProto, json: jsonNotYet },
  metrics: { proto: decodeMetricsProto, json: jsonNotYet },
  logs: { proto: decodeLogsProto, json: jsonNotYet },
};

/** OTLP_LIMITS are the decoding limits by name (numbers only), for /metrics. */
export const OTLP_LIMITS: Readonly<Record<string, number>> = Object.fromEntries(Object.entries(OtlpLimits).filter(([, v]) => typeof v === 'number')) as Record<string, number>;
