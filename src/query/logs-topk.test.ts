/**
 * logs-topk.test.ts — the two rounds of a pushed log query (logs-query.ts
 * shardEval): a first round that asks each shard for k < limit entries, then
 * `limit` from the shards firstRoundPlan names, must merge to exactly the
 * entries one round asking every shard for `limit` merges to — ties in time
 * across and within shards, shards with few entries, both directions.
 * Planted plans that skip a shard they must ask are caught.
 */
import t from 'tap';
import { SeededRand } from '../fs/seeded-rand.js';
import type { LogEntry } from './logql/source.js';
import { firstRoundLimit, firstRoundPlan, mergeEntries } from './logs-query.js';

const SEED = Number(process.env.SEED ?? 0x70b4);

type Plan = typeof firstRoundPlan;

function entry(shard: number, i: number, timeNs: bigint): LogEntry {
  return { stream: [{ name: 'shard', value: String(shard) }], timeNs, line: `s${shard} e${i}`, metadata: [] };
}

/** mismatches runs seeded cases through `plan` and lists those whose two-round answer differs from one round's. */
function mismatches(seed: number, plan: Plan, cases: number): { bad: string[]; askedAgain: number; spared: number } {
  const rand = new SeededRand(seed);
  const bad: string[] = [];
  let askedAgain = 0;
  let spared = 0;
  for (let c = 0; c < cases; c++) {
    const shards = 1 + rand.intn(8);
    const limit = 2 + rand.intn(40);
    const k = 1 + rand.intn(limit - 1);
    const direction = rand.intn(2) === 0 ? 'backward' : 'forward';
    const span = 1 + rand.intn(200);
    // Each shard's entries in the direction's order (what it answers, cut at what it is asked).
    const all = new Map<number, LogEntry[]>();
    for (let s = 1; s <= shards; s++) {
      const n = rand.intn(3 * limit);
      const times = Array.from({ length: n }, () => BigInt(rand.intn(span)));
      times.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      if (direction === 'backward') times.reverse();
      all.set(s, times.map((tm, i) => entry(s, i, tm)));
    }
    const order = [...all.keys()];
    const one = mergeEntries(order.map((s) => (all.get(s) as LogEntry[]).slice(0, limit)), direction, limit);
    const byShard = new Map(order.map((s) => [s, (all.get(s) as LogEntry[]).slice(0, k)] as const));
    const again = plan(byShard, k, limit, direction);
    askedAgain += again.size;
    spared += shards - again.size;
    for (const s of again) byShard.set(s, (all.get(s) as LogEntry[]).slice(0, limit));
    const two = mergeEntries(order.map((s) => byShard.get(s) as LogEntry[]), direction, limit);
    const text = (es: readonly LogEntry[]): string => es.map((e) => `${e.timeNs}:${e.line}`).join(',');
    if (text(one) !== text(two) && bad.length < 5) bad.push(`seed ${seed} case ${c}: shards ${shards} limit ${limit} k ${k} ${direction}`);
  }
  return { bad, askedAgain, spared };
}

t.test('two rounds merge to exactly one round (seeded, ties, both directions)', async (t) => {
  for (let s = 0; s < 3; s++) {
    const r = mismatches(SEED + s, firstRoundPlan, 400);
    t.same(r.bad, [], `SEED=${SEED + s}`);
    t.ok(r.spared > 0 && r.askedAgain > 0, `some shards are asked again (${r.askedAgain}), some spared (${r.spared})`);
  }
});

t.test('a planted plan that spares shards tied with the bound is caught', async (t) => {
  const spareTies: Plan = (byShard, k, limit, direction) => {
    const merged = mergeEntries([...byShard.keys()].sort((a, b) => a - b).map((s) => byShard.get(s) as LogEntry[]), direction, limit);
    const bound = merged.length === limit ? (merged[limit - 1] as LogEntry).timeNs : null;
    const out = new Set<number>();
    for (const [shard, es] of byShard) {
      if (es.length < k) continue;
      const last = (es[es.length - 1] as LogEntry).timeNs;
      if (bound === null || (direction === 'backward' ? last > bound : last < bound)) out.add(shard);
    }
    return out;
  };
  let caught = 0;
  for (let s = 0; s < 3; s++) caught += mismatches(SEED + s, spareTies, 400).bad.length;
  t.ok(caught > 0, `the planted plan changes answers (${caught})`);
});

t.test('a planted plan that trusts a short merge is caught', async (t) => {
  const trustShort: Plan = (byShard, k, limit, direction) => {
    const plan = firstRoundPlan(byShard, k, limit, direction);
    const merged = mergeEntries([...byShard.values()], direction, limit);
    return merged.length < limit ? new Set() : plan;
  };
  let caught = 0;
  for (let s = 0; s < 3; s++) caught += mismatches(SEED + s, trustShort, 400).bad.length;
  t.ok(caught > 0, `the planted plan changes answers (${caught})`);
});

t.test('firstRoundLimit: at least firstRoundEntriesMin, twice a fair share, at most the limit', async (t) => {
  t.equal(firstRoundLimit(100, 16), 16);
  t.equal(firstRoundLimit(1000, 16), 125);
  t.equal(firstRoundLimit(10, 16), 10);
  t.equal(firstRoundLimit(100, 1), 100);
  t.equal(firstRoundLimit(100, 0), 100, 'no placement known: the whole limit');
});
