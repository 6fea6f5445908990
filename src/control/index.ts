/**
 * index.ts — the public surface of the control plane's state: the meta
 * group's (group 0) state machine, its commands, results and snapshot
 * format, tenant settings and the control limits.
 */
export { ControlLimits } from '../limits.js';
export {
  COMMAND_FORMAT_VERSION,
  RESULT_FORMAT_VERSION,
  checkMetaCommand,
  decodeMetaCommand,
  decodeMetaResult,
  encodeMetaCommand,
  encodeMetaResult,
  refusal,
  utf8Bytes,
} from './meta-command.js';
export type {
  ConfigResult,
  ExpireResult,
  KvResult,
  LockResult,
  MetaCommand,
  MetaOp,
  MetaRefusal,
  MetaRefusalCode,
  MetaResult,
  NodeInfo,
  NodeState,
} from './meta-command.js';
export {
  META_SNAPSHOT_MAGIC,
  META_SNAPSHOT_VERSION,
  META_SNAPSHOT_VERSION_V1,
  canonicalPlacement,
  decodeMetaImage,
  encodeMetaImage,
} from './meta-snapshot.js';
export type { KvRecord, LockRecord, MetaImage, RememberedRequest } from './meta-snapshot.js';
export { MetaStateMachine } from './meta-state-machine.js';
export type { KvEntry, KvListResult, LockInfo } from './meta-state-machine.js';
export { SIGNALS, TenantDefaults, checkTenantId, resolveTenantSettings } from './tenant.js';
export type { RetentionMs, Signal, TenantSettings, TenantSettingsPatch } from './tenant.js';
