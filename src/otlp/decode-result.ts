/**
 * decode-result.ts — what an OTLP decode returns, the stable codes of refused
 * items, and the per-request DecodeContext both decoders (protobuf and JSON)
 * record into.
 *
 * Invariants of a DecodeContext (one per decode call, owned by it):
 * - `rejected` counts every refused item; `rejections` lists the first
 *   OtlpLimits.rejectionsListedMax of them, so `rejections.length <= rejected`.
 * - `problem` is the first problem of the item being decoded (null while it
 *   is clean); later problems of the same item are ignored, so one refused
 *   item counts once.
 * - `items` counts every item seen, kept or refused, and never exceeds
 *   OtlpLimits.itemsPerRequestMax (past it the whole request is refused).
 */
import { checkTenantId } from '../control/tenant.js';
import { OtlpdbError, assert } from '../errors.js';
import { OtlpLimits, StorageLimits } from '../limits.js';

/** OtlpSignal names the three OTLP signals. */
export type OtlpSignal = 'traces' | 'metrics' | 'logs';

/** OtlpItemLimits are the per-item decode limits a node may set (`otlpdb start` flags); defaults from OtlpLimits. */
export interface OtlpItemLimits {
  readonly attributesPerItemMax: number;
  readonly attributeValueBytesMax: number;
  readonly timestampPastMsMax: number;
  readonly timestampFutureMsMax: number;
}

/** OTLP_ITEM_LIMITS_DEFAULT are the OtlpLimits values of OtlpItemLimits. */
export const OTLP_ITEM_LIMITS_DEFAULT: OtlpItemLimits = Object.freeze({
  attributesPerItemMax: OtlpLimits.attributesPerItemMax,
  attributeValueBytesMax: OtlpLimits.attributeValueBytesMax,
  timestampPastMsMax: OtlpLimits.timestampPastMsMax,
  timestampFutureMsMax: OtlpLimits.timestampFutureMsMax,
});

/** OTLP_ITEM_LIMITS_RANGES are the allowed ranges of OtlpItemLimits (within what storage keeps: StorageLimits). */
export const OTLP_ITEM_LIMITS_RANGES: Readonly<Record<keyof OtlpItemLimits, readonly [number, number]>> = {
  attributesPerItemMax: [1, StorageLimits.attributesPerListMax],
  attributeValueBytesMax: [4, StorageLimits.stringBytesMax],
  timestampPastMsMax: [60_000, 10 * 365 * 24 * 3_600_000],
  timestampFutureMsMax: [1_000, 7 * 24 * 3_600_000],
};

/** resolveItemLimits fills and checks a node's item limits: a value out of its range is ERR_INVALID_ARGUMENT naming it. */
export function resolveItemLimits(p: Partial<OtlpItemLimits> = {}): OtlpItemLimits {
  const out = { ...OTLP_ITEM_LIMITS_DEFAULT, ...p };
  for (const [k, [lo, hi]] of Object.entries(OTLP_ITEM_LIMITS_RANGES)) {
    const v = out[k as keyof OtlpItemLimits];
    if (!Number.isSafeInteger(v) || v < lo || v > hi) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `OTLP item limit ${k} must be an integer in [${lo}, ${hi}], got ${v}`, { setting: k });
  }
  return out;
}

/** OtlpDecodeOptions are what a decode needs besides the body: the tenant every row carries, and the clock of the timestamp window. */
export interface OtlpDecodeOptions {
  readonly tenant: string;
  /** nowMs is the receiver's wall clock (ms since the epoch); items whose time is outside the window around it are refused. */
  readonly nowMs: number;
  /** limits are the item limits in force (resolveItemLimits; default OTLP_ITEM_LIMITS_DEFAULT). */
  readonly limits?: OtlpItemLimits;
}

/** OtlpRejection is one refused item: a stable code (a key of OtlpRejectionCodes) and a message naming the item and the problem. */
export interface OtlpRejection {
  readonly code: string;
  readonly message: string;
}

/** OtlpDecodeResult is the rows of the valid items of one request, and what was refused or cut. */
export interface OtlpDecodeResult<Row> {
  readonly rows: Row[];
  /** rejected counts the items refused (spans, data points or log records). */
  readonly rejected: number;
  /** rejections lists the first few refused items (at most OtlpLimits.rejectionsListedMax). */
  readonly rejections: OtlpRejection[];
  /** truncatedValues counts the attribute string values cut to OtlpLimits.attributeValueBytesMax. */
  readonly truncatedValues: number;
}

/**
 * OtlpRejectionCodes is the table of every reason an item is refused, with
 * its meaning. Codes are stable (clients and tests branch on them); each is
 * documented in src/otlp/README.md (a test checks that).
 */
export const OtlpRejectionCodes = {
  OTLP_BAD_TRACE_ID: 'A trace id is not 16 bytes, or is all zero where one is required (spans, links).',
  OTLP_BAD_SPAN_ID: 'A span id is not 8 bytes, or is all zero where one is required (spans, links).',
  OTLP_BAD_PARENT_SPAN_ID: 'A parent span id is neither absent (empty or all zero) nor 8 bytes.',
  OTLP_TIMESTAMP_OUT_OF_RANGE: 'An item time is outside [now - OtlpLimits.timestampPastMsMax, now + OtlpLimits.timestampFutureMsMax].',
  OTLP_BAD_TIMESTAMP: 'A span ends before it starts, or a log record has neither a time nor an observed time.',
  OTLP_BAD_ENUM: 'A span kind, status code or severity number is outside its enum.',
  OTLP_VALUE_TOO_LONG: 'A string (not an attribute value) is longer than StorageLimits.stringBytesMax, or a bytes value longer than StorageLimits.bytesValueBytesMax.',
  OTLP_TOO_MANY_ATTRIBUTES: 'A data point or exemplar has more than OtlpLimits.attributesPerItemMax attributes (they have no dropped count to keep the excess in).',
  OTLP_DUPLICATE_ATTRIBUTE_KEY: 'An attribute list or kvlist value has the same key twice.',
  OTLP_ANY_VALUE_TOO_DEEP: 'An array or kvlist AnyValue nests deeper than StorageLimits.anyValueDepthMax.',
  OTLP_LIMIT_EXCEEDED: 'A list is longer than its StorageLimits bound (array or kvlist elements, exemplars, buckets, quantiles).',
  OTLP_COUNT_TOO_LARGE: 'A histogram, bucket, zero or summary count is above 2^53 - 1.',
  OTLP_POINT_NO_VALUE: 'A gauge or sum data point, or an exemplar, has neither as_double nor as_int.',
  OTLP_BAD_TEMPORALITY: 'A sum or histogram has an unspecified or unknown aggregation temporality.',
  OTLP_METRIC_NO_DATA: 'A metric has no data (none of gauge, sum, histogram, exponential histogram, summary); counted as one item.',
  OTLP_BAD_HISTOGRAM: 'A histogram has bucket counts that do not match its bounds, bounds not strictly increasing, or a scale outside [-10, 20].',
  OTLP_BAD_SUMMARY: 'A summary quantile is outside [0, 1].',
} as const;

/** OtlpRejectionCode is one key of OtlpRejectionCodes. */
export type OtlpRejectionCode = keyof typeof OtlpRejectionCodes;

const NANOS_PER_MS = 1_000_000n;

/** DecodeContext is the state of one decode call shared by the per-signal decoders: counters, the current item's problem and the time window. */
export class DecodeContext {
  readonly tenant: string;
  /** timeMinNano and timeMaxNano bound an item's time (inclusive). Invariant: timeMinNano <= timeMaxNano. */
  readonly timeMinNano: bigint;
  readonly timeMaxNano: bigint;
  rejected = 0;
  readonly rejections: OtlpRejection[] = [];
  truncatedValues = 0;
  /** itemTruncated counts the truncations of the item being decoded; added to truncatedValues if it is kept. */
  itemTruncated = 0;
  items = 0;
  problem: OtlpRejection | null = null;
  /** limits are the item limits of this decode. */
  readonly limits: OtlpItemLimits;

  constructor(o: OtlpDecodeOptions) {
    const tenantProblem = checkTenantId(o.tenant);
    if (tenantProblem !== null) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `OTLP decode: ${tenantProblem}`);
    assert(Number.isSafeInteger(o.nowMs) && o.nowMs >= 0, 'OTLP decode nowMs is a non-negative integer');
    this.tenant = o.tenant;
    this.limits = o.limits ?? OTLP_ITEM_LIMITS_DEFAULT;
    const min = o.nowMs - this.limits.timestampPastMsMax;
    this.timeMinNano = BigInt(min < 0 ? 0 : min) * NANOS_PER_MS;
    this.timeMaxNano = BigInt(o.nowMs + this.limits.timestampFutureMsMax) * NANOS_PER_MS;
    assert(this.timeMinNano <= this.timeMaxNano, 'timestamp window not empty');
  }

  /** reject records a problem of the current item (the first one wins). */
  reject(code: OtlpRejectionCode, message: string): void {
    if (this.problem === null) this.problem = { code, message };
  }

  /**
   * beginItem starts an item that inherits `inherited` (the problem of its
   * resource, scope or metric, or null). A request with more than
   * OtlpLimits.itemsPerRequestMax items is refused whole.
   */
  beginItem(inherited: OtlpRejection | null): void {
    this.items++;
    if (this.items > OtlpLimits.itemsPerRequestMax) {
      throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `OTLP request has more than OtlpLimits.itemsPerRequestMax (${OtlpLimits.itemsPerRequestMax}) items`);
    }
    this.problem = inherited;
    this.itemTruncated = 0;
  }

  /** endItem closes the current item: true if it is kept; false if it had a problem, which the caller then hands to `refuse`. */
  endItem(): boolean {
    if (this.problem !== null) return false;
    this.truncatedValues += this.itemTruncated;
    return true;
  }

  /** refuse counts the current item's problem and lists it (while the list has room) under `where`, the item's path in the request. */
  refuse(where: string): void {
    const p = this.problem;
    assert(p !== null, 'refuse follows endItem() === false');
    this.rejected++;
    if (this.rejections.length < OtlpLimits.rejectionsListedMax) this.rejections.push({ code: p.code, message: `${where}: ${p.message}` });
    this.problem = null;
  }

  /** rejectWhole counts a rejection that is not one decoded item (a metric with no data). */
  rejectWhole(code: OtlpRejectionCode, where: string, message: string): void {
    this.beginItem(null);
    this.reject(code, message);
    this.refuse(where);
  }

  /** checkTime refuses the current item if `t` is outside the window. */
  checkTime(t: bigint, what: string): void {
    if (t < this.timeMinNano || t > this.timeMaxNano) {
      this.reject('OTLP_TIMESTAMP_OUT_OF_RANGE', `${what} ${t} is outside [${this.timeMinNano}, ${this.timeMaxNano}]`);
    }
  }

  /** result is the decode result over `rows`. */
  result<Row>(rows: Row[]): OtlpDecodeResult<Row> {
    assert(this.rejections.length <= this.rejected, 'listed rejections are counted');
    assert(rows.length + this.rejected <= this.items, 'every row and rejection is an item');
    return { rows, rejected: this.rejected, rejections: this.rejections, truncatedValues: this.truncatedValues };
  }
}
