import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { StoreLimits } from '../../limits.js';
import { TraceStore } from '../traces/trace-store.js';
import { realisticSpans, tempTraceDb } from '../traces/traces-test-util.js';
import { FlushPacer } from './flush-pacer.js';
import { KvWriteBatch } from './shard-db.js';

// The flush pacer (flush-pacer.ts): callers get their turns in call order,
// each in a later event-loop turn than the previous one, so I/O runs between
// two flush steps; the traces store asks for a turn before every block. A
// planted pacer that hands out every turn at once is caught. No timing.

/** loopTurns counts event-loop turns (one setImmediate per turn) until stop() is called. */
function loopTurns(): { now: () => number; stop: () => void } {
  let n = 0;
  let on = true;
  const tick = (): void => {
    n++;
    if (on) setImmediate(tick);
  };
  setImmediate(tick);
  return { now: () => n, stop: () => (on = false) };
}

/** turnsSeen calls `turn` `k` times at once and returns the loop turn at which each caller resumed, in resumption order. */
async function turnsSeen(turn: () => Promise<void>, k: number): Promise<{ caller: number; loop: number }[]> {
  const loop = loopTurns();
  const seen: { caller: number; loop: number }[] = [];
  await Promise.all(Array.from({ length: k }, (_, caller) => turn().then(() => seen.push({ caller, loop: loop.now() }))));
  loop.stop();
  return seen;
}

/** paced says whether callers resumed in call order, each in a later loop turn than the one before. */
function paced(seen: readonly { caller: number; loop: number }[]): boolean {
  return seen.every((s, i) => s.caller === i && (i === 0 || s.loop > (seen[i - 1] as { loop: number }).loop));
}

t.test('turns come in call order, one per event-loop turn', async (t) => {
  const pacer = new FlushPacer();
  const seen = await turnsSeen(() => pacer.turn(), 8);
  t.equal(seen.length, 8);
  t.ok(paced(seen), `paced: ${JSON.stringify(seen)}`);
  t.equal(pacer.turns, 8);
});

/** otherWork queues `ms` of simulated other work (a clock advance) in the next event-loop turn, ahead of a pacer's yield. */
function otherWork(advance: (ms: number) => void, ms: number): void {
  setImmediate(() => advance(ms));
}

t.test('a queued step is followed by a pause that keeps flushes within their share of the thread', async (t) => {
  let clock = 1_000;
  const advance = (ms: number): void => void (clock += ms);
  const pacer = new FlushPacer({ nowMs: () => clock, cpuMs: () => clock, stepShareMax: 0.25, pauseMsMax: 50, idleWorkMsMax: 1 });
  // A holder's step runs in its own reaction to the turn, registered before the next caller queues (as a store's await).
  const a = pacer.turn().then(() => {
    t.equal(pacer.lastPauseMs, 0, 'the first turn has no step to pay for');
    clock += 10; // a's step takes 10 ms
    otherWork(advance, 5); // and a request waits meanwhile
  });
  const b = pacer.turn(); // queued behind a
  await a;
  await b;
  t.equal(pacer.lastPauseMs, 30, 'a 10 ms step at a 25% share waits 30 ms while other work waits');
  const c = pacer.turn().then(() => {
    clock += 1_000; // c's step takes 1 s: the pause is capped
    otherWork(advance, 5);
  });
  const d = pacer.turn();
  await c;
  await d;
  t.equal(pacer.lastPauseMs, 50, 'capped at pauseMsMax');
  // One flush alone: its next block pays for the one before.
  await pacer.turn();
  clock += 4;
  otherWork(advance, 2);
  await pacer.turn();
  t.equal(pacer.lastPauseMs, 12, 'a 4 ms step of a lone flush waits 12 ms before its next');
});

t.test('an idle loop gets no pause: a step follows the last at once', async (t) => {
  let clock = 1_000;
  const advance = (ms: number): void => void (clock += ms);
  const pacer = new FlushPacer({ nowMs: () => clock, cpuMs: () => clock, stepShareMax: 0.25, pauseMsMax: 50, idleWorkMsMax: 1 });
  await pacer.turn();
  clock += 10; // a 10 ms step, nothing else waiting
  await pacer.turn();
  t.equal(pacer.lastPauseMs, 0, 'nothing else ran in the yielded turn: no pause');
  clock += 10;
  otherWork(advance, 0.5); // under idleWorkMsMax: still idle
  await pacer.turn();
  t.equal(pacer.lastPauseMs, 0, 'half a millisecond of other work counts as idle');
  clock += 10;
  otherWork(advance, 1);
  await pacer.turn();
  t.equal(pacer.lastPauseMs, 30, 'a millisecond of other work brings the pause back');
  // Planted: a pacer that always pauses (idle never detected) is told apart by the same steps.
  const always = new FlushPacer({ nowMs: () => clock, cpuMs: () => clock, stepShareMax: 0.25, pauseMsMax: 50, idleWorkMsMax: 0 });
  await always.turn();
  clock += 10;
  await always.turn();
  t.not(always.lastPauseMs, 0, 'planted: with the idle test off, an idle loop still pauses, and the assertion above would catch it');
});

t.test('planted: a pacer that hands out every turn at once is caught', async (t) => {
  const seen = await turnsSeen(() => Promise.resolve(), 8);
  t.notOk(paced(seen), 'every caller resumed in the same loop turn');
});

t.test('the traces store takes a turn before every block of a flush', async (t) => {
  const db = await tempTraceDb(t, 'otlpdb-flush-pacer-');
  const store = new TraceStore();
  await store.load(db);
  const rand = new SeededRand(5);
  // Two hour buckets, so at least two blocks.
  const spans = realisticSpans(rand, 40, 'acme');
  const later = realisticSpans(rand, 40, 'acme').map((s) => ({ ...s, startTimeUnixNano: s.startTimeUnixNano + StoreLimits.traceBucketNs, endTimeUnixNano: s.endTimeUnixNano + StoreLimits.traceBucketNs }));
  store.add('acme', [...spans, ...later], 1_000);
  store.freeze();
  let turns = 0;
  const batch = new KvWriteBatch();
  const report = await store.writeFrozen({ batch, kv: db, flushIndex: 1, pace: async () => void turns++ });
  await db.write(batch);
  store.dropFrozen();
  t.ok(report.blocks >= 2, `blocks ${report.blocks}`);
  t.equal(turns, report.blocks, 'one turn per block');
});
