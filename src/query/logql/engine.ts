/**
 * engine.ts — `logqlEngine`, the LogqlEngine of source.ts: parse, evaluate
 * over a LogSource, and split for shards when the source can run a pushed
 * query (`shardEval`).
 *
 * - Log queries: every entry runs the whole pipeline; the answer is the first
 *   `limit` entries in the query's direction in the canonical order (time,
 *   then stream labels, line and metadata, so equal times never make the cut
 *   depend on read order). Pushed: each shard answers its own first `limit`
 *   (evaluateShardPart), the coordinator sorts the union and cuts.
 * - Metric queries: each range aggregation is either pushed (its partial
 *   kind in metric.ts is not null and the source has shardEval: every shard
 *   answers a partial per output series and step, combined exactly here;
 *   a shard counts instead of gathering when the pipeline is line filters
 *   only: range-count.ts) or evaluated from gathered entries (`select` with
 *   the query's LineHints);
 *   vector aggregations and binary operators run on the coordinator.
 *
 * Bounds (LogqlLimits): limitMax, entriesHeldMax, samplesHeldMax, seriesMax,
 * stepsMax, pointsMax — ERR_LIMIT_EXCEEDED past any. The AbortSignal is
 * checked between batches (ERR_UNAVAILABLE: the query was cancelled).
 */
import { OtlpdbError, assert } from '../../errors.js';
import { LogqlLimits } from '../../limits.js';
import type { LogExpr, MetricExpr, RangeAggregation } from './ast.js';
import { formatLogExpr, formatLogql } from './format.js';
import { lineHints } from './hints.js';
import type { PartialKind, Sample, SeriesSamples, StepValues } from './metric.js';
import {
  binaryStep,
  checkPoints,
  combinePartials,
  evaluationSteps,
  finishPartial,
  forEachWindow,
  groupLabels,
  partialKindOf,
  partialOf,
  sortSeriesSamples,
  vectorAggregate,
  windowValue,
} from './metric.js';
import { compileLabelReplace } from './label-replace.js';
import { parseLogql } from './parser.js';
import { countRangePart } from './range-count.js';
import type { PipelineState } from './pipeline.js';
import { ERROR_LABEL, allLabelsOf, compileLabelFilterExpr, compilePipeline, labelsKey, mergedLabels, outputOf, setError, sortedLabels } from './pipeline.js';
import type {
  LogEntry,
  LogLabels,
  LogShardAnswer,
  LogShardEvalRequest,
  LogSource,
  LogqlEngine,
  LogqlParams,
  LogqlResult,
  LogqlSeries,
  LogqlStream,
  ShardPartialSeries,
} from './source.js';
import { parseBytes, parseDurationNs, parseNumber } from './values.js';

function cancelled(): OtlpdbError {
  return new OtlpdbError('ERR_UNAVAILABLE', 'LogQL: the query was cancelled');
}

function checkAbort(signal: AbortSignal): void {
  if (signal.aborted) throw cancelled();
}

/** compareOutputEntries is the canonical order of a log query's answer in a direction: time, then stream labels, line, metadata. */
export function compareOutputEntries(direction: 'forward' | 'backward'): (a: LogEntry, b: LogEntry) => number {
  const sign = direction === 'forward' ? 1 : -1;
  return (a, b) => {
    if (a.timeNs !== b.timeNs) return (a.timeNs < b.timeNs ? -1 : 1) * sign;
    const ka = labelsKey(a.stream);
    const kb = labelsKey(b.stream);
    if (ka !== kb) return ka < kb ? -1 : 1;
    if (a.line !== b.line) return a.line < b.line ? -1 : 1;
    const ma = labelsKey(a.metadata);
    const mb = labelsKey(b.metadata);
    return ma < mb ? -1 : ma > mb ? 1 : 0;
  };
}

/** sortOutputEntries sorts entries in canonical order, computing each entry's label keys once (not once per comparison). */
export function sortOutputEntries(entries: readonly LogEntry[], direction: 'forward' | 'backward'): LogEntry[] {
  const sign = direction === 'forward' ? 1 : -1;
  const decorated = entries.map((e) => ({ e, s: labelsKey(e.stream), m: labelsKey(e.metadata) }));
  decorated.sort((a, b) => {
    if (a.e.timeNs !== b.e.timeNs) return (a.e.timeNs < b.e.timeNs ? -1 : 1) * sign;
    if (a.s !== b.s) return a.s < b.s ? -1 : 1;
    if (a.e.line !== b.e.line) return a.e.line < b.e.line ? -1 : 1;
    return a.m < b.m ? -1 : a.m > b.m ? 1 : 0;
  });
  return decorated.map((d) => d.e);
}

/**
 * collectLogEntries runs a log query over a source and answers its first
 * `limit` entries in canonical order (the stream labels are the pipeline's
 * output labels). Reads on past the limit only through entries tied in time
 * with the last one kept.
 */
export async function collectLogEntries(log: LogExpr, source: LogSource, startNs: bigint, endNs: bigint, direction: 'forward' | 'backward', limit: number, signal: AbortSignal): Promise<LogEntry[]> {
  const pipeline = compilePipeline(log);
  const kept: LogEntry[] = [];
  let boundary: bigint | null = null;
  // `want`: the store builds entries in batches starting at `want`, so a query whose pipeline keeps them stops after one.
  // limit + 1: the loop below takes `limit` entries and looks at the next (tied with the last kept?); a first batch of
  // `limit` made the store build a second, twice as large, for that one entry (s22: 48 rows a shard for a limit of 16).
  const req = { matchers: log.matchers, startNs, endNs, direction, limit: null, hints: lineHints(log), want: limit + 1 };
  outer: for await (const batch of source.select(req, signal)) {
    checkAbort(signal);
    for (const entry of batch) {
      if (boundary !== null && entry.timeNs !== boundary) break outer;
      const s = pipeline.run(entry);
      if (s === null) continue;
      const { stream, metadata } = outputOf(s);
      kept.push({ stream, timeNs: entry.timeNs, line: s.line, metadata });
      if (kept.length > LogqlLimits.entriesHeldMax) throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `LogQL: more than LogqlLimits.entriesHeldMax (${LogqlLimits.entriesHeldMax}) entries share the time at the limit`);
      if (kept.length === limit) boundary = entry.timeNs;
    }
  }
  checkAbort(signal);
  return sortOutputEntries(kept, direction).slice(0, limit);
}

/** streamsOf groups a log query's ordered entries into streams by labels (streams in label order, entries keep their order). */
export function streamsOf(entries: readonly LogEntry[]): LogqlStream[] {
  const streams = new Map<string, { labels: LogLabels; entries: { timeNs: bigint; line: string; metadata: LogLabels }[] }>();
  for (const e of entries) {
    const key = labelsKey(e.stream);
    let s = streams.get(key);
    if (s === undefined) {
      s = { labels: e.stream, entries: [] };
      streams.set(key, s);
    }
    s.entries.push({ timeNs: e.timeNs, line: e.line, metadata: e.metadata });
  }
  return [...streams.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, s]) => s);
}

/** sampleExtractor turns a range aggregation's pipeline output into a sample (labels, value, the entry's `__error__`), or null when it yields none. */
function sampleExtractor(node: RangeAggregation): (s: PipelineState) => { labels: LogLabels; value: number; error: string | null } | null {
  const post = (node.unwrap?.postFilters ?? []).map(compileLabelFilterExpr);
  return (s) => {
    let value = 1;
    const u = node.unwrap;
    if (u !== null) {
      const raw = s.labels.get(u.label)?.value ?? '';
      if (raw === '') return null;
      let v: number | null;
      if (u.conversion === null) v = parseNumber(raw);
      else if (u.conversion === 'bytes') v = parseBytes(raw);
      else {
        const ns = parseDurationNs(raw);
        v = ns === null ? null : Number(ns) / 1e9;
      }
      if (v === null) setError(s, 'SampleExtractionErr');
      value = v ?? 0;
      for (const f of post) if (!f(s)) return null;
      s.labels.delete(u.label);
    } else if (node.fn === 'bytes_over_time' || node.fn === 'bytes_rate') value = Buffer.byteLength(s.line, 'utf8');
    const err = s.labels.get(ERROR_LABEL);
    const all = allLabelsOf(s);
    return { labels: node.grouping === null ? all : groupLabels(all, node.grouping), value, error: err?.value ?? null };
  };
}

/** inSomeWindow says whether a sample time falls in the window (t - offset - range, t - offset] of some step. */
function inSomeWindow(ts: bigint, steps: readonly bigint[], node: RangeAggregation): boolean {
  // The first step t with t - offset >= ts is the only candidate: later ones start later.
  let lo = 0;
  let hi = steps.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((steps[mid] as bigint) - node.offsetNs >= ts) hi = mid;
    else lo = mid + 1;
  }
  const t = steps[lo];
  return t !== undefined && t - node.offsetNs - node.rangeNs < ts;
}

/** gatherSamples reads a range aggregation's entries from a source and groups their samples by series. */
async function gatherSamples(node: RangeAggregation, source: LogSource, steps: readonly bigint[], signal: AbortSignal): Promise<SeriesSamples[]> {
  const first = steps[0] as bigint;
  const last = steps[steps.length - 1] as bigint;
  const req = {
    matchers: node.log.matchers,
    startNs: first - node.offsetNs - node.rangeNs + 1n,
    endNs: last - node.offsetNs,
    direction: 'forward' as const,
    limit: null,
    hints: lineHints(node.log),
  };
  const pipeline = compilePipeline(node.log);
  const extract = sampleExtractor(node);
  // No stage and no unwrap: the sample's labels are the entry's own (the common `count_over_time({...}[5m])`), without a pipeline state.
  const bare = node.log.stages.length === 0 && node.unwrap === null;
  const bytes = node.fn === 'bytes_over_time' || node.fn === 'bytes_rate';
  const series = new Map<string, SeriesSamples>();
  let held = 0;
  for await (const batch of source.select(req, signal)) {
    checkAbort(signal);
    for (const entry of batch) {
      let sample: ReturnType<typeof extract>;
      if (bare) {
        const labels = mergedLabels(entry);
        sample = { labels: node.grouping === null ? labels : groupLabels(labels, node.grouping), value: bytes ? Buffer.byteLength(entry.line, 'utf8') : 1, error: null };
      } else {
        const s = pipeline.run(entry);
        if (s === null) continue;
        sample = extract(s);
      }
      if (sample === null) continue;
      if (sample.error !== null) {
        // Loki refuses a metric query whose samples carry __error__; only a sample some window holds counts.
        if (inSomeWindow(entry.timeNs, steps, node)) {
          throw new OtlpdbError('ERR_INVALID_ARGUMENT', `LogQL: pipeline error: '${sample.error}' for series ${labelsKey(sample.labels)}; filter it with | __error__=""`, { error: sample.error });
        }
        continue;
      }
      const key = labelsKey(sample.labels);
      let ss = series.get(key);
      if (ss === undefined) {
        ss = { labels: sample.labels, key, ts: [], vals: [] };
        series.set(key, ss);
        if (series.size > LogqlLimits.seriesMax) checkPoints(series.size, 0);
      }
      ss.ts.push(entry.timeNs);
      ss.vals.push(sample.value);
      if (++held > LogqlLimits.samplesHeldMax) throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `LogQL: more than LogqlLimits.samplesHeldMax (${LogqlLimits.samplesHeldMax}) samples`);
    }
  }
  checkAbort(signal);
  const out = [...series.values()];
  for (const s of out) sortSeriesSamples(s);
  return out;
}

function emptySteps(n: number): Sample[][] {
  return Array.from({ length: n }, () => []);
}

/** rangeLocally evaluates a range aggregation from gathered samples. */
async function rangeLocally(node: RangeAggregation, source: LogSource, steps: readonly bigint[], signal: AbortSignal): Promise<Sample[][]> {
  const series = await gatherSamples(node, source, steps, signal);
  const out = emptySteps(steps.length);
  if (node.fn === 'absent_over_time') {
    const labels = sortedLabels(node.log.matchers.filter((m) => m.op === '=').map((m) => [m.name, m.value] as const));
    const present = new Array<boolean>(steps.length).fill(false);
    for (const s of series) forEachWindow(s.ts, steps, node.rangeNs, node.offsetNs, (i) => (present[i] = true));
    present.forEach((p, i) => {
      if (!p) (out[i] as Sample[]).push({ labels, key: labelsKey(labels), value: 1 });
    });
    return out;
  }
  let points = 0;
  for (const s of series) {
    forEachWindow(s.ts, steps, node.rangeNs, node.offsetNs, (i, lo, hi) => {
      (out[i] as Sample[]).push({ labels: s.labels, key: s.key, value: windowValue(node.fn, node.param, s.vals.slice(lo, hi), node.rangeNs, node.fn === 'rate_counter' ? s.ts.slice(lo, hi) : []) });
      points++;
    });
  }
  checkPoints(series.length, points);
  return out;
}

/** rangePushed evaluates a pushable range aggregation through the shards' partials. */
async function rangePushed(node: RangeAggregation, kind: PartialKind, source: LogSource, params: LogqlParams, steps: readonly bigint[]): Promise<Sample[][]> {
  const shardEval = source.shardEval as NonNullable<LogSource['shardEval']>;
  const answer = await shardEval.call(source, { expr: formatLogql(node), startNs: params.startNs, endNs: params.endNs, stepNs: params.stepNs, direction: params.direction, limit: params.limit }, params.signal);
  checkAbort(params.signal);
  if (answer.kind !== 'partials') throw new OtlpdbError('ERR_CORRUPTION', 'LogQL: a pushed metric query was answered with entries');
  const stepIndex = new Map(steps.map((t, i) => [t, i] as const));
  const width = kind === 'avg' ? 2 : 1;
  const combined = new Map<string, { labels: LogLabels; states: (number[] | undefined)[] }>();
  for (const ps of answer.series) {
    if (ps.stepsNs.length !== ps.values.length) throw new OtlpdbError('ERR_CORRUPTION', 'LogQL: a shard partial has as many steps as values');
    const key = labelsKey(ps.labels);
    let c = combined.get(key);
    if (c === undefined) {
      c = { labels: ps.labels, states: new Array<number[] | undefined>(steps.length) };
      combined.set(key, c);
      if (combined.size > LogqlLimits.seriesMax) checkPoints(combined.size, 0);
    }
    for (let j = 0; j < ps.stepsNs.length; j++) {
      const i = stepIndex.get(ps.stepsNs[j] as bigint);
      const v = ps.values[j] as readonly number[];
      if (i === undefined || v.length !== width) throw new OtlpdbError('ERR_CORRUPTION', 'LogQL: a shard partial names a step or a state width the query does not have');
      const prev = c.states[i];
      c.states[i] = prev === undefined ? [...v] : combinePartials(kind, prev, v);
    }
  }
  const out = emptySteps(steps.length);
  let points = 0;
  for (const [key, c] of combined) {
    c.states.forEach((st, i) => {
      if (st === undefined) return;
      (out[i] as Sample[]).push({ labels: c.labels, key, value: finishPartial(node.fn, st, node.rangeNs) });
      points++;
    });
  }
  checkPoints(combined.size, points);
  return out;
}

async function evalMetric(e: MetricExpr, source: LogSource, params: LogqlParams, steps: readonly bigint[]): Promise<StepValues> {
  checkAbort(params.signal);
  switch (e.kind) {
    case 'number':
      return { kind: 'scalar', steps: steps.map(() => e.value) };
    case 'vectorLiteral':
      return { kind: 'vector', steps: steps.map(() => [{ labels: [], key: labelsKey([]), value: e.value }]) };
    case 'range': {
      const kind = partialKindOf(e.fn);
      const vec = source.shardEval !== undefined && kind !== null ? await rangePushed(e, kind, source, params, steps) : await rangeLocally(e, source, steps, params.signal);
      return { kind: 'vector', steps: vec };
    }
    case 'vector': {
      const inner = await evalMetric(e.expr, source, params, steps);
      assert(inner.kind === 'vector', 'the parser gives vector aggregations vectors');
      return { kind: 'vector', steps: inner.steps.map((s) => vectorAggregate(e.op, e.param, e.grouping, s)) };
    }
    case 'binary': {
      const l = await evalMetric(e.lhs, source, params, steps);
      const r = await evalMetric(e.rhs, source, params, steps);
      const out = steps.map((_, i) => binaryStep(e, l.steps[i] as Sample[] | number, r.steps[i] as Sample[] | number));
      if (l.kind === 'scalar' && r.kind === 'scalar') return { kind: 'scalar', steps: out as number[] };
      const vec = out as Sample[][];
      checkPoints(0, vec.reduce((a, s) => a + s.length, 0));
      return { kind: 'vector', steps: vec };
    }
    case 'labelReplace': {
      const inner = await evalMetric(e.expr, source, params, steps);
      assert(inner.kind === 'vector', 'the parser gives label_replace a vector');
      const replace = compileLabelReplace(e);
      return { kind: 'vector', steps: inner.steps.map(replace) };
    }
  }
}

/** sortsAnswer says whether an instant answer keeps the evaluation order (a `sort`/`sort_desc` outermost, under label_replace at most) instead of label order. */
export function sortsAnswer(e: MetricExpr): boolean {
  if (e.kind === 'vector') return e.op === 'sort' || e.op === 'sort_desc';
  return e.kind === 'labelReplace' && sortsAnswer(e.expr);
}

/**
 * resultOf shapes a metric evaluation as Loki's API types it: vector/scalar
 * for an instant query (samples in label order, or as evaluated when
 * `keepOrder`: the query sorts by value), matrix for a range query (series in
 * label order: sort has no effect there, as in Prometheus).
 */
export function resultOf(v: StepValues, steps: readonly bigint[], instant: boolean, keepOrder = false): LogqlResult {
  if (instant) {
    const t = steps[0] as bigint;
    if (v.kind === 'scalar') return { kind: 'scalar', timeNs: t, value: v.steps[0] as number };
    const samples = keepOrder ? (v.steps[0] as Sample[]) : [...(v.steps[0] as Sample[])].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return { kind: 'vector', samples: samples.map((s) => ({ labels: s.labels, timeNs: t, value: s.value })) };
  }
  const series = new Map<string, { labels: LogLabels; timesNs: bigint[]; values: number[] }>();
  steps.forEach((t, i) => {
    const at: Sample[] = v.kind === 'scalar' ? [{ labels: [], key: '[]', value: v.steps[i] as number }] : (v.steps[i] as Sample[]);
    for (const s of at) {
      let ser = series.get(s.key);
      if (ser === undefined) {
        ser = { labels: s.labels, timesNs: [], values: [] };
        series.set(s.key, ser);
      }
      ser.timesNs.push(t);
      ser.values.push(s.value);
    }
  });
  const out: LogqlSeries[] = [...series.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, s]) => s);
  return { kind: 'matrix', series: out };
}

function checkParams(startNs: bigint, endNs: bigint, stepNs: bigint, limit: number): void {
  if (endNs < startNs) throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'LogQL: end is before start', { param: 'end' });
  if (stepNs < 0n) throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'LogQL: step must not be negative', { param: 'step' });
  if (!Number.isSafeInteger(limit) || limit < 1) throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'LogQL: limit must be a positive integer', { param: 'limit' });
  if (limit > LogqlLimits.limitMax) throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `LogQL: limit ${limit} exceeds LogqlLimits.limitMax (${LogqlLimits.limitMax})`, { param: 'limit' });
}

async function evaluate(text: string, params: LogqlParams, source: LogSource): Promise<LogqlResult> {
  checkParams(params.startNs, params.endNs, params.stepNs, params.limit);
  checkAbort(params.signal);
  const expr = parseLogql(text);
  if (expr.kind === 'log') {
    let entries: LogEntry[];
    if (source.shardEval !== undefined) {
      const answer = await source.shardEval({ expr: formatLogExpr(expr), startNs: params.startNs, endNs: params.endNs, stepNs: 0n, direction: params.direction, limit: params.limit }, params.signal);
      checkAbort(params.signal);
      if (answer.kind !== 'entries') throw new OtlpdbError('ERR_CORRUPTION', 'LogQL: a pushed log query was answered with partials');
      if (answer.entries.length > LogqlLimits.entriesHeldMax) throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `LogQL: the shards answered more than LogqlLimits.entriesHeldMax (${LogqlLimits.entriesHeldMax}) entries`);
      entries = sortOutputEntries(answer.entries, params.direction).slice(0, params.limit);
    } else {
      entries = await collectLogEntries(expr, source, params.startNs, params.endNs, params.direction, params.limit, params.signal);
    }
    return { kind: 'streams', streams: streamsOf(entries) };
  }
  const steps = evaluationSteps(params.startNs, params.endNs, params.stepNs);
  const v = await evalMetric(expr, source, params, steps);
  return resultOf(v, steps, params.stepNs === 0n, sortsAnswer(expr));
}

async function evaluateShardPart(req: LogShardEvalRequest, source: LogSource, signal: AbortSignal): Promise<LogShardAnswer> {
  checkParams(req.startNs, req.endNs, req.stepNs, req.limit);
  checkAbort(signal);
  const expr = parseLogql(req.expr);
  if (expr.kind === 'log') {
    return { kind: 'entries', entries: await collectLogEntries(expr, source, req.startNs, req.endNs, req.direction, req.limit, signal) };
  }
  const kind = expr.kind === 'range' ? partialKindOf(expr.fn) : null;
  if (expr.kind !== 'range' || kind === null) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'LogQL: a shard runs a log query or one pushable range aggregation (count_over_time, rate, bytes_over_time, bytes_rate, sum/min/max/avg_over_time)');
  }
  const steps = evaluationSteps(req.startNs, req.endNs, req.stepNs);
  // Line filters only, nothing unwrapped: counted from the source's entries without building them (range-count.ts).
  const counted = await countRangePart(expr, steps, req.stepNs, source, signal);
  if (counted !== null) return { kind: 'partials', series: counted };
  const series = await gatherSamples(expr, source, steps, signal);
  const out: ShardPartialSeries[] = [];
  let points = 0;
  for (const s of series) {
    const stepsNs: bigint[] = [];
    const values: number[][] = [];
    forEachWindow(s.ts, steps, expr.rangeNs, expr.offsetNs, (i, lo, hi) => {
      stepsNs.push(steps[i] as bigint);
      values.push(partialOf(kind, s.vals.slice(lo, hi)));
    });
    points += stepsNs.length;
    if (stepsNs.length > 0) out.push({ labels: s.labels, stepsNs, values });
  }
  checkPoints(series.length, points);
  return { kind: 'partials', series: out };
}

/** logqlEngine is the LogQL engine the API routes and the shards call (source.ts LogqlEngine). */
export const logqlEngine: LogqlEngine = { evaluate, evaluateShardPart };
