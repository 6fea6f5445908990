import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { FloatHead } from './store-head.js';

t.test('FloatHead keeps every series\' samples like a plain model, across chunk and slab boundaries', async (t) => {
  const seed = 1234;
  const rand = new SeededRand(seed);
  const head = new FloatHead();
  const model = new Map<number, [number, number][]>();
  const order: number[] = [];
  const ids = Array.from({ length: 300 }, () => rand.intn(5000));
  let replaced = 0;
  for (let step = 0; step < 200_000; step++) {
    // Skewed: a few series get thousands of samples (chunks up to the max size), most get a few.
    const id = rand.intn(4) === 0 ? (ids[rand.intn(4)] as number) : (ids[rand.intn(ids.length)] as number);
    let pts = model.get(id);
    if (pts === undefined) {
      model.set(id, (pts = []));
      order.push(id);
    }
    const last = pts[pts.length - 1];
    const same = last !== undefined && rand.intn(10) === 0;
    const tMs = same ? last[0] : (last?.[0] ?? 0) + 1 + rand.intn(100);
    const v = rand.intn(1_000_000) / 8;
    const appended = head.push(id, tMs, v);
    if (same) {
      (last as [number, number])[1] = v;
      replaced++;
      if (appended) t.fail(`step ${step}: a write at the last time appended`);
    } else {
      pts.push([tMs, v]);
      if (!appended) t.fail(`step ${step}: a new time replaced`);
    }
  }
  t.same([...head.keys()], order, 'ids in first-push order');
  let wrong = 0;
  for (const [id, pts] of model) {
    const cols = head.get(id);
    if (cols === undefined || cols.n !== pts.length) {
      wrong++;
      continue;
    }
    const c = cols.columns();
    for (let i = 0; i < pts.length; i++) if (c.ts[i] !== (pts[i] as [number, number])[0] || c.vs[i] !== (pts[i] as [number, number])[1]) wrong++;
  }
  t.equal(wrong, 0, `every sample of ${model.size} series (seed ${seed}, ${replaced} replaced)`);
  t.equal(head.get(99_999), undefined, 'a series without samples');
  t.ok(Math.max(...[...model.values()].map((p) => p.length)) > 5000, 'some series span many chunks');
});

t.test('a write below the last time is a programmer error (the store refuses it first)', async (t) => {
  const head = new FloatHead();
  head.push(3, 10, 1);
  t.throws(() => head.push(3, 9, 1));
});
