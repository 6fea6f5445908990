import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { FloatHead, type SampleRun, mergeRuns } from './store-head.js';

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

/** modelMerge is the plain model of a merge: every sample in write order, sorted by time (stably), the last write of a time kept, the window cut. */
function modelMerge(runs: readonly SampleRun[], minMs: number, maxMs: number): [number, number][] {
  const all: { t: number; v: number; i: number }[] = [];
  for (const r of runs) for (let j = 0; j < r.ts.length; j++) all.push({ t: r.ts[j] as number, v: r.vs[j] as number, i: all.length });
  all.sort((a, b) => a.t - b.t || a.i - b.i);
  const out: [number, number][] = [];
  for (const s of all) {
    if (s.t < minMs || s.t > maxMs) continue;
    const last = out[out.length - 1];
    if (last !== undefined && last[0] === s.t) last[1] = s.v;
    else out.push([s.t, s.v]);
  }
  return out;
}

/** randomRuns are a series' runs as a read finds them: mostly one after the other (one flush per bucket, the head last), sometimes rewriting a time or overlapping. */
function randomRuns(rand: SeededRand): SampleRun[] {
  const runs: SampleRun[] = [];
  let t = rand.intn(100);
  for (let r = rand.intn(5); r >= 0; r--) {
    const overlap = rand.intn(4) === 0;
    if (overlap) t = Math.max(0, t - rand.intn(30));
    const n = rand.intn(12);
    const ts = new Float64Array(n);
    const vs = new Float64Array(n);
    // Some runs are two blocks end to end, the second going back in time (a later flush rewrote times).
    const rewindAt = rand.intn(3) === 0 ? rand.intn(n + 1) : -1;
    for (let j = 0; j < n; j++) {
      if (j === rewindAt) t = Math.max(0, t - rand.intn(20));
      t += 1 + rand.intn(5);
      ts[j] = t;
      vs[j] = rand.intn(1000);
    }
    // A run that is the concatenation of two blocks may not increase where they meet: it says so.
    let increasing = true;
    for (let j = 1; j < n; j++) if (!((ts[j] as number) > (ts[j - 1] as number))) increasing = false;
    runs.push(increasing ? { ts, vs } : { ts, vs, increasing: false });
  }
  return runs;
}

/** mergeDiff is the first difference between a merge and the model, or null. */
function mergeDiff(merge: typeof mergeRuns, runs: readonly SampleRun[], minMs: number, maxMs: number): string | null {
  const got = merge(runs, minMs, maxMs);
  const want = modelMerge(runs, minMs, maxMs);
  if (got.timestamps.length !== want.length || got.values.length !== want.length) return `${got.timestamps.length} samples, want ${want.length}`;
  for (let j = 0; j < want.length; j++) {
    const [t, v] = want[j] as [number, number];
    if (got.timestamps[j] !== t || got.values[j] !== v) return `sample ${j}: (${got.timestamps[j]}, ${got.values[j]}), want (${t}, ${v})`;
  }
  return null;
}

t.test('mergeRuns answers what sorting every sample and keeping the last write answers; a planted concatenating merge is caught', async (t) => {
  const seed = 4321;
  const rand = new SeededRand(seed);
  let fast = 0;
  let planted = 0;
  let notIncreasing = 0;
  for (let c = 0; c < 3000; c++) {
    const runs = randomRuns(rand);
    if (runs.some((r) => r.increasing === false)) notIncreasing++;
    const minMs = rand.intn(3) === 0 ? -Infinity : rand.intn(120);
    const maxMs = rand.intn(3) === 0 ? Infinity : minMs + rand.intn(150);
    const diff = mergeDiff(mergeRuns, runs, minMs, maxMs);
    if (diff !== null) {
      t.fail(`seed ${seed} case ${c}: ${diff}`);
      return;
    }
    let ordered = true;
    let last = -Infinity;
    for (const r of runs) {
      if (r.ts.length === 0) continue;
      if (!((r.ts[0] as number) > last) || r.increasing === false) ordered = false;
      last = r.ts[r.ts.length - 1] as number;
    }
    if (ordered) fast++;
    // Planted: a merge that trusts the runs to be in order (concatenates and cuts the window) differs somewhere.
    const trusting = (rs: readonly SampleRun[], lo: number, hi: number): { timestamps: Float64Array; values: Float64Array } => {
      const ts: number[] = [];
      const vs: number[] = [];
      for (const r of rs) for (let j = 0; j < r.ts.length; j++) if ((r.ts[j] as number) >= lo && (r.ts[j] as number) <= hi) { ts.push(r.ts[j] as number); vs.push(r.vs[j] as number); }
      return { timestamps: Float64Array.from(ts), values: Float64Array.from(vs) };
    };
    if (mergeDiff(trusting, runs, minMs, maxMs) !== null) planted++;
  }
  t.ok(fast > 500, `the ordered path ran (${fast} of 3000 cases, seed ${seed})`);
  t.ok(fast < 2900, `the sorting path ran (${3000 - fast} of 3000 cases)`);
  t.ok(planted > 0, `the planted concatenating merge is caught (${planted} cases)`);
  t.ok(notIncreasing > 0, `runs that say they do not increase were merged (${notIncreasing} cases)`);
});

t.test('mergeRuns answers views of a lone run inside the window, without copying', async (t) => {
  const ts = Float64Array.of(10, 20, 30, 40);
  const vs = Float64Array.of(1, 2, 3, 4);
  const got = mergeRuns([{ ts: new Float64Array(0), vs: new Float64Array(0) }, { ts, vs }], 15, 35);
  t.same([...got.timestamps], [20, 30]);
  t.same([...got.values], [2, 3]);
  t.equal(got.timestamps.buffer, ts.buffer, 'a view of the run');
  t.same([...mergeRuns([{ ts, vs }], 41, 50).timestamps], [], 'a window past the run is empty');
});
