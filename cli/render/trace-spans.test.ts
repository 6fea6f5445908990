/**
 * traceSpans reads the trace-by-id answers the CLI may meet: otlpdb's v1 and
 * v2 OTLP JSON (hex ids, numeric enums) and a real Tempo's jsonpb (base64
 * ids, enum names); what it cannot read it counts instead of guessing.
 */
import t from 'tap';
import { idHex, traceSpans } from './trace-spans.js';

const otlpdbSpan = {
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  spanId: '00f067aa0ba902b7',
  parentSpanId: '0102030405060708',
  name: 'GET /',
  startTimeUnixNano: '1750000000000000000',
  endTimeUnixNano: '1750000000250000000',
  status: { code: 2, message: 'boom' },
};
const resource = { attributes: [{ key: 'host.name', value: { stringValue: 'h' } }, { key: 'service.name', value: { stringValue: 'front' } }] };
const want = { spanId: '00f067aa0ba902b7', parentSpanId: '0102030405060708', service: 'front', name: 'GET /', startNs: 1_750_000_000_000_000_000n, endNs: 1_750_000_000_250_000_000n, error: true };

t.test('v1, v2 and plain OTLP documents', async (t) => {
  const rs = [{ resource, scopeSpans: [{ scope: { name: 'lib' }, spans: [otlpdbSpan] }] }];
  for (const doc of [{ batches: rs }, { trace: { resourceSpans: rs } }, { resourceSpans: rs }]) {
    t.same(traceSpans(doc), { spans: [want], unreadable: 0 }, Object.keys(doc).join());
  }
  t.same(traceSpans({ batches: [{ resource, instrumentationLibrarySpans: [{ spans: [otlpdbSpan] }] }] }).spans, [want], 'the pre-1.0 scope field');
});

t.test("a real Tempo's jsonpb: base64 ids, enum names, numbers", async (t) => {
  const tempoSpan = {
    ...otlpdbSpan,
    spanId: Buffer.from('00f067aa0ba902b7', 'hex').toString('base64'),
    parentSpanId: Buffer.from('0102030405060708', 'hex').toString('base64'),
    status: { code: 'STATUS_CODE_ERROR' },
  };
  t.same(traceSpans({ batches: [{ resource, scopeSpans: [{ spans: [tempoSpan] }] }] }).spans, [want]);
  t.equal(idHex('', 8), '', 'an empty parent is a root');
  t.equal(idHex(undefined, 8), '');
  t.equal(idHex('AAECAwQFBgc=', 8), '0001020304050607');
  t.equal(idHex('0001020304050607', 8), '0001020304050607', 'hex of the right length is hex');
  t.equal(idHex('zz', 8), null);
  t.equal(idHex(12, 8), null);
});

t.test('unreadable spans are counted, not guessed; a backwards span has no length', async (t) => {
  const spans = [
    { ...otlpdbSpan, spanId: 'nope' },
    { ...otlpdbSpan, startTimeUnixNano: '-1' },
    { ...otlpdbSpan, endTimeUnixNano: undefined },
    'not a span',
    { ...otlpdbSpan, endTimeUnixNano: '1749999999000000000', status: { code: 1 } },
  ];
  const r = traceSpans({ batches: [{ scopeSpans: [{ spans }] }] });
  t.equal(r.unreadable, 4);
  t.same(r.spans, [{ ...want, service: '', endNs: want.startNs, error: false }]);
  t.same(traceSpans(null), { spans: [], unreadable: 0 });
  t.same(traceSpans({ error: { code: 'ERR_NOT_FOUND' } }), { spans: [], unreadable: 0 });
});
