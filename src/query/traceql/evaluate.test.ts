/**
 * evaluate.test.ts — the evaluator on one hand-built trace, one behaviour a
 * user relies on per assertion (Tempo's documented semantics: README.md).
 *
 * The trace (service in brackets):
 *
 *   0 root "GET /api" [frontend] server, 100ms, ok
 *   ├── 1 "auth" [auth] client, 5ms, unset, span.a=1, events exception
 *   │   └── 3 "db.query" [db] client, 20ms, error "boom", span.db="postgresql"
 *   └── 2 "checkout" [checkout] internal, 50ms, error, span.a=2.5, span.tags=["x","y"]
 *       └── 4 "db.query" [db] client, 1s, unset, link to trace 0x..aa
 *   5 orphan "late" [frontend] (its parent is not in the trace), resource.a=1
 */
import t from 'tap';
import { TraceqlLimits } from '../../limits.js';
import type { AnyValue, KeyValue, SpanKind, SpanRow, StatusCode } from '../../storage/rows.js';
import { evaluateTraceql } from './evaluate.js';
import { parseTraceql } from './parser.js';

const MS = 1_000_000n;
const T0 = 1_790_000_000_000_000_000n;

function sid(n: number): Uint8Array {
  const b = new Uint8Array(8);
  b[7] = n;
  return b;
}

function kv(key: string, value: AnyValue): KeyValue {
  return { key, value };
}

const str = (value: string): AnyValue => ({ type: 'string', value });

interface SpanSpec {
  id: number;
  parent: number | null;
  name: string;
  service: string;
  kind: SpanKind;
  startMs: bigint;
  durMs: bigint;
  status: StatusCode;
  message?: string;
  attrs?: KeyValue[];
  resourceAttrs?: KeyValue[];
  events?: string[];
  linkTrace?: Uint8Array;
}

function span(s: SpanSpec): SpanRow {
  const start = T0 + s.startMs * MS;
  return {
    tenant: 'default',
    traceId: new Uint8Array(16).fill(7),
    spanId: sid(s.id),
    parentSpanId: s.parent === null ? new Uint8Array(0) : sid(s.parent),
    traceState: '',
    flags: 0,
    name: s.name,
    kind: s.kind,
    startTimeUnixNano: start,
    endTimeUnixNano: start + s.durMs * MS,
    status: { code: s.status, message: s.message ?? '' },
    attributes: s.attrs ?? [],
    droppedAttributesCount: 0,
    events: (s.events ?? []).map((name) => ({ timeUnixNano: start, name, attributes: [], droppedAttributesCount: 0 })),
    droppedEventsCount: 0,
    links:
      s.linkTrace === undefined
        ? []
        : [{ traceId: s.linkTrace, spanId: sid(9), traceState: '', attributes: [], droppedAttributesCount: 0, flags: 0 }],
    droppedLinksCount: 0,
    resource: { attributes: [kv('service.name', str(s.service)), ...(s.resourceAttrs ?? [])], droppedAttributesCount: 0, schemaUrl: '' },
    scope: { name: 's', version: '', attributes: [], droppedAttributesCount: 0, schemaUrl: '' },
  };
}

const LINKED = new Uint8Array(16);
LINKED[15] = 0xaa;

const TRACE: SpanRow[] = [
  span({ id: 1, parent: null, name: 'GET /api', service: 'frontend', kind: 2, startMs: 0n, durMs: 100n, status: 1 }),
  span({ id: 2, parent: 1, name: 'auth', service: 'auth', kind: 3, startMs: 1n, durMs: 5n, status: 0, attrs: [kv('a', { type: 'int', value: 1n })], events: ['exception'] }),
  span({ id: 3, parent: 1, name: 'checkout', service: 'checkout', kind: 1, startMs: 10n, durMs: 50n, status: 2, attrs: [kv('a', { type: 'double', value: 2.5 }), kv('tags', { type: 'array', values: [str('x'), str('y')] })] }),
  span({ id: 4, parent: 2, name: 'db.query', service: 'db', kind: 3, startMs: 2n, durMs: 20n, status: 2, message: 'boom', attrs: [kv('db', str('postgresql'))] }),
  span({ id: 5, parent: 3, name: 'db.query', service: 'db', kind: 3, startMs: 20n, durMs: 1000n, status: 0, linkTrace: LINKED }),
  span({ id: 6, parent: 42, name: 'late', service: 'frontend', kind: 0, startMs: 2000n, durMs: 1n, status: 0, resourceAttrs: [kv('a', { type: 'int', value: 1n })] }),
];

/** run returns the indices of the one result spanset, or null when the trace does not match. */
function run(query: string, spans: readonly SpanRow[] = TRACE): number[] | null {
  const result = evaluateTraceql(parseTraceql(query), spans);
  if (result.length === 0) return null;
  return (result[0]?.spans ?? []).map((m) => m.index);
}

t.test('spanset filters over intrinsics', async (t) => {
  t.same(run('{ }'), [0, 1, 2, 3, 4, 5], '{ } matches every span');
  t.same(run('{ name = "db.query" }'), [3, 4]);
  t.same(run('{ status = error }'), [2, 3]);
  t.same(run('{ status != ok }'), [1, 2, 3, 4, 5]);
  t.same(run('{ statusMessage = "boom" }'), [3]);
  t.same(run('{ kind = client }'), [1, 3, 4]);
  t.same(run('{ duration > 20ms }'), [0, 2, 4]);
  t.same(run('{ duration >= 20ms && duration <= 50ms }'), [2, 3]);
  t.same(run('{ duration = 20000000 }'), [3], 'durations compare with plain numbers in nanoseconds');
  t.same(run('{ rootName = "GET /api" }'), [0, 1, 2, 3, 4, 5], 'trace-level intrinsics hold on every span');
  t.same(run('{ rootServiceName = "frontend" && name = "late" }'), [5]);
  t.same(run('{ traceDuration > 2s }'), [0, 1, 2, 3, 4, 5], 'traceDuration is max(end) - min(start)');
  t.same(run('{ traceDuration > 3s }'), null);
  t.same(run('{ event:name = "exception" }'), [1]);
  t.same(run('{ event:name != nil }'), [1]);
  t.same(run('{ link:traceID = "aa" }'), [4], 'trace ids are hex without leading zeros, as Tempo writes them');
  t.same(run('{ link:traceID = "000000000000000000000000000000aa" }'), null);
  t.same(run('{ trace:id = "7070707070707070707070707070707" }'), [0, 1, 2, 3, 4, 5]);
  t.same(run('{ span:id = "0000000000000003" }'), [2]);
  t.same(run('{ span:parentID = nil }'), [0]);
  t.same(run('{ childCount = 2 }'), [0]);
  t.same(run('{ childCount = 0 }'), [3, 4, 5]);
  t.same(run('{ instrumentation:name = "s" && instrumentation:version = "" }'), [0, 1, 2, 3, 4, 5]);
});

t.test('attributes: scopes, unscoped fallback to the resource, types', async (t) => {
  t.same(run('{ span.a = 1 }'), [1]);
  t.same(run('{ span.a > 1 }'), [2], 'ints and floats compare as numbers');
  t.same(run('{ span.a = 2.5 }'), [2]);
  t.same(run('{ resource.a = 1 }'), [5]);
  t.same(run('{ .a = 1 }'), [1, 5], 'unscoped looks at the span, then the resource');
  t.same(run('{ resource.service.name = "db" }'), [3, 4]);
  t.same(run('{ span.db =~ "postgres.*" }'), [3]);
  t.same(run('{ span.db =~ "postgres" }'), null, 'regular expressions are fully anchored');
  t.same(run('{ span.db =~ "postgresql|mysql" }'), [3]);
  t.same(run('{ span.db !~ "my.*" }'), [3], '!~ on a missing attribute is false');
  t.same(run('{ span.tags = "y" }'), [2], 'an array matches when an element does');
  t.same(run('{ span.tags != "z" }'), [2]);
  t.same(run('{ span.tags != "x" }'), null);
  t.same(run('{ span.a = "1" }'), null, 'mismatched types are false, not an error');
  t.same(run('{ span.a != "1" }'), null, 'mismatched types are false for != too');
  t.same(run('{ span.db != "mysql" }'), [3], '!= on a missing attribute is false');
  t.same(run('{ span.db = nil }'), [0, 1, 2, 4, 5], 'nil tests absence');
  t.same(run('{ span.db != nil }'), [3], '!= nil tests presence');
  t.same(run('{ !(span.db = "mysql") }'), [0, 1, 2, 3, 4, 5], '! negates the comparison, which is false on a missing attribute');
  t.same(run('{ status > ok }'), null, 'statuses have no order');
});

t.test('spanset operators: logical and structural', async (t) => {
  t.same(run('{ name = "auth" } && { name = "checkout" }'), [1, 2], '&& yields the spans of both');
  t.same(run('{ name = "auth" } && { name = "nope" }'), null, '&& needs both sides');
  t.same(run('{ name = "auth" } || { name = "nope" }'), [1]);
  t.same(run('{ name = "GET /api" } > { name = "db.query" }'), null, '> is a direct child');
  t.same(run('{ name = "GET /api" } >> { name = "db.query" }'), [3, 4], '>> is any descendant');
  t.same(run('{ name = "auth" } > { }'), [3]);
  t.same(run('{ name = "auth" } ~ { }'), [2], '~ yields the siblings on the right, not the span itself');
  t.same(run('{ } ~ { name = "late" }'), null, 'an orphan has no siblings');
  t.same(run('{ name = "db.query" } < { }'), [1, 2], '< yields the parents on the right');
  t.same(run('{ status = error } << { }'), [0, 1], '<< yields the ancestors on the right');
  t.same(run('{ resource.service.name = "frontend" } >> { status = error }'), [2, 3]);
  t.same(run('{ } > { } > { name = "db.query" }'), [3, 4], 'structural operators chain left to right');
  t.same(run('{ name = "auth" } && { } > { status = error }'), [1, 2, 3], 'structural binds tighter than &&');
  t.same(run('{ } !< { }'), [3, 4, 5], '!< yields the right spans that are no span\'s parent: the leaves');
  t.same(run('{ status = error } !< { status = error }'), [2, 3], 'the last errors of error chains');
  t.same(run('{ name = "GET /api" } !> { }'), [0, 3, 4, 5], '!> yields the right spans whose parent is not on the left');
  t.same(run('{ name = "auth" } !>> { name = "db.query" }'), [4]);
  t.same(run('{ name = "auth" } !~ { }'), [0, 1, 3, 4, 5]);
  t.same(run('{ name = "db.query" } !<< { }'), [3, 4, 5], '!<< yields the right spans that are no left span\'s ancestor');
  t.same(run('{ name = "auth" } &> { status = error }'), [1, 3], '&> yields the related spans of both sides');
  t.same(run('{ status = error } &>> { status = error }'), null, 'no error span descends from another');
  t.same(run('{ name = "GET /api" } &>> { status = error }'), [0, 2, 3]);
  t.same(run('{ name = "db.query" } &< { }'), [1, 2, 3, 4]);
  t.same(run('{ name = "db.query" } &<< { name = "GET /api" }'), [0, 3, 4]);
  t.same(run('{ name = "auth" } &~ { }'), [1, 2]);
});

t.test('pipelines: aggregates and select', async (t) => {
  t.same(run('{ kind = client } | count() > 2'), [1, 3, 4]);
  t.same(run('{ kind = client } | count() > 3'), null);
  t.same(run('count() = 6'), [0, 1, 2, 3, 4, 5], 'a pipeline may start with an aggregate over the whole trace');
  t.same(run('{ name = "db.query" } | avg(duration) = 510ms'), [3, 4]);
  t.same(run('{ } | max(duration) >= 1s | min(duration) < 2ms'), [0, 1, 2, 3, 4, 5]);
  t.same(run('{ } | sum(span.a) = 3.5'), [0, 1, 2, 3, 4, 5]);
  t.same(run('{ name = "late" } | sum(span.a) >= 0'), null, 'an aggregate over no values fails its comparison');
  t.same(run('{ } | { status = error } | count() = 2'), [2, 3], 'a later spanset stage filters the spans it is given');
  t.same(run('{ name = "auth" } | { name = "checkout" }'), null);

  const result = evaluateTraceql(parseTraceql('{ status = error } | select(span.db, resource.service.name, duration)'), TRACE);
  t.same(
    result[0]?.spans.map((m) => [m.index, m.selected.map((s) => s.field)]),
    [
      [2, ['resource.service.name', 'duration']],
      [3, ['span.db', 'resource.service.name', 'duration']],
    ],
    'select adds the fields a span has',
  );
  t.same(result[0]?.spans[1]?.selected[0]?.value, { type: 'string', value: 'postgresql' });
});

t.test('malformed traces: parent loops and self-parents never hang and have no parent', async (t) => {
  const loop = [
    span({ id: 1, parent: 2, name: 'a', service: 's', kind: 0, startMs: 0n, durMs: 1n, status: 0 }),
    span({ id: 2, parent: 1, name: 'b', service: 's', kind: 0, startMs: 0n, durMs: 1n, status: 0 }),
    span({ id: 3, parent: 3, name: 'c', service: 's', kind: 0, startMs: 0n, durMs: 1n, status: 0 }),
    span({ id: 4, parent: 1, name: 'd', service: 's', kind: 0, startMs: 0n, durMs: 1n, status: 0 }),
  ];
  t.same(run('{ } >> { }', loop), [3], 'only the span hanging off the loop has an ancestor');
  t.same(run('{ } ~ { }', loop), null);
  t.same(run('{ rootName != nil }', loop), null, 'a trace without a root span has no rootName');
});

t.test('a trace of traceSpansMax spans in one chain: every operator runs without deep recursion', async (t) => {
  const n = TraceqlLimits.traceSpansMax;
  const base = TRACE[1] as SpanRow;
  const chain: SpanRow[] = Array.from({ length: n }, (_, i) => {
    const id = new Uint8Array(8);
    new DataView(id.buffer).setUint32(4, i + 1);
    const parent = new Uint8Array(i === 0 ? 0 : 8);
    if (i > 0) new DataView(parent.buffer).setUint32(4, i);
    return { ...base, spanId: id, parentSpanId: parent };
  });
  const started = process.hrtime.bigint();
  t.equal(run('{ } >> { }', chain)?.length, n - 1);
  t.equal(run('{ } << { }', chain)?.length, n - 1);
  t.equal(run('{ } > { } ~ { }', chain), null);
  t.equal(run('{ } !< { }', chain)?.length, 1, 'one leaf');
  t.equal(run('{ } &>> { } | count() = 100000', chain)?.length, n);
  t.comment(`five queries over ${n} spans in ${(process.hrtime.bigint() - started) / 1_000_000n} ms`);
});

t.test('a trace past TraceqlLimits.traceSpansMax is refused', async (t) => {
  const many = Array.from({ length: TraceqlLimits.traceSpansMax + 1 }, () => TRACE[0] as SpanRow);
  t.throws(() => evaluateTraceql(parseTraceql('{ }'), many), { code: 'ERR_LIMIT_EXCEEDED', message: /traceSpansMax/ });
});
