/**
 * shard/index.ts — one shard replica's storage: its LevelDB (shard-db.ts),
 * the key layout every store shares (keys.ts) and the contract between the
 * shard state machine and the signal stores (signal-store.ts).
 */
export { KeyBuilder, KeySpace, compareKeys, key, prefixEnd, readU32, readU64 } from './keys.js';
export { FlushPacer } from './flush-pacer.js';
export { HeadBudget, nodeHeadBudget } from './head-budget.js';
export type { HeadMember } from './head-budget.js';
export { KvWriteBatch, ShardDb } from './shard-db.js';
export type { KeyRange, KvEntry, KvRead } from './shard-db.js';
export { newScanStats } from './signal-store.js';
export type {
  AddResult,
  ExpireReport,
  FlushContext,
  FlushReport,
  LogStoreContract,
  MetricStoreContract,
  RetentionCutoffs,
  RowRefusal,
  ScanStats,
  Signal,
  SignalStats,
  SignalStore,
  SpanStoreContract,
} from './signal-store.js';
