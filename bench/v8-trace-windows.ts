/**
 * v8-trace-windows.ts — `node dist/bench/v8-trace-windows.js LOG [--list
 * WINDOW]...`: counts V8's `--trace-opt --trace-deopt` lines per window of a
 * log whose windows a bench marked with `@@ begin NAME` / `@@ end NAME` lines
 * (bench/query-traces-cold.ts `--marks`, run under `stdbuf -oL` so V8's
 * lines and the bench's land in order). Per window: TurboFan compilations
 * completed, deopts (eager, lazy, soft), "wrong map" deopts, and the functions
 * deoptimised with their reasons; `--list NAME` prints every deopt line of
 * that window. Lines outside any window are counted under `(outside)`.
 * A counting aid for the cold tail (bench/README.md, query-traces, s22):
 * counts, not times, so they do not depend on the machine's load (the
 * concurrent compiler's timing still moves which search a compile lands in).
 */
import fs from 'node:fs';

/** WindowCounts are the V8 events of one marked window. */
export interface WindowCounts {
  readonly name: string;
  optimized: number;
  deopts: number;
  wrongMap: number;
  /** byFunction maps "function (reason)" to its deopts in the window. */
  readonly byFunction: Map<string, number>;
  readonly lines: string[];
}

const DEOPT = /^\[bailout \(kind: ([^,]+), reason: ([^)]*(?:\([^)]*\))?[^)]*)\): begin\. deoptimizing [^<]*<JSFunction ([^ >]*)/;
// V8 11 prints `completed compiling` then `completed optimizing` for one TurboFan job: count the first.
const OPTIMIZED = /^\[completed compiling .*\(target TURBOFAN\)/;

/** countWindows reads a marked log and answers the windows in the order they began. */
export function countWindows(text: string): WindowCounts[] {
  const out: WindowCounts[] = [];
  const fresh = (name: string): WindowCounts => ({ name, optimized: 0, deopts: 0, wrongMap: 0, byFunction: new Map(), lines: [] });
  const outside = fresh('(outside)');
  let cur: WindowCounts | null = null;
  for (const line of text.split('\n')) {
    const mark = /^@@ (begin|end) (\S+)/.exec(line);
    if (mark !== null) {
      if (mark[1] === 'begin') {
        cur = fresh(mark[2] as string);
        out.push(cur);
      } else cur = null;
      continue;
    }
    const w = cur ?? outside;
    if (OPTIMIZED.test(line)) w.optimized++;
    const d = DEOPT.exec(line);
    if (d !== null) {
      w.deopts++;
      if (d[2] === 'wrong map') w.wrongMap++;
      const fn = (d[3] as string).startsWith('(') ? '(anonymous)' : (d[3] as string);
      const k = `${fn} (${d[2]})`;
      w.byFunction.set(k, (w.byFunction.get(k) ?? 0) + 1);
      w.lines.push(line);
    }
  }
  out.push(outside);
  return out;
}

function main(): void {
  const file = process.argv[2];
  if (file === undefined) throw new Error('usage: v8-trace-windows LOG [--list WINDOW]...');
  const list = new Set<string>();
  for (let i = 3; i < process.argv.length; i++) if (process.argv[i] === '--list') list.add(process.argv[++i] ?? '');
  const windows = countWindows(fs.readFileSync(file, 'utf8'));
  console.log('window  optimized  deopts  wrong-map  functions deoptimised (reason) ×count');
  for (const w of windows) {
    const fns = [...w.byFunction].map(([k, n]) => (n > 1 ? `${k} ×${n}` : k)).join(', ');
    console.log(`${w.name.padEnd(10)} ${String(w.optimized).padStart(5)} ${String(w.deopts).padStart(7)} ${String(w.wrongMap).padStart(9)}  ${fns}`);
    if (list.has(w.name)) for (const l of w.lines) console.log(`    ${l}`);
  }
}

if (process.argv[1]?.endsWith('v8-trace-windows.js') === true) main();
