/**
 * raft-counters.test.ts — the bench's /metrics reader sums a family over
 * its samples (and takes the maximum for a gauge), and a family a build
 * does not export reads as NaN, printed "n/a", never as 0.
 */
import t from 'tap';
import { describeRaftDelta, sumFamily } from './raft-counters.js';

const TEXT = [
  '# HELP otlpdb_raft_leader_changes_total Leader changes.',
  '# TYPE otlpdb_raft_leader_changes_total counter',
  'otlpdb_raft_leader_changes_total{node="1",group="0"} 2',
  'otlpdb_raft_leader_changes_total{node="1",group="1"} 3',
  'otlpdb_raft_leader_changes_total_extra{node="1"} 100',
  'otlpdb_driver_ticks_without_iteration_max{node="1"} 4',
  'otlpdb_driver_check_quorum_step_downs_total 7',
].join('\n');

t.test('sumFamily sums one family only, and says NaN for a family not there', async (t) => {
  t.equal(sumFamily(TEXT, 'otlpdb_raft_leader_changes_total'), 5, 'labelled samples summed; a longer name is another family');
  t.equal(sumFamily(TEXT, 'otlpdb_driver_check_quorum_step_downs_total'), 7, 'an unlabelled sample');
  t.equal(sumFamily(TEXT, 'otlpdb_driver_ticks_without_iteration_max', Math.max), 4);
  t.ok(Number.isNaN(sumFamily(TEXT, 'otlpdb_driver_election_timeouts_total')), 'absent: NaN, not 0');
});

t.test('describeRaftDelta prints deltas, and n/a for what a build does not export', async (t) => {
  const before = { leaderChanges: 5, checkQuorumStepDowns: Number.NaN, electionTimeouts: 1, ticksWithoutIterationMax: 2, applyFlushWaits: 0 };
  const after = { leaderChanges: 9, checkQuorumStepDowns: Number.NaN, electionTimeouts: 1, ticksWithoutIterationMax: Number.NEGATIVE_INFINITY, applyFlushWaits: 0 };
  const s = describeRaftDelta(before, after);
  t.match(s, /leader changes \+4/);
  t.match(s, /check-quorum step-downs n\/a/);
  t.match(s, /election timeouts \+0/);
  t.match(s, /\(since start\) n\/a/);
});
