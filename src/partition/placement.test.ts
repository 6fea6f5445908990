import t from 'tap';
import { initHash } from './hash.js';
import {
  computePlacement,
  diffLeaders,
  diffPlacement,
  placementLoad,
  replicasOf,
  validatePlacement,
} from './placement.js';
import type { Placement, ReplicaMove } from './placement.js';
import type { Hasher } from './hash.js';

const nodeIds = (n: number): string[] => Array.from({ length: n }, (_, i) => `node-${i + 1}`);

/** movedFraction is replica moves / replica slots (S x R'). */
const movedFraction = (moves: readonly ReplicaMove[], p: Placement): number =>
  moves.length / (p.shardCount * (p.shards[0]?.replicas.length ?? 1));

/**
 * joinMovementProblems is the checker for the key measurement: when node N+1
 * joins N nodes, the fraction of replica slots (S x R) that move must lie
 * within [0.5, 1.5] x 1/(N+1). The ideal is exactly 1/(N+1): the newcomer's
 * even share, and nothing else.
 */
function joinMovementProblems(
  place: (nodes: string[]) => Placement,
  nRange: readonly number[],
): { problems: string[]; figures: string[] } {
  const problems: string[] = [];
  const figures: string[] = [];
  for (const n of nRange) {
    const before = place(nodeIds(n));
    const after = place(nodeIds(n + 1));
    const moves = diffPlacement(before, after);
    const frac = movedFraction(moves, before);
    const ideal = 1 / (n + 1);
    const toNewcomer = moves.filter((m) => m.add === `node-${n + 1}`).length;
    figures.push(
      `N=${n}->${n + 1}: ${moves.length} moves (${toNewcomer} to the newcomer) = ${(frac * 100).toFixed(1)}% ` +
        `(ideal ${(ideal * 100).toFixed(1)}%, ratio ${(frac / ideal).toFixed(2)})`,
    );
    if (frac < 0.5 * ideal || frac > 1.5 * ideal) {
      problems.push(`N=${n}: moved ${frac.toFixed(3)} outside [${(0.5 * ideal).toFixed(3)}, ${(1.5 * ideal).toFixed(3)}]`);
    }
  }
  return { problems, figures };
}

const placer = (h: Hasher, s: number, r: number) => (nodes: string[]) => computePlacement(h, nodes, s, r);

t.test('adding one node to N moves about 1/(N+1) of the replicas (S=256, R=3, N=3..10)', async (t) => {
  const h = await initHash();
  const { problems, figures } = joinMovementProblems(placer(h, 256, 3), [3, 4, 5, 6, 7, 8, 9, 10]);
  for (const f of figures) t.comment(`S=256 R=3 ${f}`);
  t.same(problems, [], 'every N within [0.5, 1.5] x 1/(N+1)');
});

t.test('the same figure at the default S=16, R=3 (reported; small S is lumpy)', async (t) => {
  const h = await initHash();
  const { figures } = joinMovementProblems(placer(h, 16, 3), [3, 4, 5, 6, 7, 8, 9, 10]);
  for (const f of figures) t.comment(`S=16 R=3 ${f}`);
  // At S=16 one replica slot is 2% of the data, so the band is wider:
  // every join moves at most 2.5/(N+1) of the replicas.
  for (const n of [3, 4, 5, 6, 7, 8, 9, 10]) {
    const moves = diffPlacement(computePlacement(h, nodeIds(n), 16, 3), computePlacement(h, nodeIds(n + 1), 16, 3));
    t.ok(moves.length <= Math.ceil((2.5 * 48) / (n + 1)), `N=${n}: ${moves.length} moves <= 2.5 x ${(48 / (n + 1)).toFixed(1)}`);
  }
});

t.test('the movement checker catches a non-consistent placement (planted bug)', async (t) => {
  const h = await initHash();
  // Broken: shard s on nodes (s, s+1, s+2) mod N — balanced, but modulo
  // placement reshuffles nearly everything when N changes.
  const modulo = (nodes: string[]): Placement => {
    const good = computePlacement(h, nodes, 256, 3);
    const sorted = [...nodes].sort();
    return {
      ...good,
      shards: good.shards.map(({ shard }) => ({
        shard,
        replicas: [0, 1, 2].map((k) => sorted[(shard + k) % sorted.length] ?? ''),
      })),
    };
  };
  const { problems } = joinMovementProblems(modulo, [4, 5, 6, 7]);
  t.equal(problems.length, 4, `every N is flagged: ${problems.join('; ')}`);
  t.same(joinMovementProblems(placer(h, 256, 3), [4, 5, 6, 7]).problems, [], 'the real placement passes the same check');
});

t.test('removing a node moves the replicas it held, plus few others', async (t) => {
  const h = await initHash();
  for (const s of [16, 256]) {
    for (let n = 4; n <= 10; n++) {
      const before = computePlacement(h, nodeIds(n), s, 3);
      for (const gone of ['node-1', `node-${n}`]) {
        const after = computePlacement(h, nodeIds(n).filter((x) => x !== gone), s, 3);
        const moves = diffPlacement(before, after);
        const held = before.shards.filter((sp) => sp.replicas.includes(gone)).length;
        const fromGone = moves.filter((m) => m.remove === gone).length;
        const extra = moves.length - held;
        t.equal(fromGone, held, `S=${s} N=${n} -${gone}: every replica it held moves`);
        // Extra moves keep the survivors balanced; bounded by 25% of the
        // mandatory moves at S=256 and by 6 slots at S=16.
        const extraMax = s === 256 ? Math.ceil(0.25 * held) : 6;
        t.ok(extra <= extraMax, `S=${s} N=${n} -${gone}: ${held} mandatory + ${extra} extra (max ${extraMax})`);
      }
    }
  }
  // With N-1 = R every survivor holds every shard: exactly the mandatory moves.
  const four = computePlacement(h, nodeIds(4), 16, 3);
  const three = computePlacement(h, nodeIds(3), 16, 3);
  t.equal(diffPlacement(four, three).length, four.shards.filter((sp) => sp.replicas.includes('node-4')).length);
});

t.test('balance at S=16, R=3, N=3..10: replicas within the band, leaders spread', async (t) => {
  const h = await initHash();
  for (let n = 3; n <= 10; n++) {
    const p = computePlacement(h, nodeIds(n), 16, 3);
    const loads = [...placementLoad(p).values()];
    const reps = loads.map((l) => l.replicas);
    const leads = loads.map((l) => l.leaders);
    const even = (16 * Math.min(3, n)) / n;
    t.comment(`S=16 R=3 N=${n}: replicas per node ${reps.join(' ')} (even ${even.toFixed(1)}); leaders ${leads.join(' ')} (even ${(16 / n).toFixed(1)})`);
    // Replicas: within [floor(even) - 1, ceil(even) + 1] (replicaSlackPerNode = 1).
    t.ok(Math.max(...reps) <= Math.ceil(even) + 1, `N=${n}: max replicas ${Math.max(...reps)} <= ceil(${even.toFixed(1)}) + 1`);
    t.ok(Math.min(...reps) >= Math.floor(even) - 1, `N=${n}: min replicas ${Math.min(...reps)} >= floor(${even.toFixed(1)}) - 1`);
    // Leaders: no node leads more than ceil(S/N) + k shards with k = 1, the
    // bound Hall's theorem guarantees for replica loads <= ceil(even) + 1
    // (see placement.ts); the measured maximum is ceil(S/N).
    t.ok(Math.max(...leads) <= Math.ceil(16 / n) + 1, `N=${n}: max leaders ${Math.max(...leads)} <= ceil(16/${n}) + 1`);
    t.ok(Math.min(...leads) >= Math.floor(16 / n) - 1, `N=${n}: min leaders ${Math.min(...leads)} >= floor(16/${n}) - 1`);
  }
});

t.test('with N = R = 3 every node holds every shard and leads 5 or 6', async (t) => {
  const h = await initHash();
  const p = computePlacement(h, ['a', 'b', 'c'], 16, 3);
  for (const sp of p.shards) t.same([...sp.replicas].sort(), ['a', 'b', 'c'], `shard ${sp.shard}`);
  const leads = [...placementLoad(p).values()].map((l) => l.leaders).sort();
  t.same(leads, [5, 5, 6]);
});

t.test('balance holds at larger S and other R', async (t) => {
  const h = await initHash();
  for (const [s, r] of [[256, 3], [64, 5], [100, 1], [33, 2]] as const) {
    for (const n of [3, 5, 8, 13]) {
      const p = computePlacement(h, nodeIds(n), s, r);
      const loads = [...placementLoad(p).values()];
      const even = (s * Math.min(r, n)) / n;
      const maxR = Math.max(...loads.map((l) => l.replicas));
      const maxL = Math.max(...loads.map((l) => l.leaders));
      t.ok(maxR <= Math.ceil(even) + 1, `S=${s} R=${r} N=${n}: max replicas ${maxR}`);
      t.ok(maxL <= Math.ceil(s / n) + 1, `S=${s} R=${r} N=${n}: max leaders ${maxL}`);
    }
  }
});

t.test('placement is deterministic, independent of member order, and plain JSON', async (t) => {
  const h = await initHash();
  const a = computePlacement(h, ['n3', 'n1', 'n5', 'n2', 'n4'], 32, 3);
  const b = computePlacement(h, new Set(['n5', 'n4', 'n3', 'n2', 'n1']), 32, 3);
  t.same(a, b, 'same member set, same placement');
  const round = validatePlacement(JSON.parse(JSON.stringify(a)));
  t.same(round, a, 'JSON round trip');
  t.same(a.nodes, ['n1', 'n2', 'n3', 'n4', 'n5']);
  t.equal(a.shards.length, 32);
  t.same(replicasOf(a, 7), a.shards[6]?.replicas);
  t.throws(() => replicasOf(a, 33), { code: 'ERR_INVALID_ARGUMENT', message: /shardId 33 .*\[1, 32\]/ });
});

t.test('replicas are distinct and R is capped at the node count', async (t) => {
  const h = await initHash();
  for (let n = 1; n <= 5; n++) {
    const p = computePlacement(h, nodeIds(n), 16, 3);
    let bad = 0;
    for (const sp of p.shards) if (sp.replicas.length !== Math.min(3, n) || new Set(sp.replicas).size !== sp.replicas.length) bad++;
    t.equal(bad, 0, `N=${n}: every shard has ${Math.min(3, n)} distinct replicas`);
  }
});

t.test('diffPlacement: applying the moves turns the old replica sets into the new', async (t) => {
  const h = await initHash();
  const before = computePlacement(h, nodeIds(5), 64, 3);
  const after = computePlacement(h, ['node-1', 'node-2', 'node-4', 'node-5', 'node-6', 'node-7'], 64, 3);
  const moves = diffPlacement(before, after);
  const sets = before.shards.map((sp) => new Set(sp.replicas));
  for (const m of moves) {
    const set = sets[m.shard - 1];
    if (set === undefined) continue;
    t.ok(m.add !== null && !set.has(m.add), `shard ${m.shard}: adds a non-replica`);
    t.ok(m.remove !== null && set.has(m.remove), `shard ${m.shard}: removes a replica`);
    if (m.add !== null) set.add(m.add);
    if (m.remove !== null) set.delete(m.remove);
  }
  t.same(sets.map((s) => [...s].sort()), after.shards.map((sp) => [...sp.replicas].sort()));
  t.same(diffPlacement(after, after), [], 'no change, no moves');
  t.same(diffLeaders(after, after), []);
  t.ok(diffLeaders(before, after).every((c) => c.from !== c.to));

  const r2 = computePlacement(h, nodeIds(5), 64, 2);
  const grow = diffPlacement(r2, before);
  t.ok(grow.every((m) => m.add !== null), 'raising R only adds');
  t.equal(grow.filter((m) => m.remove === null).length, 64, 'one extra replica per shard');
  t.throws(() => diffPlacement(before, computePlacement(h, nodeIds(5), 32, 3)), {
    code: 'ERR_INVALID_ARGUMENT',
    message: /shardCount 32 differs from 64/,
  });
});

t.test('validatePlacement refuses malformed placements', async (t) => {
  const h = await initHash();
  const good = computePlacement(h, nodeIds(4), 8, 3);
  const json = (): Record<string, unknown> => JSON.parse(JSON.stringify(good)) as Record<string, unknown>;
  const cases: [string, (p: Record<string, unknown>) => void, RegExp][] = [
    ['duplicate replica', (p) => { (p.shards as { replicas: string[] }[])[0]!.replicas = ['node-1', 'node-1', 'node-2']; }, /twice/],
    ['non-member', (p) => { (p.shards as { replicas: string[] }[])[1]!.replicas = ['node-1', 'node-2', 'node-9']; }, /not a member/],
    ['wrong replica count', (p) => { (p.shards as { replicas: string[] }[])[2]!.replicas = ['node-1']; }, /must have 3 replicas/],
    ['missing shard', (p) => { (p.shards as unknown[]).pop(); }, /8 entries/],
    ['misnumbered shard', (p) => { (p.shards as { shard: number }[])[3]!.shard = 9; }, /shards\[3\]\.shard must be 4/],
    ['unsorted nodes', (p) => { p.nodes = ['node-2', 'node-1', 'node-3', 'node-4']; }, /not sorted/],
    ['format version', (p) => { p.formatVersion = 2; }, /formatVersion 2/],
    ['shard count', (p) => { p.shardCount = 0; }, /shardCount 0/],
  ];
  for (const [name, mutate, message] of cases) {
    const p = json();
    mutate(p);
    t.throws(() => validatePlacement(p), { code: 'ERR_INVALID_ARGUMENT', message }, name);
  }
  t.throws(() => validatePlacement(null), { code: 'ERR_INVALID_ARGUMENT' });
});

t.test('bad inputs are refused with ERR_INVALID_ARGUMENT naming the value and range', async (t) => {
  const h = await initHash();
  const n = nodeIds(3);
  t.throws(() => computePlacement(h, n, 0, 3), { code: 'ERR_INVALID_ARGUMENT', message: 'shardCount 0 is out of range: expected an integer in [1, 4096]' });
  t.throws(() => computePlacement(h, n, 4097, 3), { code: 'ERR_INVALID_ARGUMENT', message: /shardCount 4097/ });
  t.throws(() => computePlacement(h, n, 2.5, 3), { code: 'ERR_INVALID_ARGUMENT', message: /shardCount 2.5/ });
  t.throws(() => computePlacement(h, n, 16, 0), { code: 'ERR_INVALID_ARGUMENT', message: 'replicationFactor 0 is out of range: expected an integer in [1, 7]' });
  t.throws(() => computePlacement(h, n, 16, 8), { code: 'ERR_INVALID_ARGUMENT', message: /replicationFactor 8/ });
  t.throws(() => computePlacement(h, [], 16, 3), { code: 'ERR_INVALID_ARGUMENT', message: /node set is empty/ });
  t.throws(() => computePlacement(h, ['a', 'b', 'a'], 16, 3), { code: 'ERR_INVALID_ARGUMENT', message: /"a" is listed twice/ });
  t.throws(() => computePlacement(h, n, 16, 3, 0), { code: 'ERR_INVALID_ARGUMENT', message: /vnodesPerNode 0/ });
  t.throws(() => computePlacement(h, n, 16, 3, 128, -1), { code: 'ERR_INVALID_ARGUMENT', message: /replicaSlackPerNode -1/ });
});
