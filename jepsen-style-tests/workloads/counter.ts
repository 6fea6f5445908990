/**
 * counter.ts — the counter workload: each client owns one metric series
 * (gauge `jepsen_counter`, point attribute `client` = `c<client>`, resource
 * service.name `jepsen-counter`, so the Prometheus view names it
 * `jepsen_counter{client="c<client>", job="jepsen-counter"}`) and sends its
 * points numbered 0, 1, 2, ... — point n has the value n, at its own
 * millisecond (strictly increasing per series) — as OTLP/HTTP JSON (POST
 * /v1/metrics), JepsenLimits.counterPointsPerRequest points a request,
 * sent and retried as send-retried.ts says. Afterwards every series is
 * read back through the Prometheus API twice at one instant: its raw
 * samples (`jepsen_counter{client="c0"}[<window>s]`, a matrix) and their
 * count as the engine computes it (`count_over_time(...)`).
 *
 * checkSequences (seq-checker.ts) decides on the raw samples: every
 * acknowledged point present once, nothing never sent (a sample whose time
 * is not the one its value was sent at counts as never sent). On top, the
 * count the engine computes must equal the samples read: a point counted
 * twice (or dropped) by the query path is an anomaly even when the raw read
 * is right.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { assert } from '../../src/errors.js';
import { JepsenLimits } from '../../src/limits.js';
import type { HistoryOp } from '../harness/history.js';
import { capAnomalies, countOutcomes } from '../report/results.js';
import type { WorkloadResult } from '../report/results.js';
import { attempt } from './client-http.js';
import { checkSequences } from './seq-checker.js';
import type { SentItems, StreamRead } from './seq-checker.js';
import { sendRetried } from './send-retried.js';
import type { Workload, WorkloadContext } from './types.js';

/** CounterValue is the `value` of a counter operation in history.jsonl. */
export interface CounterValue {
  readonly series: string;
  readonly seqs: readonly number[];
  /** timesMs are the points' times (Unix ms), aligned with seqs. */
  readonly timesMs: readonly number[];
  readonly attempts: number;
  readonly refused: boolean;
}

/** COUNTER_METRIC is the workload's metric name (a gauge; its Prometheus name is the same). */
export const COUNTER_METRIC = 'jepsen_counter';

/** counterBody is the OTLP/JSON export request carrying points `seqs` of `series` at `timesMs`. */
export function counterBody(series: string, seqs: readonly number[], timesMs: readonly number[]): string {
  assert(seqs.length === timesMs.length && seqs.length > 0, 'one time per point');
  return JSON.stringify({
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'jepsen-counter' } }] },
        scopeMetrics: [
          {
            metrics: [
              {
                name: COUNTER_METRIC,
                gauge: {
                  dataPoints: seqs.map((seq, i) => ({
                    attributes: [{ key: 'client', value: { stringValue: series } }],
                    timeUnixNano: String(BigInt(timesMs[i] as number) * 1_000_000n),
                    asDouble: seq,
                  })),
                },
              },
            ],
          },
        ],
      },
    ],
  });
}

/** PromRead is one instant query's answer: matrix samples as [ms, value] per series, or a vector's values, or a failure. */
type PromRead = { readonly ok: true; readonly samples: readonly [number, number][]; readonly vector: readonly number[] } | { readonly ok: false; readonly error: string };

/** parsePromAnswer reads a Prometheus API answer (matrix or vector) into its samples (times in ms). */
export function parsePromAnswer(body: string): PromRead {
  const doc = JSON.parse(body) as { status?: string; data?: { resultType?: string; result?: { values?: [number, string][]; value?: [number, string] }[] } };
  if (doc.status !== 'success') return { ok: false, error: `not a success: ${body.slice(0, 200)}` };
  const samples: [number, number][] = [];
  const vector: number[] = [];
  for (const r of doc.data?.result ?? []) {
    for (const [t, v] of r.values ?? []) samples.push([Math.round(t * 1000), Number(v)]);
    if (r.value !== undefined) vector.push(Number(r.value[1]));
  }
  return { ok: true, samples, vector };
}

async function promQuery(ctx: WorkloadContext, node: number, query: string, timeS: number): Promise<PromRead> {
  const q = new URLSearchParams({ query, time: String(timeS) });
  const a = await attempt(ctx.cluster.node(node).api, 'GET', `/api/v1/query?${q.toString()}`, null);
  if (a.kind !== 'answer') return { ok: false, error: `${a.error} (node ${node})` };
  if (a.status !== 200) return { ok: false, error: `HTTP ${a.status} from node ${node}: ${a.body.slice(0, 200)}` };
  return parsePromAnswer(a.body);
}

/**
 * readSeries reads `series`'s raw samples in the window ending at `timeS`
 * and the engine's count of them; a sample whose time is not its value's
 * sent time gets a number no client sends (so it counts as never sent).
 */
async function readSeries(
  ctx: WorkloadContext,
  node: number,
  series: string,
  windowS: number,
  timeS: number,
  sentTimeMs: ReadonlyMap<number, number>,
): Promise<{ read: StreamRead; count: number | null }> {
  const selector = `${COUNTER_METRIC}{client="${series}"}[${windowS}s]`;
  const raw = await promQuery(ctx, node, selector, timeS);
  if (!raw.ok) return { read: raw, count: null };
  const counted = await promQuery(ctx, node, `count_over_time(${selector})`, timeS);
  if (!counted.ok) return { read: counted, count: null };
  let foreign = 0;
  const seqs = raw.samples.map(([ms, v]) => (Number.isSafeInteger(v) && sentTimeMs.get(v) === ms ? v : -++foreign));
  return { read: { ok: true, seqs }, count: counted.vector[0] ?? 0 };
}

/** counterWorkload is the OTLP metric-point workload. */
export const counterWorkload: Workload = {
  name: 'counter',

  async runClient(clientId: number, ctx: WorkloadContext): Promise<void> {
    const rng = ctx.rng.fork(`client-${clientId}`);
    const series = `c${clientId}`;
    const intervalMs = (1000 * ctx.clients) / ctx.rateOpsPerSec;
    const perClientMax = Math.ceil(JepsenLimits.counterRequestsMax / ctx.clients);
    let seq = 0;
    let lastMs = 0;
    for (let n = 0; n < perClientMax && !ctx.stopped() && !ctx.history.full(); n++) {
      const t0 = performance.now();
      const seqs: number[] = [];
      const timesMs: number[] = [];
      for (let i = 0; i < JepsenLimits.counterPointsPerRequest; i++) {
        lastMs = Math.max(Date.now(), lastMs + 1);
        seqs.push(seq++);
        timesMs.push(lastMs);
      }
      const start = ctx.history.nowUs();
      const r = await sendRetried(ctx, rng.range(1, ctx.cluster.nodes.length), '/v1/metrics', counterBody(series, seqs, timesMs), JepsenLimits.setAttemptsMax);
      const value: CounterValue = { series, seqs, timesMs, attempts: r.attempts, refused: r.refused };
      const op: HistoryOp = { workload: 'counter', process: clientId, f: 'send', start, end: ctx.history.nowUs(), outcome: r.outcome, value, node: r.node, ...(r.error === undefined ? {} : { error: r.error }) };
      ctx.history.record(op);
      const left = intervalMs - (performance.now() - t0);
      if (left > 0) await sleep(left);
    }
  },

  async check(ctx: WorkloadContext): Promise<WorkloadResult> {
    const ops = ctx.history.ops('counter');
    const counts = countOutcomes(ops);
    const sent: SentItems[] = [];
    const sentTimes = new Map<string, Map<number, number>>();
    let minMs = Infinity;
    let maxMs = -Infinity;
    for (const o of ops) {
      const v = o.value as CounterValue;
      sent.push({ stream: v.series, seqs: v.seqs, outcome: o.outcome, refused: v.refused });
      let times = sentTimes.get(v.series);
      if (times === undefined) sentTimes.set(v.series, (times = new Map()));
      for (const [i, seq] of v.seqs.entries()) {
        const ms = v.timesMs[i] as number;
        times.set(seq, ms);
        minMs = Math.min(minMs, ms);
        maxMs = Math.max(maxMs, ms);
      }
    }
    const reads = new Map<string, StreamRead>();
    const countAnomalies: string[] = [];
    const nodes = ctx.cluster.nodes.length;
    if (Number.isFinite(minMs)) {
      // The instant is just after the last point; the window reaches just before the first (a selector's window is left-open).
      const timeS = Math.ceil(maxMs / 1000) + 1;
      const windowS = timeS - Math.floor(minMs / 1000) + 1;
      const series = [...sentTimes.keys()].sort();
      for (const [k, name] of series.entries()) {
        let got: { read: StreamRead; count: number | null } = { read: { ok: false, error: 'not read' }, count: null };
        for (let i = 0; i < JepsenLimits.readBackAttemptsMax && !got.read.ok; i++) {
          got = await readSeries(ctx, ((k + i) % nodes) + 1, name, windowS, timeS, sentTimes.get(name) as Map<number, number>);
          if (!got.read.ok) await sleep(JepsenLimits.recoveryPollMs);
        }
        reads.set(name, got.read);
        if (got.read.ok && got.count !== got.read.seqs.length) {
          countAnomalies.push(`series ${name}: count_over_time says ${String(got.count)} points, the raw read found ${got.read.seqs.length}`);
        }
      }
    }
    const c = checkSequences('point', sent, reads);
    const anomalies = capAnomalies([...countAnomalies, ...c.anomalies]);
    return { valid: c.valid && countAnomalies.length === 0, ...counts, lost: c.lost, unexpected: c.unexpected, duplicates: c.duplicates, anomalies };
  },
};
