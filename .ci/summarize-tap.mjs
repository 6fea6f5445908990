// summarize-tap.mjs — reads the output of `npm test` and prints one line
// "N passed, N failed". It counts the subtests directly inside each test file
// (the `t.test(...)` blocks); a file that fails without any failing subtest
// (a crash, a syntax error) counts as one failure, and so does a non-zero
// exit status of `npm test` with no failure seen (type check or lint errors).
// Before that line it prints the slowest test files (tap's `# time=` of each
// file), since CI's 20-minute budget is spent there, and then every failing
// assertion with the subtests it sits in and the first lines of its
// diagnostics (seeds and reproduce commands included), so a failure is named
// in the last lines of the log even when only the tail of it is kept.
import { readFileSync } from 'node:fs';

const [logPath, statusText] = process.argv.slice(2);
const lines = readFileSync(logPath, 'utf8').split('\n');
const status = Number(statusText ?? '1');

let passed = 0;
let failed = 0;
let fileFailures = 0;
let failedInFile = 0;
const fileTimes = [];
/** failureLinesMax bounds what the failure report prints, so a run that fails everywhere stays readable. */
const failureLinesMax = 120;
/** diagLinesMax is how many diagnostic lines are printed under one failing assertion. */
const diagLinesMax = 12;
const failureReport = [];
// The subtest names open at each indentation depth, so a failing assertion is
// printed with the path of subtests that leads to it.
const openSubtests = [];
for (let i = 0; i < lines.length; i++) {
  const line = lines[i];
  const subtest = /^( *)# Subtest: (.*)$/.exec(line);
  if (subtest) {
    const depth = subtest[1].length / 4;
    openSubtests.length = depth;
    openSubtests[depth] = subtest[2];
  }
  const notOk = /^( *)not ok \d+ - (.*)$/.exec(line);
  if (notOk) {
    const depth = notOk[1].length / 4;
    // The subtests that contain this line; a `not ok` at depth d sits in the
    // subtests opened at depths 0..d-1 (it closes the one opened at d-1 when it
    // is a subtest's own result).
    const path = openSubtests.slice(0, depth).join(' > ');
    // A `not ok` that closes a subtest repeats the failures already reported
    // inside it; only the innermost ones (assertions, crashed files) print.
    const closed = openSubtests.slice(0, depth + 1).join(' > ');
    const repeatsInner = failureReport.some((f) => f.depth > depth && f.path.startsWith(closed));
    if (!repeatsInner) {
      const diag = [];
      for (let j = i + 1; j < lines.length && diag.length < diagLinesMax; j++) {
        const next = lines[j].trim();
        if (/^(not )?ok \d+ /.test(next) || next.startsWith('# Subtest: ') || /^1\.\.\d+$/.test(next)) break;
        if (next !== '' && next !== '---' && next !== '...') diag.push(next);
      }
      failureReport.push({ depth, path, line: line.trim(), diag });
    }
  }
  const result = /^( *)(not )?ok \d+ /.exec(line);
  if (result && openSubtests.length > result[1].length / 4) openSubtests.length = result[1].length / 4;
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
if (failureReport.length > 0) {
  console.log(`== failures (${failureReport.length}):`);
  let printed = 0;
  for (const failure of failureReport) {
    const block = [`   ${failure.path === '' ? '(top level)' : failure.path}`, `     ${failure.line}`, ...failure.diag.map((d) => `       ${d}`)];
    if (printed + block.length > failureLinesMax) {
      console.log(`   ... ${failureReport.length - failureReport.indexOf(failure)} more; search the log for "not ok"`);
      break;
    }
    for (const text of block) console.log(text);
    printed += block.length;
  }
}
if (status !== 0 && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed`);
process.exit(status === 0 && failed === 0 ? 0 : 1);
