/**
 * index.ts — the public surface of the peer transport (src/transport).
 */
export { PeerTransport } from './peer-transport.js';
export type {
  CallContext,
  CallHandler,
  PeerAddress,
  PeerMetrics,
  PeerStatus,
  PeerTransportOptions,
  TransportMetrics,
} from './transport-types.js';
export { TransportLimits } from '../limits.js';
export {
  PROTOCOL_VERSION,
  decodeMessages,
  encodeMessages,
  isNetworkMessageType,
  validateMessageTuple,
} from './codec.js';
export type { DecodeMessagesResult, MessageItemResult, RefusalReason } from './codec.js';
export { FaultInjector, checkFaults } from './faults.js';
export type { FaultCounters, Faults } from './faults.js';
export { DEFAULT_BACKOFF, reconnectDelayMs } from './backoff.js';
export type { BackoffPolicy } from './backoff.js';
export { FRAME_HEADER_BYTES, FrameReader, FrameType, encodeFrame } from './frame.js';
export type { Frame, FrameReadResult } from './frame.js';
