/**
 * index.ts — the public surface of the nemeses: the schedule player and the
 * iptables partitioner. Explicit named exports only.
 */
export { Nemesis } from './nemesis.js';
export { IptablesPartitioner, iptablesCutRules, probeIptables, removeChain } from './iptables.js';
export { TransportFaultCutter, DROP_ALL } from './link-cutter.js';
export type { AdminCall, LinkCutter } from './link-cutter.js';
export { PARTITION_SHAPES, describeLinks, hears, partitionLinks } from './partition-shapes.js';
export type { Link, PartitionPlan, PartitionShape } from './partition-shapes.js';
export type { IptablesProbe } from './iptables.js';
