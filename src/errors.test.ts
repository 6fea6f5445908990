import { readFileSync } from 'node:fs';
import t from 'tap';
import { ErrorCodes, OtlpdbError, assert, isOtlpdbError } from './errors.js';
import { repoPath } from './repo-root.js';

t.test('every error code is documented in docs/errors.md with its statuses', async (t) => {
  const doc = readFileSync(repoPath('docs', 'errors.md'), 'utf8');
  for (const [code, info] of Object.entries(ErrorCodes)) {
    const row = doc.split('\n').find((line) => line.startsWith(`| \`${code}\` |`));
    t.ok(row, `${code} has a row in docs/errors.md`);
    t.match(row ?? '', new RegExp(`\\| ${info.httpStatus} \\|`), `${code} row states HTTP ${info.httpStatus}`);
    t.match(row ?? '', info.retryable ? /\| yes \|/ : /\| no \|/, `${code} row states retryable=${info.retryable}`);
  }
  const documented = [...doc.matchAll(/^\| `(ERR_[A-Z_]+)` \|/gm)].map((m) => m[1]);
  t.same(documented.sort(), Object.keys(ErrorCodes).sort(), 'docs list no code that does not exist');
});

t.test('OtlpdbError carries code, statuses and details', async (t) => {
  const err = new OtlpdbError('ERR_NOT_LEADER', 'not the leader of group 3', { leaderHint: 2 });
  t.equal(err.code, 'ERR_NOT_LEADER');
  t.equal(err.httpStatus, 503);
  t.equal(err.grpcStatus, 14);
  t.equal(err.retryable, true);
  t.same(err.details, { leaderHint: 2 });
  t.ok(isOtlpdbError(err, 'ERR_NOT_LEADER'));
  t.notOk(isOtlpdbError(err, 'ERR_TIMEOUT'));
  t.notOk(isOtlpdbError(new Error('x')));
});

t.test('assert throws ERR_INTERNAL naming the invariant', async (t) => {
  t.throws(() => assert(false, 'match <= next'), { code: 'ERR_INTERNAL', message: /match <= next/ });
  t.doesNotThrow(() => assert(true, 'fine'));
});
