/**
 * query-metrics.ts — `otlpdb query metrics '<PromQL>' [--range 1h
 * [--step 1m]] [--time T] [--json] [--server URL]` (DESIGN.md §8): a PromQL
 * query through any node's Prometheus API (GET /api/v1/query, or
 * /api/v1/query_range with --range; so a Prometheus works as a target too).
 * An instant result prints as a table (series labels, value); a range
 * result as one line per series: its labels, a sparkline of its values over
 * the steps (cli/render/sparkline.ts), and min / max / last. --json prints
 * the raw answer.
 *
 * --time is the instant (or the end of the range): RFC 3339 or unix
 * seconds, default now. --step defaults to the range / 60 (at least 1s).
 * --max-source-resolution (raw, 5m, 1h, auto) is sent as
 * `max_source_resolution` (src/query/promql/README.md "Rollups").
 * Flags are checked before anything is sent: a bad duration or time, a
 * --step without --range, or more than 11,000 steps (Prometheus's bound)
 * is ERR_INVALID_ARGUMENT (exit 2). The node's errors: bad_data →
 * ERR_INVALID_ARGUMENT, execution → ERR_LIMIT_EXCEEDED, anything else
 * (unreachable, timeout, unavailable) → ERR_UNAVAILABLE (exit 1).
 */
import { checkTenantId } from '../../src/control/tenant.js';
import { OtlpdbError } from '../../src/errors.js';
import { MetricsQueryLimits, QueryCliLimits } from '../../src/limits.js';
import { maxSourceResolutionParam, parseDuration, parseTime } from '../../src/api/prom-params.js';
import { parseIntegerFlag } from '../flags.js';
import { sparkline } from '../render/sparkline.js';
import { DEFAULT_TARGET, getFromTarget, parseTarget } from './trace.js';
import type { QueryIo } from './query.js';

/** QueryMetricsOptions are the raw flag values of `otlpdb query metrics`. */
export interface QueryMetricsOptions {
  readonly server?: string;
  readonly target?: string;
  readonly tenant?: string;
  readonly range?: string;
  readonly step?: string;
  readonly time?: string;
  /** maxSourceResolution is --max-source-resolution (raw, 5m, 1h, auto), sent as max_source_resolution when given. */
  readonly maxSourceResolution?: string;
  readonly width?: string;
  readonly json?: boolean;
}

type Metric = Record<string, string>;
interface PromDoc {
  status?: string;
  errorType?: string;
  error?: string;
  warnings?: string[];
  data?: { resultType?: string; result?: unknown };
}

/** seriesText spells a series' labels as PromQL does: `name{a="b", c="d"}`. */
export function seriesText(m: Metric): string {
  const name = m['__name__'] ?? '';
  const rest = Object.entries(m)
    .filter(([k]) => k !== '__name__')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return rest.length === 0 && name !== '' ? name : `${name}{${rest.join(', ')}}`;
}

function flagDuration(flag: string, raw: string): number {
  let ms: number;
  try {
    ms = parseDuration(raw, flag);
  } catch {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `${flag} ${JSON.stringify(raw)} is not a duration such as 90s, 15m or 1h`, { flag });
  }
  if (ms < 1000) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `${flag} must be at least 1s`, { flag });
  return ms;
}

/** renderInstant renders an instant answer's data (vector, scalar or string) as aligned lines. */
export function renderInstant(data: NonNullable<PromDoc['data']>): string[] {
  const r = data.result;
  if (data.resultType === 'scalar' || data.resultType === 'string') return [`${data.resultType}: ${String((r as unknown[])[1])}`];
  const rows = (Array.isArray(r) ? r : []) as { metric?: Metric; value?: [number, string] }[];
  const texts = rows.map((x) => seriesText(x.metric ?? {}));
  const w = Math.min(100, Math.max(6, ...texts.map((s) => s.length)));
  const lines = [`${'SERIES'.padEnd(w)}  VALUE`];
  rows.forEach((x, i) => lines.push(`${(texts[i] as string).padEnd(w)}  ${x.value?.[1] ?? '?'}`));
  lines.push(`${rows.length} series`);
  return lines;
}

/** renderRange renders a range answer's matrix: per series its labels, then a sparkline over the steps with min, max and last. */
export function renderRange(data: NonNullable<PromDoc['data']>, startS: number, endS: number, stepS: number, width: number): string[] {
  const rows = (Array.isArray(data.result) ? data.result : []) as { metric?: Metric; values?: [number, string][] }[];
  const steps = Math.floor((endS - startS) / stepS) + 1;
  const lines: string[] = [];
  for (const x of rows) {
    const at = new Map<number, number>();
    for (const [t, v] of x.values ?? []) at.set(Math.round((t - startS) / stepS), Number(v));
    const vals = Array.from({ length: steps }, (_, i) => at.get(i) ?? null);
    const finite = vals.filter((v): v is number => v !== null && Number.isFinite(v));
    const last = [...vals].reverse().find((v) => v !== null);
    const fmt = (v: number | undefined | null): string => (v === undefined || v === null ? '-' : String(Number(v.toPrecision(6))));
    lines.push(seriesText(x.metric ?? {}));
    lines.push(`  ${sparkline(vals, width)}  min ${fmt(finite.length > 0 ? Math.min(...finite) : null)}  max ${fmt(finite.length > 0 ? Math.max(...finite) : null)}  last ${fmt(last)}`);
  }
  lines.push(`${rows.length} series, ${steps} steps of ${stepS}s`);
  return lines;
}

/** runQueryMetrics runs a PromQL query and prints it; see the top of this file. */
export async function runQueryMetrics(promql: string, o: QueryMetricsOptions, io: QueryIo, nowMs: number = Date.now()): Promise<number> {
  if (promql.trim() === '') throw new OtlpdbError('ERR_INVALID_ARGUMENT', "give a PromQL query, for example 'sum by (job) (rate(http_requests_total[5m]))'");
  if (Buffer.byteLength(promql) > QueryCliLimits.queryBytesMax) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `the query is longer than QueryCliLimits.queryBytesMax (${QueryCliLimits.queryBytesMax} bytes)`);
  if (o.server !== undefined && o.target !== undefined) throw new OtlpdbError('ERR_INVALID_ARGUMENT', '--server and --target name the same thing; give one', { flag: '--server' });
  const target = parseTarget(o.server ?? o.target ?? DEFAULT_TARGET);
  if (o.tenant !== undefined) {
    const problem = checkTenantId(o.tenant);
    if (problem !== null) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `--tenant: ${problem}`, { flag: '--tenant' });
  }
  let timeMs = nowMs;
  if (o.time !== undefined) {
    try {
      timeMs = parseTime(o.time, '--time');
    } catch {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', `--time ${JSON.stringify(o.time)} is not RFC 3339 (2026-01-02T15:04:05Z) or unix seconds`, { flag: '--time' });
    }
  }
  if (o.step !== undefined && o.range === undefined) throw new OtlpdbError('ERR_INVALID_ARGUMENT', '--step needs --range (an instant query has no step)', { flag: '--step' });
  const width = o.width === undefined ? 60 : parseIntegerFlag('--width', o.width, 8, 400);
  const resolution: Record<string, string> = {};
  if (o.maxSourceResolution !== undefined) {
    try {
      maxSourceResolutionParam(o.maxSourceResolution);
    } catch {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', `--max-source-resolution ${JSON.stringify(o.maxSourceResolution)} is not raw, 5m, 1h or auto`, { flag: '--max-source-resolution' });
    }
    resolution['max_source_resolution'] = o.maxSourceResolution;
  }
  const endS = timeMs / 1000;
  let path: string;
  let range: { startS: number; stepS: number } | null = null;
  if (o.range !== undefined) {
    const rangeMs = flagDuration('--range', o.range);
    const stepMs = o.step === undefined ? Math.max(1000, Math.floor(rangeMs / 60 / 1000) * 1000) : flagDuration('--step', o.step);
    if (rangeMs / stepMs > MetricsQueryLimits.rangePointsMax) {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', `--range / --step is more than ${MetricsQueryLimits.rangePointsMax} steps (Prometheus's bound); use a larger --step`, { flag: '--step' });
    }
    range = { startS: endS - rangeMs / 1000, stepS: stepMs / 1000 };
    path = `/api/v1/query_range?${new URLSearchParams({ query: promql, start: String(range.startS), end: String(endS), step: String(range.stepS), ...resolution }).toString()}`;
  } else {
    path = `/api/v1/query?${new URLSearchParams({ query: promql, time: String(endS), ...resolution }).toString()}`;
  }
  const res = await getFromTarget(target, path, o.tenant);
  let doc: PromDoc;
  try {
    doc = JSON.parse(res.body) as PromDoc;
  } catch {
    throw new OtlpdbError('ERR_UNAVAILABLE', `${target.text} answered ${res.status} with a body that is not JSON: ${res.body.slice(0, 80)}`, { target: target.text });
  }
  if (doc.status !== 'success' || doc.data === undefined) {
    const why = `${target.text} refused the query (${doc.errorType ?? res.status}): ${doc.error ?? res.body.slice(0, 200)}`;
    if (doc.errorType === 'bad_data') throw new OtlpdbError('ERR_INVALID_ARGUMENT', why);
    if (doc.errorType === 'execution') throw new OtlpdbError('ERR_LIMIT_EXCEEDED', why);
    throw new OtlpdbError('ERR_UNAVAILABLE', why, { target: target.text, status: res.status });
  }
  if (o.json === true) {
    io.out(res.body.trimEnd());
    return 0;
  }
  const lines = range === null ? renderInstant(doc.data) : renderRange(doc.data, range.startS, endS, range.stepS, width);
  for (const l of lines) io.out(l);
  for (const w of doc.warnings ?? []) io.err(`warning: ${w}`);
  return 0;
}
