// Per-peer transport counters over real sockets on 127.0.0.x; every test closes what it opens.
import net from 'node:net';
import t from 'tap';
import { encodeHello, encodeMessages } from './codec.js';
import { encodeFrame } from './frame.js';
import { CLUSTER_ID, entry, msg, receivedFrom, startCluster, startNode, waitFor } from './transport-test-util.js';
import type { PeerMetrics } from './transport-types.js';

function pm(m: ReadonlyMap<number, PeerMetrics>, id: number): PeerMetrics {
  const v = m.get(id);
  if (v === undefined) throw new Error(`no counters for peer ${id}`);
  return v;
}

/** rawSession plays a node from `localAddress`: writes the chunks and waits until the receiver closes. */
async function rawSession(host: string, port: number, localAddress: string, chunks: readonly Uint8Array[]): Promise<void> {
  const s = net.connect({ host, port, localAddress });
  s.on('error', () => {});
  await new Promise<void>((r) => s.once('connect', () => r()));
  for (const c of chunks) s.write(c);
  await new Promise<void>((r) => s.once('close', () => r()));
}

t.test('each side counts frames, messages and bytes of a peer; the two sides agree', async (t) => {
  const nodes = await startCluster(3, 21);
  t.teardown(() => Promise.all(nodes.map((n) => n.transport.stop())));
  const [n1, n2, n3] = nodes;
  if (n1 === undefined || n2 === undefined || n3 === undefined) throw new Error('three nodes');
  for (let i = 0; i < 10; i++) n1.transport.send([msg({ group: 1, from: 1, to: 2, index: i, entries: [entry(i, new Uint8Array(100))] })]);
  await waitFor(() => receivedFrom(n2, 1).length === 10, 'ten deliveries');
  const out = pm(n1.transport.peerMetrics(), 2);
  const inn = pm(n2.transport.peerMetrics(), 1);
  t.equal(out.messagesSent, 10, 'sender counts the messages to the peer');
  t.equal(inn.messagesReceived, 10, 'receiver counts the messages from the peer');
  t.equal(inn.framesReceived, out.framesSent, 'every frame sent was received (the Hello is in neither)');
  t.ok(out.bytesOut > 10 * 100 && inn.bytesIn > 10 * 100, 'bytes counted on both sides');
  t.ok(inn.bytesIn <= out.bytesOut, 'the receiver attributes no more bytes than the sender wrote');
  t.equal(pm(n1.transport.peerMetrics(), 3).messagesSent, 0, 'another peer is untouched');
  t.equal(pm(n1.transport.peerMetrics(), 3).bytesOut > 0, true, 'but its Hello was written');
  t.equal(out.errors + inn.errors, 0, 'no errors on a healthy link');
  const copy = n1.transport.peerMetrics();
  n1.transport.send([msg({ group: 1, from: 1, to: 2, index: 99 })]);
  t.equal(pm(copy, 2).messagesSent, 10, 'peerMetrics returns a copy');
});

t.test('fault drops and queue-full drops are counted for the peer they were meant for', async (t) => {
  const nodes = await startCluster(2, 22);
  t.teardown(() => Promise.all(nodes.map((n) => n.transport.stop())));
  const [n1] = nodes;
  if (n1 === undefined) throw new Error('two nodes');
  n1.transport.setFaults(2, { dropProbability: 1 });
  n1.transport.send([msg({ group: 1, from: 1, to: 2 }), msg({ group: 2, from: 1, to: 2 }), msg({ group: 3, from: 1, to: 2 })]);
  t.equal(pm(n1.transport.peerMetrics(), 2).dropsFault, 3);
  t.equal(n1.transport.metrics().dropsFault, 3, 'and in the totals');
  t.same([...n1.transport.faults()], [[2, { dropProbability: 1 }]], 'faults() reports what was set');
  n1.transport.clearFaults();
  t.equal(n1.transport.faults().size, 0, 'clearFaults empties faults()');

  const lone = await startNode(4, 23, { sendQueueFramesMax: 4 });
  t.teardown(() => lone.transport.stop());
  lone.transport.setPeers(new Map([[5, { host: '127.0.0.5', port: 1 }]]));
  for (let i = 0; i < 20; i++) lone.transport.send([msg({ group: 1, from: 4, to: 5, index: i })]);
  const p = pm(lone.transport.peerMetrics(), 5);
  t.equal(p.dropsQueueFull, lone.transport.metrics().dropsQueueFull, 'the only peer owns every queue drop');
  t.ok(p.dropsQueueFull >= 16, 'the frames past the queue bound were dropped');
  await waitFor(() => pm(lone.transport.peerMetrics(), 5).dialFailures > 0, 'a dial failure to a dead port');
  t.ok(pm(lone.transport.peerMetrics(), 5).errors > 0, 'the refused connection is an error of that peer');
});

t.test('refusals after a Hello are errors of that peer; input with no Hello stays in the totals', async (t) => {
  // Node 9 is a silent listener (so n3's own dial to it succeeds) and a raw socket from its address plays its side.
  const held = new Set<net.Socket>();
  const silent = net.createServer((s) => {
    held.add(s);
    s.on('error', () => {});
  });
  await new Promise<void>((r) => silent.listen({ host: '127.0.0.9', port: 0 }, r));
  const a = silent.address();
  if (a === null || typeof a !== 'object') throw new Error('bound');
  const n3 = await startNode(3, 24);
  t.teardown(async () => {
    await n3.transport.stop();
    for (const s of held) s.destroy();
    await new Promise((r) => silent.close(r));
  });
  n3.transport.setPeers(new Map([[9, { host: '127.0.0.9', port: a.port }]]));
  await waitFor(() => n3.transport.peerStatus(9)?.state === 'connected', 'n3 dialed 9');
  const port = n3.transport.address().port;
  const before = { ...pm(n3.transport.peerMetrics(), 9) };

  await rawSession('127.0.0.3', port, '127.0.0.7', [encodeFrame(1, encodeHello(CLUSTER_ID, 42))]);
  await rawSession('127.0.0.3', port, '127.0.0.9', [Buffer.from([0, 0, 0, 0])]);
  t.equal(n3.transport.metrics().framesRefused.unknown_node, 1, 'unknown node counted in the totals');
  t.equal(n3.transport.metrics().framesRefused.frame_empty, 1, 'bad bytes before a Hello counted in the totals');
  t.equal(pm(n3.transport.peerMetrics(), 9).errors, before.errors, 'no peer owns input that came before a Hello');
  t.equal(pm(n3.transport.peerMetrics(), 9).bytesIn, before.bytesIn, 'nor its bytes');

  const good = msg({ group: 1, from: 9, to: 3 });
  await rawSession('127.0.0.3', port, '127.0.0.9', [
    encodeFrame(1, encodeHello(CLUSTER_ID, 9)),
    encodeFrame(2, encodeMessages([good])),
    encodeFrame(2, encodeMessages([{ ...good, from: 1 }])),
  ]);
  const after = pm(n3.transport.peerMetrics(), 9);
  t.equal(n3.transport.metrics().framesRefused.wrong_sender, 1, 'refusal counted in the totals by reason');
  t.equal(after.errors, before.errors + 1, 'and as an error of the handshaken peer');
  t.equal(after.messagesReceived, 1, 'the good message before it counted for the peer');
  t.equal(after.framesReceived, 2, 'both frames after the Hello counted for the peer');
});

t.test('counters are bounded by the peer set: a removed peer is forgotten, a moved peer keeps its counters', async (t) => {
  const n1 = await startNode(1, 25);
  t.teardown(() => n1.transport.stop());
  n1.transport.setPeers(new Map([
    [2, { host: '127.0.0.2', port: 1 }],
    [3, { host: '127.0.0.3', port: 1 }],
  ]));
  n1.transport.setFaults(2, { dropProbability: 1 });
  n1.transport.setFaults(3, { dropProbability: 1 });
  n1.transport.send([msg({ group: 1, from: 1, to: 2 }), msg({ group: 1, from: 1, to: 3 })]);
  n1.transport.setPeers(new Map([[2, { host: '127.0.0.2', port: 2 }]]));
  t.same([...n1.transport.peerMetrics().keys()], [2], 'only configured peers have counters');
  t.equal(pm(n1.transport.peerMetrics(), 2).dropsFault, 1, 'a peer whose address changed keeps its counters');
  n1.transport.setPeers(new Map([[3, { host: '127.0.0.3', port: 1 }]]));
  t.equal(pm(n1.transport.peerMetrics(), 3).dropsFault, 0, 'a peer that left and came back starts from zero');
  t.equal(n1.transport.metrics().dropsFault, 2, 'the totals keep everything');
});
