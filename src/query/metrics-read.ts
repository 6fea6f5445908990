/**
 * metrics-read.ts — Prometheus reads across the cluster (DESIGN.md §7): a
 * shard's part (metrics-shard-read.ts) on every shard in parallel over the
 * peer method shard.metricsRead (frames in metrics-read-wire.ts), then a
 * merge; and ClusterSeriesSource, the SeriesSource the PromQL engine reads
 * the whole cluster through on a coordinator.
 *
 * Routing, failover, backoff, the deadline and cancellation are
 * shard-fanout.ts's with MetricsQueryLimits's bounds; the shards a peer is
 * asked first for go to it in one shard.metricsReadBatch call
 * (metrics-read-batch.ts), each part served as a single call would be: `linearizable` (the
 * default) asks each shard's leader after a ReadIndex barrier, `stale`
 * this node's replica when it hosts one (planner.ts replicaChoice through
 * everyShard).
 *
 * Failures: a shard refusing the query itself (ERR_INVALID_ARGUMENT, e.g. a
 * bad regex; ERR_LIMIT_EXCEEDED, past the budget) fails the whole read with
 * that error — every shard would refuse alike, and a PromQL answer over part
 * of the data past a bound would be wrong. A shard no replica answered is
 * listed in the stats' partialFailures and the answer is partial; only when
 * every shard failed is the read an error (allFailedError).
 *
 * Merge: series equal by labels are merged (mergeCollisions; the lower
 * shard wins a timestamp), sorted by labels; the series bound is checked
 * again on the union.
 *
 * Samples: as Prometheus's query.max-samples, MetricsQueryLimits.samplesMax
 * bounds what a query holds on its coordinator — every sample a select
 * gathers, every point a pushed part answers (stats.samplesHeld) — not what
 * the shards read: `sum(rate(m[5m]))` over 57.7 M samples is answered with a
 * few thousand points. Each shard's part reads at most shardSamplesMax
 * (a shard holds the columns it evaluates over) and answers at most what
 * the coordinator may still hold; past either, ERR_LIMIT_EXCEEDED.
 * NB: the shard parts on one node run at once, so a node may hold up to
 * (its shard parts) × shardSamplesMax; a streaming shard read would lift that. shardEval answers the union without merging (the engine
 * combines per-shard partial aggregates itself).
 *
 * Owner: the node owns one MetricsRead; it registers shard.metricsRead on the
 * node's transport. The PromQL engine is injected (null until wired): an
 * eval part on a node without one is ERR_UNAVAILABLE.
 */
import { OtlpdbError, assert } from '../errors.js';
import { MetricsQueryLimits as L } from '../limits.js';
import type { GroupId } from '../raft/types.js';
import { MetricStore } from '../storage/metrics/metric-store.js';
import type { ScanStats } from '../storage/shard/signal-store.js';
import type { FloatSeries, PromMatcher, PromqlEngine, SelectRequest, SelectRollup, SeriesSource, ShardEvalRequest, SourceStats } from './promql/source.js';
import type { MaxSourceResolution } from './promql/rollup-eval.js';
import { allFailedError, fanOut, isQueryRefusal, runHere } from './shard-fanout.js';
import type { FanoutDeps, ShardOutcome } from './shard-fanout.js';
import type { Consistency } from './trace-search-wire.js';
import { SHARD_METRICS_READ_BATCH, askAlone, decodeBatchAnswer, decodeBatchRequest, encodeBatchAnswer, encodeBatchRequest } from './metrics-read-batch.js';
import { SHARD_METRICS_READ, answerBytes, decodeMetricsAnswer, decodeMetricsRequest, encodeMetricsAnswer, encodeMetricsRequest } from './metrics-read-wire.js';
import type { AnswerForm, MetricsBudget, MetricsShardAnswer, MetricsShardRequest } from './metrics-read-wire.js';
import type { GridPartials, ShardGridAnswer } from './promql/grid-partials.js';
import { gridSteps, gridToSeries, seriesToGrid } from './promql/grid-partials.js';
import { makeGrid } from './promql/eval-types.js';
import type { PromView } from './metrics-prom-view.js';
import type { Expr } from './promql/ast.js';
import { mergeCollisions } from './metrics-prom-view.js';
import { ColumnPool } from '../storage/metrics/column-pool.js';
import { evalOnShard, readShardMetadata, readShardSeries, toStoreMatchers } from './metrics-shard-read.js';
import { ParsedExprCache } from './promql/parse-cache.js';
import type { ParseScope } from './promql/parse-cache.js';
import type { ShardReadContext, ShardReadResult } from './metrics-shard-read.js';

/** MetricsReadDeps are what a Prometheus read needs from its node. */
export interface MetricsReadDeps extends FanoutDeps {
  readonly view: PromView;
  /** engine evaluates pushed-down subexpressions on this node's shards; null until the PromQL engine is wired. */
  readonly engine: PromqlEngine | null;
  /** limits override MetricsQueryLimits's sample bounds (tests: small ones); absent, the constants. */
  readonly limits?: MetricsReadLimits;
}

/** MetricsReadLimits are the sample bounds of one query (MetricsQueryLimits.samplesMax and shardSamplesMax). */
export interface MetricsReadLimits {
  readonly samplesMax: number;
  readonly shardSamplesMax: number;
}

/** newSourceStats is an empty SourceStats. */
export function newSourceStats(): SourceStats {
  return { shardsAsked: 0, seriesRead: 0, samplesRead: 0, samplesHeld: 0, rollupPointsRead: 0, bytesRead: 0, samplesDecoded: 0, partialFailures: [] };
}

type ShardPart =
  | { op: 'select' | 'series' | 'metadata'; matchers: readonly PromMatcher[]; startMs: number; endMs: number; rollup?: SelectRollup }
  | { op: 'eval'; expr: string; startMs: number; endMs: number; stepMs: number; lookbackMs: number; maxSourceResolution: MaxSourceResolution; answerForm?: AnswerForm };

/** MetricsRead runs Prometheus reads for its node and serves its shards' parts; see the top of this file. */
export class MetricsRead {
  readonly #d: MetricsReadDeps;
  /** #columns lends the shard parts evaluated here the columns their reads decode into (column-pool.ts), taken back once each part's answer is built. */
  readonly #columns = new ColumnPool();
  /** #parses is the node's parsed query texts (promql/parse-cache.ts), per tenant: the coordinator's evaluations and the shard parts served here share it. */
  readonly #parses = new ParsedExprCache();

  constructor(deps: MetricsReadDeps) {
    this.#d = deps;
  }

  /** engine is the injected PromQL engine, or null. */
  get engine(): PromqlEngine | null {
    return this.#d.engine;
  }

  /** parseScope is the parser of one tenant's query texts on this node (cached; promql/parse-cache.ts). */
  parseScope(tenant: string): ParseScope {
    return this.#parses.scope(tenant);
  }

  /** register installs shard.metricsRead on the node's transport. */
  register(): void {
    this.#d.transport.handle(SHARD_METRICS_READ, async (payload, ctx) => {
      const r = decodeMetricsRequest(payload);
      const deadline = this.#d.nowMs() + Math.min(L.shardCallMs, ctx.deadlineMs);
      return encodeMetricsAnswer(await this.#runHere(r, deadline, undefined, ctx.signal));
    });
    // Every part starts at once (each runHere asks for its barrier before its first await), so one driver iteration carries them all.
    // The parts share one deadline, so their evaluations share one abort and one timer (a part's own would fire at the same time).
    this.#d.transport.handle(SHARD_METRICS_READ_BATCH, async (payload, ctx) => {
      const parts = decodeBatchRequest(payload).map(decodeMetricsRequest);
      const deadline = this.#d.nowMs() + Math.min(L.shardCallMs, ctx.deadlineMs);
      const stop = parts.some((r) => r.op === 'eval') ? deadlineAbort(deadline - this.#d.nowMs(), ctx.signal) : null;
      let settled: PromiseSettledResult<MetricsShardAnswer>[];
      try {
        settled = await Promise.allSettled(parts.map((r) => this.#runHere(r, deadline, stop?.signal, ctx.signal)));
      } finally {
        stop?.clear();
      }
      // Each answer is written once, straight into the batch answer's bytes (one past answerBytesMax refuses the call, as its encoding did).
      return encodeBatchAnswer(settled.map((o) => (o.status === 'fulfilled' ? answerBytes(o.value) : (o.reason as unknown))));
    });
  }

  /** select reads every shard's matching series and samples and merges them; stats accumulate into `stats`. */
  async select(tenant: string, req: SelectRequest, consistency: Consistency, signal: AbortSignal, stats: SourceStats): Promise<FloatSeries[]> {
    const all = await this.#gather(tenant, consistency, { op: 'select', matchers: req.matchers, startMs: req.startMs, endMs: req.endMs, ...(req.rollup === undefined ? {} : { rollup: req.rollup }) }, signal, stats);
    return this.#merged(seriesOf(all));
  }

  /** series lists the label sets of every series any matcher set selects in [startMs, endMs], distinct and sorted. */
  async series(tenant: string, matcherSets: readonly (readonly PromMatcher[])[], startMs: number, endMs: number, consistency: Consistency, signal: AbortSignal, stats: SourceStats): Promise<FloatSeries[]> {
    const all: FloatSeries[] = [];
    for (const matchers of matcherSets) all.push(...seriesOf(await this.#gather(tenant, consistency, { op: 'series', matchers, startMs, endMs }, signal, stats)));
    return this.#merged(all);
  }

  /** metadata lists the metric families (name, type, unit, help as labels) the matchers select on every shard, distinct and sorted. */
  async metadata(tenant: string, matchers: readonly PromMatcher[], consistency: Consistency, signal: AbortSignal, stats: SourceStats): Promise<FloatSeries[]> {
    return this.#merged(seriesOf(await this.#gather(tenant, consistency, { op: 'metadata', matchers, startMs: 0, endMs: 0 }, signal, stats)));
  }

  /** shardEval evaluates a pushed-down subexpression on every shard and answers the union. */
  async shardEval(tenant: string, req: ShardEvalRequest, consistency: Consistency, signal: AbortSignal, stats: SourceStats): Promise<FloatSeries[]> {
    const r = req.range;
    return seriesOf(await this.#gather(tenant, consistency, { op: 'eval', expr: req.expr, startMs: r.startMs, endMs: r.endMs, stepMs: r.stepMs, lookbackMs: req.lookbackMs, maxSourceResolution: req.maxSourceResolution }, signal, stats));
  }

  /**
   * shardEvalGrid is shardEval asking the shards for the grid form
   * (promql/grid-partials.ts): every shard's grid when all answered one,
   * else the union as series (a shard answered series).
   */
  async shardEvalGrid(tenant: string, req: ShardEvalRequest, consistency: Consistency, signal: AbortSignal, stats: SourceStats): Promise<ShardGridAnswer> {
    const r = req.range;
    const answers = await this.#gather(tenant, consistency, { op: 'eval', expr: req.expr, startMs: r.startMs, endMs: r.endMs, stepMs: r.stepMs, lookbackMs: req.lookbackMs, maxSourceResolution: req.maxSourceResolution, answerForm: 'grid' }, signal, stats);
    const grids: GridPartials[] = [];
    for (const a of answers) if (a.grid !== undefined) grids.push(a.grid);
    if (grids.length === answers.length) return { grids };
    const grid = makeGrid(r.startMs, r.endMs, r.stepMs);
    return { series: answers.flatMap((a) => (a.grid === undefined ? a.series : gridToSeries(a.grid, grid))) };
  }

  #merged(all: FloatSeries[]): FloatSeries[] {
    const merged = mergeCollisions(all);
    if (merged.length > L.seriesMax) throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `the query reads more than ${L.seriesMax} series (MetricsQueryLimits.seriesMax)`);
    return merged;
  }

  async #gather(tenant: string, consistency: Consistency, part: ShardPart, signal: AbortSignal, stats: SourceStats): Promise<MetricsShardAnswer[]> {
    const limits = this.#d.limits ?? L;
    // A shard may read what one shard part may hold, and answer no more than the coordinator may still hold.
    const budget: MetricsBudget = { seriesMax: Math.max(1, L.seriesMax - stats.seriesRead), samplesMax: Math.max(0, Math.min(limits.shardSamplesMax, limits.samplesMax - stats.samplesHeld)) };
    const outcomes: ShardOutcome<MetricsShardAnswer>[] = await fanOut(
      this.#d,
      { wallMsMax: L.timeoutMsMax, shardCallMs: L.shardCallMs, attemptsPerShardMax: L.attemptsPerShardMax, retryBackoffBaseMs: L.retryBackoffBaseMs, retryBackoffMaxMs: L.retryBackoffMaxMs },
      consistency,
      {
        what: 'metrics read',
        here: (shard, deadlineMs, parts) => this.readHere({ ...part, group: shard, tenant, consistency, budget } as MetricsShardRequest, deadlineMs, parts),
        remote: async (peer, shard, timeoutMs, parts) =>
          decodeMetricsAnswer(
            await this.#d.transport.call(peer, SHARD_METRICS_READ, encodeMetricsRequest({ ...part, group: shard, tenant, consistency, budget } as MetricsShardRequest), timeoutMs, parts),
            budget,
            gridStepsOf(part),
          ),
        batch: async (peer, shards, timeoutMs, parts) => {
          const req = encodeBatchRequest(shards.map((shard) => encodeMetricsRequest({ ...part, group: shard, tenant, consistency, budget } as MetricsShardRequest)));
          let answer: Uint8Array;
          try {
            answer = await this.#d.transport.call(peer, SHARD_METRICS_READ_BATCH, req, timeoutMs, parts);
          } catch (err) {
            // A peer that refuses the whole call (an older node without the method) is asked for each part alone.
            if (err instanceof OtlpdbError && err.code === 'ERR_INVALID_ARGUMENT') return shards.map(() => askAlone(`node ${peer} refused the batch: ${err.message}`));
            throw err;
          }
          const items = decodeBatchAnswer(answer, shards.length);
          // A damaged part is that part's ERR_CORRUPTION (another replica is asked for it), as in a single call.
          return items.map((it) => {
            if (it instanceof OtlpdbError) return it;
            try {
              return decodeMetricsAnswer(it, budget, gridStepsOf(part));
            } catch (err) {
              return err instanceof OtlpdbError ? err : new OtlpdbError('ERR_CORRUPTION', String(err));
            }
          });
        },
        batchPartsMax: L.batchPartsMax,
      },
      signal,
    );
    stats.shardsAsked += outcomes.length;
    const failed: { shard: number; code: string; message: string }[] = [];
    const out: MetricsShardAnswer[] = [];
    for (const o of outcomes) {
      if ('error' in o) {
        if (isQueryRefusal(o.error)) throw o.error;
        failed.push({ shard: o.shard, code: o.error.code, message: o.error.message });
        continue;
      }
      stats.seriesRead += o.answer.seriesRead;
      stats.samplesRead += o.answer.samplesRead;
      stats.rollupPointsRead += o.answer.rollupPointsRead;
      stats.bytesRead += o.answer.stats.bytesRead;
      stats.samplesDecoded = (stats.samplesDecoded ?? 0) + (o.answer.stats.samplesDecoded ?? 0);
      stats.samplesHeld += answerPoints(o.answer);
      out.push(o.answer);
    }
    if (failed.length === outcomes.length) throw allFailedError(failed, 'metrics read');
    stats.partialFailures.push(...failed);
    if (stats.samplesHeld > limits.samplesMax) {
      throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `query processing would load too many samples into memory in query execution: the shards answered more than ${limits.samplesMax} samples (MetricsQueryLimits.samplesMax)`, { max: limits.samplesMax });
    }
    return out;
  }

  /**
   * readHere runs a shard's part on this node, through the wire codec so a
   * local and a remote answer look the same (a series answer's columns are
   * copied out of the shard's pooled ones). A grid answer, whose columns
   * are its own (metrics-shard-read.ts asserts it), is answered as it is,
   * refused past answerBytesMax as its encoding would be: its values are
   * not copied twice to arrive where they already are. `cancel` is the
   * part's cancel (its caller gave up).
   */
  async readHere(r: MetricsShardRequest, deadlineMs: number, cancel?: AbortSignal): Promise<MetricsShardAnswer> {
    const a = await this.#runHere(r, deadlineMs, undefined, cancel);
    if (a.grid !== undefined && gridStepsOf(r) === a.grid.steps && a.grid.labels.length <= r.budget.seriesMax) {
      answerBytes(a);
      return a;
    }
    return decodeMetricsAnswer(encodeMetricsAnswer(a), r.budget, gridStepsOf(r));
  }

  /**
   * #runHere serves one part here; `signal`, when given, aborts its
   * evaluation at `deadlineMs` or on `cancel` (a batch's parts share one),
   * else the part arms its own; `cancel` is the part's cancel (its caller
   * gave up).
   */
  #runHere(r: MetricsShardRequest, deadlineMs: number, signal?: AbortSignal, cancel?: AbortSignal): Promise<MetricsShardAnswer> {
    return runHere(this.#d, r.group as GroupId, r.consistency, deadlineMs, async (read) => {
      const store = read.stores.metrics;
      assert(store instanceof MetricStore, 'the metrics store is a MetricStore');
      const c: ShardReadContext = { shard: r.group, store, kv: read.kv, tenant: r.tenant, view: this.#d.view, stats: newPartStats(), parse: this.#parses.scope(r.tenant).parse };
      let res: ShardReadResult;
      if (r.op === 'eval') {
        const engine = this.#d.engine;
        if (engine === null) throw new OtlpdbError('ERR_UNAVAILABLE', 'PromQL engine not wired on this node');
        const own = signal === undefined ? deadlineAbort(deadlineMs - this.#d.nowMs(), cancel) : null;
        try {
          res = await evalOnShard(engine, c, r, r.budget, signal ?? (own as DeadlineAbort).signal, this.#columns, r.answerForm === 'grid');
        } finally {
          own?.clear();
        }
      } else if (r.op === 'metadata') {
        res = readShardMetadata(c, toStoreMatchers(r.matchers), r.budget);
      } else {
        res = await readShardSeries(c, toStoreMatchers(r.matchers), r.startMs, r.endMs, r.budget, r.op === 'select', r.rollup);
      }
      const answer: MetricsShardAnswer = { stats: c.stats, seriesRead: res.seriesRead, samplesRead: res.samplesRead, series: res.series, rollupPointsRead: res.rollupPointsRead, ...(res.grid === undefined ? {} : { grid: res.grid }) };
      // An evaluation may answer more points than it read (a step finer than the samples): the answer is held by the coordinator, so it is bounded too.
      if (answerPoints(answer) > r.budget.samplesMax) throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `a shard's answer holds more than ${r.budget.samplesMax} samples (MetricsQueryLimits.samplesMax); narrow the query`, { max: r.budget.samplesMax });
      if (r.op !== 'eval' || r.answerForm !== 'grid' || answer.grid !== undefined) return answer;
      const grid = seriesToGrid(res.series, r);
      return grid === null ? answer : { ...answer, series: [], grid };
    }, cancel);
  }
}

/** DeadlineAbort is an abort signal that fires when its time runs out, and the clear that disarms it. */
interface DeadlineAbort {
  readonly signal: AbortSignal;
  readonly clear: () => void;
}

/** deadlineAbort arms a signal that aborts in `leftMs` (at least 1 ms), or when `cancel` aborts (the part's caller gave up). */
function deadlineAbort(leftMs: number, cancel?: AbortSignal): DeadlineAbort {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), Math.max(1, Math.floor(leftMs)));
  if (cancel === undefined) return { signal: abort.signal, clear: () => clearTimeout(timer) };
  const onCancel = (): void => abort.abort();
  if (cancel.aborted) abort.abort();
  else cancel.addEventListener('abort', onCancel, { once: true });
  return {
    signal: abort.signal,
    clear: () => {
      clearTimeout(timer);
      cancel.removeEventListener('abort', onCancel);
    },
  };
}

/** newPartStats is a part's empty scan stats with samplesDecoded, as one literal (every part's stats share one hidden class). */
function newPartStats(): ScanStats {
  return { blocksScanned: 0, blocksPrunedTime: 0, blocksPrunedBloom: 0, blocksPrunedIndex: 0, bytesRead: 0, headRowsScanned: 0, samplesDecoded: 0 };
}

/** answerPoints counts the samples or points an answer carries (what its receiver holds). */
function answerPoints(a: MetricsShardAnswer): number {
  if (a.grid !== undefined) return a.grid.values.length;
  let n = 0;
  for (const s of a.series) n += s.values.length;
  return n;
}

/** seriesOf is the union of the answers' series (none of them answered a grid). */
function seriesOf(answers: readonly MetricsShardAnswer[]): FloatSeries[] {
  const out: FloatSeries[] = [];
  for (const a of answers) {
    assert(a.grid === undefined, 'only shardEvalGrid asks for a grid');
    for (const s of a.series) out.push(s);
  }
  return out;
}

/** gridStepsOf is the grid step count an eval part asking for the grid form is answered on (null for any other part: a grid answer is then refused). */
function gridStepsOf(part: ShardPart): number | null {
  return part.op === 'eval' && part.answerForm === 'grid' ? gridSteps(part) : null;
}

/**
 * ClusterSeriesSource is the SeriesSource a coordinator's PromQL engine
 * reads through: select and shardEval fan out to every shard of `tenant`
 * at `consistency`; `stats` count every shard call of the query.
 */
export class ClusterSeriesSource implements SeriesSource {
  readonly stats: SourceStats = newSourceStats();
  /** parse is the tenant's cached parser on this node (the engine parses the query through it). */
  readonly parse: (text: string) => Expr;
  readonly #read: MetricsRead;
  readonly #tenant: string;
  readonly #consistency: Consistency;

  constructor(read: MetricsRead, tenant: string, consistency: Consistency) {
    this.#read = read;
    this.#tenant = tenant;
    this.#consistency = consistency;
    this.parse = read.parseScope(tenant).parse;
  }

  /** select reads the matching series of every shard, merged. */
  select(req: SelectRequest, signal: AbortSignal): Promise<readonly FloatSeries[]> {
    return this.#read.select(this.#tenant, req, this.#consistency, signal, this.stats);
  }

  /** shardEval evaluates a pushed-down subexpression on every shard and answers the union. */
  shardEval(req: ShardEvalRequest, signal: AbortSignal): Promise<readonly FloatSeries[]> {
    return this.#read.shardEval(this.#tenant, req, this.#consistency, signal, this.stats);
  }

  /** shardEvalGrid is shardEval answering on the query's step grid where every shard could (promql/grid-partials.ts). */
  shardEvalGrid(req: ShardEvalRequest, signal: AbortSignal): Promise<ShardGridAnswer> {
    return this.#read.shardEvalGrid(this.#tenant, req, this.#consistency, signal, this.stats);
  }
}
