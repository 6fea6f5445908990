import t from 'tap';
import { newMessage } from './message.js';
import { SNAPSHOT_CHUNK_RESENDS_MAX } from './raft.js';
import { SnapshotReceiver } from './snapshot-receiver.js';
import { TestNetwork, bytes, text } from './test-network.js';
import { MessageType, ProgressState } from './types.js';
import type { Message, SnapshotChunk } from './types.js';

const image = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31) & 0xff);

function behindCompactedLeader(imageBytes: number, config = {}): { net: TestNetwork; snapIndex: number; img: Uint8Array } {
  const net = new TestNetwork([1, 2, 3], { config: { snapshotChunkBytesMax: 1000, ...config } });
  net.campaign(1);
  net.isolate(3);
  for (let i = 0; i < 20; i++) net.propose(1, bytes(`s${i}`));
  const img = image(imageBytes);
  const snapIndex = net.compact(1, img);
  return { net, snapIndex, img };
}

const snapsTo = (msgs: readonly Message[], to: number): SnapshotChunk[] =>
  msgs.filter((m) => m.type === MessageType.Snap && m.to === to).map((m) => m.snapshot as SnapshotChunk);

t.test('Figure 13: a follower behind a compacted log receives the snapshot in chunks, installs it, then catches up', async (t) => {
  const { net, snapIndex, img } = behindCompactedLeader(4500);
  t.ok(net.node(1).storage.firstIndex() > 2, 'leader log compacted');
  const before = net.delivered.length;
  net.heal();
  net.tick(3);
  const chunks = snapsTo(net.delivered.slice(before), 3);
  t.same(chunks.map((c) => c.offset), [0, 1000, 2000, 3000, 4000], 'five chunks, in order, one at a time');
  t.same(chunks.map((c) => c.done), [false, false, false, false, true], 'only the last is done');
  t.ok(chunks.every((c) => c.totalBytes === 4500 && c.metadata.index === snapIndex));
  const n3 = net.node(3);
  t.equal(n3.snapshots.length, 1, 'the Ready carried the snapshot for the driver');
  t.same(n3.snapshots[0]!.data, img, 'reassembled image equals the leader image');
  t.equal(n3.snapshots[0]!.metadata.index, snapIndex);
  t.equal(net.node(1).raw.status().progress?.[3]?.state, ProgressState.Replicate, 'back to replicate after the snapshot');
  net.propose(1, bytes('after'));
  t.same(n3.applied.map((e) => text(e.data)), ['after'], 'then catches up by appends');
  t.equal(n3.raw.status().commit, net.node(1).raw.status().commit);
  const ack = net.delivered.slice(before).find((m) => m.type === MessageType.AppResp && m.from === 3 && m.index === snapIndex);
  t.ok(ack, 'the follower acks the installed snapshot with AppResp index = snapshot index');
});

t.test('Figure 13: a lost chunk is resent at the same offset after a timeout; the transfer does not restart', async (t) => {
  const { net } = behindCompactedLeader(3500);
  net.heal();
  let droppedOnce = false;
  net.filter = (m) => {
    if (!droppedOnce && m.type === MessageType.Snap && m.snapshot?.offset === 2000) {
      droppedOnce = true;
      return false;
    }
    return true;
  };
  const before = net.delivered.length;
  net.tick(3);
  t.equal(net.node(1).raw.status().progress?.[3]?.state, ProgressState.Snapshot, 'waiting for the lost chunk ack');
  net.tick(30);
  const offsets = snapsTo(net.delivered.slice(before), 3).map((c) => c.offset);
  t.same(offsets, [0, 1000, 2000, 3000], 'the lost chunk was resent, then the transfer completed');
  t.equal(net.node(3).snapshots.length, 1);
});

t.test('Figure 13: a lost chunk acknowledgement makes the leader resend; the follower acknowledges the duplicate', async (t) => {
  const { net, img } = behindCompactedLeader(3500);
  net.heal();
  let droppedOnce = false;
  net.filter = (m) => {
    if (!droppedOnce && m.type === MessageType.SnapResp && m.rejectHint === 2000) {
      droppedOnce = true;
      return false;
    }
    return true;
  };
  const before = net.delivered.length;
  net.tick(30);
  const offsets = snapsTo(net.delivered.slice(before), 3).map((c) => c.offset);
  t.same(offsets, [0, 1000, 1000, 2000, 3000], 'chunk 1000 sent twice, nothing restarted');
  t.equal(net.node(3).snapshots.length, 1);
  t.same(net.node(3).snapshots[0]!.data, img, 'the duplicate did not corrupt the image');
});

t.test('Figure 13: a follower that never answers is resent a bounded number of times, then probed', async (t) => {
  const { net } = behindCompactedLeader(3500);
  net.heal();
  net.filter = (m) => !(m.type === MessageType.Snap && m.to === 3 && m.snapshot?.offset === 1000);
  const before = net.dropped.length;
  net.tick(2);
  t.equal(net.node(1).raw.status().progress?.[3]?.state, ProgressState.Snapshot);
  net.tick(5 * SNAPSHOT_CHUNK_RESENDS_MAX + 2);
  const attempted = net.dropped.slice(before).filter((m) => m.type === MessageType.Snap && m.to === 3 && m.snapshot?.offset === 1000);
  t.ok(attempted.length >= 1 + SNAPSHOT_CHUNK_RESENDS_MAX, `resent ${attempted.length - 1} times`);
  t.ok(attempted.length <= 2 + 2 * SNAPSHOT_CHUNK_RESENDS_MAX, 'resends are bounded');
});

t.test('Figure 13: a follower that lost its partial image rejects; the leader restarts from 0', async (t) => {
  const { net, snapIndex } = behindCompactedLeader(3500);
  net.heal();
  let sentTo3: Message[] = [];
  net.filter = (m) => {
    if (m.type === MessageType.Snap && m.to === 3) {
      sentTo3.push(m);
      return m.snapshot?.offset === 0; // Deliver only the first chunk.
    }
    return true;
  };
  net.tick(2);
  t.same(sentTo3.map((m) => m.snapshot?.offset), [0, 1000]);
  // The follower (as if restarted) gets chunk 1000 without chunk 0: it refuses.
  const n3 = net.node(3);
  const fresh = new SnapshotReceiver(1 << 20);
  t.equal(fresh.receive(sentTo3[1]!.snapshot!), null, 'a receiver without the start refuses a middle chunk');
  const err = n3.raw.step(newMessage(7, 1, { ...sentTo3[1]!, snapshot: { ...sentTo3[1]!.snapshot!, offset: 2000 } }));
  t.equal(err, null);
  const rd = n3.raw.ready();
  const resp = rd.messages.find((m) => m.type === MessageType.SnapResp);
  t.equal(resp?.reject, true, 'out-of-order chunk rejected');
  n3.raw.advance();
  sentTo3 = [];
  net.node(1).raw.step(resp!);
  net.filter = null;
  net.tick(3);
  t.equal(sentTo3.length, 0, 'filter removed');
  t.equal(n3.snapshots.length, 1, 'installed after restarting');
  t.equal(n3.snapshots[0]!.metadata.index, snapIndex);
});

t.test('Figure 13: the follower bounds the image by snapshotBytesMax and refuses a larger one', async (t) => {
  const { net } = behindCompactedLeader(4500, { snapshotBytesMax: 4000 });
  net.heal();
  const before = net.delivered.length;
  net.tick(3);
  const resps = net.delivered.slice(before).filter((m) => m.type === MessageType.SnapResp && m.from === 3);
  t.ok(resps.length >= 1 && resps.every((m) => m.reject), 'every chunk refused');
  t.equal(net.node(3).snapshots.length, 0, 'nothing installed');
});

t.test('a snapshot older than the follower commit index is ignored (the follower answers with its commit index)', async (t) => {
  const net = new TestNetwork([1, 2, 3]);
  net.campaign(1);
  for (let i = 0; i < 5; i++) net.propose(1, bytes(`x${i}`));
  const n2 = net.node(2);
  const commit = n2.raw.status().commit;
  const md = { index: 2, term: net.raft(1).term, confState: { voters: [1, 2, 3], learners: [] } };
  n2.raw.step(
    newMessage(7, 1, {
      type: MessageType.Snap,
      to: 2,
      term: net.raft(1).term,
      snapshot: { metadata: md, offset: 0, totalBytes: 3, data: new Uint8Array(3), done: true },
    }),
  );
  const rd = n2.raw.ready();
  t.equal(rd.snapshot, null, 'not installed');
  const resp = rd.messages.find((m) => m.type === MessageType.AppResp);
  t.equal(resp?.index, commit, 'answers with its commit index');
  n2.raw.advance();
});

t.test('a chunk of a different snapshot discards the partial image', async (t) => {
  const r = new SnapshotReceiver(10_000);
  const md = (index: number) => ({ index, term: 2, confState: { voters: [1], learners: [] } });
  t.ok(r.receive({ metadata: md(10), offset: 0, totalBytes: 20, data: new Uint8Array(10), done: false }));
  t.equal(r.receivedBytes, 10);
  t.equal(r.receive({ metadata: md(11), offset: 10, totalBytes: 20, data: new Uint8Array(10), done: true }), null, 'other snapshot refused');
  t.equal(r.receivedBytes, 0, 'partial image discarded');
  const a = r.receive({ metadata: md(11), offset: 0, totalBytes: 4, data: Uint8Array.of(1, 2), done: false });
  t.equal(a?.snapshot, null);
  const b = r.receive({ metadata: md(11), offset: 2, totalBytes: 4, data: Uint8Array.of(3, 4), done: true });
  t.same(b?.snapshot?.data, Uint8Array.of(1, 2, 3, 4));
});

t.test('reportSnapshot(failed) falls back to probe; an unacknowledged snapshot times out to probe', async (t) => {
  const { net } = behindCompactedLeader(3500);
  net.heal();
  net.filter = (m) => !(m.type === MessageType.Snap && m.to === 3);
  net.tick(2);
  t.equal(net.node(1).raw.status().progress?.[3]?.state, ProgressState.Snapshot);
  net.node(1).raw.reportSnapshot(3, true);
  t.equal(net.node(1).raw.status().progress?.[3]?.state, ProgressState.Probe, 'failure reported: probe');
  net.tick(2);
  t.equal(net.node(1).raw.status().progress?.[3]?.state, ProgressState.Snapshot, 'probing finds the log compacted again');
  let sawProbe = false;
  // Resends every electionTicks/2 = 5 ticks, SNAPSHOT_CHUNK_RESENDS_MAX times, then Probe.
  for (let k = 0; k < (SNAPSHOT_CHUNK_RESENDS_MAX + 2) * 5; k++) {
    net.node(1).raw.tick();
    if (net.node(1).raw.status().progress?.[3]?.state === ProgressState.Probe) sawProbe = true;
    net.deliverAll();
  }
  t.ok(sawProbe, 'no chunk ack after the bounded resends: back to probe');
});
