// Real sockets on 127.0.0.x with OS-chosen ports; every test closes what it opens.
import net from 'node:net';
import t from 'tap';
import { OtlpdbError, isOtlpdbError } from '../errors.js';
import { SeededRand } from '../fs/seeded-rand.js';
import { MessageType } from '../raft/types.js';
import type { Message } from '../raft/types.js';
import { PeerTransport } from './peer-transport.js';
import { CLUSTER_ID, entry, msg, receivedFrom, sleep, startCluster, startNode, waitFor } from './transport-test-util.js';

function bytes(rand: SeededRand, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = rand.intn(256);
  return b;
}

t.test('batches arrive in order per peer pair, groups multiplexed, payloads byte-exact', async (t) => {
  const nodes = await startCluster(3, 1);
  t.teardown(() => Promise.all(nodes.map((n) => n.transport.stop())));
  const [n1, n2, n3] = nodes;
  if (n1 === undefined || n2 === undefined || n3 === undefined) throw new Error('three nodes');
  const rand = new SeededRand(7);
  const sent = new Map<string, Message[]>();
  // 40 driver iterations; each sends to both peers messages of several groups.
  for (let it = 0; it < 40; it++) {
    for (const src of nodes) {
      const batch: Message[] = [];
      for (const dst of nodes) {
        if (dst === src) continue;
        for (let g = 0; g < 3; g++) {
          const m =
            g === 2
              ? msg(
                  {
                    group: 100 + it,
                    from: src.id,
                    to: dst.id,
                    index: it,
                    snapshot: {
                      metadata: { index: it, term: 2, confState: { voters: [1, 2, 3], learners: [4] } },
                      offset: 10,
                      totalBytes: 10 + 300,
                      data: bytes(rand, 300),
                      done: it % 2 === 0,
                    },
                  },
                  MessageType.Snap,
                )
              : msg({ group: g, from: src.id, to: dst.id, index: it, entries: [entry(it, bytes(rand, rand.intn(64))), entry(it + 1, new Uint8Array(0))], context: g === 1 ? bytes(rand, 5) : null });
          batch.push(m);
          const key = `${src.id}->${dst.id}`;
          sent.set(key, [...(sent.get(key) ?? []), m]);
        }
      }
      src.transport.send(batch);
    }
  }
  await waitFor(() => nodes.every((n) => n.received.reduce((k, r) => k + r.msgs.length, 0) === 40 * 3 * 2), 'all deliveries');
  for (const dst of nodes) {
    for (const src of nodes) {
      if (src === dst) continue;
      const got = receivedFrom(dst, src.id);
      const want = sent.get(`${src.id}->${dst.id}`) ?? [];
      t.equal(got.length, want.length, `${src.id}->${dst.id} count`);
      // Deep equality covers order, group, every field and every payload byte.
      t.same(
        got.map((m) => ({ ...m, entries: m.entries.map((e) => ({ ...e, data: [...e.data] })), context: m.context && [...m.context], snapshot: m.snapshot && { ...m.snapshot, data: [...m.snapshot.data] } })),
        want.map((m) => ({ ...m, entries: m.entries.map((e) => ({ ...e, data: [...e.data] })), context: m.context && [...m.context], snapshot: m.snapshot && { ...m.snapshot, data: [...m.snapshot.data] } })),
        `${src.id}->${dst.id} in order and byte-exact`,
      );
    }
  }
  t.equal(n1.transport.metrics().framesSent, 40 * 2, 'one frame per peer per iteration');
});

t.test('the receiver sees the sender dialing from its own address', async (t) => {
  const seen: string[] = [];
  const server = net.createServer((s) => {
    seen.push(s.remoteAddress ?? '');
    s.destroy();
  });
  await new Promise<void>((r) => server.listen({ host: '127.0.0.3', port: 0 }, r));
  const a = server.address();
  if (a === null || typeof a !== 'object') throw new Error('bound');
  const n2 = await startNode(2, 11);
  t.teardown(async () => {
    await n2.transport.stop();
    await new Promise((r) => server.close(r));
  });
  n2.transport.setPeers(new Map([[3, { host: '127.0.0.3', port: a.port }]]));
  await waitFor(() => seen.length > 0, 'a connection');
  t.equal(seen[0], '127.0.0.2', 'source address is the node own address, not 127.0.0.1');

  // And the receiving transport enforces it: node 4 configured at 127.0.0.4 but dialing from 127.0.0.5 is refused.
  const n3 = await startNode(3, 12);
  const impostor = await startNode(5, 13, { nodeId: 4 });
  t.teardown(() => Promise.all([n3.transport.stop(), impostor.transport.stop()]));
  n3.transport.setPeers(new Map([[4, { host: '127.0.0.4', port: impostor.transport.address().port }]]));
  impostor.transport.setPeers(new Map([[3, n3.transport.address()]]));
  impostor.transport.send([msg({ group: 1, from: 4, to: 3 })]);
  await waitFor(() => (n3.transport.metrics().framesRefused.address_mismatch ?? 0) > 0, 'address_mismatch');
  t.equal(n3.received.length, 0, 'nothing delivered from the wrong source address');
});

t.test('unary calls: answer, deadline, remote error, unknown method, stopped peer', async (t) => {
  const nodes = await startCluster(2, 2);
  t.teardown(() => Promise.all(nodes.map((n) => n.transport.stop())));
  const [n1, n2] = nodes;
  if (n1 === undefined || n2 === undefined) throw new Error('two nodes');
  n2.transport.handle('echo', (p, ctx) => new Uint8Array([...p, ctx.from]));
  n2.transport.handle('never', () => new Promise<Uint8Array>(() => {}));
  n2.transport.handle('fail', () => {
    throw new OtlpdbError('ERR_NOT_LEADER', 'not the leader', { leader: 3 });
  });
  await waitFor(() => n1.transport.peerStatus(2)?.state === 'connected', 'connected');

  t.same([...(await n1.transport.call(2, 'echo', new Uint8Array([9, 8]), 2000))], [9, 8, 1], 'answer carries payload and caller id');
  await t.rejects(n1.transport.call(2, 'never', new Uint8Array(0), 50), { code: 'ERR_TIMEOUT' }, 'silent handler times out');
  await t.rejects(n1.transport.call(2, 'fail', new Uint8Array(0), 2000), { code: 'ERR_NOT_LEADER' }, 'remote code comes back');
  await t.rejects(n1.transport.call(2, 'nope', new Uint8Array(0), 2000), { code: 'ERR_INVALID_ARGUMENT' }, 'unknown method');
  await t.rejects(n1.transport.call(2, 'echo', new Uint8Array(0), 0), { code: 'ERR_INVALID_ARGUMENT' }, 'deadline required');
  // Regression (jepsen --nemesis membership --seed 1): a call to a node that left the membership was ERR_INVALID_ARGUMENT,
  // so OTLP answered 400 for a request one of whose parts had committed; it is a retryable ERR_UNAVAILABLE.
  await t.rejects(n1.transport.call(9, 'echo', new Uint8Array(0), 2000), { code: 'ERR_UNAVAILABLE' }, 'a peer that is not configured (left) is retryable');

  // A call in flight when the peer stops fails with ERR_UNAVAILABLE, long before its deadline.
  const inflight = n1.transport.call(2, 'never', new Uint8Array(0), 60_000);
  await sleep(20);
  await n2.transport.stop();
  await t.rejects(inflight, { code: 'ERR_UNAVAILABLE' }, 'in-flight call fails when the peer stops');
  await waitFor(() => n1.transport.peerStatus(2)?.state === 'backoff', 'peer marked down');
  await t.rejects(n1.transport.call(2, 'echo', new Uint8Array(0), 2000), { code: 'ERR_UNAVAILABLE' }, 'stopped peer');
  t.ok(n1.unreachable.includes(2), 'unreachable reported to the driver');

  // stop() rejects this node's own pending calls and is idempotent.
  await n1.transport.stop();
  await n1.transport.stop();
  await t.rejects(n1.transport.call(2, 'echo', new Uint8Array(0), 100), { code: 'ERR_UNAVAILABLE' }, 'stopped transport');
});

t.test('reconnect after the peer restarts on the same port', async (t) => {
  const backoff = { baseMs: 5, maxMs: 40, jitterPercent: 50 };
  const nodes = await startCluster(2, 3, { backoff });
  const [n1, n2] = nodes;
  if (n1 === undefined || n2 === undefined) throw new Error('two nodes');
  const port2 = n2.transport.address().port;
  n1.transport.send([msg({ group: 1, from: 1, to: 2, index: 1 })]);
  await waitFor(() => n2.received.length === 1, 'first delivery');
  await n2.transport.stop();
  await waitFor(() => (n1.transport.peerStatus(2)?.failures ?? 0) >= 3, 'several failed redials');
  t.ok(n1.unreachable.includes(2), 'unreachable reported');
  const unreachableOnce = n1.unreachable.filter((p) => p === 2).length;
  t.equal(unreachableOnce, 1, 'reported once per outage, not per failed redial');

  const n2b = await startNode(2, 33, { port: port2, backoff });
  t.teardown(() => Promise.all([n1.transport.stop(), n2b.transport.stop()]));
  n2b.transport.setPeers(new Map([[1, n1.transport.address()]]));
  await waitFor(() => n1.transport.peerStatus(2)?.state === 'connected', 'reconnected');
  n1.transport.send([msg({ group: 1, from: 1, to: 2, index: 2 })]);
  await waitFor(() => receivedFrom(n2b, 1).some((m) => m.index === 2), 'delivery after restart');
  const m = n1.transport.metrics();
  t.ok(m.reconnects >= 1, 'reconnect counted');
  t.equal(n1.transport.peerStatus(2)?.failures, 0, 'failures reset on success');
});

t.test('backoff grows and is capped while a peer stays down', async (t) => {
  const dead = net.createServer();
  await new Promise<void>((r) => dead.listen({ host: '127.0.0.2', port: 0 }, r));
  const a = dead.address();
  if (a === null || typeof a !== 'object') throw new Error('bound');
  await new Promise((r) => dead.close(r)); // nothing listens on that port now
  const n1 = await startNode(1, 4, { backoff: { baseMs: 1, maxMs: 16, jitterPercent: 0 } });
  t.teardown(() => n1.transport.stop());
  const delays: number[] = [];
  n1.transport.setPeers(new Map([[2, { host: '127.0.0.2', port: a.port }]]));
  let last = 0;
  await waitFor(() => {
    const s = n1.transport.peerStatus(2);
    if (s !== undefined && s.failures !== last && s.state === 'backoff') {
      last = s.failures;
      delays.push(s.lastBackoffMs);
    }
    return last >= 8;
  }, 'eight failed dials');
  // Polling may miss a failure; the delays seen must still follow min(16, 2^(failures-1)).
  for (let i = 1; i < delays.length; i++) t.ok((delays[i] ?? 0) >= (delays[i - 1] ?? 0), `delay ${i} does not shrink`);
  t.equal(delays.at(-1), 16, 'capped at maxMs');
  t.ok(n1.transport.metrics().dialFailures >= 8, 'dial failures counted');
});

t.test('sending to a dead peer never grows the queue past its bounds', async (t) => {
  const n1 = await startNode(1, 5, { sendQueueFramesMax: 16, sendQueueBytesMax: 64 * 1024 });
  t.teardown(() => n1.transport.stop());
  n1.transport.setPeers(new Map([[2, { host: '127.0.0.2', port: 1 }]]));
  const data = new Uint8Array(1000);
  let sent = 0;
  for (let i = 0; i < 2000; i++) {
    n1.transport.send([msg({ group: 1, from: 1, to: 2, index: i, entries: [entry(i, data)] }), msg({ group: 2, from: 1, to: 2, index: i })]);
    sent += 2;
    const s = n1.transport.peerStatus(2);
    if (s === undefined) throw new Error('peer');
    if (s.queuedFrames > 16 || s.queuedBytes > 64 * 1024) t.fail(`queue past its bound at ${i}`);
  }
  const s = n1.transport.peerStatus(2);
  const m = n1.transport.metrics();
  t.ok(s !== undefined && s.queuedFrames <= 16 && s.queuedBytes <= 64 * 1024, 'queue within both bounds');
  t.equal(m.dropsQueueFull + (s?.queuedFrames ?? 0) * 2 + m.messagesSent, sent, 'every message queued, sent or counted as dropped');
  t.ok(m.dropsQueueFull >= sent - 32, 'drops counted');
});

t.test('fault hooks: drop, duplicate, reorder, delay (seeded)', async (t) => {
  const nodes = await startCluster(2, 6);
  t.teardown(() => Promise.all(nodes.map((n) => n.transport.stop())));
  const [n1, n2] = nodes;
  if (n1 === undefined || n2 === undefined) throw new Error('two nodes');
  const send = (index: number): void => n1.transport.send([msg({ group: 1, from: 1, to: 2, index })]);
  const marker = async (index: number): Promise<void> => {
    send(index);
    await waitFor(() => receivedFrom(n2, 1).some((m) => m.index === index), `marker ${index}`);
  };

  n1.transport.setFaults(2, { dropProbability: 1 });
  for (let i = 0; i < 50; i++) send(i);
  n1.transport.clearFaults();
  await marker(1000);
  t.same(receivedFrom(n2, 1).map((m) => m.index), [1000], 'drop 100%: nothing but the marker arrived');
  t.equal(n1.transport.metrics().dropsFault, 50, 'drops counted');

  n2.received.length = 0;
  n1.transport.setFaults(2, { duplicateProbability: 1 });
  for (let i = 0; i < 5; i++) send(i);
  n1.transport.clearFaults();
  await marker(1001);
  t.same(receivedFrom(n2, 1).map((m) => m.index), [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 1001], 'duplicate: every message twice');

  n2.received.length = 0;
  n1.transport.setFaults(2, { reorderProbability: 0.5 });
  for (let i = 0; i < 40; i++) send(i);
  n1.transport.clearFaults(); // releases anything still held back
  await marker(1002);
  const got = receivedFrom(n2, 1).map((m) => m.index).filter((i) => i < 1000);
  t.same([...got].sort((a, b) => a - b), Array.from({ length: 40 }, (_, i) => i), 'reorder: same messages');
  t.not(got.join(','), Array.from({ length: 40 }, (_, i) => i).join(','), 'reorder: order changed');
  t.ok(n1.transport.metrics().reorderedFault > 0, 'reorders counted');

  n2.received.length = 0;
  n1.transport.setFaults(2, { delayMs: 30 });
  send(7);
  t.equal(n1.transport.peerStatus(2)?.queuedFrames, 0, 'delayed frame is not queued yet');
  n1.transport.clearFaults();
  await waitFor(() => receivedFrom(n2, 1).length === 1, 'delayed message');
  t.throws(() => n1.transport.setFaults(2, { dropProbability: 2 }), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => n1.transport.setFaults(9, {}), { code: 'ERR_INVALID_ARGUMENT' });
});

/** rawConnect dials node 3 from `localAddress` and resolves when the node closes the socket. */
async function rawSession(port: number, localAddress: string, chunks: readonly Uint8Array[]): Promise<void> {
  const s = net.connect({ host: '127.0.0.3', port, localAddress });
  s.on('error', () => {});
  await new Promise<void>((r) => s.once('connect', () => r()));
  for (const c of chunks) s.write(c);
  await new Promise<void>((r) => s.once('close', () => r()));
}

function frame(type: number, payload: Uint8Array): Buffer {
  const b = Buffer.alloc(5 + payload.length);
  b.writeUInt32BE(payload.length + 1, 0);
  b.writeUInt8(type, 4);
  b.set(payload, 5);
  return b;
}

t.test('bad input is refused, counted and closed; healthy peers are unaffected', async (t) => {
  const { encodeHello, encodeMessages } = await import('./codec.js');
  const { Packr } = await import('msgpackr');
  const packr = new Packr({ useRecords: false });
  const nodes = await startCluster(3, 8);
  t.teardown(() => Promise.all(nodes.map((n) => n.transport.stop())));
  const [n1, n2, n3] = nodes;
  if (n1 === undefined || n2 === undefined || n3 === undefined) throw new Error('three nodes');
  // Node 9 is a configured member that is not running; a raw socket from its address plays it.
  const peers3 = new Map([
    [1, n1.transport.address()],
    [2, n2.transport.address()],
    [9, { host: '127.0.0.9', port: 1 }],
  ]);
  n3.transport.setPeers(peers3);
  const port = n3.transport.address().port;
  const hello9 = frame(1, encodeHello(CLUSTER_ID, 9));
  const good = msg({ group: 1, from: 9, to: 3 });
  const refused = (reason: string): number => {
    const r = n3.transport.metrics().framesRefused as Record<string, number>;
    // '*' is any reason: random bytes may read as an oversized length or as a bad handshake.
    return reason === '*' ? Object.values(r).reduce((a, b) => a + b, 0) : (r[reason] ?? 0);
  };
  const rand = new SeededRand(99);

  const cases: Array<[string, string, Uint8Array[]]> = [
    ['random bytes', '*', [bytes(rand, 6), bytes(rand, 200)]],
    ['oversized length', 'frame_too_large', [Buffer.from([0xff, 0xff, 0xff, 0xff, 2])]],
    ['zero length', 'frame_empty', [Buffer.from([0, 0, 0, 0])]],
    ['unknown node id', 'unknown_node', [frame(1, encodeHello(CLUSTER_ID, 42))]],
    ['wrong cluster', 'wrong_cluster', [frame(1, encodeHello('other', 9))]],
    ['not msgpack', 'not_msgpack', [hello9, frame(2, Buffer.from([0x92, 0x01]))]],
    ['not an array', 'bad_shape', [hello9, frame(2, Buffer.from([0xc1]))]],
    ['invalid message', 'bad_message', [hello9, frame(2, packr.pack([[1, 3, 9, 3, 1, 0, 0, [], 0, false, 0, 0, null, 'snap?']]))]],
    ['unknown message type', 'bad_message', [hello9, frame(2, packr.pack([[1, 99, 9, 3, 1, 0, 0, [], 0, false, 0, 0, null, null]]))]],
    ['wrong recipient', 'wrong_recipient', [hello9, frame(2, encodeMessages([{ ...good, to: 2 }]))]],
    ['wrong sender', 'wrong_sender', [hello9, frame(2, encodeMessages([{ ...good, from: 1 }]))]],
    ['group out of range', 'group_out_of_range', [hello9, frame(2, encodeMessages([{ ...good, group: 1_000_000 }]))]],
    ['unknown frame type', 'bad_frame_type', [hello9, frame(77, new Uint8Array(3))]],
    ['bad call', 'bad_call', [hello9, frame(3, packr.pack([1, 'm']))]],
  ];
  for (const [name, reason, chunks] of cases) {
    const before = refused(reason);
    const from = name === 'unknown node id' || name.startsWith('random') || name.includes('length') ? '127.0.0.7' : '127.0.0.9';
    await rawSession(port, from, chunks);
    t.equal(refused(reason), before + 1, `${name}: connection closed and counted as ${reason}`);
  }
  t.equal(receivedFrom(n3, 9).length, 0, 'nothing from the bad sessions was delivered');

  // A valid session from node 9 is delivered: the refusals above were for cause.
  n3.received.length = 0;
  const ok = net.connect({ host: '127.0.0.3', port, localAddress: '127.0.0.9' });
  await new Promise<void>((r) => ok.once('connect', () => r()));
  ok.write(Buffer.concat([hello9, frame(2, encodeMessages([good]))]));
  await waitFor(() => receivedFrom(n3, 9).length === 1, 'valid raw delivery');
  ok.destroy();

  // Healthy peers still talk both ways.
  n1.transport.send([msg({ group: 5, from: 1, to: 3, index: 77 })]);
  n3.transport.send([msg({ group: 5, from: 3, to: 2, index: 78 })]);
  await waitFor(() => receivedFrom(n3, 1).some((m) => m.index === 77), 'n1 -> n3 after bad input');
  await waitFor(() => receivedFrom(n2, 3).some((m) => m.index === 78), 'n3 -> n2 after bad input');
  t.pass('healthy peers unaffected');
});

t.test('constructor and setPeers refuse bad configuration', async (t) => {
  const base = { clusterId: 'c', nodeId: 1, host: '127.0.0.1', port: 0, peers: new Map(), rand: new SeededRand(1) };
  t.throws(() => new PeerTransport({ ...base, nodeId: 0 }), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => new PeerTransport({ ...base, peers: new Map([[1, { host: '127.0.0.1', port: 5 }]]) }), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => new PeerTransport({ ...base, clusterId: 'x'.repeat(300) }), { code: 'ERR_LIMIT_EXCEEDED' });
  const tr = new PeerTransport(base);
  await tr.stop();
  tr.send([msg({ group: 1, from: 1, to: 2 })]);
  t.equal(tr.metrics().dropsStopped, 1, 'send after stop is counted, not thrown');
  const err = await tr.call(2, 'x', new Uint8Array(0), 10).catch((e: unknown) => e);
  t.ok(isOtlpdbError(err, 'ERR_UNAVAILABLE'), 'call on a stopped transport');
});

t.test('start is idempotent; a port in use fails with ERR_UNAVAILABLE; a stopped transport stays stopped', async (t) => {
  const n1 = await startNode(1, 21);
  t.teardown(() => n1.transport.stop());
  await n1.transport.start();
  const clash = new PeerTransport({ clusterId: CLUSTER_ID, nodeId: 2, host: '127.0.0.1', port: n1.transport.address().port, peers: new Map(), rand: new SeededRand(2) });
  await t.rejects(clash.start(), { code: 'ERR_UNAVAILABLE' }, 'address in use');
  await t.rejects(clash.start(), { code: 'ERR_UNAVAILABLE' }, 'not restartable');
  await clash.stop();
});
