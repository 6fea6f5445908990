import t from 'tap';
import { SeededRand } from '../fs/seeded-rand.js';
import { byKey, byTimeAsc, byTimeDesc, kWayMerge, mergeByKey, takeMerged, thenBy } from './merge.js';

// The k-way merges against sorting everything at once, over seeded runs:
// same rows, same order, batches within their bound; an out-of-order run is
// caught (ERR_CORRUPTION), not merged into a wrong answer.

interface Row {
  readonly t: bigint;
  readonly key: string;
  readonly n: number;
}

function runs(rand: SeededRand, k: number): Row[][] {
  return Array.from({ length: k }, () => Array.from({ length: rand.intn(300) }, () => ({ t: BigInt(rand.intn(1_000)), key: `k${rand.intn(50)}`, n: 1 + rand.intn(9) })));
}

t.test('kWayMerge equals a full sort, by time descending and ascending, in bounded batches (200 seeded cases)', async (t) => {
  const rand = new SeededRand(99);
  for (let c = 0; c < 200; c++) {
    const cmp = thenBy(c % 2 === 0 ? byTimeDesc<Row>((r) => r.t) : byTimeAsc<Row>((r) => r.t), byKey<Row>((r) => r.key));
    const rs = runs(rand, rand.intn(9)).map((r) => r.sort(cmp));
    const batchMax = 1 + rand.intn(64);
    const got: Row[] = [];
    for (const b of kWayMerge(rs, cmp, batchMax)) {
      if (b.length === 0 || b.length > batchMax) t.fail(`case ${c}: batch of ${b.length} rows (max ${batchMax})`);
      got.push(...b);
    }
    const want = rs.flat().sort(cmp);
    if (got.length !== want.length || got.some((r, i) => cmp(r, want[i] as Row) !== 0)) {
      t.fail(`case ${c}: merge differs from the sort`);
      return;
    }
  }
  t.pass('every case equal');
});

t.test('mergeByKey folds equal keys across runs (sums equal a per-key reference)', async (t) => {
  const rand = new SeededRand(7);
  const cmp = byKey<Row>((r) => r.key);
  for (let c = 0; c < 100; c++) {
    const rs = runs(rand, 1 + rand.intn(6)).map((r) => r.sort(cmp));
    const want = new Map<string, number>();
    for (const r of rs.flat()) want.set(r.key, (want.get(r.key) ?? 0) + r.n);
    const got: Row[] = [];
    for (const b of mergeByKey(rs, cmp, (a, b) => ({ ...a, n: a.n + b.n }), 7)) got.push(...b);
    t.same(
      got.map((r) => [r.key, r.n]),
      [...want.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)),
      `case ${c}`,
    );
  }
});

t.test('planted: a run out of order is ERR_CORRUPTION naming it', async (t) => {
  const cmp = byTimeDesc<Row>((r) => r.t);
  const good = [{ t: 9n, key: 'a', n: 1 }, { t: 5n, key: 'a', n: 1 }];
  const bad = [{ t: 3n, key: 'b', n: 1 }, { t: 8n, key: 'b', n: 1 }];
  t.throws(() => [...kWayMerge([good, bad], cmp)], { code: 'ERR_CORRUPTION', message: /run 1 is out of order/ });
});

t.test('takeMerged stops at the limit and says rows were left', async (t) => {
  const cmp = byTimeAsc<Row>((r) => r.t);
  const rs = [[{ t: 1n, key: 'a', n: 1 }, { t: 4n, key: 'a', n: 1 }], [{ t: 2n, key: 'b', n: 1 }]];
  t.same(takeMerged(kWayMerge(rs, cmp), 2).rows.map((r) => r.t), [1n, 2n]);
  t.equal(takeMerged(kWayMerge(rs, cmp), 2).cut, true);
  t.equal(takeMerged(kWayMerge(rs, cmp), 3).cut, false);
  t.throws(() => [...kWayMerge(rs, cmp, 0)], { code: 'ERR_INTERNAL' });
});
