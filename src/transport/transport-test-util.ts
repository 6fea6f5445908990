/**
 * transport-test-util.ts — helpers shared by the transport tests: message
 * builders, a cluster of real transports on 127.0.0.x with OS-chosen ports,
 * and a poll-until helper whose timeout only bounds a hung test (tests assert
 * on counts and order, never on how fast something happened).
 */
import { SeededRand } from '../fs/seeded-rand.js';
import { newMessage } from '../raft/message.js';
import { MessageType } from '../raft/types.js';
import type { Entry, Message, MessageType as MessageTypeT, NodeId } from '../raft/types.js';
import { PeerTransport } from './peer-transport.js';
import type { PeerAddress, PeerTransportOptions } from './transport-types.js';

/** CLUSTER_ID is the cluster id every test transport uses. */
export const CLUSTER_ID = 'test-cluster';

/** msg builds a network message with every unused field zero or empty. */
export function msg(fields: Partial<Message> & { group: number; from: NodeId; to: NodeId }, type: MessageTypeT = MessageType.App): Message {
  return newMessage(fields.group, fields.from, { type, term: 1, ...fields });
}

/** entry builds a Normal entry. */
export function entry(index: number, data: Uint8Array): Entry {
  return { term: 1, index, type: 0, data };
}

/** Received is one delivery seen by a test handler. */
export interface Received {
  readonly from: NodeId;
  readonly msgs: Message[];
}

/** Node is one test transport with what it received. */
export interface TestNode {
  readonly id: NodeId;
  readonly host: string;
  readonly transport: PeerTransport;
  readonly received: Received[];
  readonly unreachable: NodeId[];
}

/** startNode starts a transport for node `id` on 127.0.0.id (port 0 unless given) with no peers yet. */
export async function startNode(id: NodeId, seed: number, extra: Partial<PeerTransportOptions> = {}): Promise<TestNode> {
  const host = `127.0.0.${id}`;
  const transport = new PeerTransport({
    clusterId: CLUSTER_ID,
    nodeId: id,
    host,
    port: 0,
    peers: new Map(),
    rand: new SeededRand(seed),
    ...extra,
  });
  const node: TestNode = { id, host, transport, received: [], unreachable: [] };
  transport.onMessages((from, msgs) => node.received.push({ from, msgs }));
  transport.onUnreachable((peer) => node.unreachable.push(peer));
  await transport.start();
  return node;
}

/** connectAll tells every node about every other node's bound address. */
export function connectAll(nodes: readonly TestNode[]): void {
  for (const n of nodes) {
    const peers = new Map<NodeId, PeerAddress>();
    for (const o of nodes) if (o !== n) peers.set(o.id, o.transport.address());
    n.transport.setPeers(peers);
  }
}

/** startCluster starts nodes 1..count on 127.0.0.1..count, all peered. */
export async function startCluster(count: number, seed: number, extra: Partial<PeerTransportOptions> = {}): Promise<TestNode[]> {
  const nodes: TestNode[] = [];
  for (let i = 1; i <= count; i++) nodes.push(await startNode(i, seed * 100 + i, extra));
  connectAll(nodes);
  return nodes;
}

/** receivedFrom flattens the messages a node received from one sender, in arrival order. */
export function receivedFrom(node: TestNode, from: NodeId): Message[] {
  return node.received.filter((r) => r.from === from).flatMap((r) => r.msgs);
}

/** waitFor polls `pred` every few ms; it fails only if the test hangs for timeoutMs. */
export async function waitFor(pred: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  while (!pred()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** sleep waits, for tests that must let something NOT happen (a bounded quiet period). */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
