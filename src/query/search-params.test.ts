import t from 'tap';
import { OtlpdbError } from '../errors.js';
import { SeededRand } from '../fs/seeded-rand.js';
import { TraceSearchLimits } from '../limits.js';
import { parseGoDuration, parseLogfmt, parseSearchParams, traceSearchQuery } from './search-params.js';
import type { TraceSearchQuery } from './search-params.js';
import { validateIr } from './ir.js';
import { lowerTraceSearch, traceSearchIr } from './trace-ir.js';
import { decodeSearchAnswer, decodeSearchRequest, encodeSearchAnswer, encodeSearchRequest } from './trace-search-wire.js';

const NOW_MS = 1_790_000_000_000;
const parse = (qs: string): ReturnType<typeof parseSearchParams> => parseSearchParams(new URLSearchParams(qs), NOW_MS);
function refusal(qs: string): { code: string; param: unknown; message: string } {
  try {
    parse(qs);
  } catch (err) {
    if (err instanceof OtlpdbError) return { code: err.code, param: err.details['param'], message: err.message };
    throw err;
  }
  return { code: 'none', param: undefined, message: '' };
}

t.test('Go durations', async (t) => {
  t.equal(parseGoDuration('1.5s'), 1_500_000_000n);
  t.equal(parseGoDuration('100ms'), 100_000_000n);
  t.equal(parseGoDuration('1h2m3s'), 3_723_000_000_000n);
  t.equal(parseGoDuration('250us'), 250_000n);
  t.equal(parseGoDuration('250µs'), 250_000n);
  t.equal(parseGoDuration('7ns'), 7n);
  t.equal(parseGoDuration('0'), 0n);
  for (const bad of ['', '1', 's', '-1s', '1.5', '1sx', '1 s', 'x'.repeat(100), '99999999999999999h']) t.equal(parseGoDuration(bad), null, JSON.stringify(bad));
});

t.test('logfmt tags', async (t) => {
  t.same(parseLogfmt('service.name=cart http.status_code=500'), [
    ['service.name', 'cart'],
    ['http.status_code', '500'],
  ]);
  t.same(parseLogfmt('  name="GET /api/cart"  a=b '), [
    ['name', 'GET /api/cart'],
    ['a', 'b'],
  ]);
  t.same(parseLogfmt('q="say \\"hi\\""'), [['q', 'say "hi"']]);
  t.same(parseLogfmt('empty='), [['empty', '']]);
  for (const bad of ['novalue', '=x', 'a="open', 'a="x"b']) {
    t.throws(() => parseLogfmt(bad), { code: 'ERR_INVALID_ARGUMENT' }, JSON.stringify(bad));
  }
  const many = Array.from({ length: TraceSearchLimits.tagsMax + 1 }, (_, i) => `k${i}=v`).join(' ');
  t.throws(() => parseLogfmt(many), { code: 'ERR_INVALID_ARGUMENT' });
});

t.test('parameters map onto the query', async (t) => {
  const q = parse('tags=service.name%3Dcart%20name%3D%22GET%20%2Fx%22%20http.method%3DGET%20error%3Dtrue%20root.service.name%3Dfrontend&minDuration=10ms&maxDuration=2s&limit=5&spss=2&start=100&end=200');
  t.same(q.predicate, { name: 'GET /x', service: 'cart', status: 2, attrs: [['http.method', 'GET']] });
  t.equal(q.rootService, 'frontend');
  t.equal(q.minTraceDurationNs, 10_000_000n);
  t.equal(q.maxTraceDurationNs, 2_000_000_000n);
  t.equal(q.limit, 5);
  t.equal(q.spss, 2);
  t.equal(q.startNs, 100_000_000_000n);
  t.equal(q.endNs, 201_000_000_000n);
  const d = parse('');
  t.equal(d.limit, TraceSearchLimits.limitDefault);
  t.equal(d.spss, TraceSearchLimits.spssDefault);
  t.equal(d.endNs - d.startNs, BigInt(TraceSearchLimits.rangeDefaultMs) * 1_000_000n);
  t.same(d.predicate, {});
  t.equal(parse('tags=status.code%3Dok').predicate.status, 1);
  t.equal(parse('scan=full').fullScan, true);
  t.equal(parse('scan=index').fullScan, undefined);
  const empty = parse('q=%7B%7D');
  t.equal(empty.traceql, '{}', 'q={} is a TraceQL search of every trace');
  t.same(empty.predicate, {}, 'with nothing to push down');
  t.equal(parse('q=').traceql, undefined, 'an empty q is no TraceQL');
});

t.test('TraceQL in q: parsed, its pushdown becomes the span predicate, errors name the position', async (t) => {
  const q = (text: string): ReturnType<typeof parse> => parse(`q=${encodeURIComponent(text)}`);
  t.same(q('{ name = "GET /" && status = error && kind = server && resource.service.name = "cart" && span.http.method = "GET" && .ok = true }').predicate, {
    name: 'GET /',
    status: 2,
    kind: 2,
  }, 'intrinsics are pushed; attribute equalities are not (arrays and doubles, see pushdownPredicate)');
  t.same(q('{ duration > 100ms && duration <= 2s }').predicate, { minDurationNs: 100_000_001n, maxDurationNs: 2_000_000_000n });
  t.same(q('{ .http.status_code = 200 }').predicate, {}, 'a numeric equality is left to the evaluator (the index lacks doubles)');
  t.same(q('{ name = "a" || name = "b" }').predicate, {}, 'an || at the top pushes nothing');
  t.same(q('{ name = "x" } >> { name = "y" }').predicate, {}, 'a structural query pushes nothing');
  t.equal(q('{ .a = "x" } | count() > 2').traceql, '{ .a = "x" } | count() > 2');
  const r = refusal(`q=${encodeURIComponent('{ .a = "x" foo }')}`);
  t.equal(r.code, 'ERR_INVALID_ARGUMENT');
  t.equal(r.param, 'q');
  t.match(r.message, /^invalid q: TraceQL: .* at 1:\d+/, r.message);
});

t.test('bad parameters are refused naming the parameter', async (t) => {
  const cases: [string, string][] = [
    ['limit=0', 'limit'],
    ['limit=abc', 'limit'],
    [`limit=${TraceSearchLimits.limitMax + 1}`, 'limit'],
    ['spss=-1', 'spss'],
    ['start=abc', 'start'],
    ['start=200&end=100', 'start'],
    [`start=0&end=${(TraceSearchLimits.rangeMsMax / 1000) * 2}`, 'end'],
    ['minDuration=fast', 'minDuration'],
    ['maxDuration=1', 'maxDuration'],
    ['minDuration=2s&maxDuration=1s', 'maxDuration'],
    ['tags=novalue', 'tags'],
    ['tags=status.code%3Dbroken', 'tags'],
    ['tags=error%3Dfalse', 'tags'],
    ['tags=name%3Da%20name%3Db', 'tags'],
    [`tags=${'a'.repeat(TraceSearchLimits.tagsBytesMax)}%3Db`, 'tags'],
    ['q=%7B%20.a%20%3D%20%7D', 'q'],
    ['q=%7B.a%3D1%7D&tags=a%3Db', 'q'],
    ['scan=sometimes', 'scan'],
  ];
  for (const [qs, param] of cases) {
    const r = refusal(qs);
    t.equal(r.code, 'ERR_INVALID_ARGUMENT', qs);
    t.equal(r.param, param, `${qs}: ${r.message}`);
  }
});

t.test('the peer frames round-trip and refuse malformed input', async (t) => {
  const query = parse('tags=service.name%3Dcart%20a%3Db&minDuration=1ms&limit=7&spss=2&start=100&end=200');
  const req = { group: 3, tenant: 'acme', consistency: 'stale' as const, query };
  t.same(decodeSearchRequest(encodeSearchRequest(req)), req);
  const full = { ...req, query: { ...query, fullScan: true } };
  t.same(decodeSearchRequest(encodeSearchRequest(full)), full);
  const tql = { ...req, query: parse(`q=${encodeURIComponent('{ span.a = "b" } >> { status = error }')}`) };
  t.same(decodeSearchRequest(encodeSearchRequest(tql)), tql);
  const answer = {
    partial: true,
    inspectedTraces: 2,
    inspectedSpans: 9,
    stats: { blocksScanned: 1, blocksPrunedTime: 2, blocksPrunedBloom: 3, blocksPrunedIndex: 4, bytesRead: 5, headRowsScanned: 6 },
    traces: [
      {
        traceId: new Uint8Array(16).fill(1),
        rootServiceName: 'frontend',
        rootTraceName: 'GET /',
        startNs: 5n,
        durationNs: 9n,
        matched: 4,
        spans: [{ spanId: new Uint8Array(8).fill(2), name: 'x', startNs: 6n, durationNs: 1n, attributes: [{ key: 'a', value: { type: 'string' as const, value: 'b' } }] }],
      },
    ],
  };
  const back = decodeSearchAnswer(encodeSearchAnswer(answer), 7, 2);
  t.same(back.traces[0]?.spans[0]?.attributes, [{ key: 'a', value: { stringValue: 'b' } }]);
  t.equal(back.partial, true);
  t.same(back.stats, answer.stats);
  t.throws(() => decodeSearchAnswer(encodeSearchAnswer(answer), 0, 2), { code: 'ERR_CORRUPTION' }, 'more traces than the limit');
  t.throws(() => decodeSearchAnswer(encodeSearchAnswer(answer), 7, 0), { code: 'ERR_CORRUPTION' }, 'more spans than spss');

  // Seeded mutations: every decode either succeeds or refuses with the frame's code; nothing else escapes.
  const seed = Number(process.env.OTLPDB_SEARCH_SEED ?? 77);
  const rand = new SeededRand(seed);
  const good = [encodeSearchRequest(req), encodeSearchAnswer(answer)] as const;
  for (let i = 0; i < 3000; i++) {
    const which = i % 2;
    const b = Uint8Array.from(good[which] as Uint8Array);
    const flips = 1 + rand.intn(4);
    for (let f = 0; f < flips; f++) b[rand.intn(b.length)] = rand.intn(256);
    const cut = rand.intn(4) === 0 ? b.subarray(0, rand.intn(b.length)) : b;
    try {
      if (which === 0) decodeSearchRequest(cut);
      else decodeSearchAnswer(cut, 7, 2);
    } catch (err) {
      const code = err instanceof OtlpdbError ? err.code : `not an OtlpdbError: ${String(err)}`;
      if (code !== (which === 0 ? 'ERR_INVALID_ARGUMENT' : 'ERR_CORRUPTION')) t.fail(`mutation ${i} (OTLPDB_SEARCH_SEED=${seed}) gave ${code}`);
    }
  }
  t.pass('3000 mutated frames decoded or refused with their code');
});

/** shapeOf is an object's own keys in order, its predicate's after a bar: two queries of one shape are objects of one V8 map. */
const shapeOf = (q: TraceSearchQuery): string => `${Object.keys(q).join(',')} | ${Object.keys(q.predicate).join(',')}`;

t.test('every producer of a search query makes it in one shape (parsed, lowered from the IR, decoded from a peer frame)', async (t) => {
  const cases = [
    'tags=customer.id%3Dc12&limit=100&spss=3&start=100&end=200',
    'minDuration=300ms&limit=20',
    'tags=service.name%3Dcart%20name%3DGET%20status.code%3Derror%20root.service.name%3Dweb%20root.name%3Dx&maxDuration=2s',
    `q=${encodeURIComponent('{ span.a = "b" && duration > 1ms } >> { status = error }')}&scan=full`,
  ];
  const want = shapeOf(parse(cases[0] as string));
  for (const qs of cases) {
    const parsed = parse(qs);
    const lowered = lowerTraceSearch(validateIr(traceSearchIr('acme', parsed, 'linearizable')));
    // A peer's frame arrives as a view of a socket Buffer.
    const decoded = decodeSearchRequest(Buffer.from(encodeSearchRequest({ group: 2, tenant: 'acme', consistency: 'linearizable', query: lowered }))).query;
    t.equal(shapeOf(parsed), want, `${qs}: parsed`);
    t.equal(shapeOf(lowered), want, `${qs}: lowered`);
    t.equal(shapeOf(decoded), want, `${qs}: decoded`);
    t.same(decoded, lowered, `${qs}: the decoded query is the sent one`);
  }
  const budget = traceSearchQuery({ ...parse(cases[1] as string), bytesScannedMax: 1234 });
  const back = decodeSearchRequest(encodeSearchRequest({ group: 2, tenant: 'acme', consistency: 'stale', query: budget })).query;
  t.equal(shapeOf(back), want, 'a query with a bytes budget');
  t.equal(back.bytesScannedMax, 1234);
  // Planted: a query made as an ad hoc literal (what every producer did before s23) is caught by the shape check.
  const literal: TraceSearchQuery = { startNs: 1n, endNs: 2n, predicate: { attrs: [['a', 'b']] }, limit: 1, spss: 1 };
  t.not(shapeOf(literal), want, 'planted: an ad hoc literal has another shape');
  t.equal(shapeOf(traceSearchQuery(literal)), want, 'traceSearchQuery puts it in the one shape');
});

t.test('a peer frame decodes to plain Uint8Arrays, never Buffers', async (t) => {
  const answer = {
    partial: false,
    inspectedTraces: 1,
    inspectedSpans: 1,
    stats: { blocksScanned: 1, blocksPrunedTime: 0, blocksPrunedBloom: 0, blocksPrunedIndex: 0, bytesRead: 5, headRowsScanned: 0 },
    traces: [{ traceId: new Uint8Array(16).fill(1), rootServiceName: 'a', rootTraceName: 'b', startNs: 5n, durationNs: 9n, matched: 1, spans: [{ spanId: new Uint8Array(8).fill(2), name: 'x', startNs: 6n, durationNs: 1n, attributes: [] }] }],
  };
  // encodeSearchAnswer answers packr's Buffer: the local path (TraceSearch.searchHere) decodes exactly that.
  const back = decodeSearchAnswer(encodeSearchAnswer(answer), 1, 1);
  t.equal(Object.getPrototypeOf(back.traces[0]?.traceId), Uint8Array.prototype, 'a trace id is a plain Uint8Array');
  t.equal(Object.getPrototypeOf(back.traces[0]?.spans[0]?.spanId), Uint8Array.prototype, 'a span id is a plain Uint8Array');
});
