/**
 * index.ts — the public surface of the nemeses: the schedule player and the
 * iptables partitioner. Explicit named exports only.
 */
export { Nemesis } from './nemesis.js';
export { IptablesPartitioner, probeIptables, removeChain } from './iptables.js';
export type { IptablesProbe } from './iptables.js';
