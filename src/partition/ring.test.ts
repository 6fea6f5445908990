import t from 'tap';
import { initHash } from './hash.js';
import { HashRing } from './ring.js';
import { SeededRand } from '../fs/seeded-rand.js';

const nodeIds = (n: number): string[] => Array.from({ length: n }, (_, i) => `node-${i + 1}`);

/** replicaSetProblems is the checker for replicasFor: each list has min(R, N) distinct members. */
function replicaSetProblems(
  replicasFor: (shard: number, r: number) => readonly string[],
  members: readonly string[],
  shardCount: number,
  r: number,
): string[] {
  const problems: string[] = [];
  const want = Math.min(r, members.length);
  for (let s = 1; s <= shardCount; s++) {
    const reps = replicasFor(s, r);
    if (reps.length !== want) problems.push(`shard ${s}: ${reps.length} replicas, want ${want}`);
    if (new Set(reps).size !== reps.length) problems.push(`shard ${s}: duplicate replicas ${reps.join(',')}`);
    for (const n of reps) if (!members.includes(n)) problems.push(`shard ${s}: ${n} is not a member`);
  }
  return problems;
}

t.test('replicas are distinct members and R is capped at the node count', async (t) => {
  const h = await initHash();
  for (let n = 1; n <= 8; n++) {
    const ring = new HashRing(h, nodeIds(n), 64);
    for (const r of [1, 2, 3, 5, 7]) {
      t.same(replicaSetProblems((s, rf) => ring.replicasFor(s, rf), nodeIds(n), 64, r), [], `N=${n} R=${r}`);
    }
  }
});

t.test('the replica checker catches a ring that returns duplicates (planted bug)', async (t) => {
  const h = await initHash();
  const ring = new HashRing(h, nodeIds(5), 8);
  // Broken: repeats the preferred node instead of skipping nodes already
  // taken (what a walk over raw vnode points without de-duplication does when
  // one node owns adjacent points).
  const broken = (s: number, r: number): string[] => {
    const pref = ring.preferenceList(s);
    const first = pref[0] ?? '';
    return [first, ...pref.slice(0, r - 1)];
  };
  t.not(replicaSetProblems(broken, nodeIds(5), 16, 3).length, 0, 'the checker reports duplicates');
});

t.test('the ring depends on the member set only, not on its order', async (t) => {
  const h = await initHash();
  const rng = new SeededRand(3);
  const ids = nodeIds(7);
  const reference = new HashRing(h, ids);
  for (let trial = 0; trial < 5; trial++) {
    const shuffled = [...ids];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = rng.intn(i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j] ?? '', shuffled[i] ?? ''];
    }
    const ring = new HashRing(h, new Set(shuffled));
    let differing = 0;
    for (let s = 1; s <= 64; s++) {
      if (ring.preferenceList(s).join() !== reference.preferenceList(s).join()) differing++;
    }
    t.equal(differing, 0, `order ${shuffled.join(',')}: same preference lists`);
  }
  t.same(reference.nodes, [...ids].sort(), 'nodes are kept sorted');
  t.equal(reference.pointCount, 7 * 128, 'N x vnodes points');
});

t.test('preferenceList lists every node once and starts with the replicas', async (t) => {
  const h = await initHash();
  const ring = new HashRing(h, nodeIds(6), 32);
  for (let s = 1; s <= 32; s++) {
    const pref = ring.preferenceList(s);
    t.same([...pref].sort(), [...ring.nodes], `shard ${s}`);
    t.same(ring.replicasFor(s, 3), pref.slice(0, 3));
  }
});

t.test('adding a node only inserts it into preference lists (the consistent-hash property)', async (t) => {
  const h = await initHash();
  for (let n = 3; n <= 10; n++) {
    const before = new HashRing(h, nodeIds(n));
    const after = new HashRing(h, nodeIds(n + 1));
    const added = `node-${n + 1}`;
    let changed = 0;
    let reordered = 0;
    for (let s = 1; s <= 256; s++) {
      const a = before.preferenceList(s);
      const b = after.preferenceList(s);
      if (b.filter((x) => x !== added).join() !== a.join()) reordered++;
      if (b.slice(0, 3).includes(added)) changed++;
    }
    t.equal(reordered, 0, `N=${n}: the old nodes keep their relative order in every list`);
    // The new node enters the top 3 of ~3/(N+1) of the shards.
    const frac = changed / 256;
    t.ok(frac > 1.5 / (n + 1) && frac < 4.5 / (n + 1), `N=${n}: new node in ${(frac * 100).toFixed(1)}% of top-3 lists`);
  }
});

t.test('bad inputs are refused with ERR_INVALID_ARGUMENT', async (t) => {
  const h = await initHash();
  t.throws(() => new HashRing(h, []), { code: 'ERR_INVALID_ARGUMENT', message: /node set is empty/ });
  t.throws(() => new HashRing(h, ['a', 'b', 'a']), { code: 'ERR_INVALID_ARGUMENT', message: /"a" is listed twice/ });
  t.throws(() => new HashRing(h, ['a', '']), { code: 'ERR_INVALID_ARGUMENT', message: /non-empty/ });
  t.throws(() => new HashRing(h, ['x'.repeat(300)]), { code: 'ERR_INVALID_ARGUMENT', message: /300 bytes/ });
  t.throws(() => new HashRing(h, ['a'], 0), { code: 'ERR_INVALID_ARGUMENT', message: /vnodesPerNode 0 .*\[1, 4096\]/ });
  t.throws(() => new HashRing(h, ['a'], 4097), { code: 'ERR_INVALID_ARGUMENT' });
  const ring = new HashRing(h, ['a', 'b']);
  t.throws(() => ring.replicasFor(1, 0), { code: 'ERR_INVALID_ARGUMENT', message: /replicationFactor 0 .*\[1, 7\]/ });
  t.throws(() => ring.replicasFor(1, 8), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => ring.replicasFor(0, 1), { code: 'ERR_INVALID_ARGUMENT', message: /shardId 0/ });
  t.throws(() => ring.replicasFor(1.5, 1), { code: 'ERR_INVALID_ARGUMENT' });
});
