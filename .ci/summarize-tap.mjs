// summarize-tap.mjs — reads the output of `npm test` and prints one line
// "N passed, N failed". It counts the subtests directly inside each test file
// (the `t.test(...)` blocks); a file that fails without any failing subtest
// (a crash, a syntax error) counts as one failure, and so does a non-zero
// exit status of `npm test` with no failure seen (type check or lint errors).
// Before that line it prints the slowest test files (tap's `# time=` of each
// file), since CI's 20-minute budget is spent there.
import { readFileSync } from 'node:fs';

const [logPath, statusText] = process.argv.slice(2);
const lines = readFileSync(logPath, 'utf8').split('\n');
const status = Number(statusText ?? '1');

let passed = 0;
let failed = 0;
let fileFailures = 0;
let failedInFile = 0;
const fileTimes = [];
for (const line of lines) {
  const sub = /^ {4}(not )?ok \d+ /.exec(line);
  if (sub) {
    if (sub[1]) {
      failed++;
      failedInFile++;
    } else {
      passed++;
    }
    continue;
  }
  const top = /^(not )?ok \d+ - (\S+)(?: # time=([\d.]+)ms)?/.exec(line);
  if (top) {
    if (top[3]) fileTimes.push([Number(top[3]) / 1000, top[2]]);
    if (top[1] && failedInFile === 0) fileFailures++;
    failedInFile = 0;
  }
}
failed += fileFailures;
fileTimes.sort((a, b) => b[0] - a[0]);
const fileSeconds = fileTimes.reduce((sum, [sec]) => sum + sec, 0);
console.log(`== ${fileTimes.length} test files, ${fileSeconds.toFixed(0)} s in all; the slowest:`);
for (const [sec, file] of fileTimes.slice(0, 15)) console.log(`   ${sec.toFixed(1).padStart(7)} s  ${file}`);
if (status !== 0 && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed`);
process.exit(status === 0 && failed === 0 ? 0 : 1);
