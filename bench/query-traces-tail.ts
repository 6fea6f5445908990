/**
 * query-traces-tail.ts — what bench/query-traces' slowest searches did: with
 * 50 searches, p99 by nearest rank is the slowest one, so the tail is a
 * handful of queries. Each search is kept as a sample (its place in the
 * run, latency, the shards' blocks scanned and bytes read from its answer's
 * stats); the slowest few are asked again, at once, to the same kind of
 * node turn, after the run's searches: a query that is slow the first time
 * and fast the second was cold (block cache, LevelDB's own caches), one
 * slow both times does more work (its blocks and bytes say how much).
 * Figures only; nothing here decides a verdict.
 */

/** TAIL_SAMPLES_SHOWN is how many slowest searches of a kind the report lists and asks again. */
export const TAIL_SAMPLES_SHOWN = 3;

/** SearchSample is one search of the run: its place (0-based), path, latency and the shards' work from its answer's stats. */
export interface SearchSample {
  readonly i: number;
  readonly path: string;
  readonly ms: number;
  readonly blocksScanned: number;
  readonly bytesRead: number;
}

/** TailEntry is one of the slowest searches and the same search asked again after the run. */
export interface TailEntry extends SearchSample {
  readonly againMs: number;
  readonly againBlocksScanned: number;
  readonly againBytesRead: number;
}

/** FIRST_SEARCHES is how many of a kind's first searches firstVsRest sets against the rest (the cold tail: bench/README.md, s15-s16). */
export const FIRST_SEARCHES = 5;

/** SearchTail is a kind's slowest searches asked again, and its first search (the coldest). */
export interface SearchTail {
  readonly first: SearchSample | null;
  readonly slowest: readonly TailEntry[];
  /** firstVsRest sets the run's first FIRST_SEARCHES searches against the others. */
  readonly firstVsRest: FirstVsRest;
}

/** FirstVsRest is the mean and max latency of a kind's first searches and the p50 and max of the rest, ms. */
export interface FirstVsRest {
  readonly firstMeanMs: number;
  readonly firstMaxMs: number;
  readonly restP50Ms: number;
  readonly restMaxMs: number;
}

/** firstVsRest splits `samples` (in run order) into the first FIRST_SEARCHES and the rest. */
export function firstVsRest(samples: readonly SearchSample[]): FirstVsRest {
  const r = (v: number): number => Math.round(v * 100) / 100;
  const first = samples.slice(0, FIRST_SEARCHES).map((s) => s.ms);
  const rest = samples.slice(FIRST_SEARCHES).map((s) => s.ms).sort((a, b) => a - b);
  return {
    firstMeanMs: r(first.reduce((n, x) => n + x, 0) / Math.max(first.length, 1)),
    firstMaxMs: r(Math.max(0, ...first)),
    restP50Ms: r(rest[Math.max(0, Math.ceil(rest.length / 2) - 1)] ?? 0),
    restMaxMs: r(rest[rest.length - 1] ?? 0),
  };
}

/** Stats are the fields of a search answer's `stats` this file reads. */
interface Stats {
  readonly blocksScanned?: number;
  readonly bytesRead?: number;
}

/** sampleOf is one search's sample from its latency and answer text (stats zero when the answer is not JSON with stats). */
export function sampleOf(i: number, path: string, ms: number, text: string): SearchSample {
  let stats: Stats;
  try {
    stats = (JSON.parse(text) as { stats?: Stats }).stats ?? {};
  } catch {
    stats = {};
  }
  return { i, path, ms, blocksScanned: stats.blocksScanned ?? 0, bytesRead: stats.bytesRead ?? 0 };
}

/** searchTail asks the TAIL_SAMPLES_SHOWN slowest of `samples` again, one at a time, through `timed` (the run's next node in turn). */
export async function searchTail(samples: readonly SearchSample[], timed: (path: string) => Promise<{ ms: number; text: string }>): Promise<SearchTail> {
  const slowest = [...samples].sort((a, b) => b.ms - a.ms).slice(0, TAIL_SAMPLES_SHOWN);
  const out: TailEntry[] = [];
  for (const s of slowest) {
    const r = await timed(s.path);
    const again = sampleOf(s.i, s.path, r.ms, r.text);
    out.push({ ...s, againMs: again.ms, againBlocksScanned: again.blocksScanned, againBytesRead: again.bytesRead });
  }
  return { first: samples[0] ?? null, slowest: out, firstVsRest: firstVsRest(samples) };
}

/** printSearchTail prints a kind's tail: its first search and its slowest, each with the second ask. */
export function printSearchTail(name: string, t: SearchTail, log: (l: string) => void): void {
  const r = (v: number): string => (Math.round(v * 100) / 100).toString();
  const mb = (b: number): string => (b / 1e6).toFixed(2);
  if (t.first !== null) log(`  ${name}: first search ${r(t.first.ms)} ms, ${t.first.blocksScanned} blocks, ${mb(t.first.bytesRead)} MB`);
  const f = t.firstVsRest;
  log(`    first ${FIRST_SEARCHES}: mean ${r(f.firstMeanMs)} ms, max ${r(f.firstMaxMs)} ms; the rest: p50 ${r(f.restP50Ms)} ms, max ${r(f.restMaxMs)} ms`);
  for (const s of t.slowest) {
    log(`    #${s.i} ${r(s.ms)} ms, ${s.blocksScanned} blocks, ${mb(s.bytesRead)} MB; asked again ${r(s.againMs)} ms, ${s.againBlocksScanned} blocks, ${mb(s.againBytesRead)} MB`);
  }
}
