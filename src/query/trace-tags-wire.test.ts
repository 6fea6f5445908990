import { Packr } from 'msgpackr';
import t from 'tap';
import { OtlpdbError } from '../errors.js';
import { SeededRand } from '../fs/seeded-rand.js';
import { TraceTagLimits } from '../limits.js';
import { newScanStats } from '../storage/shard/signal-store.js';
import type { TagEntry, TagRead, TagReadAnswer } from '../storage/traces/tag-read.js';
import { SPAN_KIND_KEYWORDS, STATUS_KEYWORDS, compareEntries } from '../storage/traces/tag-read.js';
import { TRACEQL_KINDS, TRACEQL_STATUSES } from './traceql/index.js';
import { mergeTagAnswers } from './trace-tags.js';
import { decodeTagsAnswer, decodeTagsRequest, encodeTagsAnswer, encodeTagsRequest } from './trace-tags-wire.js';
import type { ShardTagsRequest } from './trace-tags-wire.js';

// shard.readTags frames: round trips of every target, the checks a
// malformed answer meets, seeded byte mutations (every decode succeeds or
// refuses with its frame's code), and the coordinator's merge.
// Reproduce: OTLPDB_TAGS_SEED=<seed> npx tap src/query/trace-tags-wire.test.ts

const SEED = Number(process.env.OTLPDB_TAGS_SEED ?? 91);

const requests: ShardTagsRequest[] = [
  { group: 3, tenant: 'acme', consistency: 'linearizable', query: { startNs: 1n, endNs: 1n << 62n, target: { kind: 'names', scopes: ['span', 'resource'] }, valuesMax: 100 } },
  { group: 1, tenant: 't', consistency: 'stale', query: { startNs: 5n, endNs: 6n, target: { kind: 'values', scope: 'any', key: 'http.method' }, valuesMax: 1, staleValuesMax: 9 } },
  { group: 2, tenant: 'x', consistency: 'linearizable', query: { startNs: 0n, endNs: 10n, target: { kind: 'values', scope: 'resource', key: 'service.name' }, valuesMax: TraceTagLimits.valuesMax } },
  { group: 4, tenant: 'x', consistency: 'stale', query: { startNs: 0n, endNs: 10n, target: { kind: 'intrinsic', field: 'kind' }, valuesMax: 6 } },
];

function answerOf(entries: TagEntry[], partial = false): TagReadAnswer {
  return { entries: [...entries].sort(compareEntries), partial, stats: { ...newScanStats(), blocksScanned: 2, bytesRead: 1234, headRowsScanned: 7 } };
}

const valuesQuery = requests[1]?.query as TagRead;
const values = answerOf([
  { kind: 'string', text: 'GET' },
  { kind: 'int', text: '200' },
  { kind: 'bool', text: 'true' },
  { kind: 'string', text: 'ü€' },
]);

t.test('requests and answers round trip', async (t) => {
  for (const r of requests) t.same(decodeTagsRequest(encodeTagsRequest(r)), r, `request ${JSON.stringify(r.query.target)}`);
  const q = { ...valuesQuery, valuesMax: 10 };
  t.same(decodeTagsAnswer(encodeTagsAnswer(values), q), values);
  const names = answerOf([{ kind: 'span', text: 'http.method' }, { kind: 'resource', text: 'service.name' }], true);
  t.same(decodeTagsAnswer(encodeTagsAnswer(names), requests[0]?.query as TagRead), names);
  const kinds = answerOf([{ kind: 'keyword', text: 'server' }, { kind: 'keyword', text: 'client' }]);
  t.same(decodeTagsAnswer(encodeTagsAnswer(kinds), requests[3]?.query as TagRead), kinds);
});

t.test('malformed frames are refused with their code', async (t) => {
  const q = { ...valuesQuery, valuesMax: 10 };
  const refuse = (a: TagReadAnswer, query: TagRead, why: string): void => {
    t.throws(() => decodeTagsAnswer(encodeTagsAnswer(a), query), { code: 'ERR_CORRUPTION' }, why);
  };
  refuse(values, { ...q, valuesMax: 3 }, 'more entries than valuesMax');
  refuse({ ...values, entries: [{ kind: 'span', text: 'k' }] }, q, 'a name in a values answer');
  refuse({ ...values, entries: [{ kind: 'int', text: 'GET' }] }, q, 'an int that is not one');
  refuse({ ...values, entries: [{ kind: 'bool', text: 'yes' }] }, q, 'a bool that is not one');
  refuse({ ...values, entries: [{ kind: 'string', text: 'b' }, { kind: 'string', text: 'a' }] }, q, 'unsorted entries');
  refuse({ ...values, entries: [{ kind: 'string', text: 'a' }, { kind: 'string', text: 'a' }] }, q, 'a repeated entry');
  refuse({ ...values, entries: [{ kind: 'keyword', text: 'error' }] }, requests[3]?.query as TagRead, 'a status keyword answering kind');
  refuse({ ...values, entries: [{ kind: 'resource', text: 'k' }] }, { ...(requests[0]?.query as TagRead), target: { kind: 'names', scopes: ['span'] } }, 'a scope not asked for');
  const big = 'x'.repeat(TraceTagLimits.valueBytesMax / 2 + 1);
  refuse({ ...values, entries: [{ kind: 'string', text: `a${big}` }, { kind: 'string', text: `b${big}` }] }, q, 'more than valueBytesMax bytes');
  const badReq = (r: unknown[], why: string): void => {
    t.throws(() => decodeTagsRequest(new Packr({ useRecords: false, mapsAsObjects: true }).pack(r)), { code: 'ERR_INVALID_ARGUMENT' }, why);
  };
  badReq([1, 'a', 'linearizable', ['5', '5', ['names', ['span']], 1, null]], 'an empty range');
  badReq([1, 'a', 'linearizable', ['1', '5', ['names', ['span', 'span']], 1, null]], 'a repeated scope');
  badReq([1, 'a', 'linearizable', ['1', '5', ['values', 'event', 'k'], 1, null]], 'an unknown scope');
  badReq([1, 'a', 'linearizable', ['1', '5', ['intrinsic', 'duration'], 1, null]], 'an intrinsic without values');
  badReq([1, 'a', 'linearizable', ['1', '5', ['names', ['span']], TraceTagLimits.valuesMax + 1, null]], 'valuesMax past its limit');
  badReq([1, 'a', 'sometimes', ['1', '5', ['names', ['span']], 1, null]], 'an unknown consistency');
});

t.test('seeded mutations decode or refuse with the frame code', async (t) => {
  const rand = new SeededRand(SEED);
  const q = { ...valuesQuery, valuesMax: 10 };
  const good = [...requests.map((r) => encodeTagsRequest(r)), encodeTagsAnswer(values)];
  let refused = 0;
  for (let i = 0; i < 4000; i++) {
    const which = i % good.length;
    const isAnswer = which === good.length - 1;
    const b = Uint8Array.from(good[which] as Uint8Array);
    for (let f = 1 + rand.intn(4); f > 0; f--) b[rand.intn(b.length)] = rand.intn(256);
    const cut = rand.intn(4) === 0 ? b.subarray(0, rand.intn(b.length)) : b;
    try {
      if (isAnswer) decodeTagsAnswer(cut, q);
      else decodeTagsRequest(cut);
    } catch (err) {
      refused++;
      const code = err instanceof OtlpdbError ? err.code : `not an OtlpdbError: ${String(err)}`;
      if (code !== (isAnswer ? 'ERR_CORRUPTION' : 'ERR_INVALID_ARGUMENT')) t.fail(`mutation ${i} (OTLPDB_TAGS_SEED=${SEED}) gave ${code}`);
    }
  }
  t.ok(refused > 1000, `4000 mutated frames decoded or refused with their code (${refused} refused)`);
});

t.test('the merge is the sorted distinct union, cut at valuesMax and valueBytesMax', async (t) => {
  const a = answerOf([{ kind: 'string', text: 'b' }, { kind: 'int', text: '1' }]);
  const b = answerOf([{ kind: 'string', text: 'b' }, { kind: 'string', text: 'a' }]);
  t.same(mergeTagAnswers([a, b], 10), { entries: [{ kind: 'int', text: '1' }, { kind: 'string', text: 'a' }, { kind: 'string', text: 'b' }], cut: false });
  t.same(mergeTagAnswers([a, b], 2), { entries: [{ kind: 'int', text: '1' }, { kind: 'string', text: 'a' }], cut: true });
  t.same(mergeTagAnswers([a, b], 10, 2), { entries: [{ kind: 'int', text: '1' }, { kind: 'string', text: 'a' }], cut: true });
  t.same(mergeTagAnswers([], 10), { entries: [], cut: false });
  t.same(SPAN_KIND_KEYWORDS, TRACEQL_KINDS, "kind keywords are TraceQL's");
  t.same(STATUS_KEYWORDS, TRACEQL_STATUSES, "status keywords are TraceQL's");
});
