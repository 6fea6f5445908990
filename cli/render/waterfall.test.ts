/**
 * The waterfall of `otlpdb trace` on fixed traces: golden output (no colour),
 * then the properties a reader relies on — tree order, orphans and cycles
 * drawn once, the row bound, the width bound, red only with colour, no
 * terminal control characters from span names.
 */
import t from 'tap';
import { TraceCliLimits } from '../../src/limits.js';
import { fit, formatDuration, renderWaterfall, sanitize, treeRows } from './waterfall.js';
import type { WaterfallSpan } from './trace-spans.js';

const MS = 1_000_000n;
const T0 = 1_750_000_000_000_000_000n;

function span(spanId: string, parentSpanId: string, service: string, name: string, fromMs: bigint, toMs: bigint, error = false): WaterfallSpan {
  return { spanId, parentSpanId, service, name, startNs: T0 + fromMs * MS, endNs: T0 + toMs * MS, error };
}

/** CHECKOUT: a root, two children given out of start order, a grandchild, an error, and an orphan whose parent is missing. */
const CHECKOUT = [
  span('0000000000000001', '', 'frontend', 'GET /checkout', 0n, 250n),
  span('0000000000000003', '0000000000000001', 'payments', 'charge card', 120n, 230n, true),
  span('0000000000000002', '0000000000000001', 'cart', 'load cart', 10n, 90n),
  span('0000000000000004', '0000000000000002', 'cart', 'SELECT items', 20n, 60n),
  span('0000000000000005', '00000000000000ff', 'mailer', 'send receipt', 240n, 260n),
];

const plain = (width: number, spansMax: number = TraceCliLimits.spansRenderedMax) => ({ traceIdHex: '4bf92f3577b34da6a3ce929d0e0e4736', width, color: false, spansMax });

t.test('golden: a checkout trace at 80 columns', async (t) => {
  t.same(renderWaterfall(CHECKOUT, plain(80)), [
    'trace 4bf92f3577b34da6a3ce929d0e0e4736  5 spans  4 services  260ms  1 error  1 orphan',
    '   SERVICE   SPAN              0                                 260ms  DURATION',
    '   frontend  GET /checkout     ██████████████████████████████████████      250ms',
    '   cart        load cart        █████████████                             80.0ms',
    '   cart          SELECT items     ██████                                  40.0ms',
    '!  payments    charge card                       █████████████████         110ms',
    ' ? mailer    send receipt                                          ███    20.0ms',
    '! status ERROR  ? parent not in the trace (or in a cycle)',
  ]);
});

t.test('golden: the row bound counts what it leaves out', async (t) => {
  t.same(renderWaterfall(CHECKOUT, plain(60, 3)), [
    'trace 4bf92f3577b34da6a3ce929d0e0e4736  5 spans  4 services  260ms  1 error',
    '   SERVICE   SPAN              0             260ms  DURATION',
    '   frontend  GET /checkout     ███████████████████     250ms',
    '   cart        load cart       ███████                80.0ms',
    '   cart          SELECT items   ████                  40.0ms',
    '… 2 more spans not drawn (at most 3); --json prints every span',
    '! status ERROR',
  ]);
});

t.test('golden: a cycle and a self-parent are drawn once, at the top level, marked', async (t) => {
  const spans = [
    span('00000000000000a1', '', 'api', 'root', 0n, 10n),
    span('00000000000000b1', '00000000000000b2', 'api', 'loop one', 2n, 4n),
    span('00000000000000b2', '00000000000000b1', '', 'loop two', 3n, 9n),
    span('00000000000000c1', '00000000000000c1', 'api', 'self parent', 5n, 5n),
  ];
  t.same(renderWaterfall(spans, { ...plain(60), traceIdHex: 'c0ffee' }), [
    'trace c0ffee  4 spans  2 services  10.0ms  0 errors  2 orphans',
    '   SERVICE  SPAN         0                  10.0ms  DURATION',
    '   api      root         █████████████████████████    10.0ms',
    ' ? api      self parent              █                   0ns',
    ' ? api      loop one          █████                   2.00ms',
    '   -          loop two          ████████████████      6.00ms',
    '? parent not in the trace (or in a cycle)',
  ]);
});

t.test('golden: a trace of zero duration and an empty trace', async (t) => {
  t.same(renderWaterfall([span('0000000000000001', '', 'a', 'instant', 0n, 0n)], { ...plain(60), traceIdHex: '1' }), [
    'trace 1  1 span  1 service  0ns  0 errors',
    '   SERVICE  SPAN     0                         0ns  DURATION',
    '   a        instant  █                                   0ns',
  ]);
  t.same(renderWaterfall([], { ...plain(60), traceIdHex: '1', unreadable: 2 }), ['trace 1: no spans', '2 spans could not be read (bad ids or times) and are not drawn']);
});

t.test('children follow their parent, ordered by start time', async (t) => {
  const rows = treeRows(CHECKOUT, 100);
  t.same(
    rows.map((r) => [r.span.name, r.depth, r.orphan]),
    [
      ['GET /checkout', 0, false],
      ['load cart', 1, false],
      ['SELECT items', 2, false],
      ['charge card', 1, false],
      ['send receipt', 0, true],
    ],
  );
});

t.test('a deep chain stays within the row bound, the indentation bound and the stack', async (t) => {
  const n = 5_000;
  const chain = Array.from({ length: n }, (_, i) => span(i.toString(16).padStart(16, '0').replace(/^0/, '1'), i === 0 ? '' : (i - 1).toString(16).padStart(16, '0').replace(/^0/, '1'), 'svc', `s${i}`, BigInt(i), BigInt(i + 1)));
  const lines = renderWaterfall(chain, plain(120));
  const drawn = lines.filter((l) => l.includes('█'));
  t.equal(drawn.length, TraceCliLimits.spansRenderedMax, 'at most spansRenderedMax rows');
  t.match(lines.at(-1), `… ${n - TraceCliLimits.spansRenderedMax} more spans not drawn`);
  t.match(drawn[TraceCliLimits.depthIndentMax + 5], `[${TraceCliLimits.depthIndentMax + 5}] s${TraceCliLimits.depthIndentMax + 5}`, 'past the indentation bound the depth is written out');
});

t.test('every line of a waterfall fits its width', async (t) => {
  const long = [...CHECKOUT, span('0000000000000009', '0000000000000004', 'a-service-name-longer-than-twenty', `${'very '.repeat(40)}long name`, 30n, 31n)];
  for (const width of [TraceCliLimits.widthMin, 61, 80, 99, 120, 200, 333]) {
    const lines = renderWaterfall(long, plain(width)).slice(1, -1);
    const over = lines.filter((l) => Array.from(l).length > width);
    t.same(over, [], `width ${width}`);
    t.equal(Array.from(lines[2] as string).length, width, `a span row is exactly ${width} wide`);
  }
});

t.test('colour: error rows red only when asked; names cannot drive the terminal', async (t) => {
  const colored = renderWaterfall(CHECKOUT, { ...plain(80), color: true });
  const errorRow = colored.find((l) => l.includes('charge card')) as string;
  t.ok(errorRow.startsWith('\u001b[31m') && errorRow.endsWith('\u001b[0m'), 'the error row is red');
  t.notOk(colored.find((l) => l.includes('load cart'))?.includes('\u001b'), 'other rows are not');
  t.notOk(renderWaterfall(CHECKOUT, plain(80)).some((l) => l.includes('\u001b')), 'no escape at all without colour');
  const evil = [span('0000000000000001', '', 'svc\u001b]0;owned\u0007', 'name\u001b[2J\u202ereversed', 0n, 1n)];
  const unsafe = (l: string): boolean => Array.from(l).some((c) => (c.codePointAt(0) as number) < 0x20 || c === '\u202e');
  t.notOk(renderWaterfall(evil, { ...plain(80), traceIdHex: '\u001b[31m' }).some(unsafe), 'control and bidi characters are replaced');
  t.equal(sanitize('a\u0000b\u009bc'), 'a\uFFFDb\uFFFDc');
});

t.test('formatDuration and fit', async (t) => {
  const cases: [bigint, string][] = [
    [0n, '0ns'],
    [999n, '999ns'],
    [1_000n, '1.00µs'],
    [12_345n, '12.3µs'],
    [999_499n, '999µs'],
    [999_500n, '1.00ms'],
    [4_560_000n, '4.56ms'],
    [250_000_000n, '250ms'],
    [1_250_000_000n, '1.25s'],
    [59_400_000_000n, '59.4s'],
    [123_000_000_000n, '2m03s'],
    [3_720_000_000_000n, '1h02m'],
  ];
  for (const [ns, want] of cases) t.equal(formatDuration(ns), want, `${ns} ns`);
  t.equal(fit('abcdef', 4), 'abc…');
  t.equal(fit('ab', 4), 'ab  ');
  t.equal(fit('😀😀😀', 2), '😀…', 'cut between code points, never inside a surrogate pair');
});
