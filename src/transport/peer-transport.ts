/**
 * peer-transport.ts — the node-to-node transport: batches of Raft messages
 * for every group, and unary calls for forwarded work, over raw TCP with the
 * framing of frame.ts and the payloads of codec.ts.
 *
 * Why raw TCP and not @grpc/grpc-js: a node must dial FROM its own address
 * (127.0.0.i) so that iptables rules between per-node loopback addresses cut
 * nodes apart for real (DESIGN.md §8, §9). grpc-js 1.14.7 has no channel
 * option for the source address and its subchannel connector calls
 * `net.connect({host, port})` itself (src/transport.ts, tcpConnect); the only
 * hook, the underscore-internal ChannelCredentials._createSecureConnector,
 * receives a socket that is already connected from the default source. The
 * same batches also moved 1.1-2.5x faster over this framing than over a
 * grpc-js bidi stream on loopback (2.4x for small heartbeat-sized batches;
 * measured on a loaded 2-CPU machine; bench/transport.ts prints the ratio).
 *
 * Connections: each node dials one outgoing connection to each configured
 * peer and sends on it its Message frames and CallRequest frames; it reads
 * CallResponse frames back on it. It accepts incoming connections, which
 * must open with a Hello frame (cluster id, node id, and a source address
 * equal to that node's configured host); it reads Message and CallRequest
 * frames on them and writes CallResponse frames back (inbound.ts owns that
 * side and its validation). So a peer pair uses
 * two TCP connections, one per direction, and messages between a pair are
 * delivered in send order while a connection lasts.
 *
 * Ownership and invariants:
 * - per-peer state (#links, and the counters in each link's pm) exists only
 *   for configured peers (setPeers), so it is bounded by peersMax;
 *   at most one outgoing socket per peer, at most one live incoming socket
 *   per peer (a newer one replaces the older);
 * - a link's send queue holds at most sendQueueFramesMax frames and
 *   sendQueueBytesMax bytes; a frame that does not fit is DROPPED (the newest,
 *   as etcd's rafthttp does) and its messages counted in dropsQueueFull —
 *   Raft retransmits on its own;
 * - at most one frame is written past the socket's high-water mark (writes
 *   pause until 'drain'), so socket buffers are bounded too;
 * - #pending holds at most callsPendingMax calls; each has a deadline timer;
 *   every pending call settles exactly once (answer, deadline, its caller's
 *   abort signal, connection loss, or stop()), and a settled call holds no
 *   listener on its signal;
 * - a call settled by its caller's signal or its deadline tells the peer
 *   (one CallCancel frame, or its request taken off the queue when it was
 *   never written), so the peer's handler stops: cancels are best effort (a
 *   full queue drops one; the peer's own deadline still bounds the call).
 * - after stop() no timer, socket or server of this transport remains.
 */
import net from 'node:net';
import { OtlpdbError, assert } from '../errors.js';
import type { Message, NodeId } from '../raft/types.js';
import { DEFAULT_BACKOFF, checkBackoffPolicy, reconnectDelayMs } from './backoff.js';
import type { BackoffPolicy } from './backoff.js';
import { decodeCallResponse, decodeErrorDetails, encodeCallCancel, encodeCallRequest, encodeHello, encodeMessages, estimateMessageBytes, isNetworkMessageType } from './codec.js';
import { FaultInjector } from './faults.js';
import type { Faults } from './faults.js';
import { FrameReader, FrameType, encodeFrame } from './frame.js';
import { InboundConnections } from './inbound.js';
import { TransportLimits } from '../limits.js';
import { countRefusal, newMetrics, newPeerMetrics } from './transport-types.js';
import type { CallHandler, PeerAddress, PeerMetrics, PeerStatus, PeerTransportOptions, TransportMetrics } from './transport-types.js';

interface QueuedFrame {
  readonly frame: Buffer;
  readonly messages: number;
  /** callId is the call whose request this frame is, 0 for any other frame. */
  readonly callId: number;
  /** cancel marks a CallCancel frame: it names a call of the connection it was queued for, so a lost connection drops it. */
  readonly cancel?: boolean;
}

interface Link {
  readonly id: NodeId;
  readonly addr: PeerAddress;
  /** pm is the peer's counters, shared with its incoming connection and kept across an address change. */
  readonly pm: PeerMetrics;
  state: PeerStatus['state'];
  socket: net.Socket | null;
  queue: QueuedFrame[];
  queueBytes: number;
  blocked: boolean;
  failures: number;
  everConnected: boolean;
  lastBackoffMs: number;
  timer: NodeJS.Timeout | null;
  delayedFrames: number;
  unreachableReported: boolean;
}

interface PendingCall {
  readonly peer: NodeId;
  readonly resolve: (b: Uint8Array) => void;
  readonly reject: (e: OtlpdbError) => void;
  readonly timer: NodeJS.Timeout;
  /** unlisten removes the call's listener from its caller's signal (a no-op when it has none). */
  readonly unlisten: () => void;
}

/** cancelledCall is the error of a call its caller's signal gave up. */
function cancelledCall(method: string, peer: NodeId): OtlpdbError {
  return new OtlpdbError('ERR_UNAVAILABLE', `call ${method} to node ${peer} was cancelled by its caller`, { peer, method, cancelled: true });
}

function callIdNext(id: number): number {
  return id >= 0xffff_ffff ? 1 : id + 1;
}

/** PeerTransport carries Raft messages and unary calls between the nodes of one cluster. */
export class PeerTransport {
  readonly #opts: PeerTransportOptions;
  readonly #backoff: BackoffPolicy;
  readonly #queueFramesMax: number;
  readonly #queueBytesMax: number;
  readonly #groupIdMax: number;
  readonly #faults: FaultInjector;
  readonly #links = new Map<NodeId, Link>();
  readonly #handlers = new Map<string, CallHandler>();
  readonly #pending = new Map<number, PendingCall>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #callId = 0;
  #server: net.Server | null = null;
  #state: 'new' | 'started' | 'stopped' = 'new';
  #stopping: Promise<void> | null = null;
  #boundPort = 0;
  #onMessages: (from: NodeId, msgs: Message[]) => void = () => {};
  #onUnreachable: (peer: NodeId) => void = () => {};
  readonly #m: TransportMetrics = newMetrics();
  readonly #inbound: InboundConnections;

  constructor(opts: PeerTransportOptions) {
    if (Buffer.byteLength(opts.clusterId) > TransportLimits.clusterIdBytesMax) {
      throw new OtlpdbError('ERR_LIMIT_EXCEEDED', 'clusterId longer than clusterIdBytesMax');
    }
    if (!Number.isSafeInteger(opts.nodeId) || opts.nodeId <= 0) {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'nodeId must be a positive integer', { nodeId: opts.nodeId });
    }
    if (!Number.isSafeInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'port must be in [0, 65535]', { port: opts.port });
    }
    this.#opts = opts;
    this.#backoff = opts.backoff ?? DEFAULT_BACKOFF;
    checkBackoffPolicy(this.#backoff);
    this.#queueFramesMax = opts.sendQueueFramesMax ?? TransportLimits.sendQueueFramesMax;
    this.#queueBytesMax = opts.sendQueueBytesMax ?? TransportLimits.sendQueueBytesMax;
    this.#groupIdMax = opts.groupIdMax ?? TransportLimits.groupIdMax;
    assert(this.#queueFramesMax >= 1 && this.#queueFramesMax <= TransportLimits.sendQueueFramesMax, 'queue frames bound');
    assert(this.#queueBytesMax >= 1 && this.#queueBytesMax <= TransportLimits.sendQueueBytesMax, 'queue bytes bound');
    this.#faults = new FaultInjector(opts.rand);
    this.#inbound = new InboundConnections({
      clusterId: opts.clusterId,
      nodeId: opts.nodeId,
      groupIdMax: this.#groupIdMax,
      checkSourceAddress: opts.checkSourceAddress ?? true,
      metrics: this.#m,
      peerHost: (id) => this.#links.get(id)?.addr.host,
      peerMetrics: (id) => this.#links.get(id)?.pm,
      handler: (method) => this.#handlers.get(method),
      deliver: (from, msgs) => this.#onMessages(from, msgs),
      helloAccepted: (id) => {
        // The peer is evidently up: a link waiting out a reconnect backoff towards it dials now.
        const link = this.#links.get(id);
        if (link !== undefined && link.state === 'backoff') this.#redialNow(link);
      },
    });
    this.setPeers(opts.peers);
  }

  /**
   * onMessages sets the receive handler: called synchronously, once per
   * accepted frame, with the sender's id (the handler should queue the
   * messages for the driver loop rather than step Raft inline).
   */
  onMessages(handler: (from: NodeId, msgs: Message[]) => void): void {
    this.#onMessages = handler;
  }

  /** onUnreachable sets the callback told when a peer's connection breaks or cannot be made (so the driver can call RawNode.reportUnreachable). */
  onUnreachable(handler: (peer: NodeId) => void): void {
    this.#onUnreachable = handler;
  }

  /** handle registers the server-side handler of one unary method (replacing any previous one). */
  handle(method: string, fn: CallHandler): void {
    if (Buffer.byteLength(method) > TransportLimits.callMethodBytesMax) {
      throw new OtlpdbError('ERR_LIMIT_EXCEEDED', 'method name longer than callMethodBytesMax', { method });
    }
    this.#handlers.set(method, fn);
  }

  /** address is the address this transport listens on (the OS-chosen port once started with port 0). */
  address(): PeerAddress {
    return { host: this.#opts.host, port: this.#boundPort || this.#opts.port };
  }

  /**
   * start listens on the node's own address and dials every peer. Calling it
   * again while running is a no-op; a stopped transport is not restarted
   * (ERR_UNAVAILABLE): make a new one, as a restarted node does.
   */
  async start(): Promise<void> {
    if (this.#state === 'started') return;
    if (this.#state === 'stopped') throw new OtlpdbError('ERR_UNAVAILABLE', 'a stopped transport cannot be restarted');
    this.#state = 'started';
    const server = net.createServer((socket) => {
      if (this.#state === 'started') this.#inbound.accept(socket);
      else socket.destroy();
    });
    this.#server = server;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: this.#opts.host, port: this.#opts.port }, () => {
          server.removeListener('error', reject);
          resolve();
        });
      });
    } catch (err) {
      this.#server = null;
      await this.stop();
      throw new OtlpdbError('ERR_UNAVAILABLE', `cannot listen on ${this.#opts.host}:${this.#opts.port}: ${String(err)}`, {
        host: this.#opts.host,
        port: this.#opts.port,
      });
    }
    const a = server.address();
    assert(a !== null && typeof a === 'object', 'server has an address');
    this.#boundPort = a.port;
    server.on('error', () => {});
    for (const link of this.#links.values()) this.#dial(link);
  }

  /** stop closes the server and every connection and rejects pending calls with ERR_UNAVAILABLE; idempotent. */
  stop(): Promise<void> {
    if (this.#stopping !== null) return this.#stopping;
    this.#state = 'stopped';
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    for (const link of this.#links.values()) this.#closeLink(link);
    this.#inbound.closeAll();
    this.#rejectCalls(() => true, 'transport stopped');
    const server = this.#server;
    this.#stopping = server === null ? Promise.resolve() : new Promise<void>((resolve) => server.close(() => resolve()));
    assert(this.#pending.size === 0, 'no pending calls after stop');
    return this.#stopping;
  }

  /** setPeers replaces the configured peers: removed peers lose their state and connections; new ones are dialed. */
  setPeers(peers: ReadonlyMap<NodeId, PeerAddress>): void {
    if (peers.size > TransportLimits.peersMax) {
      throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `more than ${TransportLimits.peersMax} peers`);
    }
    for (const [id, addr] of peers) {
      if (!Number.isSafeInteger(id) || id <= 0 || id === this.#opts.nodeId) {
        throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'peer ids are positive and exclude this node', { id });
      }
      if (!Number.isSafeInteger(addr.port) || addr.port <= 0 || addr.port > 65535) {
        throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'peer port must be in [1, 65535]', { id, port: addr.port });
      }
    }
    // A peer that only moved keeps its counters; a peer that left loses them.
    const kept = new Map<NodeId, PeerMetrics>();
    for (const [id, link] of this.#links) {
      const next = peers.get(id);
      if (next !== undefined && next.host === link.addr.host && next.port === link.addr.port) continue;
      if (next !== undefined) kept.set(id, link.pm);
      this.#closeLink(link);
      this.#links.delete(id);
      this.#faults.forget(id);
      this.#inbound.closePeer(id);
    }
    for (const [id, addr] of peers) {
      if (this.#links.has(id)) continue;
      const link: Link = {
        id,
        addr: { host: addr.host, port: addr.port },
        pm: kept.get(id) ?? newPeerMetrics(),
        state: 'idle',
        socket: null,
        queue: [],
        queueBytes: 0,
        blocked: false,
        failures: 0,
        everConnected: false,
        lastBackoffMs: 0,
        timer: null,
        delayedFrames: 0,
        unreachableReported: false,
      };
      this.#links.set(id, link);
      if (this.#state === 'started') this.#dial(link);
    }
    assert(this.#links.size === peers.size, 'one link per configured peer');
  }

  /** setFaults sets the send-path faults for one configured peer (ERR_INVALID_ARGUMENT for an unknown peer or bad values). */
  setFaults(peer: NodeId, faults: Faults): void {
    if (!this.#links.has(peer)) throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'unknown peer', { peer });
    this.#faults.set(peer, faults);
  }

  /** clearFaults removes every fault; messages held back for reordering are sent now. */
  clearFaults(): void {
    for (const [peer, msgs] of this.#faults.clear()) {
      const link = this.#links.get(peer);
      if (link !== undefined) this.#enqueueMessages(link, msgs);
    }
  }

  /** faults returns a copy of the faults set, per configured peer (peers without faults are absent). */
  faults(): ReadonlyMap<NodeId, Faults> {
    return this.#faults.faults();
  }

  /** callsInFlight is how many outgoing calls await an answer and how many incoming ones are being served (tests: neither map outlives its calls). */
  callsInFlight(): { readonly pending: number; readonly served: number } {
    return { pending: this.#pending.size, served: this.#inbound.callsInProgress };
  }

  /** metrics returns a copy of the counters. */
  metrics(): TransportMetrics {
    return { ...this.#m, framesRefused: { ...this.#m.framesRefused } };
  }

  /**
   * peerMetrics returns a copy of the counters of every configured peer.
   * Totals in metrics() also cover traffic no peer owns (bad input before a
   * Hello, drops to unknown peers), so the per-peer sums may be smaller.
   */
  peerMetrics(): ReadonlyMap<NodeId, PeerMetrics> {
    const out = new Map<NodeId, PeerMetrics>();
    for (const [id, link] of this.#links) out.set(id, { ...link.pm });
    assert(out.size <= TransportLimits.peersMax, 'per-peer counters bounded by the peer set');
    return out;
  }

  /** peerStatus returns the sender-side state of one configured peer, or undefined. */
  peerStatus(peer: NodeId): PeerStatus | undefined {
    const l = this.#links.get(peer);
    if (l === undefined) return undefined;
    return { state: l.state, failures: l.failures, lastBackoffMs: l.lastBackoffMs, queuedFrames: l.queue.length, queuedBytes: l.queueBytes };
  }

  /**
   * send groups messages by destination and queues one frame per peer (more
   * when a batch passes batchBytesTarget). It never blocks and never throws
   * for an unreachable peer: what cannot be queued is dropped and counted.
   */
  send(messages: readonly Message[]): void {
    if (this.#state === 'stopped') {
      this.#m.dropsStopped += messages.length;
      return;
    }
    const byPeer = new Map<NodeId, Message[]>();
    for (const m of messages) {
      assert(isNetworkMessageType(m.type), 'send: only network message types leave the node');
      assert(m.from === this.#opts.nodeId, 'send: messages are from this node');
      let list = byPeer.get(m.to);
      if (list === undefined) {
        if (!this.#links.has(m.to)) {
          this.#m.dropsUnknownPeer++;
          continue;
        }
        list = [];
        byPeer.set(m.to, list);
      }
      list.push(m);
    }
    for (const [peer, list] of byPeer) {
      const link = this.#links.get(peer);
      assert(link !== undefined, 'grouped peers are configured');
      const before = this.#faults.counters;
      const d0 = before.dropped;
      const u0 = before.duplicated;
      const r0 = before.reordered;
      const out = this.#faults.active(peer) ? this.#faults.apply(peer, list) : list;
      this.#m.dropsFault += this.#faults.counters.dropped - d0;
      link.pm.dropsFault += this.#faults.counters.dropped - d0;
      this.#m.duplicatesFault += this.#faults.counters.duplicated - u0;
      this.#m.reorderedFault += this.#faults.counters.reordered - r0;
      this.#enqueueMessages(link, out);
    }
  }

  /**
   * call sends one unary request to a peer and resolves with its answer.
   * Rejects with ERR_TIMEOUT at the deadline (outcome unknown),
   * ERR_UNAVAILABLE when the peer is not configured (it left, or a stale hint
   * names it) or not connected, its connection breaks or this transport stops, ERR_LIMIT_EXCEEDED past callsPendingMax, or the
   * error code the remote handler threw. `signal` aborting settles the call
   * with ERR_UNAVAILABLE (details.cancelled) and tells the peer, whose
   * handler sees its CallContext.signal abort.
   */
  call(peer: NodeId, method: string, payload: Uint8Array, deadlineMs: number, signal?: AbortSignal): Promise<Uint8Array> {
    if (!Number.isSafeInteger(deadlineMs) || deadlineMs < 1 || deadlineMs > TransportLimits.callDeadlineMsMax) {
      return Promise.reject(new OtlpdbError('ERR_INVALID_ARGUMENT', `deadlineMs must be in [1, ${TransportLimits.callDeadlineMsMax}]`));
    }
    if (Buffer.byteLength(method) > TransportLimits.callMethodBytesMax) {
      return Promise.reject(new OtlpdbError('ERR_LIMIT_EXCEEDED', 'method name longer than callMethodBytesMax'));
    }
    if (this.#state !== 'started') return Promise.reject(new OtlpdbError('ERR_UNAVAILABLE', 'transport is not running'));
    if (signal?.aborted === true) return Promise.reject(cancelledCall(method, peer));
    const link = this.#links.get(peer);
    if (link === undefined) {
      // Retryable, not a bad argument: a leader hint or placement may still name a node that has just left the
      // membership, and an OTLP client told 400 would drop a request part of which may already be committed.
      return Promise.reject(new OtlpdbError('ERR_UNAVAILABLE', `node ${peer} is not a configured peer (it may have left the cluster); retry`, { peer }));
    }
    // A call is worth a dial now: waiting out the backoff would fail it although the peer may be back.
    if (link.state === 'backoff') this.#redialNow(link);
    if (link.state !== 'connected' && link.state !== 'connecting') {
      return Promise.reject(new OtlpdbError('ERR_UNAVAILABLE', 'peer is not connected', { peer }));
    }
    if (this.#pending.size >= TransportLimits.callsPendingMax) {
      return Promise.reject(new OtlpdbError('ERR_LIMIT_EXCEEDED', 'too many pending calls', { callsPendingMax: TransportLimits.callsPendingMax }));
    }
    this.#callId = callIdNext(this.#callId);
    while (this.#pending.has(this.#callId)) this.#callId = callIdNext(this.#callId);
    const callId = this.#callId;
    const body = encodeCallRequest({ callId, method, deadlineMs, payload });
    if (body.length + 1 > TransportLimits.frameBytesMax) {
      return Promise.reject(new OtlpdbError('ERR_LIMIT_EXCEEDED', 'call payload larger than frameBytesMax'));
    }
    this.#m.callsStarted++;
    return new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        const p = this.#pending.get(callId);
        if (p !== undefined) {
          this.#pending.delete(callId);
          p.unlisten();
          this.#m.callsTimedOut++;
          this.#cancelRemote(link, callId);
          reject(new OtlpdbError('ERR_TIMEOUT', `call ${method} to node ${peer} passed its ${deadlineMs} ms deadline`, { peer, method }));
        }
      }, deadlineMs);
      this.#timers.add(timer);
      let unlisten = (): void => {};
      if (signal !== undefined) {
        const onAbort = (): void => {
          if (!this.#pending.has(callId)) return;
          this.#m.callsCancelled++;
          this.#settleCall(callId, cancelledCall(method, peer));
          this.#cancelRemote(link, callId);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        unlisten = () => signal.removeEventListener('abort', onAbort);
      }
      this.#pending.set(callId, { peer, resolve, reject, timer, unlisten });
      if (!this.#enqueue(link, { frame: encodeFrame(FrameType.CallRequest, body), messages: 0, callId })) {
        this.#settleCall(callId, new OtlpdbError('ERR_UNAVAILABLE', 'send queue to peer is full', { peer }));
      }
    });
  }

  /**
   * #cancelRemote tells the peer its caller gave up call `callId` (settled
   * here already): a request still queued is taken off the queue (the peer
   * never sees it), else one CallCancel frame is queued (dropped, like any
   * frame, when the queue is full: the peer's deadline still ends the call).
   */
  #cancelRemote(link: Link, callId: number): void {
    if (this.#links.get(link.id) !== link || this.#state !== 'started') return;
    const i = link.queue.findIndex((q) => q.callId === callId);
    if (i >= 0) {
      const [q] = link.queue.splice(i, 1);
      assert(q !== undefined, 'queued request in range');
      link.queueBytes -= q.frame.length;
      return;
    }
    if (link.state !== 'connected') return; // the request went out on a connection that is gone: the peer's side closed with it
    this.#m.cancelsSent++;
    this.#enqueue(link, { frame: encodeFrame(FrameType.CallCancel, encodeCallCancel(callId)), messages: 0, callId: 0, cancel: true });
  }

  // ---- send side ----

  #enqueueMessages(link: Link, msgs: readonly Message[]): void {
    let start = 0;
    let bytes = 0;
    for (let i = 0; i < msgs.length; i++) {
      const m = msgs[i];
      assert(m !== undefined, 'message in range');
      const size = estimateMessageBytes(m);
      if (i > start && (bytes + size > TransportLimits.batchBytesTarget || i - start >= TransportLimits.messagesPerFrameMax)) {
        this.#enqueueBatch(link, msgs.slice(start, i));
        start = i;
        bytes = 0;
      }
      bytes += size;
    }
    if (start < msgs.length) this.#enqueueBatch(link, msgs.slice(start));
  }

  #enqueueBatch(link: Link, batch: readonly Message[]): void {
    const payload = encodeMessages(batch);
    if (payload.length + 1 > TransportLimits.frameBytesMax) {
      if (batch.length === 1) {
        this.#m.dropsOversize++;
        return;
      }
      const half = batch.length >> 1;
      this.#enqueueBatch(link, batch.slice(0, half));
      this.#enqueueBatch(link, batch.slice(half));
      return;
    }
    const q: QueuedFrame = { frame: encodeFrame(FrameType.Messages, payload), messages: batch.length, callId: 0 };
    const delayMs = this.#faults.delayMs(link.id);
    if (delayMs === 0) {
      if (!this.#enqueue(link, q)) this.#dropQueueFull(link, q);
      return;
    }
    if (link.delayedFrames >= TransportLimits.faultDelayedFramesMax) {
      this.#dropQueueFull(link, q);
      return;
    }
    link.delayedFrames++;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      link.delayedFrames--;
      if (this.#links.get(link.id) !== link || this.#state !== 'started') return;
      if (!this.#enqueue(link, q)) this.#dropQueueFull(link, q);
    }, delayMs);
    this.#timers.add(timer);
  }

  #dropQueueFull(link: Link, q: QueuedFrame): void {
    this.#m.dropsQueueFull += q.messages;
    link.pm.dropsQueueFull += q.messages;
  }

  /** #enqueue appends a frame if it fits both bounds (else returns false: the newest is dropped) and flushes. */
  #enqueue(link: Link, q: QueuedFrame): boolean {
    if (link.queue.length >= this.#queueFramesMax || link.queueBytes + q.frame.length > this.#queueBytesMax) return false;
    link.queue.push(q);
    link.queueBytes += q.frame.length;
    this.#flush(link);
    assert(link.queue.length <= this.#queueFramesMax, 'queue within its frame bound');
    assert(link.queueBytes <= this.#queueBytesMax, 'queue within its byte bound');
    return true;
  }

  #flush(link: Link): void {
    const s = link.socket;
    if (s === null || link.state !== 'connected') return;
    while (!link.blocked && link.queue.length > 0) {
      const q = link.queue.shift();
      assert(q !== undefined, 'queue not empty');
      link.queueBytes -= q.frame.length;
      this.#m.framesSent++;
      this.#m.bytesOut += q.frame.length;
      this.#m.messagesSent += q.messages;
      link.pm.framesSent++;
      link.pm.bytesOut += q.frame.length;
      link.pm.messagesSent += q.messages;
      if (!s.write(q.frame)) link.blocked = true;
    }
  }

  #dial(link: Link): void {
    assert(this.#state === 'started', 'dial only while started');
    assert(link.socket === null, 'one outgoing socket per peer');
    link.state = 'connecting';
    link.blocked = false;
    this.#m.dials++;
    const s = net.connect({ host: link.addr.host, port: link.addr.port, localAddress: this.#opts.host });
    link.socket = s;
    const reader = new FrameReader();
    let connected = false;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      s.destroy();
    }, TransportLimits.connectMsMax);
    this.#timers.add(timer);
    s.once('connect', () => {
      clearTimeout(timer);
      this.#timers.delete(timer);
      connected = true;
      s.setNoDelay(true);
      const hello = encodeFrame(FrameType.Hello, encodeHello(this.#opts.clusterId, this.#opts.nodeId));
      s.write(hello);
      this.#m.bytesOut += hello.length;
      link.pm.bytesOut += hello.length;
      this.#m.connects++;
      if (link.everConnected || link.failures > 0) this.#m.reconnects++;
      link.everConnected = true;
      link.failures = 0;
      link.unreachableReported = false;
      link.state = 'connected';
      this.#flush(link);
    });
    s.on('drain', () => {
      link.blocked = false;
      this.#flush(link);
    });
    s.on('data', (chunk: Buffer) => {
      this.#m.bytesIn += chunk.length;
      link.pm.bytesIn += chunk.length;
      const r = reader.push(chunk);
      if (!r.ok) {
        countRefusal(this.#m, r.reason);
        link.pm.errors++;
        s.destroy();
        return;
      }
      for (const f of r.frames) {
        this.#m.framesReceived++;
        link.pm.framesReceived++;
        const resp = f.type === FrameType.CallResponse ? decodeCallResponse(f.payload) : undefined;
        if (resp === undefined) {
          countRefusal(this.#m, f.type === FrameType.CallResponse ? 'bad_call' : 'bad_frame_type');
          link.pm.errors++;
          s.destroy();
          return;
        }
        const p = this.#pending.get(resp.callId);
        if (p === undefined || p.peer !== link.id) continue; // late answer after a deadline
        if (resp.code === '') this.#settleCall(resp.callId, null, resp.payload);
        else this.#settleCall(resp.callId, new OtlpdbError(resp.code, resp.message, { ...decodeErrorDetails(resp.payload), peer: link.id, remote: true }));
      }
    });
    s.on('error', () => {
      // A refused or reset connection; 'close' follows and schedules the redial.
      link.pm.errors++;
    });
    s.once('close', () => {
      clearTimeout(timer);
      this.#timers.delete(timer);
      if (link.socket !== s) return; // link closed on purpose (stop, setPeers)
      link.socket = null;
      if (!connected) {
        this.#m.dialFailures++;
        link.pm.dialFailures++;
      }
      this.#linkDown(link);
    });
  }

  /** #linkDown handles an outgoing connection lost or never made: tell the driver, fail calls, schedule the redial. */
  /** redialNow cuts a link's reconnect backoff short and dials (one dial; a failure backs off again, one step longer). */
  #redialNow(link: Link): void {
    if (this.#state !== 'started' || link.state !== 'backoff' || link.socket !== null) return;
    if (link.timer !== null) {
      clearTimeout(link.timer);
      this.#timers.delete(link.timer);
      link.timer = null;
    }
    this.#dial(link);
  }

  #linkDown(link: Link): void {
    // Frames of calls still queued would reach the peer after their caller got ERR_UNAVAILABLE: drop them.
    // So would cancels of calls sent on the lost connection (the peer's side of it aborts them as it closes).
    link.queue = link.queue.filter((q) => q.callId === 0 && q.cancel !== true);
    link.queueBytes = link.queue.reduce((n, q) => n + q.frame.length, 0);
    this.#rejectCalls((p) => p.peer === link.id, `connection to node ${link.id} lost`);
    if (!link.unreachableReported) {
      link.unreachableReported = true;
      this.#m.unreachableReports++;
      this.#onUnreachable(link.id);
    }
    if (this.#state !== 'started' || this.#links.get(link.id) !== link) return;
    link.failures++;
    link.state = 'backoff';
    link.lastBackoffMs = reconnectDelayMs(link.failures, this.#opts.rand, this.#backoff);
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      link.timer = null;
      if (this.#state === 'started' && this.#links.get(link.id) === link && link.socket === null) this.#dial(link);
    }, link.lastBackoffMs);
    link.timer = timer;
    this.#timers.add(timer);
  }

  #closeLink(link: Link): void {
    if (link.timer !== null) {
      clearTimeout(link.timer);
      this.#timers.delete(link.timer);
      link.timer = null;
    }
    const s = link.socket;
    link.socket = null;
    s?.destroy();
    link.state = 'idle';
    link.queue = [];
    link.queueBytes = 0;
    this.#rejectCalls((p) => p.peer === link.id, `peer ${link.id} closed`);
  }

  #settleCall(callId: number, err: OtlpdbError | null, payload?: Uint8Array): void {
    const p = this.#pending.get(callId);
    if (p === undefined) return;
    this.#pending.delete(callId);
    clearTimeout(p.timer);
    this.#timers.delete(p.timer);
    p.unlisten();
    if (err === null) {
      assert(payload !== undefined, 'a successful call has a payload');
      p.resolve(payload);
    } else {
      this.#m.callsFailed++;
      p.reject(err);
    }
  }

  #rejectCalls(match: (p: PendingCall) => boolean, why: string): void {
    for (const [id, p] of [...this.#pending]) {
      if (match(p)) this.#settleCall(id, new OtlpdbError('ERR_UNAVAILABLE', why, { peer: p.peer }));
    }
  }
}
