/**
 * set.ts — the set workload: spans with unique ids (each in its own trace),
 * sent as OTLP/HTTP JSON (POST /v1/traces) to random nodes. A request that
 * gets no answer, a 429 or a 5xx is sent again, byte for byte, to another
 * node (so the node's idempotency key dedupes it), up to
 * JepsenLimits.setAttemptsMax times. Afterwards every trace id sent is read
 * with GET /api/traces/{id} and checkSet (set-checker.ts) decides.
 *
 * Outcome of a request: ok on a 200 without rejected spans; fail when every
 * attempt was refused outright (connection refused, or a 4xx, which stores
 * nothing); unknown otherwise.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { assert } from '../../src/errors.js';
import { JepsenLimits } from '../../src/limits.js';
import type { HistoryOp } from '../harness/history.js';
import { countOutcomes } from '../report/results.js';
import type { WorkloadResult } from '../report/results.js';
import type { Prng } from '../sim/prng.js';
import { attempt } from './client-http.js';
import { checkSet } from './set-checker.js';
import { sendRetried } from './send-retried.js';
import type { SentRequest, SentSpan, TraceRead } from './set-checker.js';
import type { Workload, WorkloadContext } from './types.js';

/** SetValue is the `value` of a set operation in history.jsonl. */
export interface SetValue {
  readonly spans: readonly SentSpan[];
  /** attempts is how many times the request was sent. */
  readonly attempts: number;
  readonly refused: boolean;
}

function hexId(rng: Prng, bytes: number): string {
  let s = '';
  for (let i = 0; i < bytes; i += 4) s += rng.nextU32().toString(16).padStart(8, '0');
  return s.slice(0, bytes * 2);
}

/** drawSpans draws the spans of one request (JepsenLimits.spansPerRequest, each in its own trace) from `rng`. */
export function drawSpans(rng: Prng): SentSpan[] {
  const spans: SentSpan[] = [];
  for (let i = 0; i < JepsenLimits.spansPerRequest; i++) spans.push({ traceId: hexId(rng, 16), spanId: hexId(rng, 8) });
  return spans;
}

/** spansBody is the OTLP/JSON export request carrying `spans`, ended just now. */
export function spansBody(spans: readonly SentSpan[], nowMs: number): string {
  const end = BigInt(nowMs) * 1_000_000n;
  const start = end - 1_000_000n;
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'jepsen-set' } }] },
        scopeSpans: [
          { spans: spans.map((s) => ({ traceId: s.traceId, spanId: s.spanId, name: 'set-add', kind: 1, startTimeUnixNano: String(start), endTimeUnixNano: String(end) })) },
        ],
      },
    ],
  });
}

/** spanIdsOfTrace returns the span ids (lower-case hex, with repeats) of an OTLP/JSON trace answer (`batches` or `resourceSpans`). */
export function spanIdsOfTrace(body: string): string[] {
  const doc = JSON.parse(body) as { batches?: unknown[]; resourceSpans?: unknown[] };
  const out: string[] = [];
  for (const rs of (doc.batches ?? doc.resourceSpans ?? []) as { scopeSpans?: { spans?: { spanId?: string }[] }[] }[]) {
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        const id = s.spanId ?? '';
        out.push(/^[0-9a-fA-F]{16}$/.test(id) ? id.toLowerCase() : Buffer.from(id, 'base64').toString('hex'));
      }
    }
  }
  return out;
}

/**
 * sendSpans sends one request carrying `spans` as client `process`, first
 * to node `firstNode`, then (on no answer, a 429 or a 5xx) byte for byte to
 * the next nodes, at most `attemptsMax` times; it records the operation in
 * the history and returns it. The planted-bug tests call it with one
 * attempt to aim a request at one node.
 */
export async function sendSpans(ctx: WorkloadContext, process: number, firstNode: number, spans: readonly SentSpan[], attemptsMax: number): Promise<HistoryOp> {
  assert(attemptsMax >= 1 && attemptsMax <= JepsenLimits.setAttemptsMax, 'attempts within setAttemptsMax');
  assert(spans.length > 0, 'a request carries spans');
  const body = spansBody(spans, Date.now());
  const start = ctx.history.nowUs();
  const r = await sendRetried(ctx, firstNode, '/v1/traces', body, attemptsMax);
  const value: SetValue = { spans, attempts: r.attempts, refused: r.refused };
  const op: HistoryOp = { workload: 'set', process, f: 'send', start, end: ctx.history.nowUs(), outcome: r.outcome, value, node: r.node, ...(r.error === undefined ? {} : { error: r.error }) };
  ctx.history.record(op);
  return op;
}

/** setWorkload is the OTLP span-set workload. */
export const setWorkload: Workload = {
  name: 'set',

  async runClient(clientId: number, ctx: WorkloadContext): Promise<void> {
    const rng = ctx.rng.fork(`client-${clientId}`);
    const intervalMs = (1000 * ctx.clients) / ctx.rateOpsPerSec;
    const perClientMax = Math.ceil(JepsenLimits.setRequestsMax / ctx.clients);
    for (let n = 0; n < perClientMax && !ctx.stopped() && !ctx.history.full(); n++) {
      const t0 = performance.now();
      const spans = drawSpans(rng);
      await sendSpans(ctx, clientId, rng.range(1, ctx.cluster.nodes.length), spans, JepsenLimits.setAttemptsMax);
      const left = intervalMs - (performance.now() - t0);
      if (left > 0) await sleep(left);
    }
  },

  async check(ctx: WorkloadContext): Promise<WorkloadResult> {
    const ops = ctx.history.ops('set');
    const counts = countOutcomes(ops);
    const sent: SentRequest[] = ops.map((o) => {
      const v = o.value as SetValue;
      return { spans: v.spans, outcome: o.outcome, refused: v.refused };
    });
    const reads = new Map<string, TraceRead>();
    const nodes = ctx.cluster.nodes.length;
    const traceIds = sent.flatMap((r) => r.spans.map((s) => s.traceId));
    let next = 0;
    const reader = async (worker: number): Promise<void> => {
      for (let k = next++; k < traceIds.length; k = next++) {
        const traceId = traceIds[k];
        assert(traceId !== undefined, 'a trace id to read');
        let read: TraceRead = { ok: false, error: 'not read' };
        for (let i = 0; i < JepsenLimits.readBackAttemptsMax && !read.ok; i++) {
          const node = ((k + i + worker) % nodes) + 1;
          const a = await attempt(ctx.cluster.node(node).api, 'GET', `/api/traces/${traceId}`, null);
          if (a.kind === 'answer' && a.status === 200) read = { ok: true, spanIds: spanIdsOfTrace(a.body) };
          else if (a.kind === 'answer' && a.status === 404) read = { ok: true, spanIds: [] };
          else {
            read = { ok: false, error: a.kind === 'answer' ? `HTTP ${a.status} from node ${node}` : `${a.error} (node ${node})` };
            await sleep(JepsenLimits.recoveryPollMs);
          }
        }
        reads.set(traceId, read);
      }
    };
    await Promise.all(Array.from({ length: JepsenLimits.readBackConcurrency }, (_, w) => reader(w)));
    const c = checkSet(sent, reads);
    return { valid: c.valid, ...counts, lost: c.lost, unexpected: c.unexpected, duplicates: c.duplicates, anomalies: c.anomalies };
  },
};
