import { spawnSync } from 'node:child_process';
import t from 'tap';
import { builtCliPath, repoRoot } from '../src/repo-root.js';

const root = repoRoot();

/** otlpdb runs the built CLI in a real child process, with no terminal. */
function otlpdb(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [builtCliPath(), ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

t.test('otlpdb sim --json prints the documented summary and exits 0 on a clean run', async (t) => {
  const run = otlpdb('sim', '--seeds', '3', '--start', '7', '--steps', '400', '--json');
  t.equal(run.status, 0, run.stderr);
  const summary = JSON.parse(run.stdout) as Record<string, unknown>;
  t.same(Object.keys(summary).sort(), ['failures', 'opsChecked', 'seeds', 'steps', 'violations']);
  t.equal(summary.seeds, 3);
  t.equal(summary.steps, 400);
  t.equal(summary.violations, 0);
  t.ok((summary.opsChecked as number) > 0, 'client operations were checked');
  t.equal(run.stderr, '', 'no progress bar without a terminal');
});

t.test('otlpdb sim --seed runs one seed and prints a summary line', async (t) => {
  const run = otlpdb('sim', '--seed', '42', '--steps', '300');
  t.equal(run.status, 0, run.stderr);
  t.match(run.stdout, /^sim: 1 seed\(s\) \(seed 42\) x 300 steps: 0 violation\(s\)/);
});

t.test('otlpdb refuses malformed flags with ERR_INVALID_ARGUMENT and exit code 2', async (t) => {
  for (const args of [
    ['sim', '--seeds', 'abc'],
    ['sim', '--seeds', '0'],
    ['sim', '--steps', '-5'],
    ['sim', '--steps', '99999999999'],
    ['sim', '--seed', '4294967296'],
    ['sim', '--seed', '1', '--seeds', '5'],
  ]) {
    const run = otlpdb(...args);
    t.equal(run.status, 2, `${args.join(' ')} exits 2`);
    t.match(run.stderr, /ERR_INVALID_ARGUMENT/, `${args.join(' ')} names the error code`);
  }
  const unknown = otlpdb('sim', '--bogus');
  t.equal(unknown.status, 2, 'an unknown option exits 2');
  t.match(unknown.stderr, /unknown option/);
});

t.test('every command has --help', async (t) => {
  for (const args of [['--help'], ['sim', '--help'], ['cluster', 'up', '--help'], ['trace', '--help']]) {
    const run = otlpdb(...args);
    t.equal(run.status, 0, `${args.join(' ')} exits 0`);
    t.match(run.stdout, /Usage: otlpdb/);
  }
  const trace = otlpdb('trace', '--help');
  t.match(trace.stdout, /Usage: otlpdb trace \[options\] <id>/);
  t.match(trace.stdout, /waterfall/, 'trace --help says what it draws');
  for (const flag of ['--target <url>', '--tenant <id>', '--json', '--width <n>']) t.ok(trace.stdout.includes(flag), `trace --help lists ${flag}`);
  t.match(otlpdb('--help').stdout, /trace \[options\] <id>/, 'the top-level help lists trace');
});
