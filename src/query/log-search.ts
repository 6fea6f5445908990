/**
 * log-search.ts — the native JSON log search across the cluster
 * (docs/log-search.md): each shard's part over its LogStore, and the
 * coordinator that fans it out and merges.
 *
 * Shard part (searchShard): the store's select path (LogStore.selectLogs)
 * with `=`/`!=` selector matchers on the stream postings, regex matchers
 * and the whole search (log-search-eval.ts matchesSearch) as the row
 * filter, and the search's block pruning (searchPrune: bloom, then
 * postings, before a block is read). It answers its first `limit` entries
 * in the direction, in the store's order. It stops, with `cut` set, past
 * LogSearchLimits.bytesScannedMaxPerShard bytes read; past its deadline it
 * fails with ERR_TIMEOUT (the coordinator reports that shard as failed).
 *
 * Coordinator (LogSearch.search): shard-fanout.ts's fan-out over every
 * shard at the request's consistency — `linearizable` (the default) asks
 * each shard's leader after a ReadIndex barrier, `stale` any replica —
 * with failover, backoff, LogsQueryLimits' wall time and cancellation by
 * the client. Answers merge k-way by time in the direction (merge.ts; ties
 * in shard order) and are cut at `limit`. A shard no replica answered is
 * listed in `failedShards` and the answer is `partial`; a shard whose
 * answer was cut (bytes read, or LogsQueryLimits.answerBytesMax) makes it
 * partial too; a shard refusing the query (ERR_INVALID_ARGUMENT,
 * ERR_LIMIT_EXCEEDED) fails the search; no shard answering is the fan-out's
 * all-failed error.
 *
 * Owner: the node owns one LogSearch; register() installs the peer handler.
 */
import { OtlpdbError, assert } from '../errors.js';
import { LogSearchLimits as S, LogsQueryLimits as L } from '../limits.js';
import type { GroupId } from '../raft/types.js';
import { logLine, streamLabels } from '../storage/logs/log-line.js';
import { LogStore } from '../storage/logs/log-store.js';
import type { LogRow } from '../storage/rows.js';
import type { KvRead } from '../storage/shard/shard-db.js';
import type { ShardRead } from '../storage/shard/shard-state-machine.js';
import { addScanStats, newScanStats } from '../storage/shard/signal-store.js';
import type { ScanStats } from '../storage/shard/signal-store.js';
import type { LogEntry } from './logql/source.js';
import type { SearchPlants } from './log-search-eval.js';
import { matchesSearch, searchPrune } from './log-search-eval.js';
import type { LogSearchRequest } from './log-search-query.js';
import { SHARD_LOGS_SEARCH, decodeSearchRequest, encodeSearchRequest } from './log-search-wire.js';
import type { ShardSearchRequest } from './log-search-wire.js';
import { splitMatchers } from './logs-selector.js';
import { logEntryOf, metadataOf } from './logs-view.js';
import { decodeEntriesAnswer, encodeEntriesAnswer } from './logs-wire.js';
import type { ShardCallHeader, ShardEntriesAnswer } from './logs-wire.js';
import { byTimeAsc, byTimeDesc, kWayMerge } from './merge.js';
import { allFailedError, fanOut, isQueryRefusal, runHere } from './shard-fanout.js';
import type { FanoutDeps, FailedShard } from './shard-fanout.js';

/** ShardSearchDeps are one shard part's store, pinned read, tenant and deadline. */
export interface ShardSearchDeps {
  readonly store: LogStore;
  readonly kv: KvRead;
  readonly tenant: string;
  /** deadlineMs is when the part must stop, on the nowMs clock. */
  readonly deadlineMs: number;
  readonly nowMs: () => number;
  /** plants are test-only bugs (log-search-eval.ts SearchPlants). */
  readonly plants?: SearchPlants;
  /** bytesScannedMax overrides LogSearchLimits.bytesScannedMaxPerShard (tests). */
  readonly bytesScannedMax?: number;
  /** signal is the part's cancel (its caller gave up), checked with the deadline. */
  readonly signal?: AbortSignal;
}

/** searchShard runs one shard's part of a search (see the file comment). */
export async function searchShard(d: ShardSearchDeps, req: ShardSearchRequest): Promise<ShardEntriesAnswer> {
  const split = splitMatchers(req.matchers);
  const check = split.check;
  const plants = d.plants ?? {};
  const verdicts = new WeakMap<object, boolean>();
  const rowFilter = (row: LogRow): boolean => {
    if (check !== null) {
      const labels = streamLabels(row);
      let v = verdicts.get(labels);
      if (v === undefined) {
        v = check(labels);
        verdicts.set(labels, v);
      }
      if (!v) return false;
    }
    // Metadata is built only when a range on it asks (matchesSearch reads it lazily through this getter).
    let meta: ReturnType<typeof metadataOf> | null = null;
    return matchesSearch(
      req.query,
      {
        line: logLine(row),
        get metadata() {
          return (meta ??= metadataOf(row));
        },
      },
      plants,
    );
  };
  const scan: ScanStats = newScanStats();
  const bytesMax = d.bytesScannedMax ?? S.bytesScannedMaxPerShard;
  const entries: LogEntry[] = [];
  let cut = false;
  const gen = d.store.selectLogs(
    d.kv,
    d.tenant,
    { startNs: req.startNs, endNs: req.endNs, streamMatchers: split.postings, direction: req.direction, limit: req.limit, rowFilter, search: searchPrune(req.query, plants) },
    scan,
  );
  try {
    for await (const hits of gen) {
      if (d.signal?.aborted === true) throw new OtlpdbError('ERR_UNAVAILABLE', 'the shard part of the log search was cancelled by its caller', { cancelled: true });
      if (d.nowMs() > d.deadlineMs) throw new OtlpdbError('ERR_TIMEOUT', 'the shard part of the log search ran out of time');
      for (const h of hits) entries.push(logEntryOf(h.row));
      if (scan.bytesRead > bytesMax && entries.length < req.limit) {
        cut = true;
        break;
      }
    }
  } finally {
    await gen.return(undefined);
  }
  assert(entries.length <= req.limit, 'a shard answers at most its limit');
  return { cut, stats: scan, entriesRead: entries.length, entries };
}

/** LogSearchStats are a search's statistics (the answer's `stats`). */
export interface LogSearchStats {
  shardsAsked: number;
  shardsFailed: number;
  shardsCut: number;
  blocksScanned: number;
  blocksPrunedTime: number;
  blocksPrunedBloom: number;
  blocksPrunedIndex: number;
  bytesRead: number;
  headRowsScanned: number;
  entriesReturned: number;
}

/** LogSearchAnswer is a merged search: entries in the direction's time order, at most `limit`, with stats. */
export interface LogSearchAnswer {
  readonly entries: readonly LogEntry[];
  readonly stats: LogSearchStats;
  /** partial: some shard failed or was cut; the entries may miss some. */
  readonly partial: boolean;
  readonly failedShards: readonly FailedShard[];
}

function cancelled(): OtlpdbError {
  return new OtlpdbError('ERR_UNAVAILABLE', 'the log search was cancelled: its client went away');
}

/** LogSearch runs a node's native log searches and serves its shards' parts; see the top of this file. */
export class LogSearch {
  readonly #d: FanoutDeps;
  readonly #plants: SearchPlants;

  constructor(deps: FanoutDeps, plants: SearchPlants = {}) {
    this.#d = deps;
    this.#plants = plants;
  }

  /** register installs shard.logsSearch on the node's transport. */
  register(): void {
    this.#d.transport.handle(SHARD_LOGS_SEARCH, async (payload, ctx) => {
      const r = decodeSearchRequest(payload);
      return encodeEntriesAnswer(await this.#here(r.header, r.req, this.#d.nowMs() + Math.min(L.shardCallMs, ctx.deadlineMs), ctx.signal));
    });
  }

  /** search runs `req` for `tenant` on every shard and merges (see the top of this file). */
  async search(tenant: string, req: LogSearchRequest, signal: AbortSignal): Promise<LogSearchAnswer> {
    const part: ShardSearchRequest = { query: req.query, matchers: req.matchers, startNs: req.startNs, endNs: req.endNs, direction: req.direction, limit: req.limit };
    const outcomes = await fanOut(
      this.#d,
      L,
      req.consistency,
      {
        what: 'log search',
        here: async (shard, deadlineMs, parts) =>
          decodeEntriesAnswer(encodeEntriesAnswer(await this.#here({ group: shard, tenant, consistency: req.consistency }, part, deadlineMs, parts)), part.direction, part.limit),
        remote: async (peer, shard, timeoutMs, parts) =>
          decodeEntriesAnswer(
            await this.#d.transport.call(peer, SHARD_LOGS_SEARCH, encodeSearchRequest({ group: shard, tenant, consistency: req.consistency }, part), timeoutMs, parts),
            part.direction,
            part.limit,
          ),
      },
      signal,
    );
    if (signal.aborted) throw cancelled();
    return mergeSearchAnswers(outcomes, req.direction, req.limit);
  }

  #here(h: ShardCallHeader, req: ShardSearchRequest, deadlineMs: number, signal: AbortSignal): Promise<ShardEntriesAnswer> {
    return runHere(
      this.#d,
      h.group as GroupId,
      h.consistency,
      deadlineMs,
      (read: ShardRead) => {
        const store = read.stores.logs;
        assert(store instanceof LogStore, 'the logs store is a LogStore');
        return searchShard({ store, kv: read.kv, tenant: h.tenant, deadlineMs, nowMs: this.#d.nowMs, plants: this.#plants, signal }, req);
      },
      signal,
    );
  }
}

/**
 * mergeSearchAnswers merges shard outcomes: k-way by time in `direction`,
 * cut at `limit`; failed shards listed (a refusal of the query itself
 * fails the search), stats summed.
 */
export function mergeSearchAnswers(
  outcomes: readonly ({ readonly shard: number; readonly answer: ShardEntriesAnswer } | { readonly shard: number; readonly error: OtlpdbError })[],
  direction: 'forward' | 'backward',
  limit: number,
): LogSearchAnswer {
  const stats: LogSearchStats = {
    shardsAsked: outcomes.length,
    shardsFailed: 0,
    shardsCut: 0,
    blocksScanned: 0,
    blocksPrunedTime: 0,
    blocksPrunedBloom: 0,
    blocksPrunedIndex: 0,
    bytesRead: 0,
    headRowsScanned: 0,
    entriesReturned: 0,
  };
  const failed: FailedShard[] = [];
  const runs: (readonly LogEntry[])[] = [];
  const scan = newScanStats();
  for (const o of outcomes) {
    if ('error' in o) {
      if (isQueryRefusal(o.error)) throw o.error;
      failed.push({ shard: o.shard as GroupId, code: o.error.code, message: o.error.message });
      continue;
    }
    addScanStats(scan, o.answer.stats);
    if (o.answer.cut) stats.shardsCut++;
    runs.push(o.answer.entries);
  }
  if (outcomes.length > 0 && runs.length === 0) throw allFailedError(failed, 'log search');
  stats.shardsFailed = failed.length;
  Object.assign(stats, {
    blocksScanned: scan.blocksScanned,
    blocksPrunedTime: scan.blocksPrunedTime,
    blocksPrunedBloom: scan.blocksPrunedBloom,
    blocksPrunedIndex: scan.blocksPrunedIndex,
    bytesRead: scan.bytesRead,
    headRowsScanned: scan.headRowsScanned,
  });
  const cmp = direction === 'forward' ? byTimeAsc<LogEntry>((e) => e.timeNs) : byTimeDesc<LogEntry>((e) => e.timeNs);
  const entries: LogEntry[] = [];
  outer: for (const batch of kWayMerge(runs, cmp, L.batchEntriesMax)) {
    for (const e of batch) {
      if (entries.length === limit) break outer;
      entries.push(e);
    }
  }
  stats.entriesReturned = entries.length;
  return { entries, stats, partial: failed.length > 0 || stats.shardsCut > 0, failedShards: failed };
}
