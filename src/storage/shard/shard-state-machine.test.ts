import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { EntryType } from '../../raft/types.js';
import { randomRows } from '../rows-test-util.js';
import { codeOfAsync as codeOf } from '../storage-test-util.js';
import { KeySpace } from './keys.js';
import { ShardDb } from './shard-db.js';
import { decodeApplyResult, encodeSnapshotDescriptor, decodeSnapshotPage, encodeSnapshotPage } from './shard-records.js';
import type { SnapshotPage, SnapshotPageRequest } from './shard-records.js';
import { ShardStateMachine } from './shard-state-machine.js';
import type { SnapshotPeer, ShardStores } from './shard-state-machine.js';
import { CountingStore, entryOf, shardEntry, tempDir } from './shard-test-util.js';

function stores(): ShardStores {
  return {
    traces: new CountingStore('traces', KeySpace.TracesFirst),
    metrics: new CountingStore('metrics', KeySpace.MetricsFirst),
    logs: new CountingStore('logs', KeySpace.LogsFirst),
  };
}

const noPeer: SnapshotPeer = {
  fetchPage: () => Promise.reject(new Error('no peer in this test')),
};

function machine(dir: string, peer: SnapshotPeer = noPeer, group = 1): ShardStateMachine {
  return new ShardStateMachine({ group, dir, makeStores: stores, peer, nowMs: () => 1_000_000 });
}

function counting(sm: ShardStateMachine): { traces: number; metrics: number; logs: number } {
  const s = sm.stores as unknown as Record<'traces' | 'metrics' | 'logs', CountingStore<unknown>>;
  return { traces: s.traces.allRows(), metrics: s.metrics.allRows(), logs: s.logs.allRows() };
}

function requestFor(seed: number, n: number, keyHex: string, part = 0, parts = 1, t0 = 1_000): Uint8Array {
  const rows = randomRows(new SeededRand(seed), { spans: n, points: n, logs: n });
  return shardEntry({ tenant: 'default', idempotencyKey: keyHex, part, parts, leaderTimeMs: t0, spans: rows.spans, points: rows.points, logs: rows.logs });
}

function hex(i: number): string {
  return i.toString(16).padStart(16, '0');
}

t.test('a retried (key, part) is applied once; another part of the key is applied', async (t) => {
  const { dir, cleanup } = tempDir('otlpdb-shard-');
  t.teardown(cleanup);
  const sm = machine(dir);
  await sm.open({ index: 0, data: new Uint8Array(0) });
  const e = requestFor(1, 3, hex(7));
  const [r1, r2, r3] = sm.apply([entryOf(1, e), entryOf(2, e), entryOf(3, requestFor(1, 3, hex(7), 1, 2))]);
  const a = decodeApplyResult(r1 as Uint8Array);
  t.equal(a.duplicate, false);
  t.same([a.spans.accepted, a.points.accepted, a.logs.accepted], [3, 3, 3]);
  t.equal(decodeApplyResult(r2 as Uint8Array).duplicate, true, 'the retry is a duplicate');
  t.equal(decodeApplyResult(r3 as Uint8Array).duplicate, false, 'part 1 of the same key is new');
  t.same(counting(sm), { traces: 6, metrics: 6, logs: 6 });
  t.equal(sm.appliedIndex(), 3);
  await sm.close();
});

t.test('a malformed entry stores nothing and says why; empty and ConfChange entries only advance', async (t) => {
  const { dir, cleanup } = tempDir('otlpdb-shard-');
  t.teardown(cleanup);
  const sm = machine(dir);
  await sm.open({ index: 0, data: new Uint8Array(0) });
  const res = sm.apply([entryOf(1, Uint8Array.of(1, 2, 3)), entryOf(2, new Uint8Array(0)), { index: 3, term: 1, type: EntryType.ConfChange, data: Uint8Array.of(0) }]);
  t.match(decodeApplyResult(res[0] as Uint8Array).invalid, /./);
  t.equal((res[1] as Uint8Array).length, 0);
  t.equal((res[2] as Uint8Array).length, 0);
  t.equal(sm.appliedIndex(), 3);
  t.same(counting(sm), { traces: 0, metrics: 0, logs: 0 });
  await sm.close();
});

t.test('flush writes the durable index with the rows; a restart resumes there and keeps the idempotency window', async (t) => {
  const { dir, cleanup } = tempDir('otlpdb-shard-');
  t.teardown(cleanup);
  const sm = machine(dir);
  await sm.open({ index: 0, data: new Uint8Array(0) });
  sm.apply([entryOf(1, requestFor(2, 4, hex(1))), entryOf(2, requestFor(3, 4, hex(2)))]);
  t.equal(sm.flushDue(1_000_000), false, 'a small young head does not ask for a flush');
  t.equal(await sm.flush(), 2);
  t.equal(sm.durableIndex(), 2);
  sm.apply([entryOf(3, requestFor(4, 4, hex(3)))]); // Not flushed: lost at restart, replayed by Raft.
  t.equal(sm.stats().logs.rows, 8, 'stats count durable rows');
  await sm.close();

  const again = machine(dir);
  await again.open({ index: 0, data: new Uint8Array(0) });
  t.equal(again.appliedIndex(), 2, 'restart at the durable index');
  t.equal(again.durableIndex(), 2);
  t.same(counting(again), { traces: 8, metrics: 8, logs: 8 });
  const [dup, fresh] = again.apply([entryOf(3, requestFor(2, 4, hex(1))), entryOf(4, requestFor(4, 4, hex(3)))]);
  t.equal(decodeApplyResult(dup as Uint8Array).duplicate, true, 'the window survived the restart');
  t.equal(decodeApplyResult(fresh as Uint8Array).duplicate, false);
  const skipped = again.apply([entryOf(4, requestFor(9, 1, hex(9)))]);
  t.equal((skipped[0] as Uint8Array).length, 0, 'an entry at or below the applied index is skipped');
  t.equal(again.appliedIndex(), 4);
  await again.close();
});

t.test('the Raft snapshot may only be ahead of the files when it is the empty bootstrap image', async (t) => {
  const { dir, cleanup } = tempDir('otlpdb-shard-');
  t.teardown(cleanup);
  const boot = machine(dir);
  await boot.open({ index: 1, data: new Uint8Array(0) });
  t.equal(boot.appliedIndex(), 1, 'a bootstrap snapshot is the empty state at index 1');
  await boot.close();
  const bad = machine(dir);
  t.equal(await codeOf(bad.open({ index: 9, data: encodeSnapshotDescriptor(1, 9) })), 'ERR_CORRUPTION');
  await bad.close();
});

/** pipePeer serves pages from `source`, through the page codec, optionally dropping one page (a planted fault). */
function pipePeer(source: ShardStateMachine, dropPage = -1): SnapshotPeer & { pages: number } {
  const p = {
    pages: 0,
    fetchPage: async (_peer: number, req: SnapshotPageRequest): Promise<SnapshotPage> => {
      let page = await source.serveSnapshotPage(req);
      if (p.pages === dropPage) page = await source.serveSnapshotPage({ ...req, session: page.session });
      p.pages++;
      return decodeSnapshotPage(encodeSnapshotPage(page));
    },
  };
  return p;
}

t.test('a replica installs a peer durable state streamed in bounded pages; a lost page is caught', async (t) => {
  const a = tempDir('otlpdb-shard-a-');
  const b = tempDir('otlpdb-shard-b-');
  const c = tempDir('otlpdb-shard-c-');
  t.teardown(() => {
    a.cleanup();
    b.cleanup();
    c.cleanup();
  });
  const leader = machine(a.dir);
  await leader.open({ index: 0, data: new Uint8Array(0) });
  for (let i = 1; i <= 6; i++) leader.apply([entryOf(i, requestFor(100 + i, 200, hex(i)))]);
  await leader.flush();
  leader.apply([entryOf(7, requestFor(200, 5, hex(77)))]); // In the head only: not part of the stream.
  const peer = pipePeer(leader);
  const follower = machine(b.dir, peer);
  await follower.open({ index: 0, data: new Uint8Array(0) });
  await follower.stageSnapshot(1, 6, encodeSnapshotDescriptor(1, 6));
  t.ok(peer.pages >= 4, `3,600 keys took ${peer.pages} pages of at most 1,024`);
  t.equal(follower.stagedFor(6), true);
  await follower.installSnapshot(6, encodeSnapshotDescriptor(1, 6));
  t.equal(follower.appliedIndex(), 6);
  t.same(counting(follower), { traces: 1200, metrics: 1200, logs: 1200 });
  const [dup] = follower.apply([entryOf(7, requestFor(101, 200, hex(1)))]);
  t.equal(decodeApplyResult(dup as Uint8Array).duplicate, true, 'the window came with the state');

  const lossy = machine(c.dir, pipePeer(leader, 1));
  await lossy.open({ index: 0, data: new Uint8Array(0) });
  t.equal(await codeOf(lossy.stageSnapshot(1, 6, encodeSnapshotDescriptor(1, 6))), 'ERR_CORRUPTION', 'a dropped page fails the digest');
  t.equal(lossy.stagedFor(6), false);
  t.equal(await codeOf(lossy.stageSnapshot(1, 9, encodeSnapshotDescriptor(1, 9))), 'ERR_UNAVAILABLE', 'a source behind the snapshot refuses');
  await Promise.all([leader.close(), follower.close(), lossy.close()]);
});

t.test('after a crash, a complete stage is swapped in only if the WAL accepted its snapshot', async (t) => {
  for (const walIndex of [6, 5]) {
    const a = tempDir('otlpdb-shard-a-');
    const b = tempDir('otlpdb-shard-b-');
    t.teardown(() => {
      a.cleanup();
      b.cleanup();
    });
    const leader = machine(a.dir);
    await leader.open({ index: 0, data: new Uint8Array(0) });
    for (let i = 1; i <= 6; i++) leader.apply([entryOf(i, requestFor(300 + i, 10, hex(i)))]);
    await leader.flush();
    const follower = machine(b.dir, pipePeer(leader));
    await follower.open({ index: 0, data: new Uint8Array(0) });
    follower.apply([entryOf(1, requestFor(999, 2, hex(999)))]);
    await follower.flush();
    await follower.stageSnapshot(1, 6, encodeSnapshotDescriptor(1, 6));
    await follower.close(); // A crash between staging and installing.
    const reopened = machine(b.dir);
    await reopened.open({ index: walIndex, data: encodeSnapshotDescriptor(1, walIndex) }).catch(() => undefined);
    if (walIndex === 6) {
      t.equal(reopened.appliedIndex(), 6, 'the WAL names the snapshot: the stage is swapped in');
      t.same(counting(reopened), { traces: 60, metrics: 60, logs: 60 });
    }
    t.notOk(existsSync(join(b.dir, 'stage-6')), 'no stage is left behind');
    await Promise.all([leader.close(), reopened.close()]);
  }
});

t.test('an interrupted swap (db moved to old/, stage not yet renamed) is finished on open', async (t) => {
  const { dir, cleanup } = tempDir('otlpdb-shard-');
  t.teardown(cleanup);
  const sm = machine(dir);
  await sm.open({ index: 0, data: new Uint8Array(0) });
  sm.apply([entryOf(1, requestFor(5, 2, hex(5)))]);
  await sm.flush();
  await sm.close();
  // Simulate the crash: db renamed to old, no stage.
  const { renameSync } = await import('node:fs');
  renameSync(join(dir, 'db'), join(dir, 'old'));
  const again = machine(dir);
  await again.open({ index: 0, data: new Uint8Array(0) });
  t.equal(again.appliedIndex(), 1, 'old/ is restored when db/ is missing');
  await again.close();
  // A marker without its stage directory is ignored and removed.
  writeFileSync(join(dir, 'stage-9.done'), '9');
  mkdirSync(join(dir, 'stage-8'));
  const third = machine(dir);
  await third.open({ index: 9, data: encodeSnapshotDescriptor(1, 9) }).catch(() => undefined);
  t.notOk(existsSync(join(dir, 'stage-9.done')));
  t.notOk(existsSync(join(dir, 'stage-8')));
  await third.close();
});

t.test('a directory of another group is refused as corruption', async (t) => {
  const { dir, cleanup } = tempDir('otlpdb-shard-');
  t.teardown(cleanup);
  const sm = machine(dir, noPeer, 2);
  await sm.open({ index: 0, data: new Uint8Array(0) });
  sm.apply([entryOf(1, requestFor(5, 1, hex(5)))]);
  await sm.flush();
  await sm.close();
  const other = machine(dir, noPeer, 3);
  t.equal(await codeOf(other.open({ index: 0, data: new Uint8Array(0) })), 'ERR_CORRUPTION');
  await other.close();
  const db = await ShardDb.open(join(dir, 'db'));
  t.ok((await db.get(Uint8Array.of(KeySpace.Meta))) !== undefined, 'the meta record is there');
  await db.close();
});
