import t from 'tap';
import { OtlpdbError } from '../errors.js';
import { ReceiveWorkerLimits } from '../limits.js';
import { initHash } from '../partition/hash.js';
import { resolveItemLimits } from './decode-result.js';
import { OTLP_DECODERS } from './decoders.js';
import { IngestWorkerPool } from './ingest-workers.js';
import { TEST_NOW_MS } from './otlp-test-gen.js';
import { encodeProto, request, validLog, validSpan } from './otlp-test-cases.js';
import { InlinePreparer, PrepareFailure } from './prepare-parts.js';
import type { PrepareJob, PreparedParts } from './prepare-parts.js';

const itemLimits = resolveItemLimits();

function spans(n: number): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => ({ ...validSpan(), traceId: Uint8Array.from({ length: 16 }, (_, k) => (k * 13 + i * 101 + 7) & 0xff), spanId: Uint8Array.from({ length: 8 }, (_, k) => k + i + 1) }));
}

function job(o: Partial<PrepareJob>): PrepareJob {
  return { signal: 'traces', tenant: 'default', format: 'proto', body: new Uint8Array(0), shardCount: 16, traceSampleRatio: 1, wallMs: TEST_NOW_MS, ...o };
}

async function failureOf(p: Promise<PreparedParts>): Promise<PrepareFailure> {
  try {
    await p;
  } catch (err) {
    if (err instanceof PrepareFailure) return err;
    throw err;
  }
  throw new Error('expected a PrepareFailure');
}

t.test('a worker prepares the parts, refusals and failures the main thread would', async (t) => {
  const inline = new InlinePreparer({ hasher: await initHash(), decoders: OTLP_DECODERS, itemLimits });
  const pool = new IngestWorkerPool({ workers: 2, itemLimits, fallback: inline });
  t.teardown(() => pool.stop());
  const bad = { ...validSpan(), traceId: new Uint8Array(16) };
  const cases: PrepareJob[] = [
    job({ body: encodeProto('traces', request('traces', [...spans(40), bad])) }),
    job({ body: encodeProto('traces', request('traces', spans(200))), traceSampleRatio: 0.5 }),
    job({ signal: 'logs', body: encodeProto('logs', request('logs', [validLog(), validLog()])), shardCount: 3 }),
  ];
  for (const [i, j] of cases.entries()) {
    const [w, m] = await Promise.all([pool.prepare(j), inline.prepare(j)]);
    t.ok(m.parts.length > 0, `case ${i} has parts`);
    t.same(
      w.parts.map((p) => ({ ...p, bytes: Buffer.from(p.bytes).toString('hex') })),
      m.parts.map((p) => ({ ...p, bytes: Buffer.from(p.bytes).toString('hex') })),
      `case ${i}: the same parts, byte for byte`,
    );
    t.same({ ...w, parts: null }, { ...m, parts: null }, `case ${i}: the same refusals, truncations and sampling`);
  }
  t.equal(cases[0] === undefined ? -1 : (await pool.prepare(cases[0] as PrepareJob)).rejected, 1, 'the bad span is refused');
  const garbage = job({ body: Uint8Array.from([0xff, 0xff, 0xff, 0x0f]) });
  const [wf, mf] = await Promise.all([failureOf(pool.prepare(garbage)), failureOf(inline.prepare(garbage))]);
  t.ok(wf.error instanceof OtlpdbError && mf.error instanceof OtlpdbError, 'both fail with an OtlpdbError');
  t.same([(wf.error as OtlpdbError).code, (wf.error as OtlpdbError).message, wf.invalidBody], [(mf.error as OtlpdbError).code, (mf.error as OtlpdbError).message, mf.invalidBody], 'same code, message and kind');
  t.equal(wf.invalidBody, true, 'a body that is no request counts as invalid');
  t.equal(pool.queued, 0, 'nothing left queued');
});

t.test('a full queue refuses, retryable, and stop refuses what is pending', async (t) => {
  const inline = new InlinePreparer({ hasher: await initHash(), decoders: OTLP_DECODERS, itemLimits });
  const pool = new IngestWorkerPool({ workers: 1, itemLimits, fallback: inline });
  const body = encodeProto('traces', request('traces', spans(2)));
  // Every post happens before any answer can arrive: the queue fills exactly.
  const all = Array.from({ length: ReceiveWorkerLimits.jobsQueuedMax + 1 }, () => pool.prepare(job({ body })));
  t.equal(pool.queued, ReceiveWorkerLimits.jobsQueuedMax, 'the queue holds jobsQueuedMax jobs');
  const over = await failureOf(all[ReceiveWorkerLimits.jobsQueuedMax] as Promise<PreparedParts>);
  t.ok(over.error instanceof OtlpdbError && over.error.code === 'ERR_UNAVAILABLE' && over.error.retryable, 'one more is ERR_UNAVAILABLE, retryable');
  await Promise.all(all.slice(0, ReceiveWorkerLimits.jobsQueuedMax));
  t.equal(pool.queued, 0, 'the queued jobs were all answered');
  const pending = [failureOf(pool.prepare(job({ body }))), failureOf(pool.prepare(job({ body })))];
  await pool.stop();
  for (const p of pending) {
    const f = await p;
    t.ok(f.error instanceof OtlpdbError && f.error.code === 'ERR_UNAVAILABLE', 'a job pending at stop is refused, retryable');
  }
  t.equal(pool.queued, 0, 'nothing queued after stop');
});
