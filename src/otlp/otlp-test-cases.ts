/**
 * otlp-test-cases.ts — test support: small hand-made valid items and the
 * helpers the targeted tests use to wrap one item in a request and decode it
 * through both the protobuf and the JSON decoder.
 */
import { SeededRand } from '../fs/seeded-rand.js';
import { decodeLogsJson, decodeLogsProto, decodeMetricsJson, decodeMetricsProto, decodeTracesJson, decodeTracesProto } from './index.js';
import type { OtlpDecodeOptions, OtlpDecodeResult } from './index.js';
import { TEST_NOW_MS, loadOtlpTypes } from './otlp-test-gen.js';
import type { Obj } from './otlp-test-gen.js';
import { toOtlpJson } from './otlp-test-json.js';

/** Signal names a request type. */
export type Signal = 'traces' | 'metrics' | 'logs';

/** OPTS are the decode options of the targeted tests. */
export const OPTS: OtlpDecodeOptions = { tenant: 'default', nowMs: TEST_NOW_MS };
const types = loadOtlpTypes();
/** NOW_NS_STR is a valid item time (one second before the test clock) as a decimal string. */
export const NOW_NS_STR = String(BigInt(TEST_NOW_MS - 1000) * 1_000_000n);

/** validSpan is a minimal valid span (a fresh object each call). */
export function validSpan(): Obj {
  return {
    traceId: Uint8Array.from({ length: 16 }, (_, i) => i + 1),
    spanId: Uint8Array.from({ length: 8 }, (_, i) => i + 17),
    name: 'GET /',
    kind: 2,
    startTimeUnixNano: NOW_NS_STR,
    endTimeUnixNano: String(BigInt(NOW_NS_STR) + 1000n),
  };
}

/** validLog is a minimal valid log record. */
export function validLog(): Obj {
  return { timeUnixNano: NOW_NS_STR, severityNumber: 9, body: { stringValue: 'hello' } };
}

/** validPoint is a minimal valid number data point. */
export function validPoint(): Obj {
  return { timeUnixNano: NOW_NS_STR, asDouble: 1.5 };
}

/** gauge is a metric with the given data points. */
export function gauge(...points: Obj[]): Obj {
  return { name: 'm', gauge: { dataPoints: points } };
}

/** request wraps items in one resource and one scope of `signal`'s request. */
export function request(signal: Signal, items: Obj[], resource?: Obj): Obj {
  const field = signal === 'traces' ? ['resourceSpans', 'scopeSpans', 'spans'] : signal === 'metrics' ? ['resourceMetrics', 'scopeMetrics', 'metrics'] : ['resourceLogs', 'scopeLogs', 'logRecords'];
  return { [field[0] as string]: [{ resource, [field[1] as string]: [{ scope: { name: 's' }, [field[2] as string]: items }] }] };
}

/** encodeProto encodes a request object with protobufjs. */
export function encodeProto(signal: Signal, req: Obj): Uint8Array {
  const t = types[signal];
  return t.encode(t.fromObject(req)).finish();
}

/** encodeJson renders a request object as OTLP/JSON bytes (a fixed seed picks the spellings). */
export function encodeJson(req: Obj, seed = 1): Uint8Array {
  return Buffer.from(JSON.stringify(toOtlpJson(new SeededRand(seed), req)));
}

/** decodeProto decodes protobuf bytes of `signal`. */
export function decodeProto(signal: Signal, body: Uint8Array): OtlpDecodeResult<unknown> {
  return signal === 'traces' ? decodeTracesProto(body, OPTS) : signal === 'metrics' ? decodeMetricsProto(body, OPTS) : decodeLogsProto(body, OPTS);
}

/** decodeJson decodes OTLP/JSON bytes of `signal`. */
export function decodeJson(signal: Signal, body: Uint8Array): OtlpDecodeResult<unknown> {
  return signal === 'traces' ? decodeTracesJson(body, OPTS) : signal === 'metrics' ? decodeMetricsJson(body, OPTS) : decodeLogsJson(body, OPTS);
}

/** decodeBoth decodes a request object through protobuf and through JSON. */
export function decodeBoth(signal: Signal, req: Obj): [OtlpDecodeResult<unknown>, OtlpDecodeResult<unknown>] {
  return [decodeProto(signal, encodeProto(signal, req)), decodeJson(signal, encodeJson(req))];
}
