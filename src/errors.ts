/**
 * errors.ts — the one error class of otlpdb and its table of stable codes.
 *
 * Callers branch on `err.code`, never on the message. Every code has an HTTP
 * status, a gRPC status and a retryable flag derived from this table, and a
 * line in docs/errors.md (a test checks that every code is documented).
 */

/** GrpcStatus names the gRPC status codes used by otlpdb (values are the wire numbers). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/** ErrorCodeInfo says how one error code maps onto the outside world. */
export interface ErrorCodeInfo {
  readonly httpStatus: number;
  readonly grpcStatus: number;
  readonly retryable: boolean;
  readonly summary: string;
}

/**
 * ErrorCodes is the table of every stable error code. Adding a code here
 * requires a line in docs/errors.md; removing or renaming one is a breaking
 * change for clients.
 */
export const ErrorCodes = {
  ERR_INVALID_ARGUMENT: {
    httpStatus: 400,
    grpcStatus: GrpcStatus.INVALID_ARGUMENT,
    retryable: false,
    summary: 'The input is malformed or violates a documented rule.',
  },
  ERR_LIMIT_EXCEEDED: {
    httpStatus: 413,
    grpcStatus: GrpcStatus.RESOURCE_EXHAUSTED,
    retryable: false,
    summary: 'The input or the work it asks for exceeds a named limit.',
  },
  ERR_RATE_LIMITED: {
    httpStatus: 429,
    grpcStatus: GrpcStatus.RESOURCE_EXHAUSTED,
    retryable: true,
    summary: 'The tenant exceeded its rate limit; retry after the advised delay.',
  },
  ERR_NOT_FOUND: {
    httpStatus: 404,
    grpcStatus: GrpcStatus.NOT_FOUND,
    retryable: false,
    summary: 'The named object (a control-KV key, a node, a tenant, a peer, a group) does not exist.',
  },
  ERR_CONFLICT: {
    httpStatus: 409,
    grpcStatus: GrpcStatus.FAILED_PRECONDITION,
    retryable: false,
    summary: 'A precondition of the request failed (a compare-and-set mismatch, a held lock, a stale fencing token).',
  },
  ERR_NOT_LEADER: {
    httpStatus: 503,
    grpcStatus: GrpcStatus.UNAVAILABLE,
    retryable: true,
    summary: 'This replica is not the leader of the Raft group; the error carries a leader hint when one is known.',
  },
  ERR_UNAVAILABLE: {
    httpStatus: 503,
    grpcStatus: GrpcStatus.UNAVAILABLE,
    retryable: true,
    summary: 'A quorum or a peer cannot be reached, or a shard cannot take more until it flushes; retry later.',
  },
  ERR_PROPOSAL_DROPPED: {
    httpStatus: 503,
    grpcStatus: GrpcStatus.UNAVAILABLE,
    retryable: true,
    summary: 'Raft dropped a proposal (no leader, leadership transfer in progress, or a pending configuration change).',
  },
  ERR_TIMEOUT: {
    httpStatus: 504,
    grpcStatus: GrpcStatus.DEADLINE_EXCEEDED,
    retryable: true,
    summary: 'The operation did not finish before its deadline; its outcome is unknown.',
  },
  ERR_COMPACTED: {
    httpStatus: 500,
    grpcStatus: GrpcStatus.INTERNAL,
    retryable: false,
    summary: 'A Raft log index was requested that has been compacted into a snapshot.',
  },
  ERR_UNAVAILABLE_INDEX: {
    httpStatus: 500,
    grpcStatus: GrpcStatus.INTERNAL,
    retryable: false,
    summary: 'A Raft log index was requested that is beyond the last stored entry.',
  },
  ERR_SNAPSHOT_OUT_OF_DATE: {
    httpStatus: 500,
    grpcStatus: GrpcStatus.INTERNAL,
    retryable: false,
    summary: 'A snapshot older than the one already stored was offered.',
  },
  ERR_CORRUPTION: {
    httpStatus: 500,
    grpcStatus: GrpcStatus.DATA_LOSS,
    retryable: false,
    summary: 'Stored data failed a checksum or structural check; it is never returned as data.',
  },
  ERR_INTERNAL: {
    httpStatus: 500,
    grpcStatus: GrpcStatus.INTERNAL,
    retryable: false,
    summary: 'An invariant of otlpdb itself was violated (a bug); the message says which.',
  },
} as const satisfies Record<string, ErrorCodeInfo>;

/** ErrorCode is the union of every stable error code. */
export type ErrorCode = keyof typeof ErrorCodes;

/**
 * OtlpdbError is the only error type otlpdb throws or returns for conditions a
 * caller must handle. `details` carries structured context (a leader hint, a
 * file and offset) that callers may read without parsing the message.
 */
export class OtlpdbError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'OtlpdbError';
    this.code = code;
    this.details = details;
  }

  /** httpStatus is the HTTP status this error maps to. */
  get httpStatus(): number {
    return ErrorCodes[this.code].httpStatus;
  }

  /** grpcStatus is the gRPC status this error maps to. */
  get grpcStatus(): number {
    return ErrorCodes[this.code].grpcStatus;
  }

  /** retryable says whether the same request may succeed if sent again later. */
  get retryable(): boolean {
    return ErrorCodes[this.code].retryable;
  }
}

/** isOtlpdbError narrows an unknown thrown value, optionally to one code. */
export function isOtlpdbError(err: unknown, code?: ErrorCode): err is OtlpdbError {
  return err instanceof OtlpdbError && (code === undefined || err.code === code);
}

/** asOtlpdbError is `err` when it is an OtlpdbError, else an ERR_INTERNAL whose message is `what` and the thrown value's text (a bug, not bad input). */
export function asOtlpdbError(err: unknown, what: string): OtlpdbError {
  return err instanceof OtlpdbError ? err : new OtlpdbError('ERR_INTERNAL', `${what}: ${String(err)}`);
}

/**
 * assert checks a programmer invariant. A failure is a bug in otlpdb, never a
 * consequence of bad input, so it throws ERR_INTERNAL naming the invariant.
 */
export function assert(condition: unknown, invariant: string): asserts condition {
  if (!condition) {
    throw new OtlpdbError('ERR_INTERNAL', `invariant violated: ${invariant}`);
  }
}

/** isErrorCode says whether a string (from another node's JSON answer) is one of our codes. */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ErrorCodes, code);
}
