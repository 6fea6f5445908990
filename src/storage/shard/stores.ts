/**
 * stores.ts — the three signal stores every shard replica runs (one
 * factory, so the node, the benchmarks and the tests build replicas alike).
 */
import { LogStore } from '../logs/log-store.js';
import { MetricStore } from '../metrics/metric-store.js';
import type { SeriesHasher } from '../metrics/series-registry.js';
import { SpanBlockCache } from '../traces/block-cache.js';
import { TraceStore } from '../traces/trace-store.js';
import type { ShardStores } from './shard-state-machine.js';

/** ShardStoresOptions tune the stores a factory builds. */
export interface ShardStoresOptions {
  /** logTermIndex is LogStoreOptions.termIndex (default true; false only for bench/query-logs' ingest baseline). */
  readonly logTermIndex?: boolean;
}

/**
 * shardStoresFactory returns the factory of a replica's stores: traces,
 * metrics (series ids hashed with `hasher`, xxhash64) and logs. Every traces
 * and logs store it makes shares one block cache (traces/block-cache.ts;
 * logs/log-block-read.ts), so a node
 * holds at most BlockCacheLimits.bytesMaxDefault of opened blocks however
 * many replicas it hosts.
 */
export function shardStoresFactory(hasher: SeriesHasher, options: ShardStoresOptions = {}): () => ShardStores {
  const blocks = new SpanBlockCache();
  const termIndex = options.logTermIndex ?? true;
  return () => ({ traces: new TraceStore({}, blocks), metrics: new MetricStore({ hasher }), logs: new LogStore({ termIndex, cache: blocks }) });
}
