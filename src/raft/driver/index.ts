/**
 * index.ts — the public surface of the multi-raft driver: one node's loop
 * over many Raft groups, their WAL-backed storage, snapshot images and the
 * state-machine interface.
 */
export { DriverLimits } from '../../limits.js';
export { MultiRaftDriver } from './multi-raft.js';
export type {
  Clock,
  ConfChangeResult,
  DriverInit,
  DriverStats,
  GroupSpec,
  GroupStats,
  MultiRaftDriverOptions,
  ProposeResult,
  RaftTuning,
  ReceiveResult,
  Scheduler,
  Transport,
} from './multi-raft.js';
export { WalStorage } from './wal-storage.js';
export { LatencyHistogram, WAL_SYNC_BUCKETS_MS } from './latency-histogram.js';
export type { HistogramSnapshot } from './latency-histogram.js';
export {
  GROUP_REGISTRY_FILE,
  GROUP_REGISTRY_MAGIC,
  GROUP_REGISTRY_VERSION,
  GroupRegistry,
  RegistryState,
  decodeGroupRegistry,
  encodeGroupRegistry,
} from './group-registry.js';
export type { RegistryEntry } from './group-registry.js';
export {
  FileSnapshotStore,
  SNAPSHOT_FILE_HEADER_BYTES,
  SNAPSHOT_FILE_MAGIC,
  SNAPSHOT_FILE_VERSION,
  decodeSnapshotFile,
  encodeSnapshotFile,
} from './snapshot-store.js';
export type { SnapshotStore } from './snapshot-store.js';
export { KvStateMachine, decodeKvResult, encodeKvCommand, isDurable } from './state-machine.js';
export type { AnyStateMachine, DurableStateMachine, KvCommand, KvResult, StateMachine } from './state-machine.js';
