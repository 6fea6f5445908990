import t from 'tap';
import { entrySizeBytes } from '../entry-size.js';
import { EntryType } from '../types.js';
import { encodeKvCommand } from './state-machine.js';
import { TestCluster } from './test-cluster.js';

const NODES = [1, 2, 3];
const VALUE = 'v'.repeat(200);

/** entriesHeld runs 60 puts of ~200 bytes into one group (snapshot every 20, keep 15 entries behind it) and returns the entries the leader's log still holds in memory. */
async function entriesHeld(compactKeepBytesMax: number): Promise<number> {
  const c = new TestCluster({ seed: 31, nodes: NODES, groups: [1], snapshotEntries: 20, compactKeepEntries: 15, compactKeepBytesMax });
  await c.startAll();
  await c.untilLeaders();
  for (let k = 0; k < 60; k++) {
    const p = c.driver(c.leaderOf(1) as number).propose(1, encodeKvCommand({ op: 'put', key: `k${k}`, value: VALUE }));
    await c.settle();
    await p;
  }
  const st = c.driver(c.leaderOf(1) as number).status(1);
  t.ok(c.driver(c.leaderOf(1) as number).stats.snapshotsTaken >= 2, 'the leader took snapshots');
  return (st?.lastIndex ?? 0) - (st?.firstIndex ?? 0) + 1;
}

t.test('compaction keeps at most compactKeepBytesMax of entries behind a snapshot, whatever compactKeepEntries says', async (t) => {
  const entryBytes = entrySizeBytes({ index: 1, term: 1, type: EntryType.Normal, data: encodeKvCommand({ op: 'put', key: 'k10', value: VALUE }) });
  // The same seed and the same proposals: both runs snapshot at the same indexes and differ only in what they keep behind.
  const bounded = await entriesHeld(3 * entryBytes + 1);
  const unbounded = await entriesHeld(Number.MAX_SAFE_INTEGER);
  t.comment(`entries held in memory: ${bounded} with a bound of 3 entries' bytes, ${unbounded} without`);
  t.equal(unbounded - bounded, 15 - 3, 'the bound keeps 3 entries behind the snapshot where the count alone keeps 15 (a planted bug: no byte bound, the second run)');
});
