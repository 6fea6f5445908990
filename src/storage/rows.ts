/**
 * rows.ts — the row shapes of the shard write path: one SpanRow, MetricPointRow
 * or LogRow per OTLP item, flattened out of OTLP's resource/scope nesting so
 * that each row stands alone (the receiver splits rows by shard; the state
 * machine applies them; the block writer turns runs of them into columns).
 *
 * Representation decisions (documented here once, relied on everywhere):
 * - Times (`...UnixNano`) are `bigint` in [0, 2^64): nanoseconds since the
 *   epoch exceed 2^53, and a lossy number would reorder spans and break
 *   (series, timestamp) uniqueness. Wall-clock milliseconds elsewhere
 *   (`leaderTimeMs`) are numbers.
 * - OTLP int64 values (AnyValue int, int metric values) are `bigint` in
 *   [-2^63, 2^63); doubles are `number`. A double -0 is stored as +0 (msgpack
 *   writes it as the integer 0) — NB: OTLP gives -0 no meaning.
 * - Counts (histogram counts and bucket counts, zero counts, summary counts,
 *   dropped counts) are non-negative safe integers (`number`); a count above
 *   2^53 - 1 is refused at ingest rather than rounded.
 * - Ids are raw bytes: trace id 16 bytes, span id 8 bytes; an optional id
 *   (parent span, a log's trace/span, an exemplar's) is the empty array when
 *   absent. An all-zero id is accepted as given (the receiver decides).
 * - Optional doubles (histogram sum/min/max) are `null` when absent.
 */

/** AnyValue is OTLP's AnyValue: a scalar, bytes, or a nested array/kvlist (depth bounded by StorageLimits.anyValueDepthMax). */
export type AnyValue =
  | { readonly type: 'empty' }
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'bool'; readonly value: boolean }
  | { readonly type: 'int'; readonly value: bigint }
  | { readonly type: 'double'; readonly value: number }
  | { readonly type: 'bytes'; readonly value: Uint8Array }
  | { readonly type: 'array'; readonly values: readonly AnyValue[] }
  | { readonly type: 'kvlist'; readonly values: readonly KeyValue[] };

/** KeyValue is one OTLP attribute. Keys are not deduplicated here; the receiver rejects duplicates. */
export interface KeyValue {
  readonly key: string;
  readonly value: AnyValue;
}

/** Resource is OTLP's Resource plus the schema URL of its ResourceSpans/Metrics/Logs. */
export interface Resource {
  readonly attributes: readonly KeyValue[];
  readonly droppedAttributesCount: number;
  readonly schemaUrl: string;
}

/** Scope is OTLP's InstrumentationScope plus the schema URL of its Scope{Spans,Metrics,Logs}. */
export interface Scope {
  readonly name: string;
  readonly version: string;
  readonly attributes: readonly KeyValue[];
  readonly droppedAttributesCount: number;
  readonly schemaUrl: string;
}

/** SpanKind is OTLP's SpanKind: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
export type SpanKind = 0 | 1 | 2 | 3 | 4 | 5;
/** SPAN_KIND_MAX is the largest SpanKind. */
export const SPAN_KIND_MAX = 5;
/** StatusCode is OTLP's Status.code: 0 unset, 1 ok, 2 error. */
export type StatusCode = 0 | 1 | 2;
/** STATUS_CODE_MAX is the largest StatusCode. */
export const STATUS_CODE_MAX = 2;
/** SEVERITY_NUMBER_MAX is the largest OTLP SeverityNumber (FATAL4). */
export const SEVERITY_NUMBER_MAX = 24;
/** TRACE_ID_BYTES is the length of a trace id. */
export const TRACE_ID_BYTES = 16;
/** SPAN_ID_BYTES is the length of a span id. */
export const SPAN_ID_BYTES = 8;

/** SpanEvent is one OTLP Span.Event. */
export interface SpanEvent {
  readonly timeUnixNano: bigint;
  readonly name: string;
  readonly attributes: readonly KeyValue[];
  readonly droppedAttributesCount: number;
}

/** SpanLink is one OTLP Span.Link. */
export interface SpanLink {
  readonly traceId: Uint8Array;
  readonly spanId: Uint8Array;
  readonly traceState: string;
  readonly attributes: readonly KeyValue[];
  readonly droppedAttributesCount: number;
  readonly flags: number;
}

/** SpanRow is one span with its tenant, resource and scope. */
export interface SpanRow {
  readonly tenant: string;
  readonly traceId: Uint8Array;
  readonly spanId: Uint8Array;
  /** parentSpanId is 8 bytes, or empty for a root span. */
  readonly parentSpanId: Uint8Array;
  readonly traceState: string;
  /** flags is OTLP's Span.flags (u32: W3C trace flags and the has/is-remote bits). */
  readonly flags: number;
  readonly name: string;
  readonly kind: SpanKind;
  readonly startTimeUnixNano: bigint;
  readonly endTimeUnixNano: bigint;
  readonly status: { readonly code: StatusCode; readonly message: string };
  readonly attributes: readonly KeyValue[];
  readonly droppedAttributesCount: number;
  readonly events: readonly SpanEvent[];
  readonly droppedEventsCount: number;
  readonly links: readonly SpanLink[];
  readonly droppedLinksCount: number;
  readonly resource: Resource;
  readonly scope: Scope;
}

/** NumberValue is a metric value or an exemplar value: OTLP's as_double or as_int. */
export type NumberValue = { readonly type: 'double'; readonly value: number } | { readonly type: 'int'; readonly value: bigint };

/** Temporality is OTLP's AggregationTemporality: 1 delta, 2 cumulative (0, unspecified, is refused). */
export type Temporality = 1 | 2;

/** ExponentialBuckets is one side (positive or negative) of an exponential histogram. */
export interface ExponentialBuckets {
  readonly offset: number;
  readonly bucketCounts: readonly number[];
}

/**
 * MetricData is the type-specific part of one metric point. Gauges and sums
 * carry the point's value; histograms and summaries carry their own fields.
 */
export type MetricData =
  | { readonly type: 'gauge'; readonly value: NumberValue }
  | { readonly type: 'sum'; readonly temporality: Temporality; readonly monotonic: boolean; readonly value: NumberValue }
  | {
      readonly type: 'histogram';
      readonly temporality: Temporality;
      readonly count: number;
      readonly sum: number | null;
      readonly min: number | null;
      readonly max: number | null;
      /** bounds are the explicit bucket bounds, strictly increasing; bucketCounts has bounds.length + 1 entries (or both are empty). */
      readonly bounds: readonly number[];
      readonly bucketCounts: readonly number[];
    }
  | {
      readonly type: 'exponentialHistogram';
      readonly temporality: Temporality;
      readonly count: number;
      readonly sum: number | null;
      readonly min: number | null;
      readonly max: number | null;
      /** scale is in [EXP_SCALE_MIN, EXP_SCALE_MAX]. */
      readonly scale: number;
      readonly zeroCount: number;
      readonly zeroThreshold: number;
      readonly positive: ExponentialBuckets;
      readonly negative: ExponentialBuckets;
    }
  | {
      readonly type: 'summary';
      readonly count: number;
      readonly sum: number;
      readonly quantiles: readonly { readonly quantile: number; readonly value: number }[];
    };

/** EXP_SCALE_MIN and EXP_SCALE_MAX bound an exponential histogram's scale (the OTLP data model's range). */
export const EXP_SCALE_MIN = -10;
/** EXP_SCALE_MAX: see EXP_SCALE_MIN. */
export const EXP_SCALE_MAX = 20;

/** Exemplar is one OTLP exemplar. */
export interface Exemplar {
  readonly timeUnixNano: bigint;
  readonly value: NumberValue;
  /** traceId is 16 bytes or empty. */
  readonly traceId: Uint8Array;
  /** spanId is 8 bytes or empty. */
  readonly spanId: Uint8Array;
  readonly filteredAttributes: readonly KeyValue[];
}

/** MetricPointRow is one data point of one metric with its tenant, resource and scope. */
export interface MetricPointRow {
  readonly tenant: string;
  readonly name: string;
  readonly description: string;
  readonly unit: string;
  readonly data: MetricData;
  readonly attributes: readonly KeyValue[];
  readonly startTimeUnixNano: bigint;
  readonly timeUnixNano: bigint;
  /** flags is OTLP's DataPointFlags (u32). */
  readonly flags: number;
  readonly exemplars: readonly Exemplar[];
  readonly resource: Resource;
  readonly scope: Scope;
}

/** LogRow is one log record with its tenant, resource and scope. */
export interface LogRow {
  readonly tenant: string;
  readonly timeUnixNano: bigint;
  readonly observedTimeUnixNano: bigint;
  /** severityNumber is in [0, SEVERITY_NUMBER_MAX]. */
  readonly severityNumber: number;
  readonly severityText: string;
  readonly body: AnyValue;
  readonly attributes: readonly KeyValue[];
  readonly droppedAttributesCount: number;
  /** traceId is 16 bytes or empty. */
  readonly traceId: Uint8Array;
  /** spanId is 8 bytes or empty. */
  readonly spanId: Uint8Array;
  readonly flags: number;
  readonly eventName: string;
  readonly resource: Resource;
  readonly scope: Scope;
}
