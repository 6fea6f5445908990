import t from 'tap';
import { Inflights } from './inflights.js';
import { Progress } from './progress.js';
import { ProgressState } from './types.js';

t.test('Inflights is full by message count or by bytes, and frees in order', async (t) => {
  const f = new Inflights(3, 1000);
  f.add(1, 100);
  f.add(2, 100);
  t.notOk(f.full());
  f.add(3, 100);
  t.ok(f.full(), 'count limit');
  f.freeLE(1);
  t.equal(f.count, 2);
  t.equal(f.bytes, 200);
  t.notOk(f.full());
  f.add(4, 800);
  t.ok(f.full(), 'both limits (count 3, 1000 bytes)');
  f.freeLE(3);
  t.equal(f.count, 1);
  t.equal(f.bytes, 800);
  const b = new Inflights(100, 250);
  b.add(5, 200);
  t.notOk(b.full());
  b.add(6, 50);
  t.ok(b.full(), 'byte limit');
  t.throws(() => b.add(7, 1), { code: 'ERR_INTERNAL' }, 'adding to a full window is a bug');
  b.freeFirstOne();
  t.equal(b.count, 1);
});

t.test('Inflights wraps around its ring without losing order', async (t) => {
  const f = new Inflights(4, 0);
  let next = 1;
  for (let round = 0; round < 10; round++) {
    while (!f.full()) f.add(next++, 1);
    f.freeLE(next - 3);
    const seen: number[] = [];
    f.forEach((i) => seen.push(i));
    t.same(seen, [next - 2, next - 1], `round ${round}`);
  }
});

t.test('Progress: probe, replicate and snapshot transitions keep match < next', async (t) => {
  const p = new Progress(11, 2, 0, false);
  t.equal(p.state, ProgressState.Probe);
  t.notOk(p.isPaused());
  p.probeSent = true;
  t.ok(p.isPaused(), 'probe: one at a time');
  t.ok(p.maybeUpdate(10), 'ack advances match');
  t.notOk(p.probeSent, 'an ack unpauses the probe');
  p.becomeReplicate();
  t.equal(p.next, 11);
  p.optimisticUpdate(15);
  p.inflights.add(15, 1);
  p.optimisticUpdate(20);
  p.inflights.add(20, 1);
  t.ok(p.isPaused(), 'replicate: paused at inflightMsgsMax');
  t.notOk(p.maybeDecrTo(9, 9), 'stale rejection ignored');
  t.ok(p.maybeDecrTo(15, 12));
  t.equal(p.next, 11, 'replicate rejection: next = match + 1');
  p.becomeSnapshot({ metadata: { index: 30, term: 2, confState: { voters: [1], learners: [] } }, data: new Uint8Array() });
  t.ok(p.isPaused(), 'snapshot: no appends');
  p.becomeProbe();
  t.equal(p.next, 31, 'after a snapshot, probe past it');
  t.ok(p.match < p.next);
  t.ok(p.maybeDecrTo(30, 12));
  t.equal(p.next, 13, 'probe rejection: next = min(rejected, hint + 1)');
});
