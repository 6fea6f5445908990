import { setTimeout as sleep } from 'node:timers/promises';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import t from 'tap';
import { pollUntil } from '../../src/node-test-util.js';
import { LocalCluster, electionTimeoutMs, otlpdbSync, pidGone } from './cluster-test-util.js';
import type { ClusterSpec, ClusterView, StartedNode } from './cluster-test-util.js';

// Real clusters started through `otlpdb cluster up --detach` on 127.0.0.1
// (--port-step 1): one shared by the leader, KV and `down` checks, and one
// each for the kill -9 and SIGTERM tests, each on its own port slot in
// 28400-28459: outside the kernel's ephemeral range (where node-test-util's
// freePort draws) and apart from cluster.test.ts (27410-27610). No assertion is
// about speed except the one liveness bound the failover issue names (a new
// meta leader within three election timeouts of a kill -9), and that one
// carries an explicit, large slack. Every failure message carries the
// cluster dir and the tails of the node logs. Teardown SIGKILLs every node
// PID the test learnt of (and any process naming its temp dir) and removes
// the dir, pass or fail. Run it with `npx tap`, whose 600 s timeout applies:
// run directly with node, tap's default 30 s timeout ends the file early.

const TICK_MS = 20;
const SHARDS = 2;
const NODES = 3;
const PORT_BASE = 28_400;
const PORT_SLOT_WIDTH = 20;
const POLL_MS = 20;
/** POLLS_MAX bounds every liveness poll to 30 s: far past anything a healthy cluster needs. */
const POLLS_MAX = 1500;
/** FAILOVER_SLACK_MS is the polling and scheduling slack added to the three-election-timeout bound. */
const FAILOVER_SLACK_MS = 5000;
/** STOP_DEADLINE_MS is how long a node may take to exit after SIGTERM. */
const STOP_DEADLINE_MS = 10_000;
/** WRITES_MAX bounds the writes of the failover client. */
const WRITES_MAX = 400;
/** WRITES_AFTER_FAILOVER is how many acknowledged writes the client makes after the new leader is known. */
const WRITES_AFTER_FAILOVER = 20;
/** WRITE_DEADLINE_MS bounds one client write; a write past it has an unknown outcome and is not counted. */
const WRITE_DEADLINE_MS = 2000;
/** READ_CONCURRENCY bounds the reads in flight while checking acknowledged writes. */
const READ_CONCURRENCY = 8;

function spec(slot: number): ClusterSpec {
  const peerPort = PORT_BASE + slot * PORT_SLOT_WIDTH;
  return { peerPort, apiPort: peerPort + PORT_SLOT_WIDTH / 2, tickMs: TICK_MS, shards: SHARDS, nodes: NODES };
}

/** agreedLeaders returns the views of `ids` when all name the same meta leader and every shard has a leader, else null. */
async function agreedLeaders(c: LocalCluster, ids: readonly number[], excluded = 0): Promise<ClusterView[] | null> {
  const views: ClusterView[] = [];
  for (const id of ids) {
    const v = await c.view(id, 500);
    if (v === null) return null;
    views.push(v);
  }
  const first = views[0];
  if (first === undefined) return null;
  const metaOk = (v: ClusterView): boolean =>
    v.meta.leader !== 0 && v.meta.leader !== excluded && v.meta.leader === first.meta.leader && v.meta.term === first.meta.term;
  const shardsOk = (v: ClusterView): boolean => v.shards.length === SHARDS && v.shards.every((s) => s.leader !== 0 && s.leader !== excluded);
  return views.every((v) => metaOk(v) && shardsOk(v)) ? views : null;
}

/**
 * allLinked polls until every node of `ids` reports every other node of
 * `ids` as `connected`. A node is /readyz-ready once it knows its leaders,
 * which can be before its own outbound link to the leader is up (see the
 * report); a write it forwards then fails with 503 "peer is not connected".
 */
async function allLinked(c: LocalCluster, ids: readonly number[]): Promise<boolean> {
  return pollUntil(
    async () => {
      for (const id of ids) {
        const v = await c.view(id, 500);
        if (v === null) return false;
        if (!v.nodes.every((n) => n.id === id || !ids.includes(n.id) || n.state === 'connected')) return false;
      }
      return true;
    },
    POLLS_MAX,
    POLL_MS,
  );
}

/** readAll reads every key of `expected` through node `id`, READ_CONCURRENCY at a time, and returns the mismatches. */
async function readAll(c: LocalCluster, id: number, expected: ReadonlyMap<string, string>): Promise<string[]> {
  const keys = [...expected.keys()];
  const bad: string[] = [];
  for (let i = 0; i < keys.length; i += READ_CONCURRENCY) {
    await Promise.all(
      keys.slice(i, i + READ_CONCURRENCY).map(async (key) => {
        const r = await c.get(id, key);
        if (r.value !== expected.get(key)) bad.push(`${key}: want ${expected.get(key)}, node ${id} answered ${r.status} ${r.body.slice(0, 200)}`);
      }),
    );
  }
  return bad;
}

/** putAll writes every entry through the node `via(i)` picks and returns the entries that did not get 200. */
async function putAll(c: LocalCluster, entries: ReadonlyMap<string, string>, via: (i: number) => number): Promise<string[]> {
  const bad: string[] = [];
  let i = 0;
  for (const [key, value] of entries) {
    const id = via(i++);
    const r = await c.put(id, key, value);
    if (r.status !== 200) bad.push(`PUT ${key} via node ${id}: ${r.status} ${r.body.slice(0, 200)}`);
  }
  return bad;
}

function lastLines(file: string, n: number): string[] {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n);
  } catch {
    return [];
  }
}

/** cleanStopInLog says whether the log's last run ended with `stopping` (SIGTERM) and then `node_stopped` without a failure. */
function cleanStopInLog(file: string): boolean {
  const lines = lastLines(file, 200);
  let at = -1;
  lines.forEach((l, i) => {
    if (l.includes('"event":"stopping"')) at = i;
  });
  if (at < 0 || !lines[at]?.includes('"signal":"SIGTERM"')) return false;
  const after = lines.slice(at + 1);
  const stopped = after.filter((l) => l.includes('"event":"node_stopped"'));
  return stopped.length === 1 && stopped[0]?.includes('"failure":null') === true && !after.some((l) => l.startsWith('otlpdb:'));
}

async function exitWithin(n: StartedNode, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null } | 'deadline'> {
  // An unref'd timer, so a node that exits in time does not keep the test process alive for the rest of the deadline.
  return Promise.race([n.exited, sleep(ms, 'deadline' as const, { ref: false })]);
}

t.test('one cluster from `cluster up --detach`: leaders, KV through every node, then `cluster down`', async (t) => {
  const c = await LocalCluster.up(t, spec(0), 'otlpdb-recovery-basic-');
  await t.test('every node agrees on the meta leader and every shard has a leader after cluster up', async (t) => {
    let views: ClusterView[] | null = null;
    const ok = await pollUntil(async () => (views = await agreedLeaders(c, c.ids())) !== null, POLLS_MAX, POLL_MS);
    t.ok(ok, c.explain(ok, 'all nodes report one meta leader and a leader for every shard'));
    if (views === null) return;
    const [first] = views as ClusterView[];
    t.comment(`meta leader ${first?.meta.leader} term ${first?.meta.term}; shard leaders ${first?.shards.map((s) => `${s.id}:${s.leader}`).join(' ')}`);
    for (const v of views as ClusterView[]) {
      const self = v.nodes.find((n) => n.state === 'self')?.id;
      const member = c.ids().includes(v.meta.leader);
      t.ok(member, c.explain(member, `node ${self} names a member as meta leader (${v.meta.leader})`));
      const ids = v.nodes.map((n) => n.id);
      t.same(ids, c.ids(), c.explain(ids.join() === c.ids().join(), `node ${self} lists every member`));
    }
  });

  await t.test('a key written through any node is read back through every node', async (t) => {
    for (const id of c.ids()) {
      const ok = await c.ready(id, POLLS_MAX, POLL_MS);
      t.ok(ok, c.explain(ok, `node ${id} is ready`));
    }
    const linked = await allLinked(c, c.ids());
    t.ok(linked, c.explain(linked, 'every node reports every peer connected'));
    for (const writer of c.ids()) {
      // Write twice so each read also shows it is not served from an older value.
      for (const round of [1, 2]) {
        const key = `via-${writer}`;
        const value = `value-${writer}-round-${round}`;
        const put = await c.put(writer, key, value);
        t.equal(put.status, 200, c.explain(put.status === 200, `PUT ${key} through node ${writer}: ${put.body}`));
        for (const reader of c.ids()) {
          const got = await c.get(reader, key);
          t.equal(got.value, value, c.explain(got.value === value, `GET ${key} through node ${reader} right after the write: ${got.status} ${got.body}`));
        }
      }
    }
    const absent = await c.get(1, 'never-written');
    t.equal(absent.status, 404, c.explain(absent.status === 404, 'an absent key is 404'));
  });

  await t.test('cluster down leaves no node process behind and removes cluster.json', async (t) => {
    for (const id of c.ids()) {
      const ok = await c.ready(id, POLLS_MAX, POLL_MS);
      t.ok(ok, c.explain(ok, `node ${id} is ready`));
    }
    const down = otlpdbSync(['cluster', 'down', '--dir', c.dir, '--json']);
    t.equal(down.status, 0, c.explain(down.status === 0, `cluster down exits 0 (stderr: ${down.stderr})`));
    for (const n of c.doc.nodes) {
      const gone = pidGone(n.pid);
      t.ok(gone, c.explain(gone, `node ${n.id} pid ${n.pid} is gone after down`));
      const clean = cleanStopInLog(n.log);
      t.ok(clean, c.explain(clean, `node ${n.id} logged a clean stop`));
    }
    const removed = !existsSync(join(c.dir, 'cluster.json'));
    t.ok(removed, c.explain(removed, 'cluster.json is removed'));
  });
});

t.test('kill -9 of the meta leader under writes: a new leader, no acknowledged write lost, the node catches up', async (t) => {
  const c = await LocalCluster.up(t, spec(1), 'otlpdb-recovery-failover-');
  let before: ClusterView[] | null = null;
  const agreed = await pollUntil(async () => (before = await agreedLeaders(c, c.ids())) !== null, POLLS_MAX, POLL_MS);
  t.ok(agreed, c.explain(agreed, 'the cluster agrees on its leaders before the kill'));
  if (before === null) return;
  const old = (before as ClusterView[])[0]?.meta ?? { leader: 0, term: 0 };
  const linked = await allLinked(c, c.ids());
  t.ok(linked, c.explain(linked, 'every node reports every peer connected'));
  const victim = c.entry(old.leader);
  const survivors = c.ids().filter((id) => id !== victim.id);

  // The client: one sequential lane per survivor. Keys are unique so an
  // acknowledged value is exact; `hot-<lane>` is overwritten by its lane, and
  // since a write that missed its deadline may still apply, its final value
  // is at least the last acknowledged one.
  const acked = new Map<string, string>();
  const hotAcked = new Map<number, number>();
  const refused: string[] = [];
  let next = 0;
  let stop = false;
  let ackedAfterFailover = 0;
  let failedOver = false;
  const lane = async (id: number): Promise<void> => {
    while (!stop && next < WRITES_MAX) {
      const n = next++;
      const key = `w-${n}`;
      const value = `v-${n}-via-${id}`;
      const r = await c.put(id, key, value, WRITE_DEADLINE_MS);
      if (r.status === 200) {
        acked.set(key, value);
        if (failedOver) ackedAfterFailover++;
      } else {
        refused.push(`${key} via ${id}: ${r.status} ${r.body.slice(0, 120)}`);
        await sleep(POLL_MS);
      }
      const h = await c.put(id, `hot-${id}`, String(n), WRITE_DEADLINE_MS);
      if (h.status === 200) hotAcked.set(id, n);
    }
  };
  const lanes = Promise.all(survivors.map((id) => lane(id)));
  const warm = await pollUntil(async () => acked.size >= 10, POLLS_MAX, POLL_MS);
  t.ok(warm, c.explain(warm, 'the client is writing before the kill'));

  const killedAt = performance.now();
  process.kill(victim.pid, 'SIGKILL');
  let after: ClusterView[] | null = null;
  let rounds = 0;
  const elected = await pollUntil(
    async () => {
      rounds++;
      return (after = await agreedLeaders(c, survivors, victim.id)) !== null;
    },
    POLLS_MAX,
    POLL_MS,
  );
  const electedMs = performance.now() - killedAt;
  failedOver = true;
  const boundMs = 3 * electionTimeoutMs(TICK_MS) + FAILOVER_SLACK_MS;
  const fresh = (after as ClusterView[] | null)?.[0]?.meta ?? { leader: 0, term: 0 };
  t.comment(
    `killed meta leader ${victim.id} (pid ${victim.pid}, term ${old.term}); survivors agree on meta leader ${fresh.leader} term ${fresh.term} ` +
      `and a leader for every shard after ${electedMs.toFixed(0)} ms (${rounds} poll rounds); bound ${boundMs} ms = 3 x ${electionTimeoutMs(TICK_MS)} ms + ${FAILOVER_SLACK_MS} ms slack`,
  );
  t.ok(elected, c.explain(elected, `the survivors elect a new meta leader and shard leaders (after ${electedMs.toFixed(0)} ms)`));
  t.ok(electedMs <= boundMs, c.explain(electedMs <= boundMs, `a new meta leader within ${boundMs} ms of the kill (took ${electedMs.toFixed(0)} ms)`));
  t.ok(fresh.term > old.term, c.explain(fresh.term > old.term, `the new leader's term ${fresh.term} is past ${old.term}`));

  const flowing = await pollUntil(async () => ackedAfterFailover >= WRITES_AFTER_FAILOVER || next >= WRITES_MAX, POLLS_MAX, POLL_MS);
  stop = true;
  await lanes;
  t.ok(flowing, c.explain(flowing, `writes are acknowledged again after the failover (${ackedAfterFailover})`));
  t.comment(`${acked.size} writes acknowledged, ${refused.length} refused or timed out (${ackedAfterFailover} acknowledged after the failover)`);
  if (refused.length > 0) t.comment(`first refusals: ${refused.slice(0, 5).join(' | ')}`);

  for (const id of survivors) {
    const bad = await readAll(c, id, acked);
    t.same(bad, [], c.explain(bad.length === 0, `every acknowledged write reads back through survivor ${id}`));
    for (const [lane, n] of hotAcked) {
      const got = await c.get(id, `hot-${lane}`);
      const ok = got.value !== null && Number(got.value) >= n;
      t.ok(ok, c.explain(ok, `hot-${lane} through node ${id} is ${got.value}, at least the last acknowledged ${n}`));
    }
  }

  // The leader's commit and the shards' commits right now: the restarted node must reach them.
  const leaderMeta = await c.metaIndexes(fresh.leader);
  t.ok(leaderMeta !== null, c.explain(leaderMeta !== null, `the new leader ${fresh.leader} reports its meta indexes`));
  const shardCommit = new Map<number, number>();
  for (const id of survivors) {
    for (const s of (await c.view(id))?.shards ?? []) shardCommit.set(s.id, Math.max(shardCommit.get(s.id) ?? 0, s.commitIndex));
  }
  const metaTarget = leaderMeta?.commit ?? Number.MAX_SAFE_INTEGER;

  const restarted = c.startNode(victim.id, `n${victim.id}.restart.log`);
  const up = await c.ready(victim.id, POLLS_MAX, POLL_MS, restarted);
  t.ok(up, c.explain(up, `restarted node ${victim.id} (pid ${restarted.pid}) started and is ready`));
  const rejoined = await allLinked(c, c.ids());
  t.ok(rejoined, c.explain(rejoined, 'every node reports every peer connected after the restart'));
  let caught: string = 'no answer yet';
  const caughtUp = await pollUntil(
    async () => {
      const meta = await c.metaIndexes(victim.id, 500);
      const v = await c.view(victim.id, 500);
      if (meta === null || v === null) return false;
      caught = `meta applied ${meta.applied} (target ${metaTarget}), leader ${v.meta.leader}; shards ${v.shards.map((s) => `${s.id}:${s.appliedIndex}/${shardCommit.get(s.id)}`).join(' ')}`;
      return meta.applied >= metaTarget && v.meta.leader === fresh.leader && v.shards.every((s) => s.appliedIndex >= (shardCommit.get(s.id) ?? 0));
    },
    POLLS_MAX,
    POLL_MS,
  );
  t.ok(caughtUp, c.explain(caughtUp, `restarted node ${victim.id} (pid ${restarted.pid}) caught up: ${caught}`));
  t.comment(`restarted node ${victim.id}: ${caught}`);

  // Latest values: overwrite through the survivors, then read through the restarted node (linearizable).
  const latest = new Map<string, string>();
  for (const [i, key] of ['w-0', 'w-1', ...[...acked.keys()].slice(-3), 'after-restart'].entries()) latest.set(key, `latest-${i}`);
  const putBad = await putAll(c, latest, (i) => survivors[i % survivors.length] ?? 0);
  t.same(putBad, [], c.explain(putBad.length === 0, 'the overwrites through the survivors are acknowledged'));
  const expected = new Map([...acked, ...latest]);
  const bad = await readAll(c, victim.id, expected);
  t.same(bad, [], c.explain(bad.length === 0, `the restarted node ${victim.id} reads every acknowledged write and the latest values`));
});

t.test('SIGTERM stops a node cleanly, and the restarted node recovers its data', async (t) => {
  const c = await LocalCluster.up(t, spec(2), 'otlpdb-recovery-sigterm-');
  for (const id of c.ids()) {
    const ok = await c.ready(id, POLLS_MAX, POLL_MS);
    t.ok(ok, c.explain(ok, `node ${id} is ready`));
  }
  let views: ClusterView[] | null = null;
  const agreed = await pollUntil(async () => (views = await agreedLeaders(c, c.ids())) !== null, POLLS_MAX, POLL_MS);
  t.ok(agreed, c.explain(agreed, 'the cluster agrees on its leaders'));
  // Stop the meta leader: the harder case, since the others must elect while it shuts down.
  const linked = await allLinked(c, c.ids());
  t.ok(linked, c.explain(linked, 'every node reports every peer connected'));
  const target = c.entry((views as ClusterView[] | null)?.[0]?.meta.leader ?? 1);
  const others = c.ids().filter((id) => id !== target.id);
  const expected = new Map<string, string>();
  for (let i = 0; i < 10; i++) expected.set(`before-${i}`, `b${i}`);
  let bad = await putAll(c, expected, (i) => c.ids()[i % NODES] ?? 0);
  t.same(bad, [], c.explain(bad.length === 0, 'writes before the stop are acknowledged'));

  // 1. The detached node from cluster.json: not our child, so the exit is read from its log.
  const termAt = performance.now();
  process.kill(target.pid, 'SIGTERM');
  const gone = await pollUntil(async () => pidGone(target.pid), STOP_DEADLINE_MS / POLL_MS, POLL_MS);
  t.comment(`node ${target.id} (meta leader, detached) gone ${(performance.now() - termAt).toFixed(0)} ms after SIGTERM`);
  t.ok(gone, c.explain(gone, `node ${target.id} (pid ${target.pid}) exits within ${STOP_DEADLINE_MS} ms of SIGTERM`));
  const clean = cleanStopInLog(target.log);
  t.ok(clean, c.explain(clean, `${target.log} ends with stopping (SIGTERM) and node_stopped without a failure`));
  const drained = lastLines(target.log, 200).filter((l) => l.includes('"event":"drained"')).pop() ?? '';
  t.match(drained, /"stillLeading":\[\]/, c.explain(drained.includes('"stillLeading":[]'), 'it handed every group it led to another voter before stopping'));

  const during = new Map<string, string>();
  for (let i = 0; i < 10; i++) during.set(`during-${i}`, `d${i}`);
  const writable = await pollUntil(
    async () => {
      const r = await c.put(others[0] ?? 0, 'probe', 'p', WRITE_DEADLINE_MS);
      return r.status === 200;
    },
    POLLS_MAX,
    POLL_MS,
  );
  t.ok(writable, c.explain(writable, 'the two remaining nodes accept writes'));
  bad = await putAll(c, during, (i) => others[i % others.length] ?? 0);
  t.same(bad, [], c.explain(bad.length === 0, 'writes while the node is down are acknowledged'));
  for (const [k, v] of [...during, ['probe', 'p'] as const]) expected.set(k, v);

  // 2. The same node restarted as our child: its exit code is observable.
  const first = c.startNode(target.id, `n${target.id}.restart.log`);
  const ready1 = await c.ready(target.id, POLLS_MAX, POLL_MS, first);
  t.ok(ready1, c.explain(ready1, `restarted node ${target.id} (pid ${first.pid}) is ready`));
  const rejoined1 = await allLinked(c, c.ids());
  t.ok(rejoined1, c.explain(rejoined1, 'every node reports every peer connected after the restart'));
  bad = await readAll(c, target.id, expected);
  t.same(bad, [], c.explain(bad.length === 0, `restarted node ${target.id} reads the writes from before and during its stop`));
  const termAt2 = performance.now();
  process.kill(first.pid, 'SIGTERM');
  const exit = await exitWithin(first, STOP_DEADLINE_MS);
  t.comment(`node ${target.id} (our child) exited ${JSON.stringify(exit)} ${(performance.now() - termAt2).toFixed(0)} ms after SIGTERM`);
  const exitOk = exit !== 'deadline' && exit.code === 0 && exit.signal === null;
  t.ok(exitOk, c.explain(exitOk, `node ${target.id} (pid ${first.pid}) exits with code 0 within ${STOP_DEADLINE_MS} ms of SIGTERM: ${JSON.stringify(exit)}`));
  const clean2 = cleanStopInLog(first.log);
  t.ok(clean2, c.explain(clean2, `${first.log} ends with stopping (SIGTERM) and node_stopped without a failure`));

  // 3. Restarted again from the same WAL: the data is intact.
  const second = c.startNode(target.id, `n${target.id}.restart.log`);
  const ready2 = await c.ready(target.id, POLLS_MAX, POLL_MS, second);
  t.ok(ready2, c.explain(ready2, `node ${target.id} (pid ${second.pid}) is ready again`));
  const rejoined2 = await allLinked(c, c.ids());
  t.ok(rejoined2, c.explain(rejoined2, 'every node reports every peer connected after the restart'));
  bad = await readAll(c, target.id, expected);
  t.same(bad, [], c.explain(bad.length === 0, `node ${target.id} still reads every write after its second restart`));
});
