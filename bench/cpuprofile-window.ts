/**
 * cpuprofile-window.ts — `node dist/bench/cpuprofile-window.js OUT.json
 * PROFILE...`: where the nodes' CPU of a query-frames run went. OUT.json
 * is query-frames' output line (`--cpu-prof`: it carries the idle and
 * query windows in the profiles' monotonic µs). For each V8 profile it
 * sums the sampled time inside each window, self and inclusive per
 * function (name and file:line), subtracts the idle window's time scaled
 * to the query window's length (Raft ticks), and prints per query: the
 * top functions by self time and by inclusive time, and the total. A
 * profile covers its main thread only (a worker has its own profile);
 * "(idle)" samples (waiting in epoll) are left out. NB: V8 samples by
 * wall time, so on a loaded machine a thread's wait for a core lands in
 * whatever it was doing (in s17, 10 ms a query in writeBuffer against
 * 0.28 ms of kernel write time): the totals are not CPU. For CPU use
 * query-frames' `--perf`. Never a CI gate; for finding where time goes,
 * not for ratios.
 */
import { readFileSync } from 'node:fs';

/** TOP_ROWS is how many functions each table prints. */
const TOP_ROWS = 40;

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

interface Windows {
  readonly queries: number;
  readonly idleWindowUs: readonly [number, number];
  readonly queryWindowUs: readonly [number, number];
}

/** keyOf names a frame by function and place (file name and line), the unit of the tables. */
function keyOf(n: ProfileNode): string {
  const f = n.callFrame;
  const file = f.url === '' ? '' : ` ${f.url.replace(/^.*\/(dist|node_modules)\//, '$1/').replace(/^node:/, '')}:${f.lineNumber + 1}`;
  return `${f.functionName === '' ? '(anonymous)' : f.functionName}${file}`;
}

/** Sums is the sampled µs a window holds: self and inclusive per key, and the on-CPU total. */
interface Sums {
  readonly self: Map<string, number>;
  readonly incl: Map<string, number>;
  total: number;
}

function sumWindows(p: Profile, windows: readonly (readonly [number, number])[]): Sums[] {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const stackKeys = new Map<number, readonly string[]>();
  const keysOf = (id: number): readonly string[] => {
    const hit = stackKeys.get(id);
    if (hit !== undefined) return hit;
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const n = byId.get(at);
      if (n !== undefined) seen.add(keyOf(n));
    }
    const keys = [...seen];
    stackKeys.set(id, keys);
    return keys;
  };
  const out: Sums[] = windows.map(() => ({ self: new Map(), incl: new Map(), total: 0 }));
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    // A sample's time is the delta to the next sample (V8's attribution).
    const dt = p.timeDeltas[i + 1] ?? 0;
    const id = p.samples[i] ?? -1;
    const node = byId.get(id);
    if (node === undefined) continue;
    const name = node.callFrame.functionName;
    if (name === '(idle)') continue;
    for (let w = 0; w < windows.length; w++) {
      const win = windows[w];
      const sums = out[w];
      if (win === undefined || sums === undefined || t < win[0] || t >= win[1]) continue;
      sums.total += dt;
      const k = keyOf(node);
      sums.self.set(k, (sums.self.get(k) ?? 0) + dt);
      for (const key of keysOf(id)) sums.incl.set(key, (sums.incl.get(key) ?? 0) + dt);
    }
  }
  return out;
}

function main(): void {
  const [outFile, ...profiles] = process.argv.slice(2);
  if (outFile === undefined || profiles.length === 0) throw new Error('usage: cpuprofile-window.js OUT.json PROFILE...');
  const w = JSON.parse(readFileSync(outFile, 'utf8').trim().split('\n').filter((l) => l.startsWith('{')).at(-1) ?? '{}') as Windows;
  const idleLen = w.idleWindowUs[1] - w.idleWindowUs[0];
  const queryLen = w.queryWindowUs[1] - w.queryWindowUs[0];
  const scale = queryLen / idleLen;
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  let total = 0;
  let idleTotal = 0;
  for (const file of profiles) {
    const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
    const [idle, q] = sumWindows(p, [w.idleWindowUs, w.queryWindowUs]);
    if (idle === undefined || q === undefined) continue;
    total += q.total - idle.total * scale;
    idleTotal += idle.total * scale;
    for (const [k, v] of q.self) self.set(k, (self.get(k) ?? 0) + v);
    for (const [k, v] of idle.self) self.set(k, (self.get(k) ?? 0) - v * scale);
    for (const [k, v] of q.incl) incl.set(k, (incl.get(k) ?? 0) + v);
    for (const [k, v] of idle.incl) incl.set(k, (incl.get(k) ?? 0) - v * scale);
    console.log(`${file}: query window ${(q.total / 1000).toFixed(0)} ms on CPU, idle (scaled) ${((idle.total * scale) / 1000).toFixed(0)} ms`);
  }
  const perQ = (us: number): string => (us / 1000 / w.queries).toFixed(3);
  console.log(`\nqueries ${w.queries}, query window ${(queryLen / 1e6).toFixed(1)} s, idle window ${(idleLen / 1e6).toFixed(1)} s`);
  console.log(`sampled (not idle) a query, less idle: ${perQ(total)} ms (idle share scaled: ${perQ(idleTotal)} ms a query)`);
  for (const [title, m] of [['self', self], ['inclusive', incl]] as const) {
    console.log(`\n${title} ms a query (query window less idle):`);
    for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, TOP_ROWS)) console.log(`${perQ(v).padStart(8)}  ${k}`);
  }
}

main();
