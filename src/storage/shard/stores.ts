// TEMPORARY local wiring for integration testing before the real stores merge. Not to be committed.
import { KeySpace } from './keys.js';
import type { ShardStores } from './shard-state-machine.js';
import { CountingStore } from './shard-test-util.js';

export function makeShardStores(): ShardStores {
  return {
    traces: new CountingStore('traces', KeySpace.TracesFirst),
    metrics: new CountingStore('metrics', KeySpace.MetricsFirst),
    logs: new CountingStore('logs', KeySpace.LogsFirst),
  };
}
