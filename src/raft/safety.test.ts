import t from 'tap';
import { SeededRand } from '../fs/seeded-rand.js';
import { TestNetwork, bytes, text } from './test-network.js';
import { ConfChangeType, StateRole } from './types.js';

// §5.4.3 (State Machine Safety) and §5.2 (Election Safety), checked over
// seeded random partitions, message loss, proposals, compactions and reads.
for (let seed = 1; seed <= 12; seed++) {
  t.test(`§5.4.3 / Figure 3 safety properties hold under random faults (seed ${seed})`, async (t) => {
    const rand = new SeededRand(seed * 31 + 7);
    const net = new TestNetwork([1, 2, 3, 4, 5], { seed, config: { snapshotChunkBytesMax: 64 } });
    const leaderOfTerm = new Map<number, number>();
    let proposed = 0;
    for (let step = 0; step < 250; step++) {
      const r = rand.intn(100);
      if (r < 8) {
        net.heal();
        const a = 1 + rand.intn(5);
        const b = 1 + rand.intn(5);
        if (a !== b) net.cut(a, b);
        if (rand.intn(3) === 0) net.isolate(1 + rand.intn(5));
      } else if (r < 12) {
        net.heal();
      } else if (r < 14) {
        const drop = rand.intn(4);
        let k = 0;
        net.filter = () => k++ % 4 !== drop;
      } else if (r < 40) {
        net.node(1 + rand.intn(5)).raw.propose(bytes(`v${proposed++}`));
      } else if (r < 42) {
        const id = 1 + rand.intn(5);
        const st = net.node(id).raw.status();
        if (st.applied > net.node(id).storage.firstIndex()) net.compact(id, new Uint8Array(200 + rand.intn(300)));
      } else if (r < 44) {
        net.node(1 + rand.intn(5)).raw.readIndex(bytes(`r${step}`));
      } else if (r < 45) {
        const lead = net.leaders()[0];
        if (lead !== undefined) net.node(lead.id).raw.transferLeader(1 + rand.intn(5));
      }
      net.tick(1);
      for (const n of net.nodes.values()) {
        const st = n.raw.status();
        if (st.role !== StateRole.Leader) continue;
        const prev = leaderOfTerm.get(st.term);
        t.ok(prev === undefined || prev === n.id, `at most one leader in term ${st.term}`);
        leaderOfTerm.set(st.term, n.id);
      }
    }
    net.heal();
    net.tick(60);
    t.equal(net.leaders().length, 1, 'a leader after healing');
    // State Machine Safety: no two replicas apply different entries at one index
    // (a replica that installed a snapshot skips the indexes it covers).
    const atIndex = new Map<number, string>();
    let conflicts = 0;
    for (const n of net.nodes.values()) {
      let last = 0;
      for (const e of n.applied) {
        if (e.index <= last) conflicts++; // Applied out of index order.
        last = e.index;
        const v = text(e.data);
        const prev = atIndex.get(e.index);
        if (prev !== undefined && prev !== v) conflicts++;
        atIndex.set(e.index, v);
      }
    }
    t.equal(conflicts, 0, 'every index applied once, in order, with the same value everywhere');
    // Everyone converges once healed (modulo entries covered by snapshots).
    const commits = [...net.nodes.values()].map((n) => n.raw.status().commit);
    t.equal(new Set(commits).size, 1, 'all commit indexes equal after healing');
  });
}

t.test('membership churn under faults keeps one leader per term', async (t) => {
  const net = new TestNetwork([1, 2, 3], { seed: 5 });
  net.campaign(1);
  net.addEmptyNode(4);
  const leaderOfTerm = new Map<number, number>();
  const changes = [
    { type: ConfChangeType.AddLearner, nodeId: 4 },
    { type: ConfChangeType.AddNode, nodeId: 4 },
    { type: ConfChangeType.RemoveNode, nodeId: 2 },
  ];
  for (const cc of changes) {
    for (let tries = 0; tries < 50; tries++) {
      const lead = net.leaders()[0];
      if (lead !== undefined && net.node(lead.id).raw.proposeConfChange(cc) === null) break;
      net.tick(1);
    }
    net.tick(5);
    for (const l of net.leaders()) {
      t.ok((leaderOfTerm.get(l.term) ?? l.id) === l.id);
      leaderOfTerm.set(l.term, l.id);
    }
  }
  const lead = net.leaders()[0]!;
  t.same(net.node(lead.id).confState, { voters: [1, 3, 4], learners: [] });
});
