/**
 * metrics-shard-read.ts — one shard replica's part of a Prometheus read:
 * the series whose Prometheus view (metrics-prom-view.ts) the matchers
 * select, with their samples in [startMs, endMs] (`readShardSeries`), and
 * the SeriesSource the PromQL engine evaluates a pushed-down subexpression
 * over on that shard (`ShardSeriesSource`).
 *
 * Selection: matchers apply to Prometheus labels, so the shard maps every
 * series of the tenant through the view (cached per series id) and tests the
 * matchers on each name the family expands to (`x`, or `x_bucket`, `x_sum`,
 * `x_count`, …); a matcher on `le` or `quantile` is tested once the points
 * give those labels. Data is then read from the store per stored metric
 * name (`__name__ = raw name`), of the candidate ids only (the store's
 * `only`: a selective matcher reads its series' chunks, not the whole
 * name's), and series the view made equal are merged (mergeCollisions,
 * lowest id first).
 *
 * Rollups: a select with `rollup` (promql/source.ts SelectRollup) reads the
 * store's 5m/1h rollups of float series (flushed partials merged with the
 * heads' samples rolled up, metric-store.ts select) and answers one point
 * per window, at its lastT, with the asked aggregate; histogram and summary
 * series (expanded to floats from their points) are rolled up from their raw
 * points with the same code (promql/rollup-points.ts), so every series
 * answers alike.
 * Without an equality matcher (`=` with a non-empty value, not on `le` or
 * `quantile`), every series id of the tenant is mapped on every select
 * (cached, no data read); with one, only those the view's postings give
 * (metrics-read-postings.ts). NB: `series` lists a float series whether or not it has
 * samples in the range (the store keeps series ids forever); histogram and
 * summary series are listed from the points in range (their `le` and
 * `quantile` come from the data).
 *
 * Budget: more series or samples than the request's budget is
 * ERR_LIMIT_EXCEEDED; the read stops as soon as it passes one.
 */
import { joinFacts } from '../storage/codec/value-facts.js';
import { OtlpdbError, assert } from '../errors.js';
import type { Matcher } from '../storage/metrics/label-index.js';
import { compileMatchers } from '../storage/metrics/label-index.js';
import type { MetricStore, SeriesSamples } from '../storage/metrics/metric-store.js';
import type { RecordPoint } from '../storage/metrics/store-format.js';
import type { KvRead } from '../storage/shard/shard-db.js';
import type { ScanStats } from '../storage/shard/signal-store.js';
import type { FloatSeries, PromqlEngine, PromResult, SelectRequest, SeriesSource, SourceStats } from './promql/source.js';
import type { MetricsBudget } from './metrics-read-wire.js';
import type { PromFamily, PromView } from './metrics-prom-view.js';
import { familyNames, mergeCollisions, withName } from './metrics-prom-view.js';
import { expandRecords } from './metrics-prom-records.js';
import { candidateIdsOf, narrowing, postingsOf } from './metrics-read-postings.js';
import { pointsSeries, rawRangeForRollup, rollupRaw } from './promql/rollup-points.js';
import type { SelectRollup } from './promql/source.js';
import type { MaxSourceResolution } from './promql/rollup-eval.js';
import type { RollupPoint } from '../storage/metrics/rollup.js';
import type { ColumnLease, ColumnPool } from '../storage/metrics/column-pool.js';
import type { Expr } from './promql/ast.js';
import type { GridPartials } from './promql/grid-partials.js';

/** ShardReadContext is one pinned read of one shard replica's metrics store. */
export interface ShardReadContext {
  readonly shard: number;
  readonly store: MetricStore;
  readonly kv: KvRead;
  readonly tenant: string;
  readonly view: PromView;
  readonly stats: ScanStats;
  /** parse, when given, is the tenant's cached parser of pushed-down texts (promql/parse-cache.ts); absent, each is parsed. */
  readonly parse?: (text: string) => Expr;
  /** columns, when given, lends the raw reads their columns (column-pool.ts): the series answered are views of them until the lease is released. */
  readonly columns?: ColumnLease;
}

/** ShardReadResult is what a shard read found, with its counts. */
export interface ShardReadResult {
  readonly series: FloatSeries[];
  readonly seriesRead: number;
  readonly samplesRead: number;
  /** rollupPointsRead counts the rollup points among samplesRead. */
  readonly rollupPointsRead: number;
  /** grid, when present, is an eval's answer on the step grid (evalOnShard with `grid`); `series` is then empty. */
  readonly grid?: GridPartials;
}

/**
 * ALL_SERIES selects every series of a tenant (each carries otel_type).
 * `!= ""` selects exactly what `=~ ".+"` does (the series carrying the
 * label with a non-empty value) without compiling a regex on every shard
 * part (0.1 ms each, a third of a selective instant query's shard part).
 */
const ALL_SERIES: readonly Matcher[] = [{ name: 'otel_type', op: '!=', value: '' }];

interface Candidate {
  readonly id: number;
  readonly storedName: string;
  readonly isFloat: boolean;
  readonly family: PromFamily;
  /** names are the family's names the matchers (except `le`/`quantile`) accept. */
  readonly names: ReadonlySet<string>;
}

function overBudget(what: string, max: number): OtlpdbError {
  return new OtlpdbError('ERR_LIMIT_EXCEEDED', `the query reads more than ${max} ${what} (MetricsQueryLimits); narrow its matchers or range`, { max });
}

/**
 * candidatesOf maps the series of the tenant through the view and keeps
 * those some expanded name may match: with an equality matcher, only the
 * series its pairs' postings hold (metrics-read-postings.ts), else every one.
 */
function candidatesOf(c: ShardReadContext, matchers: readonly Matcher[]): Candidate[] {
  const compiled = compileMatchers(matchers);
  const out: Candidate[] = [];
  const all = c.store.seriesIds(c.tenant, ALL_SERIES);
  const familyOf = (id: number): PromFamily => {
    const info = c.store.seriesInfo(id);
    return c.view.familyOf(c.shard, id, info.name, info.labels, info.description);
  };
  const postings = narrowing(matchers).length > 0 ? postingsOf(c.store, c.view, c.shard, c.tenant, all, familyOf) : undefined;
  const ids = (postings === undefined ? undefined : candidateIdsOf(postings, matchers)) ?? all;
  for (const id of ids) {
    const info = c.store.seriesInfo(id);
    const family = c.view.familyOf(c.shard, id, info.name, info.labels, info.description);
    const names = new Set<string>();
    for (const n of familyNames(family)) {
      const labels = withName(family.labels, n.name);
      const ok = compiled.every((m) => m.name === n.extra || m.matches(labels.find((l) => l.name === m.name)?.value ?? ''));
      if (ok) names.add(n.name);
    }
    if (names.size > 0) out.push({ id, storedName: info.name, isFloat: info.isFloat, family, names });
  }
  return out;
}

function byStoredName(cands: readonly Candidate[]): Map<string, Map<number, Candidate>> {
  const out = new Map<string, Map<number, Candidate>>();
  for (const cand of cands) {
    let m = out.get(cand.storedName);
    if (m === undefined) out.set(cand.storedName, (m = new Map()));
    m.set(cand.id, cand);
  }
  return out;
}

/**
 * concatSlices puts a series' time slices (select's batches, in order) end
 * to end: the one slice itself, else one copy; with the slices' value facts
 * joined at each seam (storage/codec/value-facts.ts).
 */
function concatSlices(slices: readonly SeriesSamples[], n: number): { timestampsMs: Float64Array; values: Float64Array; facts: number } {
  const first = slices[0];
  if (slices.length === 1 && first !== undefined) return { timestampsMs: first.timestamps, values: first.values, facts: first.facts ?? 0 };
  const timestampsMs = new Float64Array(n);
  const values = new Float64Array(n);
  let at = 0;
  let facts = 0;
  for (const s of slices) {
    timestampsMs.set(s.timestamps, at);
    values.set(s.values, at);
    facts = at === 0 ? (s.facts ?? 0) : joinFacts(facts, s.facts ?? 0, values, at, s.values.length);
    at += s.timestamps.length;
  }
  assert(at === n, 'every slice copied');
  return { timestampsMs, values, facts };
}

/**
 * readShardSeries answers a select (`withSamples`) or a series listing on
 * one shard: the matching Prometheus series, sorted by labels, collisions
 * merged; with `rollup`, rollup points instead of samples (see the top of
 * this file). ERR_INVALID_ARGUMENT for bad matchers (as the store's label
 * index judges them), ERR_LIMIT_EXCEEDED past the budget.
 */
export async function readShardSeries(
  c: ShardReadContext,
  matchers: readonly Matcher[],
  startMs: number,
  endMs: number,
  budget: MetricsBudget,
  withSamples: boolean,
  rollup?: SelectRollup,
): Promise<ShardReadResult> {
  const compiled = compileMatchers(matchers);
  const cands = candidatesOf(c, matchers);
  const out: FloatSeries[] = [];
  let samples = 0;
  const push = (s: FloatSeries): void => {
    if (out.length >= budget.seriesMax) throw overBudget('series', budget.seriesMax);
    samples += s.values.length;
    if (samples > budget.samplesMax) throw overBudget('samples', budget.samplesMax);
    out.push(s);
  };
  const floats = cands.filter((x) => x.isFloat);
  const records = cands.filter((x) => !x.isFloat);
  if (!withSamples) {
    for (const f of floats) push({ labels: withName(f.family.labels, f.family.name), timestampsMs: new Float64Array(0), values: new Float64Array(0) });
  } else if (rollup !== undefined) {
    for (const [name, group] of byStoredName(floats)) {
      const acc = new Map<number, RollupPoint[]>();
      let n = 0;
      for await (const batch of c.store.select(c.kv, c.tenant, [{ name: '__name__', op: '=', value: name }], startMs, endMs, { resolution: rollup.resolution, only: new Set(group.keys()) }, c.stats)) {
        for (const s of batch) {
          if (s.kind !== 'rollups' || !group.has(s.seriesId)) continue;
          let a = acc.get(s.seriesId);
          if (a === undefined) acc.set(s.seriesId, (a = []));
          a.push(...s.points);
          n += s.points.length;
          if (samples + n > budget.samplesMax) throw overBudget('samples', budget.samplesMax);
        }
      }
      for (const [id, points] of [...acc].sort((x, y) => x[0] - y[0])) {
        const cand = group.get(id) as Candidate;
        push(pointsSeries(withName(cand.family.labels, cand.family.name), points, rollup.aggregate));
      }
    }
  } else {
    for (const [name, group] of byStoredName(floats)) {
      // A series comes in one batch per time slice, each a later, disjoint slice of its samples: its columns are those slices end to end.
      const acc = new Map<number, { slices: SeriesSamples[]; n: number }>();
      for await (const batch of c.store.select(c.kv, c.tenant, [{ name: '__name__', op: '=', value: name }], startMs, endMs, { resolution: 'raw', columns: c.columns, only: new Set(group.keys()) }, c.stats)) {
        for (const s of batch) {
          if (s.kind !== 'samples' || !group.has(s.seriesId)) continue;
          let a = acc.get(s.seriesId);
          if (a === undefined) acc.set(s.seriesId, (a = { slices: [], n: 0 }));
          a.slices.push(s);
          a.n += s.timestamps.length;
          if (samples + a.n > budget.samplesMax) throw overBudget('samples', budget.samplesMax);
        }
      }
      for (const [id, a] of [...acc].sort((x, y) => x[0] - y[0])) {
        const cand = group.get(id) as Candidate;
        push({ labels: withName(cand.family.labels, cand.family.name), ...concatSlices(a.slices, a.n) });
      }
    }
  }
  const [recFrom, recTo] = withSamples && rollup !== undefined ? rawRangeForRollup(startMs, endMs, rollup) : [startMs, endMs];
  for (const [name, group] of byStoredName(records)) {
    const acc = new Map<number, RecordPoint[]>();
    for await (const batch of c.store.selectRecords(c.kv, c.tenant, [{ name: '__name__', op: '=', value: name }], recFrom, recTo, c.stats, new Set(group.keys()))) {
      for (const s of batch) {
        if (!group.has(s.seriesId)) continue;
        let a = acc.get(s.seriesId);
        if (a === undefined) acc.set(s.seriesId, (a = []));
        a.push(...s.points);
      }
    }
    for (const [id, points] of [...acc].sort((x, y) => x[0] - y[0])) {
      const cand = group.get(id) as Candidate;
      for (const s of expandRecords(cand.family, points)) {
        const metric = s.labels.find((l) => l.name === '__name__')?.value ?? '';
        if (!cand.names.has(metric)) continue;
        if (!compiled.every((m) => m.matches(s.labels.find((l) => l.name === m.name)?.value ?? ''))) continue;
        if (!withSamples) push({ labels: s.labels, timestampsMs: new Float64Array(0), values: new Float64Array(0) });
        else push(rollup === undefined ? s : rollupRaw(s, rollup));
      }
    }
  }
  const merged = mergeCollisions(out);
  return { series: merged, seriesRead: out.length, samplesRead: samples, rollupPointsRead: withSamples && rollup !== undefined ? samples : 0 };
}

/**
 * readShardMetadata lists the families of the series the matchers select
 * (tested on each family's base name and labels, no data read): one label
 * set per distinct (name, type, unit, help), as `__name__`, `type`, `unit`,
 * `help` (empty ones left out).
 */
export function readShardMetadata(c: ShardReadContext, matchers: readonly Matcher[], budget: MetricsBudget): ShardReadResult {
  const compiled = compileMatchers(matchers);
  const seen = new Map<string, FloatSeries>();
  for (const id of c.store.seriesIds(c.tenant, ALL_SERIES)) {
    const info = c.store.seriesInfo(id);
    const f = c.view.familyOf(c.shard, id, info.name, info.labels, info.description);
    const labels = withName(f.labels, f.name);
    if (!compiled.every((m) => m.matches(labels.find((l) => l.name === m.name)?.value ?? ''))) continue;
    const meta = [
      { name: '__name__', value: f.name },
      { name: 'help', value: f.help },
      { name: 'type', value: f.type },
      { name: 'unit', value: f.unit },
    ].filter((l) => l.value !== '');
    const key = meta.map((l) => `${l.name}\u0000${l.value}`).join('\u0000');
    if (seen.has(key)) continue;
    if (seen.size >= budget.seriesMax) throw overBudget('metric families', budget.seriesMax);
    seen.set(key, { labels: meta, timestampsMs: new Float64Array(0), values: new Float64Array(0) });
  }
  const series = [...seen.values()];
  return { series: mergeCollisions(series), seriesRead: series.length, samplesRead: 0, rollupPointsRead: 0 };
}

/**
 * promResultSeries turns an engine's answer on a shard into FloatSeries: a
 * vector gives one single-point series per sample, a matrix its series, a
 * scalar one label-less series; a string is ERR_INVALID_ARGUMENT (no
 * pushed subexpression evaluates to one).
 */
export function promResultSeries(r: PromResult): FloatSeries[] {
  switch (r.kind) {
    case 'vector':
      return r.samples.map((s) => ({ labels: s.labels, timestampsMs: Float64Array.of(s.timestampMs), values: Float64Array.of(s.value) }));
    case 'matrix':
      return [...r.series];
    case 'scalar':
      return [{ labels: [], timestampsMs: Float64Array.of(r.timestampMs), values: Float64Array.of(r.value) }];
    case 'string':
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'a pushed-down subexpression evaluated to a string');
  }
}

/** toStoreMatchers are PromQL matchers as the store's label index types them (the same four operators). */
export function toStoreMatchers(ms: readonly { name: string; op: Matcher['op']; value: string }[]): Matcher[] {
  return ms.map((m) => ({ name: m.name, op: m.op, value: m.value }));
}

/**
 * ShardSeriesSource is the SeriesSource over one pinned shard replica that
 * a pushed-down subexpression is evaluated on (no shardEval: it is already
 * a shard). Its budget is the request's, shared by every select of the
 * evaluation.
 */
export class ShardSeriesSource implements SeriesSource {
  readonly stats: SourceStats = { shardsAsked: 1, seriesRead: 0, samplesRead: 0, samplesHeld: 0, bytesRead: 0, rollupPointsRead: 0, samplesDecoded: 0, partialFailures: [] };
  readonly parse?: (text: string) => Expr;
  readonly #c: ShardReadContext;
  readonly #budget: MetricsBudget;

  constructor(c: ShardReadContext, budget: MetricsBudget) {
    this.#c = c;
    this.#budget = budget;
    if (c.parse !== undefined) this.parse = c.parse;
  }

  /** select reads the matching series of this shard, within what is left of the budget. */
  async select(req: SelectRequest, signal: AbortSignal): Promise<readonly FloatSeries[]> {
    if (signal.aborted) throw new OtlpdbError('ERR_UNAVAILABLE', 'the evaluation was cancelled');
    const left = { seriesMax: Math.max(1, this.#budget.seriesMax - this.stats.seriesRead), samplesMax: Math.max(0, this.#budget.samplesMax - this.stats.samplesRead) };
    const r = await readShardSeries(this.#c, toStoreMatchers(req.matchers), req.startMs, req.endMs, left, true, req.rollup);
    this.stats.seriesRead += r.seriesRead;
    this.stats.samplesRead += r.samplesRead;
    this.stats.rollupPointsRead += r.rollupPointsRead;
    this.stats.bytesRead = this.#c.stats.bytesRead;
    this.stats.samplesDecoded = this.#c.stats.samplesDecoded ?? 0;
    return r.series;
  }
}

/**
 * evalOnShard runs the engine on one shard for a pushed subexpression and
 * answers its series or, with `grid` and an aggregation the engine computes
 * as columns, its points on the step grid (PromqlEngine.evaluateGrid: no
 * series a group, no seriesToGrid over them). With `pool`, the reads
 * decode into columns lent by one lease (column-pool.ts), released once
 * the answer is built: an answer series that is a view of a lent column
 * (the engine's answers are its own arrays; this is the guard) is copied
 * first.
 */
export async function evalOnShard(
  engine: PromqlEngine,
  c: ShardReadContext,
  req: { expr: string; startMs: number; endMs: number; stepMs: number; lookbackMs: number; maxSourceResolution: MaxSourceResolution },
  budget: MetricsBudget,
  signal: AbortSignal,
  pool?: ColumnPool,
  grid = false,
): Promise<ShardReadResult> {
  const lease = pool?.lease();
  try {
    const source = new ShardSeriesSource(lease === undefined ? c : { ...c, columns: lease }, budget);
    const range = { startMs: req.startMs, endMs: req.endMs, stepMs: req.stepMs };
    const opts = { lookbackMs: req.lookbackMs, signal, maxSourceResolution: req.maxSourceResolution, ...(lease === undefined ? {} : { scratch: lease }) };
    const r = grid && engine.evaluateGrid !== undefined ? await engine.evaluateGrid(req.expr, range, source, opts) : await engine.evaluate(req.expr, range, source, opts);
    const counts = { seriesRead: source.stats.seriesRead, samplesRead: source.stats.samplesRead, rollupPointsRead: source.stats.rollupPointsRead };
    if (r.kind === 'grid') {
      assert(lease === undefined || !lease.holds(r.grid.values), 'a grid answer owns its values');
      return { series: [], grid: r.grid, ...counts };
    }
    const series = promResultSeries(r);
    const own = lease === undefined ? series : series.map((s) => (lease.holds(s.values) || lease.holds(s.timestampsMs) ? { labels: s.labels, timestampsMs: s.timestampsMs.slice(), values: s.values.slice() } : s));
    return { series: own, ...counts };
  } finally {
    lease?.release();
  }
}
