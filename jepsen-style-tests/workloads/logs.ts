/**
 * logs.ts — the logs workload: each client owns one log stream (resource
 * attribute `jepsen.stream` = `c<client>`, stream label `jepsen_stream`)
 * and sends its lines numbered 0, 1, 2, ... as OTLP/HTTP JSON (POST
 * /v1/logs), JepsenLimits.logLinesPerRequest lines a request, each line
 * `jepsen-logs stream=c<client> seq=<n>` at its own nanosecond (strictly
 * increasing per stream). Requests are sent and retried as send-retried.ts
 * says. Afterwards every stream is read back through the Loki API
 * (GET /loki/api/v1/query_range, forward, in pages) and checkSequences
 * (seq-checker.ts) decides: every acknowledged line present exactly once.
 *
 * Log records are not deduplicated by content (two identical records are
 * two records), so a duplicate here is a retry stored twice: the promise
 * that retries apply once (DESIGN.md §1.3) is what this checks.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { assert } from '../../src/errors.js';
import { JepsenLimits } from '../../src/limits.js';
import type { HistoryOp } from '../harness/history.js';
import { countOutcomes } from '../report/results.js';
import type { WorkloadResult } from '../report/results.js';
import { attempt } from './client-http.js';
import { checkSequences } from './seq-checker.js';
import type { SentItems, StreamRead } from './seq-checker.js';
import { sendRetried } from './send-retried.js';
import type { Workload, WorkloadContext } from './types.js';

/** LogsValue is the `value` of a logs operation in history.jsonl. */
export interface LogsValue {
  readonly stream: string;
  readonly seqs: readonly number[];
  /** timesNs are the lines' times (decimal nanoseconds), aligned with seqs. */
  readonly timesNs: readonly string[];
  readonly attempts: number;
  readonly refused: boolean;
}

/** STREAM_ATTRIBUTE is the resource attribute naming a client's stream; the Loki view shows it as the label `jepsen_stream`. */
export const STREAM_ATTRIBUTE = 'jepsen.stream';
const STREAM_LABEL = 'jepsen_stream';
const LINE_RE = /^jepsen-logs stream=(\S+) seq=(\d+)$/;

/** logLine is the text of line `seq` of `stream`. */
export function logLine(stream: string, seq: number): string {
  return `jepsen-logs stream=${stream} seq=${seq}`;
}

/** parseLogLine reads back a line's stream and number, or null for a line the workload did not write. */
export function parseLogLine(line: string): { stream: string; seq: number } | null {
  const m = LINE_RE.exec(line);
  return m === null ? null : { stream: m[1] as string, seq: Number(m[2]) };
}

/** logsBody is the OTLP/JSON export request carrying lines `seqs` of `stream` at `timesNs`. */
export function logsBody(stream: string, seqs: readonly number[], timesNs: readonly bigint[]): string {
  assert(seqs.length === timesNs.length && seqs.length > 0, 'one time per line');
  return JSON.stringify({
    resourceLogs: [
      {
        resource: {
          attributes: [
            { key: 'service.name', value: { stringValue: 'jepsen-logs' } },
            { key: STREAM_ATTRIBUTE, value: { stringValue: stream } },
          ],
        },
        scopeLogs: [
          {
            logRecords: seqs.map((seq, i) => ({
              timeUnixNano: String(timesNs[i]),
              observedTimeUnixNano: String(timesNs[i]),
              severityNumber: 9,
              severityText: 'INFO',
              body: { stringValue: logLine(stream, seq) },
            })),
          },
        ],
      },
    ],
  });
}

/** LokiStreamsPage is what one query_range page found: the lines' (time, text), in time order. */
export type LokiStreamsPage = { readonly ok: true; readonly entries: readonly { readonly timeNs: bigint; readonly line: string }[] } | { readonly ok: false; readonly error: string };

/** parseLokiStreams reads a Loki `streams` answer into (time, line) pairs sorted by time (stable). */
export function parseLokiStreams(body: string): LokiStreamsPage {
  const doc = JSON.parse(body) as { status?: string; data?: { resultType?: string; result?: { values?: [string, string][] }[] } };
  if (doc.status !== 'success' || doc.data?.resultType !== 'streams') return { ok: false, error: `not a streams answer: ${body.slice(0, 200)}` };
  const entries: { timeNs: bigint; line: string }[] = [];
  for (const s of doc.data.result ?? []) for (const [ts, line] of s.values ?? []) entries.push({ timeNs: BigInt(ts), line });
  entries.sort((a, b) => (a.timeNs < b.timeNs ? -1 : a.timeNs > b.timeNs ? 1 : 0));
  return { ok: true, entries };
}

/**
 * readStream reads every line of `stream` in [startNs, endNs] through node
 * `node`'s Loki API, a page of JepsenLimits.logsReadPageLines at a time. A
 * full page's next page starts at its last time (inclusive) and skips as
 * many lines of that time as the page already had, so a line stored twice
 * at one time is still seen twice across a page boundary.
 */
export async function readStream(ctx: WorkloadContext, node: number, stream: string, startNs: bigint, endNs: bigint): Promise<StreamRead> {
  const seqs: number[] = [];
  let from = startNs;
  let skip = 0;
  let foreign = 0;
  for (let page = 0; page < JepsenLimits.logsReadPagesMax; page++) {
    const q = new URLSearchParams({ query: `{${STREAM_LABEL}="${stream}"}`, start: String(from), end: String(endNs), limit: String(JepsenLimits.logsReadPageLines), direction: 'forward' });
    const a = await attempt(ctx.cluster.node(node).api, 'GET', `/loki/api/v1/query_range?${q.toString()}`, null);
    if (a.kind !== 'answer') return { ok: false, error: `${a.error} (node ${node})` };
    if (a.status !== 200) return { ok: false, error: `HTTP ${a.status} from node ${node}: ${a.body.slice(0, 200)}` };
    const p = parseLokiStreams(a.body);
    if (!p.ok) return p;
    let skipped = 0;
    for (const e of p.entries) {
      if (e.timeNs === from && skipped < skip) {
        skipped++;
        continue;
      }
      const parsed = parseLogLine(e.line);
      // A line of another stream or not of this workload is an unexpected item: each gets its own number no client sends.
      seqs.push(parsed === null || parsed.stream !== stream ? -++foreign : parsed.seq);
    }
    if (p.entries.length < JepsenLimits.logsReadPageLines) return { ok: true, seqs };
    const last = p.entries[p.entries.length - 1];
    assert(last !== undefined, 'a full page has a last line');
    // The next page starts at `last`'s time again and holds every line of that time: skip those this page had.
    skip = p.entries.filter((e) => e.timeNs === last.timeNs).length;
    if (skip >= JepsenLimits.logsReadPageLines) return { ok: false, error: `more than a page of lines at ${last.timeNs} ns in stream ${stream}` };
    from = last.timeNs;
  }
  return { ok: false, error: `stream ${stream} has more than ${JepsenLimits.logsReadPagesMax} pages` };
}

/** logsWorkload is the OTLP log-stream workload. */
export const logsWorkload: Workload = {
  name: 'logs',

  async runClient(clientId: number, ctx: WorkloadContext): Promise<void> {
    const rng = ctx.rng.fork(`client-${clientId}`);
    const stream = `c${clientId}`;
    const intervalMs = (1000 * ctx.clients) / ctx.rateOpsPerSec;
    const perClientMax = Math.ceil(JepsenLimits.logsRequestsMax / ctx.clients);
    let seq = 0;
    let lastNs = 0n;
    for (let n = 0; n < perClientMax && !ctx.stopped() && !ctx.history.full(); n++) {
      const t0 = performance.now();
      const seqs: number[] = [];
      const timesNs: bigint[] = [];
      for (let i = 0; i < JepsenLimits.logLinesPerRequest; i++) {
        const now = BigInt(Date.now()) * 1_000_000n;
        lastNs = now > lastNs ? now : lastNs + 1n;
        seqs.push(seq++);
        timesNs.push(lastNs);
      }
      const start = ctx.history.nowUs();
      const r = await sendRetried(ctx, rng.range(1, ctx.cluster.nodes.length), '/v1/logs', logsBody(stream, seqs, timesNs), JepsenLimits.setAttemptsMax);
      const value: LogsValue = { stream, seqs, timesNs: timesNs.map(String), attempts: r.attempts, refused: r.refused };
      const op: HistoryOp = { workload: 'logs', process: clientId, f: 'send', start, end: ctx.history.nowUs(), outcome: r.outcome, value, node: r.node, ...(r.error === undefined ? {} : { error: r.error }) };
      ctx.history.record(op);
      const left = intervalMs - (performance.now() - t0);
      if (left > 0) await sleep(left);
    }
  },

  async check(ctx: WorkloadContext): Promise<WorkloadResult> {
    const ops = ctx.history.ops('logs');
    const counts = countOutcomes(ops);
    const sent: SentItems[] = ops.map((o) => {
      const v = o.value as LogsValue;
      return { stream: v.stream, seqs: v.seqs, outcome: o.outcome, refused: v.refused };
    });
    let minNs: bigint | null = null;
    let maxNs: bigint | null = null;
    for (const o of ops) {
      for (const ts of (o.value as LogsValue).timesNs) {
        const t = BigInt(ts);
        if (minNs === null || t < minNs) minNs = t;
        if (maxNs === null || t > maxNs) maxNs = t;
      }
    }
    const reads = new Map<string, StreamRead>();
    const nodes = ctx.cluster.nodes.length;
    if (minNs !== null && maxNs !== null) {
      const streams = [...new Set(sent.map((s) => s.stream))].sort();
      for (const [k, stream] of streams.entries()) {
        let read: StreamRead = { ok: false, error: 'not read' };
        for (let i = 0; i < JepsenLimits.readBackAttemptsMax && !read.ok; i++) {
          read = await readStream(ctx, ((k + i) % nodes) + 1, stream, minNs, maxNs);
          if (!read.ok) await sleep(JepsenLimits.recoveryPollMs);
        }
        reads.set(stream, read);
      }
    }
    const c = checkSequences('line', sent, reads);
    return { valid: c.valid, ...counts, lost: c.lost, unexpected: c.unexpected, duplicates: c.duplicates, anomalies: c.anomalies };
  },
};
