/**
 * planted-bugs-live.test.ts — the suite catches planted bugs on a real
 * cluster (issue 9, "Planted bugs"). One 3-node cluster is started through
 * the real CLI with two bugs planted by the test-only environment
 * (src/node.ts readTestPlants; LiveClusterOptions.testNodeEnv), and the
 * harness's pieces (live cluster, iptables partitioner, workloads and their
 * checkers) drive a targeted scenario for each:
 *
 * - read-without-readindex: put v0, let node 3 apply it, cut node 3 off,
 *   put v1 on the majority, read through node 3. The checker must call the
 *   register history not linearizable (node 3 answers the old v0).
 * - ack-before-commit: cut node 3 off, send OTLP requests to it (the plant
 *   acknowledges them at once), keep it cut off while the majority elects
 *   new leaders, kill -9 it, heal, restart it. The set checker must report
 *   the acknowledged spans lost.
 *
 * A control runs the very same scenarios on a cluster without plants and
 * must come out valid, so the INVALID verdicts are the plants' doing.
 *
 * The third planted bug, a WAL that skips fsync (`wal-skip-fsync`), needs a
 * power cut: kill -9 alone cannot show it, since unsynced bytes outlive the
 * process in the page cache. So its cluster runs on the test fixture
 * `wal-lazy-fs` (src/fs/lazy-file-system.ts: unsynced WAL bytes live in the
 * node process and die with it), takes acknowledged spans through every
 * node, and then every node is killed at once and restarted: the set
 * checker must find acknowledged spans lost with the plant, and none lost
 * with the fixture alone (the control).
 *
 * Ports and iptables chain are the suite's plant* ones (JepsenLimits), so
 * this file may run beside cli/commands/jepsen.test.ts. Every failure prints
 * how to reproduce it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import type { Test } from 'tap';
import { JepsenLimits } from '../../src/limits.js';
import { TEST_HOOKS_ENV, TEST_HOOKS_TOKEN, TEST_PLANT_ENV, readTestPlants } from '../../src/node.js';
import { builtCliPath } from '../../src/repo-root.js';
import { IptablesPartitioner, probeIptables } from '../nemeses/iptables.js';
import type { WorkloadResult } from '../report/results.js';
import { Prng } from '../sim/prng.js';
import { REGISTER_KEY_PREFIX, performRegister, registerWorkload } from '../workloads/register.js';
import type { RegisterValue } from '../workloads/register.js';
import { drawSpans, sendSpans, setWorkload } from '../workloads/set.js';
import type { WorkloadContext } from '../workloads/types.js';
import { HistoryRecorder } from './history.js';
import { LiveCluster } from './live-cluster.js';

/** SEED draws the span ids; the nodes' own seeds are in their logs. */
const SEED = 9;
const REPRODUCE = `reproduce: npm run build && npx tap dist/jepsen-style-tests/harness/planted-bugs-live.test.js (seed ${SEED})`;
/** CUT_OFF is the node the scenarios cut off from the other two. */
const CUT_OFF = 3;
const MAJORITY = [1, 2];
const PLANTS = 'ack-before-commit,read-without-readindex';
/** POWER_CUT_FIXTURE is the power-cut scenario's control; POWER_CUT_PLANTED adds the WAL's missing fsync. */
const POWER_CUT_FIXTURE = 'wal-lazy-fs';
const POWER_CUT_PLANTED = 'wal-lazy-fs,wal-skip-fsync';

interface ScenarioResult {
  readonly register: WorkloadResult;
  readonly set: WorkloadResult;
  /** staleRead is the value node 3 answered while cut off (undefined when it did not answer ok). */
  readonly staleRead: string | null | undefined;
  readonly setAcked: number;
  readonly logs: string;
}

async function recovered(cluster: LiveCluster): Promise<string | null> {
  const t0 = performance.now();
  let why = await cluster.notRecovered();
  while (why !== null && performance.now() - t0 < JepsenLimits.recoveryDeadlineMs) {
    await sleep(JepsenLimits.recoveryPollMs);
    why = await cluster.notRecovered();
  }
  return why;
}

/** putUntilOk puts `value` through the majority's nodes until one acknowledges it. */
async function putUntilOk(ctx: WorkloadContext, key: string, value: string): Promise<boolean> {
  for (let i = 0; i < JepsenLimits.plantAttemptsMax; i++) {
    const node = MAJORITY[i % MAJORITY.length] ?? 1;
    const op = await performRegister(ctx, 0, node, { type: 'put', key, value });
    if (op.outcome === 'ok') return true;
    await sleep(JepsenLimits.recoveryPollMs);
  }
  return false;
}

/** majorityLeadsAll waits (bounded by JepsenLimits.plantElectMsMax) until node 1 sees the meta group and every shard led by a node of MAJORITY. */
async function majorityLeadsAll(cluster: LiveCluster): Promise<boolean> {
  const t0 = performance.now();
  while (performance.now() - t0 < JepsenLimits.plantElectMsMax) {
    const v = await cluster.clusterView();
    const leaders = [v?.meta?.leader ?? 0, ...(v?.shards ?? []).map((s) => s.leader)];
    if (v !== null && (v.shards ?? []).length > 0 && leaders.every((l) => MAJORITY.includes(l))) return true;
    await sleep(JepsenLimits.recoveryPollMs);
  }
  return false;
}

/** startPlantCluster starts this file's 3-node cluster in `dir` on the plant ports (JepsenLimits.plant*), its nodes with `env` added. */
function startPlantCluster(dir: string, env: Readonly<Record<string, string>> | undefined): Promise<LiveCluster> {
  return LiveCluster.start({
    cliPath: builtCliPath(),
    suiteDir: dir,
    clusterDir: join(dir, 'cluster'),
    nodes: 3,
    iptablesChain: null,
    ports: { peer: JepsenLimits.plantPeerPort, api: JepsenLimits.plantApiPort, otlpGrpc: JepsenLimits.plantOtlpGrpcPort, otlpHttp: JepsenLimits.plantOtlpHttpPort },
    ...(env === undefined ? {} : { testNodeEnv: env }),
  });
}

/** runScenarios starts a cluster with `env` for its nodes, plays both scenarios, heals, recovers and checks. */
async function runScenarios(t: Test, env: Readonly<Record<string, string>> | undefined): Promise<ScenarioResult> {
  const dir = await mkdtemp(join(tmpdir(), 'otlpdb-jepsen-plant-'));
  const partitioner = new IptablesPartitioner(JepsenLimits.plantIptablesChain, JepsenLimits.plantPeerPort);
  let cluster: LiveCluster | null = null;
  t.teardown(async () => {
    partitioner.heal();
    partitioner.teardown();
    if (cluster !== null) await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  });
  cluster = await startPlantCluster(dir, env);
  await cluster.setIptablesChain(partitioner.chain);
  partitioner.setup();
  const history = new HistoryRecorder();
  const ctx: WorkloadContext = { cluster, history, rng: new Prng(SEED), rateOpsPerSec: JepsenLimits.rateDefault, clients: 1, stopped: () => true };
  const ready = await recovered(cluster);
  if (ready !== null) throw new Error(`the cluster did not become ready: ${ready}; ${REPRODUCE}`);

  // read-without-readindex: node 3 has applied v0, is cut off, and is asked after v1 was acknowledged.
  const key = `${REGISTER_KEY_PREFIX}0`;
  if (!(await putUntilOk(ctx, key, 'v0'))) throw new Error(`put v0 was never acknowledged; ${REPRODUCE}`);
  for (let i = 0; i < JepsenLimits.plantAttemptsMax; i++) {
    const op = await performRegister(ctx, 1, CUT_OFF, { type: 'get', key });
    if ((op.value as RegisterValue).output?.type === 'get' && (op.value as { output: { value: string | null } }).output.value === 'v0') break;
    await sleep(JepsenLimits.recoveryPollMs);
  }
  partitioner.partition([[CUT_OFF], MAJORITY]);
  if (!(await putUntilOk(ctx, key, 'v1'))) throw new Error(`put v1 was never acknowledged by the majority; ${REPRODUCE}`);
  const read = await performRegister(ctx, 1, CUT_OFF, { type: 'get', key });
  const out = (read.value as RegisterValue).output;
  const staleRead = read.outcome === 'ok' && out?.type === 'get' ? out.value : undefined;
  partitioner.heal();

  // ack-before-commit: acknowledged by the cut-off node, which is killed before it can reach anyone.
  partitioner.partition([[CUT_OFF], MAJORITY]);
  const rng = new Prng(SEED).fork('plant-set');
  let setAcked = 0;
  const sends: Promise<unknown>[] = [];
  for (let i = 0; i < JepsenLimits.plantRequests; i++) {
    sends.push(sendSpans(ctx, i, CUT_OFF, drawSpans(rng), 1).then((op) => (setAcked += op.outcome === 'ok' ? 1 : 0)));
  }
  await Promise.all(sends);
  await sleep(JepsenLimits.plantCutOffMs);
  // On a loaded machine elections take longer than the cut-off: the scenario needs the majority to lead every group
  // before node 3 goes (else node 3's unreplicated tail may rightly survive as the longest log and nothing is lost).
  if (!(await majorityLeadsAll(cluster))) throw new Error(`the majority did not lead every group within ${JepsenLimits.plantElectMsMax} ms; ${REPRODUCE}`);
  await cluster.kill(CUT_OFF);
  partitioner.heal();
  await cluster.restart(CUT_OFF);
  const back = await recovered(cluster);
  if (back !== null) throw new Error(`the cluster did not recover: ${back}; ${REPRODUCE}`);

  const register = await registerWorkload.check(ctx);
  const set = await setWorkload.check(ctx);
  let logs = '';
  for (const n of cluster.nodes) logs += await readFile(n.entry.log, 'utf8');
  return { register, set, staleRead, setAcked, logs };
}

interface PowerCutResult {
  readonly set: WorkloadResult;
  readonly acked: number;
  /** notRecovered is why the cluster did not recover after the power cut, or null. */
  readonly notRecovered: string | null;
  readonly logs: string;
}

/** runPowerCut starts a cluster with `plants` (under the marker), has every node acknowledge spans, kills every node at once, restarts them all, and checks the spans. */
async function runPowerCut(t: Test, plants: string): Promise<PowerCutResult> {
  const dir = await mkdtemp(join(tmpdir(), 'otlpdb-jepsen-powercut-'));
  let cluster: LiveCluster | null = null;
  t.teardown(async () => {
    if (cluster !== null) await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  });
  cluster = await startPlantCluster(dir, { [TEST_HOOKS_ENV]: TEST_HOOKS_TOKEN, [TEST_PLANT_ENV]: plants });
  const live = cluster;
  const history = new HistoryRecorder();
  const ctx: WorkloadContext = { cluster, history, rng: new Prng(SEED), rateOpsPerSec: JepsenLimits.rateDefault, clients: 1, stopped: () => true };
  const ready = await recovered(cluster);
  if (ready !== null) throw new Error(`the cluster did not become ready: ${ready}; ${REPRODUCE}`);
  const rng = new Prng(SEED).fork('plant-power-cut');
  let acked = 0;
  const sends: Promise<unknown>[] = [];
  for (let i = 0; i < JepsenLimits.plantRequests; i++) {
    const node = (i % live.nodes.length) + 1;
    sends.push(sendSpans(ctx, i, node, drawSpans(rng), 1).then((op) => (acked += op.outcome === 'ok' ? 1 : 0)));
  }
  await Promise.all(sends);
  // The power goes out everywhere at once: no node is left to hold the spans in memory, and no flush has moved them out of the WAL's reach.
  for (const n of live.nodes) await live.kill(n.entry.id);
  for (const n of live.nodes) await live.spawn(n.entry.id);
  await Promise.all(live.nodes.map((n) => live.waitReadyOrExit(n.entry.id)));
  const notRecovered = await recovered(live);
  const set = await setWorkload.check(ctx);
  let logs = '';
  for (const n of live.nodes) logs += await readFile(n.entry.log, 'utf8');
  return { set, acked, notRecovered, logs };
}

const iptables = probeIptables();

t.test('readTestPlants: plants only with the exact marker; unknown names refuse to start', async (t) => {
  t.same([...readTestPlants({}).active], []);
  const noMarker = readTestPlants({ [TEST_PLANT_ENV]: 'ack-before-commit' });
  t.same([...noMarker.active], [], 'a plant without the marker does nothing');
  t.match(noMarker.ignored, /ignored/, 'and says so');
  t.same([...readTestPlants({ [TEST_PLANT_ENV]: 'ack-before-commit', [TEST_HOOKS_ENV]: '1' }).active], [], '`1` is not the marker');
  t.same([...readTestPlants({ [TEST_PLANT_ENV]: PLANTS, [TEST_HOOKS_ENV]: TEST_HOOKS_TOKEN }).active], ['ack-before-commit', 'read-without-readindex']);
  t.throws(() => readTestPlants({ [TEST_PLANT_ENV]: 'wal-forgets-everything', [TEST_HOOKS_ENV]: TEST_HOOKS_TOKEN }), { code: 'ERR_INVALID_ARGUMENT' }, 'an unknown name refuses');
  const powerCut = readTestPlants({ [TEST_PLANT_ENV]: POWER_CUT_PLANTED, [TEST_HOOKS_ENV]: TEST_HOOKS_TOKEN });
  t.same([...powerCut.active], ['wal-skip-fsync'], 'the missing fsync is a plant');
  t.same([...powerCut.fixtures], ['wal-lazy-fs'], 'the lazy file system is a fixture, not a plant');
  t.same([...readTestPlants({ [TEST_PLANT_ENV]: POWER_CUT_FIXTURE }).fixtures], [], 'a fixture needs the marker too');
});

t.test('a power cut of the whole cluster catches a WAL that skips fsync', async (t) => {
  await t.test('planted: wal-skip-fsync on the lazy file system → acknowledged spans lost', async (t) => {
    const t0 = performance.now();
    const r = await runPowerCut(t, POWER_CUT_PLANTED);
    t.comment(`planted power cut took ${((performance.now() - t0) / 1000).toFixed(1)} s; recovery: ${r.notRecovered ?? 'recovered'}`);
    t.match(r.logs, /TEST_PLANT_ACTIVE/, 'every planted node says so loudly in its log');
    t.ok(r.acked > 0, `the nodes acknowledged requests; ${REPRODUCE}`);
    t.equal(r.set.valid, false, `set: INVALID; ${REPRODUCE}; ${JSON.stringify(r.set)}`);
    t.ok(r.set.lost > 0, `set: acknowledged spans lost (${r.set.lost} of ${r.acked * JepsenLimits.spansPerRequest}); ${REPRODUCE}`);
  });

  await t.test('control: the same power cut with fsync in place loses nothing', async (t) => {
    const t0 = performance.now();
    const r = await runPowerCut(t, POWER_CUT_FIXTURE);
    t.comment(`control power cut took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    t.notMatch(r.logs, /TEST_PLANT_ACTIVE/, 'no plant');
    t.match(r.logs, /test_fixture_active/, 'the fixture says so in the log');
    t.equal(r.notRecovered, null, `the cluster recovered after the power cut; ${REPRODUCE}`);
    t.equal(r.acked, JepsenLimits.plantRequests, 'every request was acknowledged before the cut');
    t.same(r.set.anomalies, [], `set valid; ${REPRODUCE}`);
    t.equal(r.set.valid, true);
  });
});

t.test('the suite catches planted bugs on a real cluster', { skip: iptables.available ? false : `the scenarios cut a node off with iptables: ${iptables.reason}` }, async (t) => {
  await t.test('planted: ack-before-commit and read-without-readindex → INVALID', async (t) => {
    const t0 = performance.now();
    const r = await runScenarios(t, { [TEST_HOOKS_ENV]: TEST_HOOKS_TOKEN, [TEST_PLANT_ENV]: PLANTS });
    t.comment(`planted scenarios took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    t.match(r.logs, /TEST_PLANT_ACTIVE/, 'every planted node says so loudly in its log');
    t.equal(r.staleRead, 'v0', `the cut-off node served the old value without ReadIndex; ${REPRODUCE}`);
    t.equal(r.register.valid, false, `register: INVALID; ${REPRODUCE}; ${JSON.stringify(r.register)}`);
    t.ok(r.register.anomalies.some((a) => /^not linearizable/.test(a)), `register: the anomaly is a non-linearizable read; ${REPRODUCE}; ${JSON.stringify(r.register.anomalies)}`);
    t.ok(r.setAcked > 0, `the cut-off node acknowledged requests it could not commit; ${REPRODUCE}`);
    t.equal(r.set.valid, false, `set: INVALID; ${REPRODUCE}; ${JSON.stringify(r.set)}`);
    t.ok(r.set.lost > 0, `set: acknowledged spans lost (${r.set.lost}); ${REPRODUCE}`);
    t.ok(r.set.anomalies.some((a) => /^acknowledged span .* was not found$/.test(a)), `set: the anomaly is lost acknowledged data; ${REPRODUCE}; ${JSON.stringify(r.set.anomalies.slice(0, 5))}`);
    t.comment(`register anomaly: ${r.register.anomalies[0] ?? ''}`);
    t.comment(`set: lost ${r.set.lost} of ${r.setAcked * JepsenLimits.spansPerRequest} acknowledged spans; first anomaly: ${r.set.anomalies[0] ?? ''}`);
  });

  await t.test('control: the same scenarios without plants are valid', async (t) => {
    const t0 = performance.now();
    const r = await runScenarios(t, undefined);
    t.comment(`control scenarios took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    t.notMatch(r.logs, /TEST_PLANT_ACTIVE/, 'no plant');
    t.not(r.staleRead, 'v0', 'the cut-off node did not serve the old value');
    t.equal(r.setAcked, 0, 'the cut-off node acknowledged nothing');
    t.same(r.register.anomalies, [], `register valid; ${REPRODUCE}`);
    t.same(r.set.anomalies, [], `set valid; ${REPRODUCE}`);
    t.equal(r.register.valid && r.set.valid, true);
  });

  t.notMatch(execFileSync('iptables', ['-w', '-S'], { encoding: 'utf8' }), JepsenLimits.plantIptablesChain, 'no chain left behind');
});
