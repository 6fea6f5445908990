/**
 * inbound.ts — the receive side of the peer transport: connections accepted
 * by a node's listener. Each must open with a Hello frame naming a
 * configured node of the same cluster, dialed from that node's configured
 * host; after it, only Messages and CallRequest frames are accepted.
 *
 * Anything else — random bytes, a length over frameBytesMax, a frame that is
 * not msgpack, a message with a bad field, a message whose sender is not the
 * handshaken node or whose recipient is not this node, a group id out of
 * range — refuses the connection: it is counted under its reason in
 * framesRefused and closed, and nothing of the refused frame is delivered.
 * Other connections are untouched.
 *
 * Invariants: at most inboundConnectionsMax connections; at most one
 * handshaken connection per node (a newer one replaces the older); at most
 * callsServedPerConnectionMax calls in progress per connection, each with
 * one entry in its connection's `calls` (its abort, removed when its handler
 * settles, so the map is bounded by the same limit); a connection that has
 * not handshaken within handshakeMsMax is refused.
 *
 * Cancels (CallCancel frames): one naming a call in progress on its
 * connection aborts that handler's CallContext.signal, and its answer is not
 * sent; one naming no such call (answered already: the cancel crossed the
 * answer) or of another cancel version is counted and ignored; a malformed
 * one refuses the connection like any malformed frame. A connection that
 * closes aborts every call still in progress on it (their caller is gone).
 */
import type net from 'node:net';
import { assert, isOtlpdbError } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import type { Message, NodeId } from '../raft/types.js';
import { CALL_CANCEL_VERSION, PROTOCOL_VERSION, decodeCallCancel, decodeCallRequest, decodeHello, decodeMessages, encodeCallResponseFrame, encodeErrorDetails } from './codec.js';
import type { RefusalReason } from './codec.js';
import { FRAME_HEADER_BYTES, FrameReader, FrameType } from './frame.js';
import type { Frame } from './frame.js';
import { TransportLimits } from '../limits.js';
import { countRefusal } from './transport-types.js';
import type { CallHandler, PeerMetrics, TransportMetrics } from './transport-types.js';

/** InboundHost is what the receive side needs from its transport (injected, so it holds no back reference). */
export interface InboundHost {
  readonly clusterId: string;
  readonly nodeId: NodeId;
  readonly groupIdMax: number;
  readonly checkSourceAddress: boolean;
  readonly metrics: TransportMetrics;
  /** peerHost is the configured host of a member, or undefined for a stranger. */
  peerHost(id: NodeId): string | undefined;
  /** peerMetrics is the counters of a member, or undefined for a stranger. */
  peerMetrics(id: NodeId): PeerMetrics | undefined;
  handler(method: string): CallHandler | undefined;
  deliver(from: NodeId, msgs: Message[]): void;
  /** helloAccepted tells the host a member just connected (so a link in reconnect backoff towards it can dial at once). */
  helloAccepted(id: NodeId): void;
}

interface Inbound {
  readonly socket: net.Socket;
  /** peer is the handshaken node id, 0 until the Hello is accepted. */
  peer: NodeId;
  /** pm is the handshaken peer's counters, null until the Hello is accepted (bad input before it has no peer). */
  pm: PeerMetrics | null;
  serving: number;
  /** calls are the aborts of the calls in progress on this connection, by call id (at most callsServedPerConnectionMax). */
  readonly calls: Map<number, AbortController>;
}

const EMPTY = new Uint8Array(0);

function normalizeAddress(a: string | undefined): string {
  return a === undefined ? '' : a.startsWith('::ffff:') ? a.slice(7) : a;
}

/** InboundConnections owns every accepted connection of one transport. */
export class InboundConnections {
  readonly #host: InboundHost;
  readonly #conns = new Set<Inbound>();

  constructor(host: InboundHost) {
    this.#host = host;
  }

  /** size is the number of open accepted connections. */
  get size(): number {
    return this.#conns.size;
  }

  /** callsInProgress is the calls being served on every connection (the entries of their cancel maps). */
  get callsInProgress(): number {
    let n = 0;
    for (const ib of this.#conns) n += ib.calls.size;
    return n;
  }

  /** closePeer closes the connections of one node (it left the membership). */
  closePeer(id: NodeId): void {
    for (const ib of this.#conns) if (ib.peer === id) ib.socket.destroy();
  }

  /** closeAll closes every accepted connection. */
  closeAll(): void {
    for (const ib of this.#conns) ib.socket.destroy();
    this.#conns.clear();
  }

  /** accept takes over one socket from the listener. */
  accept(s: net.Socket): void {
    if (this.#conns.size >= TransportLimits.inboundConnectionsMax) {
      s.destroy();
      return;
    }
    s.setNoDelay(true);
    const ib: Inbound = { socket: s, peer: 0, pm: null, serving: 0, calls: new Map() };
    this.#conns.add(ib);
    const m = this.#host.metrics;
    const reader = new FrameReader();
    const refuse = (reason: RefusalReason): void => {
      countRefusal(m, reason);
      if (ib.pm !== null) ib.pm.errors++;
      s.destroy();
    };
    const timer = setTimeout(() => {
      if (ib.peer === 0) refuse('handshake_timeout');
    }, TransportLimits.handshakeMsMax);
    s.on('data', (chunk: Buffer) => {
      if (s.destroyed) return;
      m.bytesIn += chunk.length;
      const r = reader.push(chunk);
      if (!r.ok) {
        refuse(r.reason);
        return;
      }
      for (const f of r.frames) {
        if (s.destroyed) return;
        m.framesReceived++;
        if (ib.pm !== null) {
          // Per peer, bytes are counted by whole frames after the Hello: bytes before it have no peer.
          ib.pm.framesReceived++;
          ib.pm.bytesIn += FRAME_HEADER_BYTES + f.payload.length;
        }
        const reason = ib.peer === 0 ? this.#onHello(ib, f) : this.#onFrame(ib, f);
        if (reason !== null) {
          refuse(reason);
          return;
        }
        if (ib.peer !== 0) clearTimeout(timer);
      }
    });
    s.on('error', () => {
      if (ib.pm !== null) ib.pm.errors++;
    });
    s.once('close', () => {
      clearTimeout(timer);
      this.#conns.delete(ib);
      // The caller's side of these calls failed with the connection: their handlers stop at their next check.
      for (const abort of ib.calls.values()) abort.abort();
    });
    assert(this.#conns.size <= TransportLimits.inboundConnectionsMax, 'inbound connections within bound');
  }

  #onHello(ib: Inbound, f: Frame): RefusalReason | null {
    if (f.type !== FrameType.Hello) return 'bad_handshake';
    const h = decodeHello(f.payload);
    if (h === undefined) return 'bad_handshake';
    if (h.version !== PROTOCOL_VERSION) return 'wrong_version';
    if (h.clusterId !== this.#host.clusterId) return 'wrong_cluster';
    const host = this.#host.peerHost(h.nodeId);
    if (host === undefined) return 'unknown_node';
    if (this.#host.checkSourceAddress && normalizeAddress(ib.socket.remoteAddress) !== host) return 'address_mismatch';
    for (const other of this.#conns) {
      if (other !== ib && other.peer === h.nodeId) other.socket.destroy(); // a redial replaces the old connection
    }
    const pm = this.#host.peerMetrics(h.nodeId);
    assert(pm !== undefined, 'a member with a host has counters');
    ib.peer = h.nodeId;
    ib.pm = pm;
    assert(ib.peer !== 0, 'handshaken connection has a peer');
    this.#host.helloAccepted(h.nodeId);
    return null;
  }

  #onFrame(ib: Inbound, f: Frame): RefusalReason | null {
    if (f.type === FrameType.Messages) return this.#onMessagesFrame(ib, f);
    if (f.type === FrameType.CallRequest) return this.#onCallRequest(ib, f);
    if (f.type === FrameType.CallCancel) return this.#onCallCancel(ib, f);
    return 'bad_frame_type';
  }

  #onMessagesFrame(ib: Inbound, f: Frame): RefusalReason | null {
    const d = decodeMessages(f.payload);
    if (!d.ok) return d.reason;
    const msgs: Message[] = [];
    for (const item of d.items) {
      if (!item.ok) return 'bad_message';
      const msg = item.message;
      if (msg.from !== ib.peer) return 'wrong_sender';
      if (msg.to !== this.#host.nodeId) return 'wrong_recipient';
      if (msg.group > this.#host.groupIdMax) return 'group_out_of_range';
      msgs.push(msg);
    }
    this.#host.metrics.messagesReceived += msgs.length;
    assert(ib.pm !== null, 'a handshaken connection has counters');
    ib.pm.messagesReceived += msgs.length;
    if (msgs.length > 0) this.#host.deliver(ib.peer, msgs);
    return null;
  }

  #onCallCancel(ib: Inbound, f: Frame): RefusalReason | null {
    const c = decodeCallCancel(f.payload);
    if (c === undefined) return 'bad_cancel';
    const m = this.#host.metrics;
    if (c.version !== CALL_CANCEL_VERSION) {
      m.cancelsOtherVersion++;
      return null;
    }
    const abort = ib.calls.get(c.callId);
    if (abort === undefined || abort.signal.aborted) {
      m.cancelsUnknown++;
      return null;
    }
    m.cancelsReceived++;
    abort.abort();
    return null;
  }

  #onCallRequest(ib: Inbound, f: Frame): RefusalReason | null {
    const req = decodeCallRequest(f.payload);
    if (req === undefined) return 'bad_call';
    const s = ib.socket;
    const m = this.#host.metrics;
    const abort = new AbortController();
    const answer = (code: ErrorCode | '', message: string, payload: Uint8Array): void => {
      if (abort.signal.aborted) {
        m.callsServedCancelled++; // its caller settled it already (or its connection is gone): an answer would be dropped there
        return;
      }
      if (s.destroyed) return;
      // The frame is written in one buffer (the answer's bytes copied once); an answer past frameBytesMax is answered with ERR_LIMIT_EXCEEDED.
      const frame =
        encodeCallResponseFrame({ callId: req.callId, code, message, payload }) ??
        encodeCallResponseFrame({ callId: req.callId, code: 'ERR_LIMIT_EXCEEDED', message: 'answer larger than frameBytesMax', payload: EMPTY });
      assert(frame !== null, 'an empty answer fits a frame');
      m.bytesOut += frame.length;
      if (ib.pm !== null) ib.pm.bytesOut += frame.length;
      // NB: answers ignore socket backpressure; they are bounded by callsServedPerConnectionMax frames per connection.
      s.write(frame);
    };
    const fn = this.#host.handler(req.method);
    if (fn === undefined) {
      answer('ERR_INVALID_ARGUMENT', `unknown method ${req.method}`, EMPTY);
      return null;
    }
    if (ib.serving >= TransportLimits.callsServedPerConnectionMax) {
      answer('ERR_LIMIT_EXCEEDED', 'too many calls in progress on this connection', EMPTY);
      return null;
    }
    ib.serving++;
    m.callsServed++;
    // A second request with the id of a call in progress (a broken peer) gets no cancel of its own: the first keeps the id.
    const own = !ib.calls.has(req.callId);
    if (own) ib.calls.set(req.callId, abort);
    assert(ib.calls.size <= TransportLimits.callsServedPerConnectionMax, 'calls in progress within bound');
    Promise.resolve()
      .then(() => fn(req.payload, { from: ib.peer, deadlineMs: req.deadlineMs, signal: abort.signal }))
      .then(
        (out) => {
          if (out instanceof Uint8Array) answer('', '', out);
          else answer('ERR_INTERNAL', `handler ${req.method} returned no bytes`, EMPTY);
        },
        (err: unknown) => {
          if (isOtlpdbError(err)) answer(err.code, err.message, encodeErrorDetails(err.details));
          else answer('ERR_INTERNAL', `handler ${req.method} failed: ${String(err)}`, EMPTY);
        },
      )
      .finally(() => {
        ib.serving--;
        if (own) ib.calls.delete(req.callId);
      });
    return null;
  }
}
