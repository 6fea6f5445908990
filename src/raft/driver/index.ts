/**
 * index.ts — the public surface of the multi-raft driver: one node's loop
 * over many Raft groups, their WAL-backed storage, snapshot images and the
 * state-machine interface.
 */
export { DriverLimits } from '../../limits.js';
export { MultiRaftDriver } from './multi-raft.js';
export type {
  Clock,
  DriverInit,
  DriverStats,
  GroupSpec,
  MultiRaftDriverOptions,
  ProposeResult,
  RaftTuning,
  ReceiveResult,
  Scheduler,
  Transport,
} from './multi-raft.js';
export { WalStorage } from './wal-storage.js';
export {
  FileSnapshotStore,
  SNAPSHOT_FILE_HEADER_BYTES,
  SNAPSHOT_FILE_MAGIC,
  SNAPSHOT_FILE_VERSION,
  decodeSnapshotFile,
  encodeSnapshotFile,
} from './snapshot-store.js';
export type { SnapshotStore } from './snapshot-store.js';
export { KvStateMachine, decodeKvResult, encodeKvCommand } from './state-machine.js';
export type { KvCommand, KvResult, StateMachine } from './state-machine.js';
