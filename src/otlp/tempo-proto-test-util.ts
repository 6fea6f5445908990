/**
 * tempo-proto-test-util.ts — test support: protobufjs types for Tempo's
 * trace-by-id answers and a canonical form to compare them with OTLP JSON.
 * Not a test file: the tests import it.
 */
import { createRequire } from 'node:module';
import type * as Protobuf from 'protobufjs';
import { repoPath } from '../repo-root.js';

const require = createRequire(import.meta.url);
const protobuf = require('protobufjs') as typeof Protobuf;

/**
 * loadTempoTypes loads OTLP's trace.proto from src/otlp/proto and declares
 * Tempo's envelopes on it (pkg/tempopb/tempo.proto: Trace, TraceByIDResponse,
 * PartialStatus), to decode the protobuf answers of trace by id.
 */
export function loadTempoTypes(): { trace: Protobuf.Type; byId: Protobuf.Type } {
  const root = new protobuf.Root();
  const dir = `${repoPath('src', 'otlp', 'proto')}/`;
  root.resolvePath = (_o: string, target: string) => dir + target;
  root.loadSync(['opentelemetry/proto/trace/v1/trace.proto']);
  const tempo = new protobuf.Namespace('tempopb');
  tempo.add(new protobuf.Enum('PartialStatus', { COMPLETE: 0, PARTIAL: 1 }));
  tempo.add(new protobuf.Type('Trace').add(new protobuf.Field('resourceSpans', 1, 'opentelemetry.proto.trace.v1.ResourceSpans', 'repeated')));
  tempo.add(new protobuf.Type('TraceByIDMetrics'));
  tempo.add(
    new protobuf.Type('TraceByIDResponse')
      .add(new protobuf.Field('trace', 1, 'tempopb.Trace'))
      .add(new protobuf.Field('metrics', 2, 'tempopb.TraceByIDMetrics'))
      .add(new protobuf.Field('status', 3, 'tempopb.PartialStatus'))
      .add(new protobuf.Field('message', 4, 'string')),
  );
  root.add(tempo);
  root.resolveAll();
  return { trace: root.lookupType('tempopb.Trace'), byId: root.lookupType('tempopb.TraceByIDResponse') };
}

const ID_FIELDS = new Set(['traceId', 'spanId', 'parentSpanId']);

/**
 * canonical maps a decoded protobuf object or an OTLP JSON document to one
 * form: ids as hex, every empty list, empty object, "" and 0 left out (proto3
 * writes no defaults; the JSON writer keeps some, like `status: {}`).
 */
export function canonical(v: unknown, key = ''): unknown {
  if (Array.isArray(v)) {
    const out = v.map((e) => canonical(e));
    return out.length === 0 ? undefined : out;
  }
  if (v instanceof Uint8Array) return v.length === 0 ? undefined : Buffer.from(v).toString(ID_FIELDS.has(key) ? 'hex' : 'base64');
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const c = canonical(x, k);
      if (c !== undefined) out[k] = c;
    }
    // An AnyValue keeps its (possibly empty) oneof member; an empty value stays {}.
    return Object.keys(out).length === 0 && key !== 'value' ? undefined : out;
  }
  if (typeof v === 'string' && ID_FIELDS.has(key)) return v === '' ? undefined : v;
  if (v === '' || v === 0 || v === '0') return key === 'stringValue' || key === 'intValue' || key === 'doubleValue' || key === 'boolValue' ? v : undefined;
  if (v === false) return key === 'boolValue' ? v : undefined;
  return v;
}

/** toObject decodes `bytes` as `type` into a plain object: 64-bit integers as decimal strings, enums as numbers, bytes as Uint8Array. */
export const toObject = (type: Protobuf.Type, bytes: Uint8Array): Record<string, unknown> =>
  type.toObject(type.decode(bytes), { longs: String, enums: Number, bytes: Uint8Array, json: true, oneofs: false }) as Record<string, unknown>;
