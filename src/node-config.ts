/**
 * node-config.ts — the configuration of one otlpdb node process and the
 * parsing of its textual forms (`host:port`, `1=127.0.0.1:7400,...`), shared
 * by `otlpdb start` and OtlpdbNode so both refuse the same bad input with
 * ERR_INVALID_ARGUMENT.
 */
import { OtlpdbError } from './errors.js';
import { NodeDefaults, PartitionLimits } from './limits.js';
import type { NodeId } from './raft/types.js';


/** HostPort is a listening or dialing address. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** formatHostPort renders an address as `host:port`. */
export function formatHostPort(a: HostPort): string {
  return `${a.host}:${a.port}`;
}

const HOST_RE = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$/;

/**
 * parseHostPort parses `host:port` (or bare `host`, which takes
 * `defaultPort`). IPv6 literals are not accepted yet (NB: per-node loopback
 * addresses are IPv4).
 */
export function parseHostPort(flag: string, raw: string, defaultPort: number): HostPort {
  const colon = raw.lastIndexOf(':');
  const host = colon < 0 ? raw : raw.slice(0, colon);
  const portText = colon < 0 ? String(defaultPort) : raw.slice(colon + 1);
  if (!HOST_RE.test(host)) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `${flag} must be host:port, got ${JSON.stringify(raw)}`, { flag });
  }
  if (!/^[0-9]{1,5}$/.test(portText)) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `${flag} port must be a decimal number, got ${JSON.stringify(raw)}`, { flag });
  }
  const port = Number(portText);
  if (port < 1 || port > 65535) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `${flag} port must be in [1, 65535], got ${port}`, { flag });
  }
  return { host, port };
}

/** parseNodeId parses a node id: a decimal integer in [1, nodeIdMax], optionally written `nN` (`n1` is node 1). */
export function parseNodeId(flag: string, raw: string): NodeId {
  if (!/^n?[0-9]{1,10}$/.test(raw)) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `${flag} must be a positive decimal integer (or nN), got ${JSON.stringify(raw)}`, { flag });
  }
  const id = Number(raw.startsWith('n') ? raw.slice(1) : raw);
  if (id < 1 || id > NodeDefaults.nodeIdMax) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `${flag} must be in [1, ${NodeDefaults.nodeIdMax}], got ${raw}`, { flag });
  }
  return id;
}

/** parseInitialCluster parses `1=host:port,2=host:port,...`; ids must be distinct. */
export function parseInitialCluster(flag: string, raw: string): Map<NodeId, HostPort> {
  const members = new Map<NodeId, HostPort>();
  const items = raw.split(',');
  if (items.length > PartitionLimits.nodesMax) {
    throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `${flag} lists more than ${PartitionLimits.nodesMax} nodes`, { flag });
  }
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', `${flag} items must be id=host:port, got ${JSON.stringify(item)}`, { flag });
    }
    const id = parseNodeId(flag, item.slice(0, eq));
    if (members.has(id)) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `${flag} lists node ${id} twice`, { flag, id });
    members.set(id, parseHostPort(flag, item.slice(eq + 1), NodeDefaults.peerPort));
  }
  return members;
}

/**
 * checkMembership refuses an initial cluster that does not include `id` at
 * exactly `peer`, or that gives two nodes the same address.
 */
export function checkMembership(id: NodeId, peer: HostPort, cluster: ReadonlyMap<NodeId, HostPort>): void {
  const self = cluster.get(id);
  if (self === undefined) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `the initial cluster does not include node ${id}`, { id });
  }
  if (self.host !== peer.host || self.port !== peer.port) {
    throw new OtlpdbError(
      'ERR_INVALID_ARGUMENT',
      `the initial cluster gives node ${id} the address ${formatHostPort(self)}, but its peer address is ${formatHostPort(peer)}`,
      { id },
    );
  }
  const seen = new Map<string, NodeId>();
  for (const [other, a] of cluster) {
    const key = formatHostPort(a);
    const prev = seen.get(key);
    if (prev !== undefined) {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', `nodes ${prev} and ${other} share the address ${key}`, { id: other });
    }
    seen.set(key, other);
  }
}
