import t from 'tap';
import { SeededRand } from './fs/seeded-rand.js';
import { ShardInflight } from './shard-inflight.js';

// The per-shard in-flight bound (DESIGN.md §5 step 6) as proposeHereBatch
// uses it: the entries of one batch are taken one after another, so a
// batch's entries to one shard are checked together, not each alone.

t.test('a batch\'s entries to one shard count together against the bound; release gives them back', async (t) => {
  const f = new ShardInflight(1000);
  t.ok(f.take(3, 600), 'the first entry fits');
  t.notOk(f.take(3, 600), 'a second entry of the same batch to the same shard would pass the bound');
  t.equal(f.held(3), 600, 'a refused take changes nothing');
  t.ok(f.take(4, 600), 'another shard has its own bound');
  t.ok(f.take(3, 400), 'up to the bound exactly');
  f.release(3, 600);
  f.release(3, 400);
  t.equal(f.held(3), 0, 'all given back');
  t.throws(() => f.release(3, 1), 'giving back more than was taken is a bug');
});

t.test('seeded takes and releases never hold more than the bound and always add up', async (t) => {
  const rand = new SeededRand(17);
  const f = new ShardInflight(10_000);
  const live: [number, number][] = [];
  let wrong = 0;
  for (let i = 0; i < 5_000; i++) {
    if (live.length > 0 && rand.intn(3) === 0) {
      const [g, b] = live.splice(rand.intn(live.length), 1)[0] as [number, number];
      f.release(g, b);
    } else {
      const g = 1 + rand.intn(4);
      const b = rand.intn(3_000);
      const sum = live.filter(([x]) => x === g).reduce((a, [, y]) => a + y, 0);
      const took = f.take(g, b);
      if (took !== sum + b <= 10_000) wrong++;
      if (took) live.push([g, b]);
    }
    for (let g = 1; g <= 4; g++) if (f.held(g) !== live.filter(([x]) => x === g).reduce((a, [, y]) => a + y, 0) || f.held(g) > 10_000) wrong++;
  }
  t.equal(wrong, 0, 'every answer and every count as a list of live entries gives it');
});
