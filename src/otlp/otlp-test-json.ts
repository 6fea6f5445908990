/**
 * otlp-test-json.ts — test support: renders a generated request (the
 * protobufjs-ready object of otlp-test-gen.ts) as OTLP/JSON the way varied
 * exporters do, chosen at random per field: lowerCamelCase or snake_case
 * names, 64-bit integers as strings or (when exact) numbers, enums as integers
 * or names, ids as lower- or upper-case hex, bytes values as base64 (standard
 * or URL-safe), NaN and infinities as strings. Unknown fields stay in.
 */
import type { SeededRand } from '../fs/seeded-rand.js';

const INT64_KEYS = new Set(['timeUnixNano', 'startTimeUnixNano', 'endTimeUnixNano', 'observedTimeUnixNano', 'intValue', 'asInt', 'count', 'zeroCount', 'bucketCounts', 'xVarint', 'xFixed64']);
const HEX_KEYS = new Set(['traceId', 'spanId', 'parentSpanId']);
const LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];
const ENUMS: Readonly<Record<string, readonly string[]>> = {
  kind: ['SPAN_KIND_UNSPECIFIED', 'SPAN_KIND_INTERNAL', 'SPAN_KIND_SERVER', 'SPAN_KIND_CLIENT', 'SPAN_KIND_PRODUCER', 'SPAN_KIND_CONSUMER'],
  code: ['STATUS_CODE_UNSET', 'STATUS_CODE_OK', 'STATUS_CODE_ERROR'],
  aggregationTemporality: ['AGGREGATION_TEMPORALITY_UNSPECIFIED', 'AGGREGATION_TEMPORALITY_DELTA', 'AGGREGATION_TEMPORALITY_CUMULATIVE'],
  severityNumber: ['SEVERITY_NUMBER_UNSPECIFIED', ...LEVELS.flatMap((l) => ['', '2', '3', '4'].map((n) => `SEVERITY_NUMBER_${l}${n}`))],
};

function snake(k: string): string {
  return k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function int64(rand: SeededRand, v: unknown): unknown {
  const s = String(v);
  const n = Number(s);
  return Number.isSafeInteger(n) && rand.intn(2) === 0 ? n : s;
}

function dbl(v: number): unknown {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return 'Infinity';
  if (v === Number.NEGATIVE_INFINITY) return '-Infinity';
  return v;
}

function render(rand: SeededRand, key: string, v: unknown): unknown {
  if (v === undefined || v === null) return v;
  if (v instanceof Uint8Array) {
    if (HEX_KEYS.has(key)) {
      const hex = Buffer.from(v).toString('hex');
      return rand.intn(8) === 0 ? hex.toUpperCase() : hex;
    }
    return Buffer.from(v).toString(rand.intn(4) === 0 ? 'base64url' : 'base64');
  }
  if (Array.isArray(v)) return v.map((x) => render(rand, key, x));
  if (typeof v === 'object') return toOtlpJson(rand, v as Record<string, unknown>);
  if (INT64_KEYS.has(key)) return int64(rand, v);
  if (typeof v === 'number') {
    const names = ENUMS[key];
    if (names !== undefined && v >= 0 && v < names.length && rand.intn(2) === 0) return names[v];
    return dbl(v);
  }
  return v;
}

/** toOtlpJson renders one generated message object as OTLP/JSON (a plain object for JSON.stringify). */
export function toOtlpJson(rand: SeededRand, o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined) continue;
    out[rand.intn(5) === 0 ? snake(k) : k] = render(rand, k, v);
  }
  return out;
}
