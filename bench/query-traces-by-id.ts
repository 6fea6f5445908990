/**
 * query-traces-by-id.ts — where a trace-by-id lookup of bench/query-traces
 * spends its tail. Each lookup is classified by its path: `local` when the
 * node asked leads the trace's shard (ReadIndex barrier, then the store's
 * read, on that node), `forwarded` when it does not (before s18 one more
 * peer hop to the leader, which did the same; since trace-lookup.ts reads a
 * follower's own replica, the node's ReadIndex goes to the leader and the
 * read stays on the node asked). The shard is the one the node computes
 * (spanPartitionKey, jump hash over the shard count); leaders are read from
 * `/api/v1/cluster` once they have settled (settleLeaders: after a load the
 * control loop moves leadership to each shard's preferred node; the lookups
 * wait for that) — a leader that changed during the run would misclassify
 * its lookups: the run prints how many leaders changed).
 *
 * Then every lookup is asked again, same node, same order ("second pass"):
 * the store's reads are then warm (block cache, OS pages), so a tail that
 * stays is not a cold read, and one that moves to other lookups is transient
 * (GC, a background LevelDB compaction, another process). A "third pass",
 * after the searches and full scans (minutes after the flush, so LevelDB's
 * compactions of the flushed blocks are likely done), asks as many other
 * traces: cold for the trace store again. Third ≈ first says cold reads cost
 * the difference; third ≈ second says the first pass paid for the time
 * right after the flush.
 *
 * Latencies are client wall clock, ms. Timing never gates anything.
 */
import { performance } from 'node:perf_hooks';
import { initHash } from '../src/partition/hash.js';
import { spanPartitionKey } from '../src/partition/partition-key.js';
import { percentileMs } from './ingest-plan.js';
import { BENCH_TENANT, benchRequest } from './bench-http.js';

/** ByIdLookup is one timed lookup: its index in the run, the node asked, its path and its latency. */
export interface ByIdLookup {
  readonly i: number;
  readonly traceIdHex: string;
  readonly api: string;
  readonly shard: number;
  readonly path: 'local' | 'forwarded';
  readonly ms: number;
}

/** PathFigures are one path's lookups: how many, p50/p99/max ms. */
export interface PathFigures {
  readonly queries: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** ByIdBreakdown is what query-traces.ts prints about trace by id's tail. */
export interface ByIdBreakdown {
  readonly first: { readonly local: PathFigures; readonly forwarded: PathFigures };
  readonly second: { readonly local: PathFigures; readonly forwarded: PathFigures };
  readonly third: { readonly local: PathFigures; readonly forwarded: PathFigures };
  /** slowest are the first pass's slowest lookups, with the second pass's time of the same lookup. */
  readonly slowest: readonly (ByIdLookup & { readonly secondMs: number })[];
  /** leadersChanged counts the shards whose leader differed after the lookups (their lookups may be misclassified). */
  readonly leadersChanged: number;
  /** settle is how the leaders settled before the lookups (ByIdPaths.open). */
  readonly settle: LeaderSettle;
}

/** LeaderSettle is the wait for stable shard leaders before the lookups: how long, how many polls saw a change, the shards whose leader moved. */
export interface LeaderSettle {
  readonly waitedMs: number;
  readonly changes: number;
  readonly movedShards: readonly number[];
  /** settled is false when SETTLE_MS_MAX passed with leaders still moving. */
  readonly settled: boolean;
}

interface ClusterDoc {
  readonly nodes: readonly { readonly id: number }[];
  readonly shards: readonly { readonly id: number; readonly leader: number }[];
}

/** SLOWEST_LISTED is how many of the slowest lookups the breakdown lists. */
const SLOWEST_LISTED = 5;
/** SETTLE_POLL_MS is the pause between two reads of the shard leaders while waiting for them to settle. */
const SETTLE_POLL_MS = 500;
/** SETTLE_STABLE_POLLS is how many reads in a row must see the same leaders. */
const SETTLE_STABLE_POLLS = 6;
/** SETTLE_MS_MAX bounds the wait; past it the lookups start anyway and the report says so. */
const SETTLE_MS_MAX = 60_000;

/**
 * settleLeaders waits until `SETTLE_STABLE_POLLS` reads in a row of
 * /api/v1/cluster see the same leader of every shard (with no shard
 * leaderless). After a load, the control loop moves leadership to each
 * shard's preferred node once that replica has caught up (control/reconcile.ts
 * "spread leadership"): a lookup during such a transfer meets ERR_NOT_LEADER
 * and backs off. The lookups are meant to measure the steady state.
 */
async function settleLeaders(api: string): Promise<{ leaders: Map<number, number>; settle: LeaderSettle }> {
  const t0 = performance.now();
  let last = await leaders(api);
  const first = last;
  let stable = 1;
  let changes = 0;
  while (stable < SETTLE_STABLE_POLLS && performance.now() - t0 < SETTLE_MS_MAX) {
    await new Promise((r) => setTimeout(r, SETTLE_POLL_MS));
    const now = await leaders(api);
    const same = now.size === last.size && [...now].every(([shard, leader]) => leader !== 0 && last.get(shard) === leader);
    if (same) stable++;
    else {
      stable = 1;
      changes++;
    }
    last = now;
  }
  const movedShards = [...last].filter(([shard, leader]) => first.get(shard) !== leader).map(([shard]) => shard);
  return { leaders: last, settle: { waitedMs: Math.round(performance.now() - t0), changes, movedShards, settled: stable >= SETTLE_STABLE_POLLS } };
}

async function leaders(api: string): Promise<Map<number, number>> {
  const r = await benchRequest(`http://${api}/api/v1/cluster`, {});
  if (r.status !== 200) throw new Error(`bench/query-traces: /api/v1/cluster answered ${r.status}`);
  const doc = JSON.parse(r.text) as ClusterDoc;
  return new Map(doc.shards.map((s) => [s.id, s.leader]));
}

function pathFigures(ls: readonly { readonly ms: number }[]): PathFigures {
  const sorted = ls.map((l) => l.ms).sort((a, b) => a - b);
  const r = (v: number): number => Math.round(v * 100) / 100;
  return { queries: sorted.length, p50Ms: r(percentileMs(sorted, 50)), p99Ms: r(percentileMs(sorted, 99)), maxMs: r(sorted[sorted.length - 1] ?? 0) };
}

/**
 * ByIdPaths classifies lookups: made once the cluster is up and flushed
 * (`nodes` are the cluster file's id and API address of every node).
 */
export class ByIdPaths {
  readonly #shardOf: (traceIdHex: string) => number;
  readonly #leaders: Map<number, number>;
  readonly #nodeOfApi: Map<string, number>;
  readonly #apiOfAny: string;
  readonly #settle: LeaderSettle;

  private constructor(shardOf: (traceIdHex: string) => number, leadersNow: Map<number, number>, settle: LeaderSettle, nodes: readonly { id: number; api: string }[]) {
    this.#shardOf = shardOf;
    this.#leaders = leadersNow;
    this.#settle = settle;
    this.#nodeOfApi = new Map(nodes.map((n) => [n.api, n.id]));
    this.#apiOfAny = (nodes[0] as { api: string }).api;
  }

  /** open waits for the shard leaders to settle (settleLeaders), reads them and prepares the shard hash. */
  static async open(nodes: readonly { id: number; api: string }[]): Promise<ByIdPaths> {
    const hasher = await initHash();
    const { leaders: l, settle } = await settleLeaders((nodes[0] as { api: string }).api);
    const shardCount = l.size;
    return new ByIdPaths((hex) => hasher.h64ToShard(spanPartitionKey(BENCH_TENANT, Buffer.from(hex, 'hex')), shardCount), l, settle, nodes);
  }

  /** classify is lookup i's record. */
  classify(i: number, traceIdHex: string, api: string, ms: number): ByIdLookup {
    const shard = this.#shardOf(traceIdHex);
    const path = this.#leaders.get(shard) === this.#nodeOfApi.get(api) ? 'local' : 'forwarded';
    return { i, traceIdHex, api, shard, path, ms };
  }

  /** again asks `lookups` (trace and node of each) again, in order, and classifies them; `note` sees each (the bench's query log). */
  async again(lookups: readonly { readonly traceIdHex: string; readonly api: string }[], note?: (api: string, startMs: number, ms: number) => void): Promise<ByIdLookup[]> {
    const out: ByIdLookup[] = [];
    for (const [i, l] of lookups.entries()) {
      const startMs = Date.now();
      const t0 = performance.now();
      const r = await benchRequest(`http://${l.api}/api/traces/${l.traceIdHex}`, { headers: { 'x-scope-orgid': BENCH_TENANT } });
      const ms = performance.now() - t0;
      note?.(l.api, startMs, ms);
      if (r.status !== 200) throw new Error(`bench/query-traces: lookup of ${l.traceIdHex} answered ${r.status}`);
      out.push(this.classify(i, l.traceIdHex, l.api, ms));
    }
    return out;
  }

  /**
   * breakdown summarises the passes (`second` asked `first` again at once;
   * `third` other traces later) by path and lists the first pass's slowest.
   */
  async breakdown(first: readonly ByIdLookup[], second: readonly ByIdLookup[], third: readonly ByIdLookup[]): Promise<ByIdBreakdown> {
    const after = await leaders(this.#apiOfAny);
    let leadersChanged = 0;
    for (const [shard, leader] of this.#leaders) if (after.get(shard) !== leader) leadersChanged++;
    const by = (ls: readonly ByIdLookup[]): ByIdBreakdown['first'] => ({
      local: pathFigures(ls.filter((l) => l.path === 'local')),
      forwarded: pathFigures(ls.filter((l) => l.path === 'forwarded')),
    });
    const slowest = [...first]
      .sort((a, b) => b.ms - a.ms)
      .slice(0, SLOWEST_LISTED)
      .map((l) => ({ ...l, ms: Math.round(l.ms * 100) / 100, secondMs: Math.round((second[l.i]?.ms ?? -1) * 100) / 100 }));
    return { first: by(first), second: by(second), third: by(third), slowest, leadersChanged, settle: this.#settle };
  }
}

/** printByIdBreakdown prints a breakdown under the bench's table. */
export function printByIdBreakdown(b: ByIdBreakdown, log: (line: string) => void): void {
  const f = (p: PathFigures): string => `${String(p.queries).padStart(4)} lookups  p50 ${p.p50Ms} ms  p99 ${p.p99Ms} ms  max ${p.maxMs} ms`;
  const st = b.settle;
  log(`\n  shard leaders before the lookups: ${st.settled ? 'settled' : 'STILL MOVING'} after ${st.waitedMs} ms, ${st.changes} change(s) seen, moved: shards [${st.movedShards.join(', ')}]`);
  log('  trace by id by path (local: the node asked leads the shard; forwarded: it does not: a ReadIndex at the leader, then its own replica when it follows the shard)');
  log(`  first pass   local     ${f(b.first.local)}`);
  log(`  first pass   forwarded ${f(b.first.forwarded)}`);
  log(`  second pass  local     ${f(b.second.local)}`);
  log(`  second pass  forwarded ${f(b.second.forwarded)}`);
  log(`  third pass   local     ${f(b.third.local)}`);
  log(`  third pass   forwarded ${f(b.third.forwarded)}`);
  log(`  slowest of the first pass (lookup #, path, shard, first ms -> same lookup in the second pass):`);
  for (const s of b.slowest) log(`    #${s.i} ${s.path} shard ${s.shard}: ${s.ms} -> ${s.secondMs} ms`);
  if (b.leadersChanged > 0) log(`  NB: ${b.leadersChanged} shard leader(s) changed during the lookups; their lookups may be misclassified`);
}
