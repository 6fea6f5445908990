/**
 * jepsen.test.ts — CI's smoke run of the suite (issue 9: 60 seconds, kill
 * and partition, register and set), as a user runs it: `otlpdb jepsen
 * --nodes 3 --time 60s --nemesis kill,partition --workload register,set
 * --seed 1` through the built CLI. It must come out
 * valid, write the report, and leave nothing behind (no node PID of its
 * state file, no iptables chain). Where iptables cannot be used here the
 * partitions go through the transport's fault hooks with a printed notice,
 * which is asserted. It runs with `--port-offset 990` (its own ports and
 * chain), so a user's run or a batch on the default ports can go beside it.
 * Also: flags the command refuses.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { probeIptables } from '../../jepsen-style-tests/nemeses/index.js';
import { readState } from '../../jepsen-style-tests/harness/index.js';
import type { Results } from '../../jepsen-style-tests/report/index.js';
import { JepsenLimits } from '../../src/limits.js';
import { builtCliPath } from '../../src/repo-root.js';
import { parseJepsenOptions } from './jepsen.js';

/** PORT_OFFSET keeps the smoke run off the default ports and chain (JepsenLimits.portOffsetMax). */
const PORT_OFFSET = JepsenLimits.portOffsetMax;

/** RUN_DEADLINE_MS bounds the whole child run; past it the child is SIGINTed (it then cleans up and reports). */
const RUN_DEADLINE_MS = 150_000;

function runCli(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cli = builtCliPath();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGINT'), RUN_DEADLINE_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

t.test('otlpdb jepsen: a 60 s run under kill and partition (iptables, or the transport fallback) is valid and leaves nothing behind', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'otlpdb-jepsen-ci-'));
  t.teardown(async () => {
    await runCli(['jepsen', 'cleanup', '--dir', dir]);
    await rm(dir, { recursive: true, force: true });
  });
  const iptables = probeIptables();
  const t0 = performance.now();
  const r = await runCli(['jepsen', '--nodes', '3', '--time', '60s', '--nemesis', 'kill,partition', '--workload', 'register,set,logs,counter', '--seed', '1', '--dir', dir, '--port-offset', String(PORT_OFFSET), '--json']);
  t.comment(`run took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  t.equal(r.code, 0, `exit 0 (valid); stderr:\n${r.stderr}`);
  const results = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Results;
  t.equal(results.valid, true, `valid: ${JSON.stringify(results.workloads)}`);
  for (const name of ['register', 'set', 'logs', 'counter']) {
    const w = results.workloads[name];
    t.ok(w !== undefined && w.ok > 0, `${name} had acknowledged operations`);
    t.same(w?.anomalies, [], `${name} has no anomalies`);
  }
  t.ok(results.nemesis.some((e) => e.fault === 'kill'), 'the nemesis killed a node');
  t.ok(results.nemesis.some((e) => e.fault === 'kill' && e.targets.length * 2 > 3), 'and a majority at once (seed 1 draws four such kills)');
  t.ok(results.nemesis.some((e) => e.fault === 'partition'), 'and partitioned the cluster');
  if (iptables.available) t.notMatch(r.stderr, /notice: partitions use the transport's fault hooks/, 'iptables works here: no notice');
  else t.match(r.stderr, /notice: partitions use the transport's fault hooks/, `the notice says why (${iptables.reason})`);

  const report = join(dir, 'report-seed-1');
  const onDisk = JSON.parse(await readFile(join(report, 'results.json'), 'utf8')) as Results;
  t.same(onDisk, results, '--json printed results.json');
  const lines = (await readFile(join(report, 'history.jsonl'), 'utf8')).trimEnd().split('\n');
  const counted = Object.values(results.workloads).reduce((n, w) => n + w.ops, 0);
  t.ok(lines.length >= counted, 'history.jsonl holds every client operation (and the final reads)');
  t.match(await readFile(join(report, 'index.html'), 'utf8'), /<svg /, 'the HTML report has its timeline');

  t.equal(readState(dir), null, 'the state file is gone after a clean run');
  const c = await runCli(['jepsen', 'cleanup', '--dir', dir, '--json']);
  t.equal(c.code, 0);
  t.match(JSON.parse(c.stdout) as unknown, { dir, stateFile: false, stopped: [] }, '`jepsen cleanup --dir` finds nothing left');
  if (iptables.available) {
    const { execFileSync } = await import('node:child_process');
    t.notMatch(execFileSync('iptables', ['-w', '-S'], { encoding: 'utf8' }), new RegExp(`(^| )${JepsenLimits.iptablesChain}-${PORT_OFFSET}( |$)`, 'm'), 'no chain left (other runs\' chains may be there beside it)');
  }
});

t.test('otlpdb jepsen refuses bad flags', async (t) => {
  t.throws(() => parseJepsenOptions({ nodes: '4' }), { code: 'ERR_INVALID_ARGUMENT' }, 'only 3 or 5 nodes');
  t.throws(() => parseJepsenOptions({ nemesis: 'tornado' }), { code: 'ERR_INVALID_ARGUMENT' }, 'an unknown fault');
  t.throws(() => parseJepsenOptions({ workload: 'bank' }), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => parseJepsenOptions({ time: 'forever' }), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => parseJepsenOptions({ rate: '0' }), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => parseJepsenOptions({ partitioner: 'tc' }), { code: 'ERR_INVALID_ARGUMENT' });
  t.equal(parseJepsenOptions({}).partitioner, 'auto');
  const plan = parseJepsenOptions({ time: '10s', seed: '7', nemesis: 'kill' });
  t.equal(plan.timeMs, 10_000);
  t.same(plan.nemeses, ['kill']);
  t.same(plan.workloads, ['register', 'set', 'logs', 'counter']);
  t.match(plan.reportDir, /report-seed-7$/);
  t.equal(plan.portOffset, 0, 'the suite\'s own ports by default');
  t.equal(parseJepsenOptions({ portOffset: '500' }).portOffset, 500);
  t.throws(() => parseJepsenOptions({ portOffset: '505' }), { code: 'ERR_INVALID_ARGUMENT' }, 'a multiple of 10 only');
  t.throws(() => parseJepsenOptions({ portOffset: '1000' }), { code: 'ERR_INVALID_ARGUMENT' }, 'at most 990');
  t.throws(() => parseJepsenOptions({ portOffset: '-10' }), { code: 'ERR_INVALID_ARGUMENT' });
});
