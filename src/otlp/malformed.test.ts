/**
 * Malformed input never crashes a decoder: framing defects of the whole body
 * throw ERR_INVALID_ARGUMENT naming what and where; deep nesting is a counted
 * rejection; seeded fuzzing (mutated valid bodies) gives either a result whose
 * rows the shard entry encoder accepts or ERR_INVALID_ARGUMENT. A failure
 * prints the seed.
 */
import t from 'tap';
import { isOtlpdbError } from '../errors.js';
import { SeededRand } from '../fs/seeded-rand.js';
import { OtlpLimits, StorageLimits } from '../limits.js';
import { encodeShardEntry } from '../storage/shard-entry.js';
import type { LogRow, MetricPointRow, SpanRow } from '../storage/rows.js';
import { Gen, TEST_NOW_MS } from './otlp-test-gen.js';
import type { Obj } from './otlp-test-gen.js';
import { NOW_NS_STR, decodeJson, decodeProto, encodeJson, encodeProto, gauge, request, validLog, validPoint, validSpan } from './otlp-test-cases.js';
import type { Signal } from './otlp-test-cases.js';

const FUZZ_SEEDS = Number(process.env.OTLP_FUZZ_SEEDS ?? 400);

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
}
function tag(field: number, wt: number): number[] {
  return varint(field * 8 + wt);
}
function fixed64(v: bigint): number[] {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return [...b];
}
function ld(field: number, body: readonly number[]): number[] {
  return [...tag(field, 2), ...varint(body.length), ...body];
}
/** inSpan wraps span field bytes in request > ResourceSpans > ScopeSpans > Span. */
function inSpan(span: readonly number[]): Uint8Array {
  return Uint8Array.from(ld(1, ld(2, ld(2, span))));
}
const SPAN_OK = [...encodeProto('traces', request('traces', [validSpan()]))];

const FRAMING: readonly [string, Signal, Uint8Array, RegExp][] = [
  ['a truncated varint', 'traces', Uint8Array.from([0x0a, 0x80]), /truncated varint/],
  ['a varint over 10 bytes', 'traces', Uint8Array.from([...tag(5, 0), ...new Array(11).fill(0xff)]), /longer than 10 bytes/],
  ['a length past the end', 'traces', Uint8Array.from([0x0a, 0x05, 0x00]), /past the end/],
  ['a nested length past its message', 'traces', inSpan([...tag(5, 2), 0x7f, 0x41]), /past the end/],
  ['a known field with the wrong wire type', 'traces', inSpan([...tag(1, 0), 0x01]), /Span at byte \d+: field 1 has wire type 0/],
  ['wire type 7', 'traces', Uint8Array.from([...tag(9, 7)]), /invalid wire type 7/],
  ['field number 0', 'logs', Uint8Array.from([0x00, 0x00]), /field number 0/],
  ['a group that does not close', 'metrics', Uint8Array.from([...tag(9, 3), ...tag(1, 0), 0x01]), /truncated varint/],
  ['a group closed by another field', 'metrics', Uint8Array.from([...tag(9, 3), ...tag(8, 4)]), /group end tag/],
  ['a fixed64 past the end', 'traces', inSpan([...tag(7, 1), 1, 2, 3]), /8-byte value past the end/],
  [
    'packed bucket counts not a multiple of 8 bytes',
    'metrics',
    Uint8Array.from(ld(1, ld(2, ld(2, [...ld(1, [0x6d]), ...ld(9, [...tag(2, 0), 2, ...ld(1, [...tag(3, 1), 0, 0, 0, 0, 0, 0, 0, 0, ...ld(6, [1, 2, 3, 4, 5, 6, 7])])])])))),
    /multiple of 8/,
  ],
];

for (const [name, signal, body, message] of FRAMING) {
  t.test(`protobuf framing: ${name} is ERR_INVALID_ARGUMENT`, async (t) => {
    t.throws(() => decodeProto(signal, body), { code: 'ERR_INVALID_ARGUMENT', message });
  });
}

t.test('protobuf: unknown fields of every wire type, groups included, are skipped', async (t) => {
  const unknown = [...tag(90, 0), 0x96, 0x01, ...tag(91, 1), 1, 2, 3, 4, 5, 6, 7, 8, ...ld(92, [1, 2]), ...tag(93, 5), 1, 2, 3, 4, ...tag(94, 3), ...tag(1, 0), 7, ...tag(95, 3), ...tag(95, 4), ...tag(94, 4)];
  const plainResult = decodeProto('traces', Uint8Array.from(SPAN_OK));
  const withUnknown = decodeProto('traces', Uint8Array.from([...unknown, ...SPAN_OK, ...unknown]));
  t.equal(withUnknown.rows.length, 1);
  t.same(withUnknown, plainResult);
});

t.test('protobuf: an AnyValue nested 100 000 deep is one counted rejection, not a stack overflow', async (t) => {
  // AnyValue { array_value: ArrayValue { values: [ ...100 000 levels... AnyValue { string_value: "x" } ] } },
  // built from the inside out as prefixes (copying the growing value per level would be quadratic).
  const leaf = ld(1, [0x78]);
  const prefixes: number[][] = [];
  let innerLength = leaf.length;
  for (let i = 0; i < 100_000; i++) {
    const arrayValue = [...tag(1, 2), ...varint(innerLength)];
    const anyValue = [...tag(5, 2), ...varint(arrayValue.length + innerLength)];
    prefixes.push([...anyValue, ...arrayValue]);
    innerLength += anyValue.length + arrayValue.length;
  }
  const v: number[] = [];
  for (let i = prefixes.length - 1; i >= 0; i--) for (const b of prefixes[i] as number[]) v.push(b);
  for (const b of leaf) v.push(b);
  const time = [...tag(1, 1), ...fixed64(BigInt(NOW_NS_STR))];
  const body = Uint8Array.from(ld(1, ld(2, [...ld(2, [...time, ...ld(5, v)]), ...ld(2, time)])));
  const r = decodeProto('logs', body);
  t.equal(r.rejected, 1);
  t.equal(r.rejections[0]?.code, 'OTLP_ANY_VALUE_TOO_DEEP');
  t.equal(r.rows.length, 1, 'the record beside it is kept');
});

t.test('protobuf: more than itemsPerRequestMax items refuse the request', async (t) => {
  const start = BigInt(NOW_NS_STR);
  const span = ld(2, [...ld(1, new Array(16).fill(1)), ...ld(2, new Array(8).fill(2)), ...tag(7, 1), ...fixed64(start), ...tag(8, 1), ...fixed64(start)]);
  const spans: number[] = [];
  for (let i = 0; i < OtlpLimits.itemsPerRequestMax; i++) for (const b of span) spans.push(b);
  const atLimit = decodeProto('traces', Uint8Array.from(ld(1, ld(2, spans))));
  t.equal(atLimit.rows.length, OtlpLimits.itemsPerRequestMax, 'exactly itemsPerRequestMax items decode');
  for (const b of span) spans.push(b);
  t.throws(() => decodeProto('traces', Uint8Array.from(ld(1, ld(2, spans)))), { code: 'ERR_LIMIT_EXCEEDED', message: /itemsPerRequestMax/ });
});

const JSON_FRAMING: readonly [string, Signal, string, RegExp][] = [
  ['not JSON', 'traces', '{"resourceSpans": [', /malformed OTLP\/JSON/],
  ['a top-level array', 'logs', '[]', /not a JSON object/],
  ['a repeated field that is not an array', 'traces', '{"resourceSpans": 5}', /at resourceSpans: is not an array/],
  ['an unknown enum name', 'traces', JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ kind: 'SPAN_KIND_BOGUS' }] }] }] }), /at resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[0\]\.kind: /],
  ['an int64 that is not decimal', 'logs', JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ attributes: [{ key: 'k', value: { intValue: '12x' } }] }] }] }] }), /logRecords\[0\]\.attributes\[0\]\.value\.intValue/],
  ['bad base64', 'logs', JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { bytesValue: '***' } }] }] }] }), /body\.bytesValue: is not base64/],
  ['a fractional time', 'traces', JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ startTimeUnixNano: 1.5 }] }] }] }), /startTimeUnixNano: 1.5 is not an integer/],
  ['a negative uint32', 'traces', JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ flags: -1 }] }] }] }), /flags: -1 is outside/],
  ['a numeric trace id', 'traces', JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: 123 }] }] }] }), /traceId: is not a hex string/],
  ['a resource that is a string', 'metrics', JSON.stringify({ resourceMetrics: [{ resource: 'r' }] }), /resourceMetrics\[0\]\.resource: is not an object/],
  ['a data point that is not an object', 'metrics', JSON.stringify({ resourceMetrics: [{ scopeMetrics: [{ metrics: [{ gauge: { dataPoints: [7] } }] }] }] }), /metrics\[0\]\.gauge\.dataPoints\[0\]: is not an object/],
];

for (const [name, signal, text, message] of JSON_FRAMING) {
  t.test(`JSON framing: ${name} is ERR_INVALID_ARGUMENT`, async (t) => {
    t.throws(() => decodeJson(signal, Buffer.from(text)), { code: 'ERR_INVALID_ARGUMENT', message });
  });
}

t.test('JSON: an AnyValue nested 100 000 deep is one counted rejection; deep unknown fields are ignored', async (t) => {
  const deep = '{"arrayValue":{"values":['.repeat(100_000) + '{"stringValue":"x"}' + ']}}'.repeat(100_000);
  const text = `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"${NOW_NS_STR}","body":${deep}},{"timeUnixNano":"${NOW_NS_STR}","x":${'['.repeat(100_000)}${']'.repeat(100_000)}}]}]}]}`;
  const r = decodeJson('logs', Buffer.from(text));
  t.equal(r.rejected, 1);
  t.equal(r.rejections[0]?.code, 'OTLP_ANY_VALUE_TOO_DEEP');
  t.equal(r.rows.length, 1);
});

function entryAccepts(signal: Signal, rows: unknown[]): void {
  if (rows.length === 0) return;
  encodeShardEntry({
    version: 1,
    tenant: 'default',
    idempotencyKey: '0123456789abcdef',
    part: 0,
    parts: 1,
    leaderTimeMs: TEST_NOW_MS,
    spans: signal === 'traces' ? (rows as SpanRow[]) : [],
    points: signal === 'metrics' ? (rows as MetricPointRow[]) : [],
    logs: signal === 'logs' ? (rows as LogRow[]) : [],
  });
}

function mutate(rand: SeededRand, b: Uint8Array): Uint8Array {
  const out = [...b];
  const edits = 1 + rand.intn(4);
  for (let e = 0; e < edits && out.length > 0; e++) {
    const at = rand.intn(out.length);
    switch (rand.intn(5)) {
      case 0:
        out[at] = rand.nextU32() & 0xff;
        break;
      case 1:
        out.length = at;
        break;
      case 2:
        out.splice(at, 0, ...rand.bytes(1 + rand.intn(4)));
        break;
      case 3:
        out.splice(at, 1 + rand.intn(4));
        break;
      default:
        out[at] = (out[at] as number) ^ (1 << rand.intn(8));
    }
  }
  return Uint8Array.from(out);
}

for (const signal of ['traces', 'metrics', 'logs'] as const) {
  t.test(`fuzz ${signal}: ${FUZZ_SEEDS} mutated protobuf and JSON bodies never crash`, async (t) => {
    let results = 0;
    let refused = 0;
    for (let seed = 1; seed <= FUZZ_SEEDS; seed++) {
      const rand = new SeededRand(seed);
      const msg: Obj = new Gen(seed)[signal]();
      const bodies: ['protobuf' | 'JSON', Uint8Array][] = [
        ['protobuf', mutate(rand, encodeProto(signal, msg))],
        ['JSON', mutate(rand, encodeJson(msg, seed))],
      ];
      for (const [format, body] of bodies) {
        try {
          const r = format === 'protobuf' ? decodeProto(signal, body) : decodeJson(signal, body);
          entryAccepts(signal, r.rows);
          results++;
        } catch (err) {
          if (!isOtlpdbError(err, 'ERR_INVALID_ARGUMENT')) {
            t.fail(`${signal} ${format} seed ${seed}: ${(err as Error).stack ?? String(err)}`);
            return;
          }
          refused++;
        }
      }
    }
    t.ok(results > 0 && refused > 0, `${results} decoded, ${refused} refused whole`);
  });
}

t.test('the valid helpers decode cleanly (the cases above start from them)', async (t) => {
  for (const [signal, item] of [['traces', validSpan()], ['metrics', gauge(validPoint())], ['logs', validLog()]] as const) {
    const r = decodeProto(signal, encodeProto(signal, request(signal, [item])));
    t.equal(r.rejected, 0, signal);
    t.equal(r.rows.length, 1, signal);
  }
  t.equal(StorageLimits.anyValueDepthMax < 100_000, true);
});
