/**
 * trace-spans.ts — the spans of a trace-by-id answer, flattened for the
 * waterfall: Tempo's v1 `{"batches":[...]}`, v2 `{"trace":{"resourceSpans":
 * [...]}}` or plain OTLP `{"resourceSpans":[...]}`. Pure: no I/O.
 *
 * Accepted encodings, so `otlpdb trace --target` also reads a real Tempo:
 * ids as hex (OTLP JSON, otlpdb) or base64 (Tempo's jsonpb); times as decimal
 * strings or numbers; status codes as numbers or enum names
 * (`STATUS_CODE_ERROR`); `scopeSpans` or the older
 * `instrumentationLibrarySpans`. A span whose id or times cannot be read is
 * counted in `unreadable`, not guessed at.
 */

/** WaterfallSpan is one span as the waterfall draws it. */
export interface WaterfallSpan {
  /** spanId and parentSpanId are lowercase hex; parentSpanId is '' for a root. */
  readonly spanId: string;
  readonly parentSpanId: string;
  /** service is the resource's service.name ('' when absent). */
  readonly service: string;
  readonly name: string;
  readonly startNs: bigint;
  readonly endNs: bigint;
  /** error: the span's status code is ERROR. */
  readonly error: boolean;
}

/** TraceSpans are the readable spans of an answer and how many were not. */
export interface TraceSpans {
  readonly spans: WaterfallSpan[];
  readonly unreadable: number;
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

const STATUS_CODE_ERROR = 2;
const HEX = /^[0-9a-fA-F]*$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** idHex reads an id of `bytes` bytes given as hex or base64; '' when absent or empty; null when unreadable. */
export function idHex(v: unknown, bytes: number): string | null {
  if (v === undefined || v === null || v === '') return '';
  if (typeof v !== 'string') return null;
  if (v.length === bytes * 2 && HEX.test(v)) return v.toLowerCase();
  if (BASE64.test(v)) {
    const b = Buffer.from(v, 'base64');
    if (b.length === bytes) return b.toString('hex');
  }
  return null;
}

function nanos(v: unknown): bigint | null {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === 'string' && /^[0-9]{1,20}$/.test(v)) return BigInt(v);
  return null;
}

function isErrorStatus(status: unknown): boolean {
  if (!isObj(status)) return false;
  const code = status['code'];
  return code === STATUS_CODE_ERROR || code === 'STATUS_CODE_ERROR';
}

function serviceName(resource: unknown): string {
  if (!isObj(resource)) return '';
  for (const kv of list(resource['attributes'])) {
    if (isObj(kv) && kv['key'] === 'service.name' && isObj(kv['value'])) {
      const s = kv['value']['stringValue'];
      if (typeof s === 'string') return s;
    }
  }
  return '';
}

/** resourceSpansOf finds the ResourceSpans list of a v1, v2 or plain OTLP document. */
function resourceSpansOf(doc: unknown): unknown[] {
  if (!isObj(doc)) return [];
  if (Array.isArray(doc['batches'])) return doc['batches'];
  if (Array.isArray(doc['resourceSpans'])) return doc['resourceSpans'];
  const trace = doc['trace'];
  if (isObj(trace)) return resourceSpansOf(trace);
  return [];
}

/** traceSpans flattens a trace-by-id answer into WaterfallSpans (see the top of this file). */
export function traceSpans(doc: unknown): TraceSpans {
  const spans: WaterfallSpan[] = [];
  let unreadable = 0;
  for (const rs of resourceSpansOf(doc)) {
    if (!isObj(rs)) continue;
    const service = serviceName(rs['resource']);
    const scopes = Array.isArray(rs['scopeSpans']) ? rs['scopeSpans'] : list(rs['instrumentationLibrarySpans']);
    for (const ss of scopes) {
      if (!isObj(ss)) continue;
      for (const s of list(ss['spans'])) {
        if (!isObj(s)) {
          unreadable++;
          continue;
        }
        const spanId = idHex(s['spanId'], 8);
        const parentSpanId = idHex(s['parentSpanId'], 8);
        const startNs = nanos(s['startTimeUnixNano']);
        const endNs = nanos(s['endTimeUnixNano']);
        if (spanId === null || spanId === '' || parentSpanId === null || startNs === null || endNs === null) {
          unreadable++;
          continue;
        }
        const name = typeof s['name'] === 'string' ? s['name'] : '';
        // An end before the start is drawn as a zero-length span at its start.
        spans.push({ spanId, parentSpanId, service, name, startNs, endNs: endNs < startNs ? startNs : endNs, error: isErrorStatus(s['status']) });
      }
    }
  }
  return { spans, unreadable };
}
