// TEMPORARY: metrics still the counting store until store-metrics merges.
import { LogStore } from '../logs/log-store.js';
import { TraceStore } from '../traces/trace-store.js';
import { KeySpace } from './keys.js';
import type { ShardStores } from './shard-state-machine.js';
import { CountingStore } from './shard-test-util.js';

export function makeShardStores(): ShardStores {
  return {
    traces: new TraceStore(),
    metrics: new CountingStore('metrics', KeySpace.MetricsFirst),
    logs: new LogStore(),
  };
}
