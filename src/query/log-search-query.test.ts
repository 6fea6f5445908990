/**
 * log-search-query.test.ts — the search request parser and its peer frame:
 * valid requests and their defaults; every malformed input named in
 * docs/log-search.md is ERR_INVALID_ARGUMENT naming its JSON path, every
 * over-limit one ERR_LIMIT_EXCEEDED; the canonical JSON round-trips; 3,000
 * seeded mutated bodies and 1,000 mutated peer frames never throw anything
 * but those codes.
 * Reproduce: SEED=<n> npx tap src/query/log-search-query.test.ts
 */
import t from 'tap';
import { OtlpdbError } from '../errors.js';
import { SeededRand } from '../fs/seeded-rand.js';
import { LogSearchLimits, LogsQueryLimits } from '../limits.js';
import { parseSearchBody, parseSearchNode, parseSearchRequest, searchNodeJson } from './log-search-query.js';
import { decodeSearchRequest, encodeSearchRequest } from './log-search-wire.js';

const SEED = Number(process.env.SEED ?? 0x9a45e);
const NOW_NS = 1_795_000_000_000_000_000n;

function outcome(f: () => unknown): string {
  try {
    f();
    return 'ok';
  } catch (err) {
    if (err instanceof OtlpdbError) return `${err.code} ${String(err.details.param ?? '')}`;
    return `CRASH ${String(err)}`;
  }
}

const GOOD = {
  query: { and: [{ term: 'Timeout' }, { phrase: 'connection reset' }, { not: { term: 'debug' } }, { fuzzy: { term: 'conection', distance: 1 } }, { range: { field: 'status', gte: 500, lt: 600 } }, { or: [{ term: 'a' }, { range: { field: 'ms', source: 'metadata', gt: 1.5 } }] }] },
  selector: '{service_name="api"}',
  start: '1795000000',
  end: 1795000060,
  limit: 10,
  direction: 'forward',
  consistency: 'stale',
};

t.test('a valid request and its defaults', async (t) => {
  const r = parseSearchRequest(GOOD, NOW_NS);
  t.equal(r.startNs, 1_795_000_000_000_000_000n);
  t.equal(r.endNs, 1_795_000_060_000_000_000n);
  t.same(r.matchers, [{ name: 'service_name', op: '=', value: 'api' }]);
  t.equal(r.limit, 10);
  t.equal(r.direction, 'forward');
  t.equal(r.consistency, 'stale');
  const q = r.query;
  t.equal(q.kind, 'and');
  if (q.kind === 'and') {
    t.same(q.children[0], { kind: 'term', text: 'Timeout', term: 'timeout' }, 'terms are lower-cased by the tokenizer');
    t.same(q.children[1], { kind: 'phrase', text: 'connection reset', terms: ['connection', 'reset'] });
    t.same(q.children[3], { kind: 'fuzzy', text: 'conection', term: 'conection', distance: 1 });
    t.same(q.children[4], { kind: 'range', field: 'status', source: 'line', bounds: { gte: 500, lt: 600 } });
  }
  const d = parseSearchRequest({ query: { and: [] } }, NOW_NS);
  t.equal(d.endNs, NOW_NS, 'end: now');
  t.equal(d.startNs, NOW_NS - BigInt(LogsQueryLimits.rangeDefaultMs) * 1_000_000n, 'start: the default window before end');
  t.equal(d.limit, LogsQueryLimits.limitDefault);
  t.equal(d.direction, 'backward');
  t.equal(d.consistency, 'linearizable');
  t.same(d.matchers, []);
  t.equal(parseSearchRequest({ query: { term: 'x' }, start: '2026-11-27T00:00:00.5Z', end: '2026-11-27T00:01:00Z' }, NOW_NS).startNs, BigInt(Date.parse('2026-11-27T00:00:00Z')) * 1_000_000n + 500_000_000n, 'RFC3339');
  t.equal(parseSearchNode({ fuzzy: { term: 'x' } }).kind === 'fuzzy' && (parseSearchNode({ fuzzy: { term: 'x' } }) as { distance: number }).distance, 1, 'fuzzy distance defaults to 1');
});

t.test('every malformed input is ERR_INVALID_ARGUMENT naming its path', async (t) => {
  const cases: [unknown, string][] = [
    [null, 'ERR_INVALID_ARGUMENT body'],
    [[], 'ERR_INVALID_ARGUMENT body'],
    [{}, 'ERR_INVALID_ARGUMENT query'],
    [{ query: { term: 'x' }, extra: 1 }, 'ERR_INVALID_ARGUMENT body'],
    [{ query: 'timeout' }, 'ERR_INVALID_ARGUMENT query'],
    [{ query: {} }, 'ERR_INVALID_ARGUMENT query'],
    [{ query: { term: 'a', phrase: 'b' } }, 'ERR_INVALID_ARGUMENT query'],
    [{ query: { match: 'a' } }, 'ERR_INVALID_ARGUMENT query'],
    [{ query: { and: { term: 'a' } } }, 'ERR_INVALID_ARGUMENT query.and'],
    [{ query: { or: [] } }, 'ERR_INVALID_ARGUMENT query.or'],
    [{ query: { and: [{ term: 'a' }, 5] } }, 'ERR_INVALID_ARGUMENT query.and[1]'],
    [{ query: { not: [] } }, 'ERR_INVALID_ARGUMENT query.not'],
    [{ query: { term: 7 } }, 'ERR_INVALID_ARGUMENT query.term'],
    [{ query: { term: 'two words' } }, 'ERR_INVALID_ARGUMENT query.term'],
    [{ query: { term: '!!!' } }, 'ERR_INVALID_ARGUMENT query.term'],
    [{ query: { phrase: '  ' } }, 'ERR_INVALID_ARGUMENT query.phrase'],
    [{ query: { fuzzy: 'x' } }, 'ERR_INVALID_ARGUMENT query.fuzzy'],
    [{ query: { fuzzy: { term: 'x', distance: 3 } } }, 'ERR_INVALID_ARGUMENT query.fuzzy.distance'],
    [{ query: { fuzzy: { term: 'x', distance: 0 } } }, 'ERR_INVALID_ARGUMENT query.fuzzy.distance'],
    [{ query: { fuzzy: { term: 'x', distance: '1' } } }, 'ERR_INVALID_ARGUMENT query.fuzzy.distance'],
    [{ query: { fuzzy: { term: 'x y' } } }, 'ERR_INVALID_ARGUMENT query.fuzzy.term'],
    [{ query: { fuzzy: { term: 'x', prefix: 1 } } }, 'ERR_INVALID_ARGUMENT query.fuzzy'],
    [{ query: { range: { field: 'a' } } }, 'ERR_INVALID_ARGUMENT query.range'],
    [{ query: { range: { field: '', gt: 1 } } }, 'ERR_INVALID_ARGUMENT query.range.field'],
    [{ query: { range: { gt: 1 } } }, 'ERR_INVALID_ARGUMENT query.range.field'],
    [{ query: { range: { field: 'a', gt: 1, gte: 2 } } }, 'ERR_INVALID_ARGUMENT query.range'],
    [{ query: { range: { field: 'a', lt: 1, lte: 2 } } }, 'ERR_INVALID_ARGUMENT query.range'],
    [{ query: { range: { field: 'a', gt: '1' } } }, 'ERR_INVALID_ARGUMENT query.range.gt'],
    [{ query: { range: { field: 'a', source: 'body', gt: 1 } } }, 'ERR_INVALID_ARGUMENT query.range.source'],
    [{ query: { term: 'x' }, selector: '{a=}' }, 'ERR_INVALID_ARGUMENT selector'],
    [{ query: { term: 'x' }, selector: 5 }, 'ERR_INVALID_ARGUMENT selector'],
    [{ query: { term: 'x' }, start: 'yesterday' }, 'ERR_INVALID_ARGUMENT start'],
    [{ query: { term: 'x' }, start: -1 }, 'ERR_INVALID_ARGUMENT start'],
    [{ query: { term: 'x' }, start: 20, end: 10 }, 'ERR_INVALID_ARGUMENT start'],
    [{ query: { term: 'x' }, limit: 0 }, 'ERR_INVALID_ARGUMENT limit'],
    [{ query: { term: 'x' }, limit: 1.5 }, 'ERR_INVALID_ARGUMENT limit'],
    [{ query: { term: 'x' }, direction: 'up' }, 'ERR_INVALID_ARGUMENT direction'],
    [{ query: { term: 'x' }, consistency: 'eventual' }, 'ERR_INVALID_ARGUMENT consistency'],
    // Limits.
    [{ query: { term: 'x' }, limit: LogsQueryLimits.limitMax + 1 }, 'ERR_LIMIT_EXCEEDED limit'],
    [{ query: { term: 'x' }, start: 0, end: 10_000_000 }, 'ERR_LIMIT_EXCEEDED end'],
    [{ query: { term: 'x'.repeat(LogSearchLimits.stringBytesMax + 1) } }, 'ERR_LIMIT_EXCEEDED query.term'],
    [{ query: { or: Array.from({ length: LogSearchLimits.termsMax + 1 }, (_, i) => ({ term: `t${i}` })) } }, `ERR_LIMIT_EXCEEDED query.or[${LogSearchLimits.termsMax}].term`],
    [{ query: { phrase: Array.from({ length: LogSearchLimits.phraseTermsMax + 1 }, (_, i) => `w${i}`).join(' ') } }, 'ERR_LIMIT_EXCEEDED query.phrase'],
  ];
  for (const [body, want] of cases) t.equal(outcome(() => parseSearchRequest(body, NOW_NS)), want, JSON.stringify(body).slice(0, 100));
  let deep: unknown = { term: 'x' };
  for (let i = 0; i < LogSearchLimits.depthMax; i++) deep = { not: deep };
  t.match(outcome(() => parseSearchNode(deep)), /^ERR_LIMIT_EXCEEDED query(\.not)+$/, 'too deep');
  const wide = { and: Array.from({ length: LogSearchLimits.nodesMax }, () => ({ and: [] })) };
  t.match(outcome(() => parseSearchNode(wide)), /^ERR_LIMIT_EXCEEDED /, 'too many nodes');
  t.equal(outcome(() => parseSearchBody('{"query": {"term": "x"', NOW_NS)), 'ERR_INVALID_ARGUMENT body', 'not JSON');
  t.equal(outcome(() => parseSearchBody(' '.repeat(LogSearchLimits.bodyBytesMax + 1), NOW_NS)), 'ERR_LIMIT_EXCEEDED body', 'a body too large');
  t.equal(outcome(() => parseSearchBody('[' .repeat(100_000) + ']'.repeat(100_000), NOW_NS)), 'ERR_LIMIT_EXCEEDED body', 'deep JSON is refused by size first');
});

t.test('the canonical JSON and the peer frame round-trip', async (t) => {
  const q = parseSearchRequest(GOOD, NOW_NS).query;
  t.same(parseSearchNode(searchNodeJson(q)), q, 'canonical JSON parses to the same node');
  const frame = encodeSearchRequest({ group: 3, tenant: 'acme', consistency: 'stale' }, { query: q, matchers: [{ name: 'a', op: '=~', value: 'x.*' }], startNs: 5n, endNs: 9n, direction: 'backward', limit: 7 });
  const back = decodeSearchRequest(frame);
  t.same(back.header, { group: 3, tenant: 'acme', consistency: 'stale' });
  t.same(back.req, { query: q, matchers: [{ name: 'a', op: '=~', value: 'x.*' }], startNs: 5n, endNs: 9n, direction: 'backward', limit: 7 });
});

/** mutateValue replaces a random part of a JSON value with something random. */
function mutateValue(r: SeededRand, v: unknown, depth = 0): unknown {
  const junk = (): unknown =>
    [null, true, 0, -1, 1.5, 3, Number.POSITIVE_INFINITY, '', 'x', 'two words', '!!', [], {}, { term: 'x' }, { fuzzy: {} }, { range: {} }, { and: [{}] }, [1, [2]], 'z'.repeat(5000)][r.intn(19)];
  if (depth > 6 || r.intn(4) === 0) return junk();
  if (Array.isArray(v)) {
    const out = [...v];
    if (out.length === 0 || r.intn(4) === 0) out.push(junk());
    else {
      const i = r.intn(out.length);
      out[i] = mutateValue(r, out[i], depth + 1);
    }
    return out;
  }
  if (typeof v === 'object' && v !== null) {
    const o: Record<string, unknown> = { ...(v as Record<string, unknown>) };
    const keys = Object.keys(o);
    const k = r.intn(5);
    if (k === 0 || keys.length === 0) o[['and', 'or', 'not', 'term', 'gt', 'distance', 'query', 'limit', 'q'][r.intn(9)] as string] = junk();
    else if (k === 1) delete o[keys[r.intn(keys.length)] as string];
    else {
      const key = keys[r.intn(keys.length)] as string;
      o[key] = mutateValue(r, o[key], depth + 1);
    }
    return o;
  }
  return junk();
}

t.test('seeded mutated bodies and frames: a stable code or a good parse, never a crash', async (t) => {
  const r = new SeededRand(SEED);
  const seen = new Map<string, number>();
  let crashes = 0;
  for (let i = 0; i < 3000; i++) {
    const body = mutateValue(r, GOOD);
    let text = JSON.stringify(body) ?? 'null';
    if (r.intn(10) === 0) text = text.slice(0, r.intn(text.length + 1));
    const o = outcome(() => parseSearchBody(text, NOW_NS));
    const code = o.split(' ')[0] as string;
    seen.set(code, (seen.get(code) ?? 0) + 1);
    if (code !== 'ok' && code !== 'ERR_INVALID_ARGUMENT' && code !== 'ERR_LIMIT_EXCEEDED') {
      crashes++;
      t.fail(`SEED=${SEED} body ${i}: ${o}: ${text.slice(0, 300)}`);
    }
  }
  t.equal(crashes, 0, `no crash (${JSON.stringify([...seen])})`);
  t.ok((seen.get('ERR_INVALID_ARGUMENT') ?? 0) > 1000, 'most mutations are refused');
  const good = encodeSearchRequest({ group: 1, tenant: 't', consistency: 'linearizable' }, { query: parseSearchRequest(GOOD, NOW_NS).query, matchers: [], startNs: 1n, endNs: 2n, direction: 'forward', limit: 1 });
  for (let i = 0; i < 1000; i++) {
    const b = new Uint8Array(good);
    for (let k = 0; k <= r.intn(4); k++) b[r.intn(b.length)] = r.intn(256);
    const o = outcome(() => decodeSearchRequest(r.intn(8) === 0 ? b.subarray(0, r.intn(b.length)) : b));
    if (o.startsWith('CRASH')) t.fail(`SEED=${SEED} frame ${i}: ${o}`);
  }
});
