/**
 * planted-bugs.ts — deliberately broken variants of the Raft core and of the
 * driver, for TEST code only: the simulator must catch each of them within a
 * bounded number of seeds (planted-bugs.test.ts). Nothing outside tests may
 * import this file.
 */
import { Raft } from '../../src/raft/index.js';
import type { Config } from '../../src/raft/types.js';
import type { DriverHooks, MakeRaft } from './driver.js';

/** Figure8Raft commits the quorum-match index by counting replicas, even when it holds an older term (Raft paper §5.4.2, Figure 8). */
class Figure8Raft extends Raft {
  protected override maybeCommit(): boolean {
    const mci = this.tracker.committed();
    if (mci <= this.raftLog.committed) return false;
    this.raftLog.commitTo(mci);
    return true;
  }
}

/** AnyLogVoterRaft grants votes without the election restriction (§5.4.1): any candidate's log counts as up to date. */
class AnyLogVoterRaft extends Raft {
  protected override isLogUpToDate(_candidateLastIndex: number, _candidateLastTerm: number): boolean {
    return true;
  }
}

/** UnconfirmedReadRaft answers ReadIndex at once, without confirming leadership with a quorum (thesis §6.4 step 3). */
class UnconfirmedReadRaft extends Raft {
  protected override readIndexNeedsQuorum(): boolean {
    return false;
  }
}

/** PlantedBug names one planted bug with how to inject it. */
export interface PlantedBug {
  readonly name: string;
  readonly makeRaft?: MakeRaft;
  readonly driverHooks?: DriverHooks;
}

/** PlantedBugs lists the bugs the simulator must catch. */
export const PlantedBugs: readonly PlantedBug[] = [
  { name: 'figure-8 commit by counting an older term', makeRaft: (c: Config) => new Figure8Raft(c) },
  { name: 'vote granted without the up-to-date log check', makeRaft: (c: Config) => new AnyLogVoterRaft(c) },
  { name: 'ReadIndex answered without quorum confirmation', makeRaft: (c: Config) => new UnconfirmedReadRaft(c) },
  { name: 'a rejoined replica starts without its predecessor\'s tombstone (term, vote, vote floor)', driverHooks: { wipeTombstone: true } },
  { name: 'driver sends before it persists', driverHooks: { phaseOrder: ['send', 'persist', 'sync', 'apply', 'advance'] } },
];
