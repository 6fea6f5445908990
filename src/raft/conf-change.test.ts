import t from 'tap';
import { applyChangeToConfState, decodeConfChange, encodeConfChange } from './conf-change.js';
import { majorityIndex, voteResultOf, VoteResult } from './quorum.js';
import { ConfChangeType } from './types.js';
import { OtlpdbError } from '../errors.js';

t.test('encodeConfChange / decodeConfChange round-trip, with and without context, large ids', async (t) => {
  for (const cc of [
    { type: ConfChangeType.AddNode, nodeId: 1 },
    { type: ConfChangeType.AddLearner, nodeId: 2 ** 40 + 7, context: Uint8Array.of(1, 2, 3) },
    { type: ConfChangeType.RemoveNode, nodeId: Number.MAX_SAFE_INTEGER },
  ]) {
    t.same(decodeConfChange(encodeConfChange(cc)), cc);
  }
});

t.test('decodeConfChange refuses malformed bytes with ERR_INVALID_ARGUMENT', async (t) => {
  const good = encodeConfChange({ type: ConfChangeType.AddNode, nodeId: 5, context: Uint8Array.of(9) });
  const bad: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['short', good.subarray(0, 10)],
    ['bad magic', Uint8Array.from(good, (b, i) => (i === 0 ? 0 : b))],
    ['bad version', Uint8Array.from(good, (b, i) => (i === 1 ? 9 : b))],
    ['bad type', Uint8Array.from(good, (b, i) => (i === 2 ? 7 : b))],
    ['node 0', Uint8Array.from(good, (b, i) => (i >= 3 && i < 11 ? 0 : b))],
    ['trailing byte', Uint8Array.of(...good, 0)],
    ['truncated context', good.subarray(0, good.length - 1)],
  ];
  for (const [name, b] of bad) t.throws(() => decodeConfChange(b), { code: 'ERR_INVALID_ARGUMENT' }, name);
});

t.test('thesis §4.1 single-server change rules', async (t) => {
  const cs = { voters: [1, 2], learners: [3] };
  t.same(applyChangeToConfState(cs, { type: ConfChangeType.AddNode, nodeId: 3 }), { voters: [1, 2, 3], learners: [] }, 'promotion');
  t.same(applyChangeToConfState(cs, { type: ConfChangeType.AddNode, nodeId: 4 }), { voters: [1, 2, 4], learners: [3] });
  t.same(applyChangeToConfState(cs, { type: ConfChangeType.AddLearner, nodeId: 4 }), { voters: [1, 2], learners: [3, 4] });
  t.equal(applyChangeToConfState(cs, { type: ConfChangeType.AddNode, nodeId: 1 }), cs, 'existing voter: no-op');
  t.ok(applyChangeToConfState(cs, { type: ConfChangeType.AddLearner, nodeId: 1 }) instanceof OtlpdbError, 'voter as learner refused');
  t.same(applyChangeToConfState(cs, { type: ConfChangeType.RemoveNode, nodeId: 3 }), { voters: [1, 2], learners: [] });
  t.same(applyChangeToConfState(cs, { type: ConfChangeType.RemoveNode, nodeId: 2 }), { voters: [1], learners: [3] });
  t.equal(applyChangeToConfState(cs, { type: ConfChangeType.RemoveNode, nodeId: 9 }), cs, 'non-member: no-op');
  const last = applyChangeToConfState({ voters: [1], learners: [] }, { type: ConfChangeType.RemoveNode, nodeId: 1 });
  t.match(last, { code: 'ERR_INVALID_ARGUMENT' }, 'the last voter cannot be removed');
});

t.test('§5.3 quorum: the commit index is the majority median of match indexes; elections need a majority', async (t) => {
  t.equal(majorityIndex([5, 1, 3]), 3);
  t.equal(majorityIndex([5, 4, 1, 1]), 1, 'four voters need three');
  t.equal(majorityIndex([9, 9, 2, 2, 2]), 2);
  t.equal(majorityIndex([7]), 7);
  t.equal(voteResultOf(3, 2, 0), VoteResult.Won);
  t.equal(voteResultOf(3, 1, 2), VoteResult.Lost);
  t.equal(voteResultOf(4, 2, 1), VoteResult.Pending);
  t.equal(voteResultOf(4, 2, 2), VoteResult.Lost, 'a tie loses');
});
