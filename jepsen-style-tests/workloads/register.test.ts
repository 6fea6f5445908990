/**
 * register.test.ts — how the register workload turns answers into outcomes,
 * and that its history, fed to the linearizability checker, passes a legal
 * run and is caught with a planted bug: a read that misses an acknowledged
 * write (a lost write, or a stale follower read).
 */
import t from 'tap';
import { checkOperations, registerModel } from '../checker/index.js';
import type { HistoryOp } from '../harness/history.js';
import { registerOutcome, toCheckerHistory } from './register.js';
import type { RegisterValue } from './register.js';

const put = { type: 'put', key: 'k', value: 'v1' } as const;
const get = { type: 'get', key: 'k' } as const;
const cas = { type: 'cas', key: 'k', expected: 'v1', value: 'v2' } as const;

t.test('answers become outcomes', async (t) => {
  t.same(registerOutcome(put, { kind: 'answer', status: 200, body: '{}' }), { outcome: 'ok', output: { type: 'put' } });
  t.same(registerOutcome(get, { kind: 'answer', status: 200, body: '{"value":"v1"}' }), { outcome: 'ok', output: { type: 'get', value: 'v1' } });
  t.same(registerOutcome(get, { kind: 'answer', status: 404, body: '' }), { outcome: 'ok', output: { type: 'get', value: null } }, '404 reads an absent key');
  t.same(registerOutcome(cas, { kind: 'answer', status: 409, body: '' }), { outcome: 'ok', output: { type: 'cas', ok: false } }, '409 is a failed compare');
  t.same(registerOutcome(put, { kind: 'answer', status: 503, body: '' }), { outcome: 'unknown' }, 'a 503 write may still commit');
  t.same(registerOutcome(put, { kind: 'unknown' }), { outcome: 'unknown' }, 'a timed-out write may still commit');
  t.same(registerOutcome(put, { kind: 'refused' }), { outcome: 'fail' }, 'a refused connection never reached a node');
  t.same(registerOutcome(put, { kind: 'answer', status: 400, body: '' }), { outcome: 'fail' });
  t.same(registerOutcome(get, { kind: 'unknown' }), { outcome: 'fail' }, 'a read without an answer changed nothing');
});

function op(process: number, start: number, end: number, value: RegisterValue, outcome: HistoryOp['outcome'] = 'ok'): HistoryOp {
  return { workload: 'register', process, f: value.input.type, start, end, outcome, value, node: 1 };
}

t.test('a legal history passes; an unknown write may or may not have happened', async (t) => {
  const h = [
    op(0, 0, 10, { input: put, output: { type: 'put' } }),
    op(1, 20, 30, { input: get, output: { type: 'get', value: 'v1' } }),
    op(2, 25, 40, { input: cas }, 'unknown'),
    op(1, 50, 60, { input: get, output: { type: 'get', value: 'v2' } }),
    op(0, 70, 80, { input: put }, 'fail'),
  ];
  const ch = toCheckerHistory(h);
  t.equal(ch.length, 4, 'the failed write is dropped');
  t.equal(ch[2]?.output, undefined, 'the unknown write has no output');
  t.equal(checkOperations(registerModel, ch).outcome, 'ok');
});

t.test('planted: a read after an acknowledged write misses it', async (t) => {
  const h = [
    op(0, 0, 10, { input: put, output: { type: 'put' } }),
    op(1, 20, 30, { input: get, output: { type: 'get', value: null } }),
  ];
  t.equal(checkOperations(registerModel, toCheckerHistory(h)).outcome, 'illegal');
});
