import t from 'tap';
import { newMessage } from '../../src/raft/index.js';
import type { Message } from '../../src/raft/types.js';
import { MessageType } from '../../src/raft/types.js';
import { Network, linkKey, makePartition } from './network.js';
import type { NetworkOptions, PartitionShape } from './network.js';
import { Prng } from './prng.js';

function msg(from: number, to: number, index = 0): Message {
  return newMessage(0, from, { type: MessageType.App, to, term: 1, index });
}

const calm: NetworkOptions = { delayTicksMin: 1, delayTicksMax: 1, lossProbability: 0, duplicateProbability: 0, queueMax: 1000 };

t.test('messages arrive after their delay, never before, as the same object', async (t) => {
  const net = new Network({ ...calm, delayTicksMin: 2, delayTicksMax: 5 }, new Prng(1));
  const m = msg(1, 2);
  net.send(m, 10);
  t.same(net.deliver(11), []);
  let got: Message[] = [];
  for (let now = 12; now <= 15 && got.length === 0; now++) got = net.deliver(now);
  t.equal(got.length, 1);
  t.equal(got[0], m, 'zero copy');
});

t.test('random delays reorder messages', async (t) => {
  const net = new Network({ ...calm, delayTicksMax: 10 }, new Prng(3));
  for (let i = 0; i < 50; i++) net.send(msg(1, 2, i), 0);
  const order: number[] = [];
  for (let now = 1; now <= 11; now++) for (const m of net.deliver(now)) order.push(m.index);
  t.equal(order.length, 50);
  t.notSame(order, [...order].sort((a, b) => a - b), 'some message overtook another');
});

t.test('loss and duplication happen at about their rates', async (t) => {
  const net = new Network({ ...calm, lossProbability: 0.2, duplicateProbability: 0.1, queueMax: 20_000 }, new Prng(5));
  for (let i = 0; i < 10_000; i++) net.send(msg(1, 2, i), 0);
  const got = net.deliver(1);
  t.ok(net.stats.dropped.loss > 1700 && net.stats.dropped.loss < 2300, `lost ${net.stats.dropped.loss}`);
  t.ok(net.stats.duplicated > 600 && net.stats.duplicated < 1000, `duplicated ${net.stats.duplicated}`);
  t.equal(got.length, 10_000 - net.stats.dropped.loss + net.stats.duplicated, "every message not lost arrives, duplicates twice");
});

t.test('the queue is bounded: overflow drops', async (t) => {
  const net = new Network({ ...calm, queueMax: 10 }, new Prng(1));
  for (let i = 0; i < 15; i++) net.send(msg(1, 2, i), 0);
  t.equal(net.inFlight, 10);
  t.equal(net.stats.dropped.overflow, 5);
});

t.test('traffic to a down node is dropped, even when sent before it went down', async (t) => {
  const net = new Network(calm, new Prng(1));
  net.send(msg(1, 2), 0);
  net.setUp(2, false);
  t.same(net.deliver(1), []);
  t.equal(net.stats.dropped.down, 1);
  net.send(msg(2, 1), 1);
  t.equal(net.stats.dropped.down, 2, 'a down node sends nothing');
  net.setUp(2, true);
  net.send(msg(1, 2), 2);
  t.equal(net.deliver(3).length, 1);
});

t.test('a message on the wire still arrives after its sender crashes', async (t) => {
  const net = new Network(calm, new Prng(1));
  net.send(msg(1, 2), 0);
  net.setUp(1, false);
  t.equal(net.deliver(1).length, 1);
});

t.test('partition shapes block what they should', async (t) => {
  const nodes = [1, 2, 3, 4, 5];
  const reach = (p: { blocked: ReadonlySet<number> }, a: number, b: number): boolean => !p.blocked.has(linkKey(a, b));
  for (let seed = 0; seed < 20; seed++) {
    const r = new Prng(seed);
    const halves = makePartition('halves', nodes, 1, r);
    // Halves: reachability is symmetric and transitive (two cliques).
    for (const a of nodes) for (const b of nodes) if (reach(halves, a, b) !== reach(halves, b, a)) t.fail('halves symmetric');
    const iso = makePartition('isolate-leader', nodes, 3, r);
    for (const n of nodes) if (n !== 3) t.notOk(reach(iso, 3, n), 'leader cut from ' + n);
    t.ok(reach(iso, 1, 2), 'the others still talk');
    const bridge = makePartition('bridge', nodes, 1, r);
    const bridges = nodes.filter((b) => nodes.every((n) => reach(bridge, b, n) && reach(bridge, n, b)));
    t.ok(bridges.length >= 1, 'a bridge node sees everyone');
    t.ok(bridge.blocked.size > 0, 'the halves are cut');
    const ring = makePartition('ring', nodes, 1, r);
    for (const n of nodes) {
      const seen = nodes.filter((m) => m !== n && reach(ring, n, m));
      t.equal(seen.length, 2, `node ${n} sees exactly two neighbours in a ring of five`);
    }
    const oneWay = makePartition('one-way', nodes, 1, r);
    for (const key of oneWay.blocked) {
      const from = Math.floor(key / 1024);
      const to = key % 1024;
      t.ok(reach(oneWay, to, from), `one-way: ${to} -> ${from} still works while ${from} -> ${to} is blocked`);
    }
  }
});

t.test('a partition drops traffic on blocked links and healing restores it', async (t) => {
  const net = new Network(calm, new Prng(1));
  const shape: PartitionShape = 'one-way';
  net.setPartition({ shape, blocked: new Set([linkKey(1, 2)]) });
  net.send(msg(1, 2), 0);
  net.send(msg(2, 1), 0);
  const got = net.deliver(1);
  t.equal(got.length, 1);
  t.equal(got[0]?.from, 2);
  t.equal(net.stats.dropped.partition, 1);
  net.send(msg(2, 1), 1);
  net.setPartition({ shape, blocked: new Set([linkKey(2, 1)]) });
  t.same(net.deliver(2), [], 'a link cut while the message was in flight drops it');
  net.setPartition(null);
  net.send(msg(1, 2), 2);
  t.equal(net.deliver(3).length, 1);
});
