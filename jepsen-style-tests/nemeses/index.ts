/**
 * index.ts — the public surface of the nemeses: the schedule player, the
 * link cutters (iptables, transport faults) and partition shapes, the WAL
 * damage and the small disks. Explicit named exports only.
 */
export { Nemesis } from './nemesis.js';
export { IptablesPartitioner, iptablesCutRules, probeIptables, removeChain } from './iptables.js';
export { TransportFaultCutter, DROP_ALL } from './link-cutter.js';
export type { AdminCall, LinkCutter } from './link-cutter.js';
export { SmallDisks, BALLAST_FILE, isMountPoint, probeMount, unmount } from './small-disk.js';
export type { MountProbe } from './small-disk.js';
export { corruptBeforeTail, restoreCorruption, tearTail, tornTailGone } from './wal-damage.js';
export type { WalDamage } from './wal-damage.js';
export { PARTITION_SHAPES, describeLinks, hears, partitionLinks } from './partition-shapes.js';
export type { Link, PartitionPlan, PartitionShape } from './partition-shapes.js';
export type { IptablesProbe } from './iptables.js';
