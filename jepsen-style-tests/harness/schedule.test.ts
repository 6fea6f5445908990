/**
 * schedule.test.ts — the nemesis schedule is a pure function of its seed:
 * same seed, same faults; another seed, other faults; faults never overlap
 * and end within the run; partitions lay a shape over a permutation of
 * the nodes, and every shape is drawn (what each shape cuts is
 * nemeses/partition-shapes.test.ts).
 */
import t from 'tap';
import { JepsenLimits } from '../../src/limits.js';
import { PARTITION_SHAPES } from '../nemeses/partition-shapes.js';
import { DISK_MODES, NEMESIS_KINDS, drawSchedule, parseDurationMs, parseNemeses } from './schedule.js';
import type { ScheduleOptions } from './schedule.js';

const base: ScheduleOptions = { seed: 1, timeMs: 60_000, nemeses: [...NEMESIS_KINDS], nodes: 5, shards: 4 };

t.test('the same seed draws the same schedule; another seed another', async (t) => {
  t.same(drawSchedule(base), drawSchedule(base), 'deterministic');
  t.notSame(drawSchedule(base), drawSchedule({ ...base, seed: 2 }), 'seed 2 differs');
  t.same(drawSchedule({ ...base, nemeses: [] }), [], 'no nemesis, no faults');
});

t.test('faults start after the quiet start, never overlap, and end within the run', async (t) => {
  for (let seed = 1; seed <= 50; seed++) {
    const s = drawSchedule({ ...base, seed });
    t.ok(s.length > 0, `seed ${seed} has faults`);
    let prevEnd = JepsenLimits.faultStartMs - JepsenLimits.healMsMin;
    for (const f of s) {
      if (f.startMs < prevEnd + JepsenLimits.healMsMin) t.fail(`seed ${seed}: a fault starts before the previous one healed`);
      if (f.startMs + f.durationMs > base.timeMs) t.fail(`seed ${seed}: a fault outlives the run`);
      if (f.durationMs > JepsenLimits.faultMsMax) t.fail(`seed ${seed}: a fault is too long`);
      prevEnd = f.startMs + f.durationMs;
      if (f.fault === 'partition') {
        t.same([...f.plan.order].sort((a, b) => a - b), [1, 2, 3, 4, 5], 'the order is a permutation of the nodes');
        t.ok(f.shard >= 1 && f.shard <= base.shards, 'a shard of the cluster');
      } else if (f.fault === 'membership') {
        t.ok(f.via >= 1 && f.via <= base.nodes, 'a new node joins through a founder');
      } else if (f.target.kind === 'meta-leader') {
        t.equal(f.fault, 'clock', 'only a clock fault targets the meta leader');
      } else if (f.target.kind === 'node') {
        t.ok(f.target.node >= 1 && f.target.node <= base.nodes, 'a node of the cluster');
      } else if (f.target.kind === 'majority') {
        t.equal(f.fault, 'kill', 'only a kill targets a majority');
        t.equal(f.target.nodes.length, Math.floor(base.nodes / 2) + 1, 'exactly a majority');
        t.equal(new Set(f.target.nodes).size, f.target.nodes.length, 'distinct nodes');
        t.ok(f.target.nodes.every((n) => n >= 1 && n <= base.nodes), 'founders');
      } else {
        t.ok(f.target.shard >= 1 && f.target.shard <= base.shards, 'a shard of the cluster');
      }
    }
  }
});

t.test('only the chosen nemeses are drawn, and each of them is', async (t) => {
  const kinds = new Set(drawSchedule({ ...base, nemeses: ['pause'], timeMs: 600_000 }).map((f) => f.fault));
  t.same([...kinds], ['pause']);
  const all = new Set(drawSchedule({ ...base, timeMs: 600_000 }).map((f) => f.fault));
  t.same([...all].sort(), [...NEMESIS_KINDS].sort());
  const shapes = new Set(drawSchedule({ ...base, nemeses: ['partition'], timeMs: 600_000 }).flatMap((f) => (f.fault === 'partition' ? [f.plan.shape] : [])));
  t.same([...shapes].sort(), [...PARTITION_SHAPES].sort(), 'every partition shape is drawn');
  const modes = new Set(drawSchedule({ ...base, nemeses: ['disk'], timeMs: 600_000 }).flatMap((f) => (f.fault === 'disk' ? [f.mode] : [])));
  t.same([...modes].sort(), [...DISK_MODES].sort(), 'every disk fault is drawn');
  const clocks = drawSchedule({ ...base, nemeses: ['clock'], timeMs: 600_000 }).flatMap((f) => (f.fault === 'clock' ? [f] : []));
  t.same([...new Set(clocks.map((f) => f.offsetMs))].sort((a, b) => a - b), [...JepsenLimits.clockOffsetsMs].sort((a, b) => a - b), 'every clock offset is drawn');
  t.same([...new Set(clocks.map((f) => f.target.kind))].sort(), ['meta-leader', 'node', 'shard-leader'], 'and every kind of target');
  const kills = drawSchedule({ ...base, nemeses: ['kill'], timeMs: 600_000 }).flatMap((f) => (f.fault === 'kill' ? [f] : []));
  t.same([...new Set(kills.map((f) => f.target.kind))].sort(), ['majority', 'node', 'shard-leader'], 'a kill hits a node, a shard leader or a majority');
  const share = kills.filter((f) => f.target.kind === 'majority').length / kills.length;
  t.ok(share > JepsenLimits.killMajorityChance / 2 && share < JepsenLimits.killMajorityChance * 2, `about ${JepsenLimits.killMajorityChance} of the kills take a majority (${share.toFixed(2)})`);
  const pauses = drawSchedule({ ...base, nemeses: ['pause'], timeMs: 600_000 });
  t.notOk(pauses.some((f) => f.fault === 'pause' && (f.target.kind as string) === 'majority'), 'pauses hit one node');
});

t.test('flags: nemesis lists and durations', async (t) => {
  t.same(parseNemeses('kill,pause,kill'), ['kill', 'pause']);
  t.same(parseNemeses('none'), []);
  t.throws(() => parseNemeses('kill,tornado'), { code: 'ERR_INVALID_ARGUMENT' });
  t.equal(parseDurationMs('--time', '10s'), 10_000);
  t.equal(parseDurationMs('--time', '5m'), 300_000);
  t.equal(parseDurationMs('--time', '1500ms'), 1_500);
  t.equal(parseDurationMs('--time', '60'), 60_000, 'a bare number is seconds');
  t.throws(() => parseDurationMs('--time', '1ms'), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => parseDurationMs('--time', 'soon'), { code: 'ERR_INVALID_ARGUMENT' });
});
