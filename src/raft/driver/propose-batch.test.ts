import t from 'tap';
import { OtlpdbError } from '../../errors.js';
import type { GroupId, NodeId } from '../types.js';
import { MultiRaftDriver } from './multi-raft.js';
import type { DriverInit } from './multi-raft.js';
import { encodeKvCommand } from './state-machine.js';
import { TestCluster } from './test-cluster.js';
import { ProposalBatch } from './waiters.js';

// proposeBatch (multi-raft.ts): one request's entries to several groups,
// answered once every entry has its outcome, each entry under propose's
// rules: nothing is answered before every entry is committed (fsynced on a
// majority) and applied here, or has failed (DESIGN.md §1 promise 1); a
// refused or timed-out entry does not fail the others (partial success).

const put = (key: string, value: string): Uint8Array => encodeKvCommand({ op: 'put', key, value });

/**
 * FirstOutcomeBatch is a planted bug: the batch answers as soon as its first
 * entry has an outcome, so a request would be acknowledged before its other
 * parts committed.
 */
class FirstOutcomeBatch extends ProposalBatch {
  readonly #early: (results: readonly (Uint8Array | OtlpdbError)[]) => void;
  #answered = false;
  constructor(size: number, done: (results: readonly (Uint8Array | OtlpdbError)[]) => void) {
    super(size, done);
    this.#early = done;
  }
  override settle(slot: number, outcome: Uint8Array | OtlpdbError): void {
    super.settle(slot, outcome);
    if (this.#answered) return;
    this.#answered = true;
    this.#early(this.results as (Uint8Array | OtlpdbError)[]);
  }
}

class EarlyAnswerDriver extends MultiRaftDriver {
  protected override newProposalBatch(size: number, done: (results: readonly (Uint8Array | OtlpdbError)[]) => void): ProposalBatch {
    return new FirstOutcomeBatch(size, done);
  }
}

/**
 * scenario: node 1 alone holds groups 1 and 2 and leads group 3, which
 * nodes 2 and 3 also hold; with nodes 2 and 3 stopped, a batch to groups
 * 1, 3 and 2 commits groups 1 and 2 at once, group 3 only once a node is
 * back. Returns when the batch answered relative to group 3's commit.
 */
async function scenario(driverClass?: new (init: DriverInit) => MultiRaftDriver): Promise<{
  answeredBeforeGroup3Committed: boolean;
  results: readonly (Uint8Array | OtlpdbError)[] | null;
  group3Value: string | undefined;
  othersApplied: boolean;
}> {
  const c = new TestCluster({
    seed: 21,
    nodes: [1, 2, 3],
    groups: [1, 2, 3],
    ...(driverClass === undefined ? {} : { driverClass }),
    specsFor: (id: NodeId) =>
      id === 1
        ? [
            { group: 1, voters: [1] },
            { group: 2, voters: [1] },
            { group: 3, voters: [1, 2, 3] },
          ]
        : [{ group: 3, voters: [1, 2, 3] }],
  });
  await c.startAll();
  const d1 = c.driver(1);
  for (const g of [1, 2, 3] as GroupId[]) d1.campaign(g);
  await c.settle();
  await c.untilLeaders();
  if (c.leaderOf(3) !== 1) throw new Error(`node 1 should lead group 3 (leader ${c.leaderOf(3)})`);
  await c.stop(2);
  await c.stop(3);
  let results: readonly (Uint8Array | OtlpdbError)[] | null = null;
  const batch = d1.proposeBatch([1, 3, 2], [put('a', '1'), put('b', '2'), put('c', '3')], 60_000).then((r) => {
    results = r;
  });
  await c.settle();
  await Promise.resolve();
  const committed = (): boolean => c.kv(1, 3).get('b') === '2';
  const answeredEarly = results !== null && !committed();
  const othersApplied = c.kv(1, 1).get('a') === '1' && c.kv(1, 2).get('c') === '3';
  // Node 2 comes back: group 3 gets its majority.
  await c.start(2);
  for (let k = 0; k < 50 && results === null; k++) await c.tick();
  await batch;
  return { answeredBeforeGroup3Committed: answeredEarly, results, group3Value: c.kv(1, 3).get('b'), othersApplied };
}

t.test('proposeBatch answers only once every entry is committed and applied; entries of other groups do not wait to commit', async (t) => {
  const r = await scenario();
  t.equal(r.othersApplied, true, 'groups 1 and 2 applied their entries while group 3 waited');
  t.equal(r.answeredBeforeGroup3Committed, false, 'no answer while group 3 has no majority');
  t.equal(r.group3Value, '2', 'group 3 committed once node 2 was back');
  t.equal(r.results?.length, 3, 'one outcome per entry');
  t.ok(r.results?.every((x) => x instanceof Uint8Array), 'every entry applied, in order of the call');

  const planted = await scenario(EarlyAnswerDriver);
  t.equal(planted.answeredBeforeGroup3Committed, true, 'planted: a batch that answers at its first outcome is caught');
});

t.test('proposeBatch: a refused or timed-out entry fails alone, with its own error in its slot', async (t) => {
  const c = new TestCluster({
    seed: 22,
    nodes: [1, 2, 3],
    groups: [1, 3],
    specsFor: (id: NodeId) => (id === 1 ? [{ group: 1, voters: [1] }, { group: 3, voters: [1, 2, 3] }] : [{ group: 3, voters: [1, 2, 3] }]),
  });
  await c.startAll();
  c.driver(1).campaign(1);
  c.driver(2).campaign(3);
  await c.settle();
  await c.untilLeaders();
  t.equal(c.leaderOf(3), 2, 'node 2 leads group 3');
  let results: readonly (Uint8Array | OtlpdbError)[] | null = null;
  const batch = c
    .driver(1)
    .proposeBatch([1, 3, 9], [put('x', '1'), put('y', '2'), put('z', '3')], 1_000)
    .then((r) => {
      results = r;
    });
  await c.settle();
  await batch;
  const got = results as readonly (Uint8Array | OtlpdbError)[] | null;
  t.ok(got?.[0] instanceof Uint8Array, 'the entry of a group this node leads is applied');
  const notLeader = got?.[1];
  t.ok(notLeader instanceof OtlpdbError && notLeader.code === 'ERR_NOT_LEADER' && notLeader.details['leaderHint'] === 2, 'a follower\'s entry: ERR_NOT_LEADER hinting the leader');
  const unknown = got?.[2];
  t.ok(unknown instanceof OtlpdbError && unknown.code === 'ERR_INVALID_ARGUMENT', 'a group not hosted here: refused');

  // A group that cannot commit: its entry times out (outcome unknown) while the others are answered.
  await c.stop(1);
  await c.stop(3);
  let late: readonly (Uint8Array | OtlpdbError)[] | null = null;
  const p = c
    .driver(2)
    .proposeBatch([3], [put('w', '4')], 1_000)
    .then((r) => {
      late = r;
    });
  for (let k = 0; k < 20 && late === null; k++) await c.tick();
  await p;
  const timedOut = (late as readonly (Uint8Array | OtlpdbError)[] | null)?.[0];
  t.ok(timedOut instanceof OtlpdbError && timedOut.code === 'ERR_TIMEOUT', `no majority: ERR_TIMEOUT, outcome unknown (${String(timedOut)})`);
});
