/**
 * transport-types.ts — the public shapes of the peer transport (options,
 * addresses, call handlers, status and metrics), shared by its send side
 * (peer-transport.ts) and its receive side (inbound.ts).
 */
import type { NodeId, Rand } from '../raft/types.js';
import type { BackoffPolicy } from './backoff.js';
import type { RefusalReason } from './codec.js';

/** PeerAddress is where a peer listens (and, for the source-address check, dials from). */
export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

/** PeerTransportOptions configure one node's transport. */
export interface PeerTransportOptions {
  readonly clusterId: string;
  readonly nodeId: NodeId;
  /** host is this node's own address: it listens on it and dials from it. */
  readonly host: string;
  /** port to listen on; 0 lets the OS choose (see address()). */
  readonly port: number;
  readonly peers: ReadonlyMap<NodeId, PeerAddress>;
  /** rand drives reconnect jitter and fault injection. */
  readonly rand: Rand;
  readonly backoff?: BackoffPolicy;
  readonly sendQueueFramesMax?: number;
  readonly sendQueueBytesMax?: number;
  readonly groupIdMax?: number;
  /** checkSourceAddress refuses a Hello whose TCP source is not the node's configured host. Default true. */
  readonly checkSourceAddress?: boolean;
}

/** CallContext tells a unary handler who called, how long it has, and when its caller gave up. */
export interface CallContext {
  readonly from: NodeId;
  readonly deadlineMs: number;
  /**
   * signal aborts when the caller cancels the call (a CallCancel frame: its
   * query answered, hit a bound or lost its client) or its connection
   * closes; a long handler checks it where it checks its deadline.
   */
  readonly signal: AbortSignal;
}

/** CallHandler serves one unary method; throwing an OtlpdbError sends its code back. */
export type CallHandler = (payload: Uint8Array, ctx: CallContext) => Promise<Uint8Array> | Uint8Array;

/** TransportMetrics are the counters of one transport (a copy; safe to keep). */
export interface TransportMetrics {
  framesSent: number;
  framesReceived: number;
  framesRefused: Partial<Record<RefusalReason, number>>;
  bytesIn: number;
  bytesOut: number;
  messagesSent: number;
  messagesReceived: number;
  dropsQueueFull: number;
  dropsOversize: number;
  dropsUnknownPeer: number;
  dropsStopped: number;
  dropsFault: number;
  duplicatesFault: number;
  reorderedFault: number;
  dials: number;
  dialFailures: number;
  connects: number;
  reconnects: number;
  unreachableReports: number;
  callsStarted: number;
  callsTimedOut: number;
  callsFailed: number;
  callsServed: number;
  /** callsCancelled counts outgoing calls given up by their caller's signal (a cancel sent, or the request taken off the queue unsent). */
  callsCancelled: number;
  /** cancelsSent counts CallCancel frames queued: a caller's cancel, or a call past its deadline. */
  cancelsSent: number;
  /** cancelsReceived counts CallCancel frames that aborted a call in progress here. */
  cancelsReceived: number;
  /** cancelsUnknown counts CallCancel frames naming no call in progress on their connection (answered already): harmless. */
  cancelsUnknown: number;
  /** cancelsOtherVersion counts CallCancel frames of a version this node does not speak: ignored. */
  cancelsOtherVersion: number;
  /** callsServedCancelled counts served calls that settled after their caller cancelled them (or their connection closed): no answer is sent. */
  callsServedCancelled: number;
}

/**
 * PeerMetrics are the counters of one configured peer, both directions (a
 * copy when returned; safe to keep). Traffic of a connection counts here only
 * once it is attributed to the peer: for an outgoing connection from the dial
 * on, for an incoming one from its accepted Hello on. Bad input before a Hello
 * has no peer and stays in TransportMetrics.framesRefused only.
 */
export interface PeerMetrics {
  bytesOut: number;
  bytesIn: number;
  framesSent: number;
  framesReceived: number;
  messagesSent: number;
  messagesReceived: number;
  /** dropsQueueFull counts messages to this peer dropped because its send queue (or its delay queue) was full. */
  dropsQueueFull: number;
  /** dropsFault counts messages to this peer dropped by an injected fault. */
  dropsFault: number;
  dialFailures: number;
  /** errors counts socket errors on this peer's connections and frames refused on them after its Hello. */
  errors: number;
}

/** newPeerMetrics returns zeroed per-peer counters. */
export function newPeerMetrics(): PeerMetrics {
  return {
    bytesOut: 0,
    bytesIn: 0,
    framesSent: 0,
    framesReceived: 0,
    messagesSent: 0,
    messagesReceived: 0,
    dropsQueueFull: 0,
    dropsFault: 0,
    dialFailures: 0,
    errors: 0,
  };
}

/** PeerStatus is the sender-side state of one peer link, for tests, metrics and the CLI. */
export interface PeerStatus {
  readonly state: 'idle' | 'connecting' | 'connected' | 'backoff';
  readonly failures: number;
  readonly lastBackoffMs: number;
  readonly queuedFrames: number;
  readonly queuedBytes: number;
}

/** newMetrics returns zeroed counters. */
export function newMetrics(): TransportMetrics {
  return {
    framesSent: 0,
    framesReceived: 0,
    framesRefused: {},
    bytesIn: 0,
    bytesOut: 0,
    messagesSent: 0,
    messagesReceived: 0,
    dropsQueueFull: 0,
    dropsOversize: 0,
    dropsUnknownPeer: 0,
    dropsStopped: 0,
    dropsFault: 0,
    duplicatesFault: 0,
    reorderedFault: 0,
    dials: 0,
    dialFailures: 0,
    connects: 0,
    reconnects: 0,
    unreachableReports: 0,
    callsStarted: 0,
    callsTimedOut: 0,
    callsFailed: 0,
    callsServed: 0,
    callsCancelled: 0,
    cancelsSent: 0,
    cancelsReceived: 0,
    cancelsUnknown: 0,
    cancelsOtherVersion: 0,
    callsServedCancelled: 0,
  };
}

/** countRefusal counts one refused connection under its reason. */
export function countRefusal(m: TransportMetrics, reason: RefusalReason): void {
  m.framesRefused[reason] = (m.framesRefused[reason] ?? 0) + 1;
}
