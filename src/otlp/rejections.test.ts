/**
 * Per-item validation (DESIGN.md promise 5): every rejection code, through
 * both the protobuf and the JSON decoder, refuses its item only — the valid
 * item sent beside it is kept — and counts it; the limits that cut instead of
 * refusing (attributes, events, links, attribute value length) cut and count.
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { OtlpLimits, StorageLimits } from '../limits.js';
import { repoPath } from '../repo-root.js';
import { OtlpRejectionCodes, decodeLogsJson, decodeTracesProto } from './index.js';
import type { OtlpRejectionCode } from './index.js';
import type { Obj } from './otlp-test-gen.js';
import { NOW_NS_STR, OPTS, decodeBoth, encodeProto, gauge, request, validLog, validPoint, validSpan } from './otlp-test-cases.js';
import type { Signal } from './otlp-test-cases.js';
import type { LogRow, MetricPointRow, SpanRow } from '../storage/rows.js';

const NS = BigInt(NOW_NS_STR);
const HOUR_NS = 3_600_000_000_000n;

function nested(levels: number): Obj {
  let v: Obj = { stringValue: 'leaf' };
  for (let i = 0; i < levels; i++) v = i % 2 === 0 ? { arrayValue: { values: [v] } } : { kvlistValue: { values: [{ key: 'k', value: v }] } };
  return v;
}

function attrs(n: number, key = (i: number) => `k${i}`): Obj[] {
  return Array.from({ length: n }, (_, i) => ({ key: key(i), value: { intValue: String(i) } }));
}

function span(patch: Obj): Obj {
  return { ...validSpan(), ...patch };
}
function log(patch: Obj): Obj {
  return { ...validLog(), ...patch };
}
function point(patch: Obj): Obj {
  return { ...validPoint(), ...patch };
}
function histogram(patch: Obj, temporality = 2): Obj {
  return { name: 'h', histogram: { aggregationTemporality: temporality, dataPoints: [{ timeUnixNano: NOW_NS_STR, count: '3', bucketCounts: ['1', '2'], explicitBounds: [10], ...patch }] } };
}
function expHistogram(patch: Obj): Obj {
  return { name: 'e', exponentialHistogram: { aggregationTemporality: 1, dataPoints: [{ timeUnixNano: NOW_NS_STR, count: '1', scale: 3, ...patch }] } };
}
function summary(patch: Obj): Obj {
  return { name: 's', summary: { dataPoints: [{ timeUnixNano: NOW_NS_STR, count: '1', sum: 2, quantileValues: [{ quantile: 0.5, value: 1 }], ...patch }] } };
}

/** CASES: a bad item, refused with `code`; each is sent next to a valid item of its signal. */
const CASES: readonly [string, Signal, Obj, OtlpRejectionCode][] = [
  ['span trace id of 15 bytes', 'traces', span({ traceId: new Uint8Array(15).fill(1) }), 'OTLP_BAD_TRACE_ID'],
  ['span trace id all zero', 'traces', span({ traceId: new Uint8Array(16) }), 'OTLP_BAD_TRACE_ID'],
  ['span without trace id', 'traces', span({ traceId: new Uint8Array(0) }), 'OTLP_BAD_TRACE_ID'],
  ['link trace id of 17 bytes', 'traces', span({ links: [{ traceId: new Uint8Array(17).fill(1), spanId: new Uint8Array(8).fill(1) }] }), 'OTLP_BAD_TRACE_ID'],
  ['log trace id of 3 bytes', 'logs', log({ traceId: new Uint8Array(3).fill(1) }), 'OTLP_BAD_TRACE_ID'],
  ['exemplar trace id of 5 bytes', 'metrics', gauge(point({ exemplars: [{ asInt: '1', traceId: new Uint8Array(5).fill(1) }] })), 'OTLP_BAD_TRACE_ID'],
  ['span id all zero', 'traces', span({ spanId: new Uint8Array(8) }), 'OTLP_BAD_SPAN_ID'],
  ['link span id of 7 bytes', 'traces', span({ links: [{ traceId: new Uint8Array(16).fill(1), spanId: new Uint8Array(7).fill(1) }] }), 'OTLP_BAD_SPAN_ID'],
  ['log span id of 9 bytes', 'logs', log({ spanId: new Uint8Array(9).fill(1) }), 'OTLP_BAD_SPAN_ID'],
  ['parent span id of 4 bytes', 'traces', span({ parentSpanId: new Uint8Array(4).fill(1) }), 'OTLP_BAD_PARENT_SPAN_ID'],
  ['span started 8 days ago', 'traces', span({ startTimeUnixNano: String(NS - 192n * HOUR_NS), endTimeUnixNano: NOW_NS_STR }), 'OTLP_TIMESTAMP_OUT_OF_RANGE'],
  ['span ending an hour ahead', 'traces', span({ endTimeUnixNano: String(NS + HOUR_NS) }), 'OTLP_TIMESTAMP_OUT_OF_RANGE'],
  ['point an hour ahead', 'metrics', gauge(point({ timeUnixNano: String(NS + HOUR_NS) })), 'OTLP_TIMESTAMP_OUT_OF_RANGE'],
  ['point without time', 'metrics', gauge(point({ timeUnixNano: '0' })), 'OTLP_TIMESTAMP_OUT_OF_RANGE'],
  ['log observed 8 days ago, no time', 'logs', log({ timeUnixNano: '0', observedTimeUnixNano: String(NS - 192n * HOUR_NS) }), 'OTLP_TIMESTAMP_OUT_OF_RANGE'],
  ['span ending before it starts', 'traces', span({ endTimeUnixNano: String(NS - 1n) }), 'OTLP_BAD_TIMESTAMP'],
  ['log without time or observed time', 'logs', log({ timeUnixNano: '0' }), 'OTLP_BAD_TIMESTAMP'],
  ['span kind 6', 'traces', span({ kind: 6 }), 'OTLP_BAD_ENUM'],
  ['span kind -1', 'traces', span({ kind: -1 }), 'OTLP_BAD_ENUM'],
  ['status code 3', 'traces', span({ status: { code: 3 } }), 'OTLP_BAD_ENUM'],
  ['severity number 25', 'logs', log({ severityNumber: 25 }), 'OTLP_BAD_ENUM'],
  ['span name over stringBytesMax', 'traces', span({ name: 'n'.repeat(StorageLimits.stringBytesMax + 1) }), 'OTLP_VALUE_TOO_LONG'],
  ['log body string over stringBytesMax', 'logs', log({ body: { stringValue: 'é'.repeat(StorageLimits.stringBytesMax / 2 + 1) } }), 'OTLP_VALUE_TOO_LONG'],
  ['bytes value over bytesValueBytesMax', 'logs', log({ attributes: [{ key: 'b', value: { bytesValue: new Uint8Array(StorageLimits.bytesValueBytesMax + 1) } }] }), 'OTLP_VALUE_TOO_LONG'],
  ['point with too many attributes', 'metrics', gauge(point({ attributes: attrs(OtlpLimits.attributesPerItemMax + 1) })), 'OTLP_TOO_MANY_ATTRIBUTES'],
  ['exemplar with too many attributes', 'metrics', gauge(point({ exemplars: [{ asDouble: 1, filteredAttributes: attrs(OtlpLimits.attributesPerItemMax + 1) }] })), 'OTLP_TOO_MANY_ATTRIBUTES'],
  ['span attributes with a duplicate key', 'traces', span({ attributes: attrs(3, () => 'same') }), 'OTLP_DUPLICATE_ATTRIBUTE_KEY'],
  ['kvlist body with a duplicate key', 'logs', log({ body: { kvlistValue: { values: attrs(20, (i) => (i === 19 ? 'k0' : `k${i}`)) } } }), 'OTLP_DUPLICATE_ATTRIBUTE_KEY'],
  ['log body nesting past anyValueDepthMax', 'logs', log({ body: nested(StorageLimits.anyValueDepthMax) }), 'OTLP_ANY_VALUE_TOO_DEEP'],
  ['attribute nesting far past anyValueDepthMax', 'traces', span({ attributes: [{ key: 'deep', value: nested(25) }] }), 'OTLP_ANY_VALUE_TOO_DEEP'],
  ['array value past anyValueArrayElementsMax', 'logs', log({ body: { arrayValue: { values: Array.from({ length: StorageLimits.anyValueArrayElementsMax + 1 }, () => ({ boolValue: true })) } } }), 'OTLP_LIMIT_EXCEEDED'],
  ['kvlist value past attributesPerListMax', 'logs', log({ body: { kvlistValue: { values: attrs(StorageLimits.attributesPerListMax + 1) } } }), 'OTLP_LIMIT_EXCEEDED'],
  ['exemplars past exemplarsPerPointMax', 'metrics', gauge(point({ exemplars: Array.from({ length: StorageLimits.exemplarsPerPointMax + 1 }, () => ({ asInt: '1' })) })), 'OTLP_LIMIT_EXCEEDED'],
  ['quantiles past summaryQuantilesMax', 'metrics', summary({ quantileValues: Array.from({ length: StorageLimits.summaryQuantilesMax + 1 }, () => ({ quantile: 0.5, value: 1 })) }), 'OTLP_LIMIT_EXCEEDED'],
  ['buckets past histogramBucketsMax', 'metrics', expHistogram({ positive: { offset: 0, bucketCounts: Array.from({ length: StorageLimits.histogramBucketsMax + 1 }, () => '1') } }), 'OTLP_LIMIT_EXCEEDED'],
  ['histogram count 2^53', 'metrics', histogram({ count: '9007199254740992' }), 'OTLP_COUNT_TOO_LARGE'],
  ['bucket count 2^64 - 1', 'metrics', histogram({ bucketCounts: ['1', '18446744073709551615'] }), 'OTLP_COUNT_TOO_LARGE'],
  ['exponential zero count 2^53', 'metrics', expHistogram({ zeroCount: '9007199254740992' }), 'OTLP_COUNT_TOO_LARGE'],
  ['exponential bucket count 2^53', 'metrics', expHistogram({ negative: { offset: -2, bucketCounts: ['9007199254740992'] } }), 'OTLP_COUNT_TOO_LARGE'],
  ['summary count 2^60', 'metrics', summary({ count: '1152921504606846976' }), 'OTLP_COUNT_TOO_LARGE'],
  ['gauge point without a value', 'metrics', gauge({ timeUnixNano: NOW_NS_STR }), 'OTLP_POINT_NO_VALUE'],
  ['sum point without a value', 'metrics', { name: 's', sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: [{ timeUnixNano: NOW_NS_STR }] } }, 'OTLP_POINT_NO_VALUE'],
  ['exemplar without a value', 'metrics', gauge(point({ exemplars: [{ timeUnixNano: NOW_NS_STR }] })), 'OTLP_POINT_NO_VALUE'],
  ['sum of unspecified temporality', 'metrics', { name: 's', sum: { aggregationTemporality: 0, dataPoints: [validPoint()] } }, 'OTLP_BAD_TEMPORALITY'],
  ['histogram of temporality 3', 'metrics', histogram({}, 3), 'OTLP_BAD_TEMPORALITY'],
  ['metric without data', 'metrics', { name: 'nothing' }, 'OTLP_METRIC_NO_DATA'],
  ['histogram with 3 counts for 1 bound', 'metrics', histogram({ bucketCounts: ['1', '1', '1'] }), 'OTLP_BAD_HISTOGRAM'],
  ['histogram with bounds but no counts', 'metrics', histogram({ bucketCounts: [] }), 'OTLP_BAD_HISTOGRAM'],
  ['histogram with decreasing bounds', 'metrics', histogram({ explicitBounds: [5, 1], bucketCounts: ['1', '1', '1'] }), 'OTLP_BAD_HISTOGRAM'],
  ['histogram with a NaN bound', 'metrics', histogram({ explicitBounds: [Number.NaN] }), 'OTLP_BAD_HISTOGRAM'],
  ['exponential histogram of scale 21', 'metrics', expHistogram({ scale: 21 }), 'OTLP_BAD_HISTOGRAM'],
  ['summary quantile 1.5', 'metrics', summary({ quantileValues: [{ quantile: 1.5, value: 1 }] }), 'OTLP_BAD_SUMMARY'],
];

function goodItem(signal: Signal): Obj {
  return signal === 'traces' ? validSpan() : signal === 'metrics' ? gauge(validPoint()) : validLog();
}

for (const [name, signal, bad, code] of CASES) {
  t.test(`${code}: ${name}`, async (t) => {
    const results = decodeBoth(signal, request(signal, [bad, goodItem(signal)]));
    for (const [format, r] of [['protobuf', results[0]], ['JSON', results[1]]] as const) {
      t.equal(r.rejected, 1, `${format}: one item refused`);
      t.equal(r.rows.length, 1, `${format}: the valid item beside it is kept`);
      t.equal(r.rejections[0]?.code, code, `${format}: code ${code}`);
      t.match(r.rejections[0]?.message ?? '', /^resource\w+\[0\]\.scope\w+\[0\]\.\w+\[0\]/, `${format}: the message names the item`);
    }
  });
}

t.test('every rejection code has a case above and a line in src/otlp/README.md', async (t) => {
  const readme = readFileSync(repoPath('src', 'otlp', 'README.md'), 'utf8');
  const covered = new Set(CASES.map((c) => c[3]));
  for (const code of Object.keys(OtlpRejectionCodes)) {
    t.ok(covered.has(code as OtlpRejectionCode), `${code} is tested`);
    t.match(readme, new RegExp(`\\| \`${code}\` \\|`), `${code} is documented`);
  }
});

t.test('AnyValue nesting up to anyValueDepthMax is kept; one level more is refused', async (t) => {
  const [ok] = decodeBoth('logs', request('logs', [log({ body: nested(StorageLimits.anyValueDepthMax - 1) })]));
  t.equal(ok.rejected, 0);
  const [deep] = decodeBoth('logs', request('logs', [log({ body: nested(StorageLimits.anyValueDepthMax) })]));
  t.equal(deep.rejected, 1);
});

t.test('a resource problem refuses every item under it, and only those', async (t) => {
  const badResource = { attributes: attrs(2, () => 'dup') };
  const req = request('traces', [validSpan(), validSpan()], badResource);
  (req.resourceSpans as Obj[]).push(...(request('traces', [validSpan()]).resourceSpans as Obj[]));
  for (const r of decodeBoth('traces', req)) {
    t.equal(r.rejected, 2);
    t.equal(r.rows.length, 1);
    t.equal(r.rejections[0]?.code, 'OTLP_DUPLICATE_ATTRIBUTE_KEY');
  }
});

t.test('attributes, events and links past their limits are cut and added to the dropped counts', async (t) => {
  const n = OtlpLimits.attributesPerItemMax + 10;
  const events = Array.from({ length: StorageLimits.eventsPerSpanMax + 3 }, () => ({ timeUnixNano: NOW_NS_STR, name: 'e' }));
  const links = Array.from({ length: StorageLimits.linksPerSpanMax + 2 }, () => ({ traceId: new Uint8Array(16).fill(2), spanId: new Uint8Array(8).fill(3) }));
  const req = request('traces', [span({ attributes: attrs(n), droppedAttributesCount: 5, events, droppedEventsCount: 1, links })], { attributes: attrs(n), droppedAttributesCount: 0xffff_fffe });
  for (const r of decodeBoth('traces', req)) {
    t.equal(r.rejected, 0);
    const s = r.rows[0] as SpanRow;
    t.equal(s.attributes.length, OtlpLimits.attributesPerItemMax);
    t.equal(s.droppedAttributesCount, 15);
    t.equal(s.events.length, StorageLimits.eventsPerSpanMax);
    t.equal(s.droppedEventsCount, 4);
    t.equal(s.links.length, StorageLimits.linksPerSpanMax);
    t.equal(s.droppedLinksCount, 2);
    t.equal(s.resource.droppedAttributesCount, 0xffff_ffff, 'dropped counts saturate at 2^32 - 1');
  }
});

t.test('attribute values over attributeValueBytesMax are truncated at a character boundary and counted', async (t) => {
  const long = 'é'.repeat(OtlpLimits.attributeValueBytesMax); // 2 bytes each: twice the limit
  const req = request('logs', [
    log({
      attributes: [
        { key: 'a', value: { stringValue: long } },
        { key: 'n', value: { arrayValue: { values: [{ stringValue: 'x'.repeat(OtlpLimits.attributeValueBytesMax + 1) }] } } },
      ],
      body: { stringValue: long },
    }),
  ]);
  for (const r of decodeBoth('logs', req)) {
    t.equal(r.rejected, 0);
    t.equal(r.truncatedValues, 2);
    const row = r.rows[0] as LogRow;
    const a = row.attributes[0]?.value;
    t.equal(a?.type === 'string' ? Buffer.byteLength(a.value) : -1, OtlpLimits.attributeValueBytesMax, 'cut to the limit between two-byte characters');
    t.notOk(a?.type === 'string' && a.value.includes('\ufffd'), 'no character split');
    t.equal(row.body.type === 'string' ? row.body.value.length : -1, long.length, 'a body is not an attribute: kept whole');
  }
});

t.test('the rejection list is bounded; every refusal is counted', async (t) => {
  const bad = Array.from({ length: OtlpLimits.rejectionsListedMax + 10 }, () => span({ kind: 9 }));
  for (const r of decodeBoth('traces', request('traces', bad))) {
    t.equal(r.rejected, bad.length);
    t.equal(r.rejections.length, OtlpLimits.rejectionsListedMax);
  }
});

t.test('absent optional ids are empty; all-zero optional ids are absent', async (t) => {
  const req = request('traces', [span({ parentSpanId: new Uint8Array(8) })]);
  for (const r of decodeBoth('traces', req)) t.equal((r.rows[0] as SpanRow).parentSpanId.length, 0);
  const logs = request('logs', [log({ traceId: new Uint8Array(16), spanId: new Uint8Array(0) })]);
  for (const r of decodeBoth('logs', logs)) {
    t.equal((r.rows[0] as LogRow).traceId.length, 0);
    t.equal((r.rows[0] as LogRow).spanId.length, 0);
  }
  const points = request('metrics', [histogram({ sum: 0 })]);
  for (const r of decodeBoth('metrics', points)) {
    const d = (r.rows[0] as MetricPointRow).data;
    t.same(d.type === 'histogram' ? [d.sum, d.min, d.max] : null, [0, null, null], 'a sent zero sum is 0; absent min and max are null');
  }
});

t.test('an invalid tenant refuses the request', async (t) => {
  const body = encodeProto('traces', request('traces', [validSpan()]));
  t.throws(() => decodeTracesProto(body, { tenant: 'no spaces allowed', nowMs: OPTS.nowMs }), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => decodeLogsJson(Buffer.from('{}'), { tenant: '', nowMs: OPTS.nowMs }), { code: 'ERR_INVALID_ARGUMENT' });
});
