/**
 * set-checker.test.ts — the set checker passes a clean history and catches
 * each planted bug: an acknowledged span lost, a span stored twice, a span
 * that was never sent, a span of a refused request, and an unreadable
 * trace. Spans of unknown requests may be present or absent.
 */
import t from 'tap';
import { checkSet } from './set-checker.js';
import type { SentRequest, TraceRead } from './set-checker.js';

const sent: SentRequest[] = [
  { spans: [{ traceId: 'a1', spanId: 's1' }, { traceId: 'a2', spanId: 's2' }], outcome: 'ok', refused: false },
  { spans: [{ traceId: 'b1', spanId: 's3' }], outcome: 'unknown', refused: false },
  { spans: [{ traceId: 'c1', spanId: 's4' }], outcome: 'fail', refused: true },
];

function reads(over: Record<string, TraceRead> = {}): Map<string, TraceRead> {
  const base: Record<string, TraceRead> = { a1: { ok: true, spanIds: ['s1'] }, a2: { ok: true, spanIds: ['s2'] }, b1: { ok: true, spanIds: [] }, c1: { ok: true, spanIds: [] } };
  return new Map(Object.entries({ ...base, ...over }));
}

t.test('a clean history is valid, whether the unknown request landed or not', async (t) => {
  t.ok(checkSet(sent, reads()).valid);
  t.ok(checkSet(sent, reads({ b1: { ok: true, spanIds: ['s3'] } })).valid);
});

t.test('planted: a lost acknowledged span', async (t) => {
  const c = checkSet(sent, reads({ a2: { ok: true, spanIds: [] } }));
  t.notOk(c.valid);
  t.equal(c.lost, 1);
  t.match(c.anomalies[0], /acknowledged span a2\/s2 was not found/);
});

t.test('planted: a duplicate (a retried request stored twice)', async (t) => {
  const c = checkSet(sent, reads({ a1: { ok: true, spanIds: ['s1', 's1'] } }));
  t.notOk(c.valid);
  t.equal(c.duplicates, 1);
  t.equal(c.lost, 0);
});

t.test('planted: an unexpected span, never sent', async (t) => {
  const c = checkSet(sent, reads({ a1: { ok: true, spanIds: ['s1', 'zz'] } }));
  t.notOk(c.valid);
  t.equal(c.unexpected, 1);
  t.match(c.anomalies[0], /never sent/);
});

t.test('planted: a span of a refused request was stored', async (t) => {
  const c = checkSet(sent, reads({ c1: { ok: true, spanIds: ['s4'] } }));
  t.notOk(c.valid);
  t.equal(c.unexpected, 1);
  t.match(c.anomalies[0], /refused/);
});

t.test('an unreadable trace makes the set unproven', async (t) => {
  const c = checkSet(sent, reads({ a1: { ok: false, error: 'HTTP 503' } }));
  t.notOk(c.valid);
  t.equal(c.unreadable, 1);
  const missing = reads();
  missing.delete('a2');
  t.notOk(checkSet(sent, missing).valid, 'an acknowledged trace never read is not valid');
});
