/**
 * json-metrics.ts — an OTLP/JSON ExportMetricsServiceRequest straight to
 * MetricPointRows, identical to what decodeMetricsProto gives for the same
 * request (one row per data point; a metric with no data counts as one
 * refused item; metadata is ignored).
 */
import { StorageLimits } from '../limits.js';
import type { Exemplar, ExponentialBuckets, MetricData, MetricPointRow, NumberValue, Resource, Scope, Temporality } from '../storage/rows.js';
import { SPAN_ID_BYTES, TRACE_ID_BYTES } from '../storage/rows.js';
import { DecodeContext } from './decode-result.js';
import type { OtlpDecodeOptions, OtlpDecodeResult, OtlpRejection } from './decode-result.js';
import { IdSlab, NONE } from './item-values.js';
import { attributes, checkedString, hexId, walkJson } from './json-common.js';
import type { Attrs, JsonItemSink } from './json-common.js';
import {
  HexIds,
  arr,
  asObj,
  bool,
  count,
  double,
  doubleField,
  enumField,
  field,
  i64,
  obj,
  optionalDouble,
  parseJsonBody,
  rethrowWithin,
  s32,
  toInvalidArgument,
  u32,
  u64,
} from './json-fields.js';
import type { JObj } from './json-fields.js';
import { checkCount, checkHistogramShape, checkListMax, checkQuantile, checkScale, checkTemporality, pushBound, pushBucket } from './metric-checks.js';
import { noRecordedValue } from '../storage/metrics/staleness.js';
import type { EnvelopeNames, ItemPath } from './proto-envelope.js';

const NAMES: EnvelopeNames = {
  request: 'ExportMetricsServiceRequest',
  resource: 'ResourceMetrics',
  scope: 'ScopeMetrics',
  resourceField: 'resourceMetrics',
  scopeField: 'scopeMetrics',
  itemField: 'metrics',
};
const SNAKE = ['resource_metrics', 'scope_metrics', 'metrics'] as const;
const TEMPORALITY_NAMES = ['AGGREGATION_TEMPORALITY_UNSPECIFIED', 'AGGREGATION_TEMPORALITY_DELTA', 'AGGREGATION_TEMPORALITY_CUMULATIVE'];
/** KINDS are the data oneof's members: JSON name, snake_case name; the last one present wins, as on the protobuf wire. */
const KINDS = [
  ['gauge', 'gauge'],
  ['sum', 'sum'],
  ['histogram', 'histogram'],
  ['exponentialHistogram', 'exponential_histogram'],
  ['summary', 'summary'],
] as const;
const EMPTY_BUCKETS: ExponentialBuckets = Object.freeze({ offset: 0, bucketCounts: NONE });

/** decodeMetricsJson decodes an OTLP/JSON ExportMetricsServiceRequest into MetricPointRows; see src/otlp/README.md for the rules. */
export function decodeMetricsJson(body: Uint8Array, o: OtlpDecodeOptions): OtlpDecodeResult<MetricPointRow> {
  const ctx = new DecodeContext(o);
  const sink = new JsonMetricSink(ctx);
  try {
    walkJson(ctx, parseJsonBody(body), NAMES, SNAKE, sink);
  } catch (err) {
    throw toInvalidArgument(err);
  }
  return ctx.result(sink.rows);
}

class JsonMetricSink implements JsonItemSink {
  readonly ctx: DecodeContext;
  readonly slab = new IdSlab();
  readonly hex = new HexIds();
  readonly rows: MetricPointRow[] = [];

  constructor(ctx: DecodeContext) {
    this.ctx = ctx;
  }

  item(m: JObj, resource: Resource, scope: Scope, inherited: OtlpRejection | null, path: ItemPath): void {
    const ctx = this.ctx;
    ctx.problem = inherited;
    const name = checkedString(ctx, m, 'name', 'name', 'metric name');
    const description = checkedString(ctx, m, 'description', 'description', 'metric description');
    const unit = checkedString(ctx, m, 'unit', 'unit', 'metric unit');
    let kind = '';
    let data: JObj | undefined;
    for (const [camel, snake] of KINDS) {
      const d = obj(m, camel, snake);
      if (d !== undefined) {
        kind = camel;
        data = d;
      }
    }
    if (data === undefined) {
      ctx.problem = null;
      ctx.rejectWhole('OTLP_METRIC_NO_DATA', path.format(), 'the metric has no data (gauge, sum, histogram, exponential histogram or summary)');
      return;
    }
    try {
      const temporalityRaw = enumField(data, 'aggregationTemporality', 'aggregation_temporality', TEMPORALITY_NAMES);
      const monotonic = kind === 'sum' && bool(data, 'isMonotonic', 'is_monotonic');
      if (kind !== 'gauge' && kind !== 'summary') checkTemporality(ctx, temporalityRaw, kind);
      const temporality = (kind === 'gauge' || kind === 'summary' ? 0 : temporalityRaw) as Temporality;
      const problem = ctx.problem;
      ctx.problem = null;
      const points = arr(data, 'dataPoints', 'data_points');
      for (let j = 0; j < points.length; j++) {
        try {
          this.point(asObj(points[j], ''), kind, temporality, monotonic, { name, description, unit, resource, scope }, problem, path, j);
        } catch (err) {
          rethrowWithin(err, `dataPoints[${j}]`);
        }
      }
    } catch (err) {
      rethrowWithin(err, kind);
    }
  }

  point(
    p: JObj,
    kind: string,
    temporality: Temporality,
    monotonic: boolean,
    head: Pick<MetricPointRow, 'name' | 'description' | 'unit' | 'resource' | 'scope'>,
    inherited: OtlpRejection | null,
    path: ItemPath,
    j: number,
  ): void {
    const ctx = this.ctx;
    ctx.beginItem(inherited);
    let data: MetricData;
    if (kind === 'gauge' || kind === 'sum') {
      const value = this.numberValue(p, 'the data point', noRecordedValue(u32(p, 'flags', 'flags')));
      data = kind === 'sum' ? { type: 'sum', temporality, monotonic, value } : { type: 'gauge', value };
    } else if (kind === 'histogram') data = this.histogram(p, temporality);
    else if (kind === 'exponentialHistogram') data = this.expHistogram(p, temporality);
    else data = this.summary(p);
    const a: Attrs = attributes(ctx, p, 'attributes', 'attributes', 'point attributes');
    if (a.cut > 0) ctx.reject('OTLP_TOO_MANY_ATTRIBUTES', `the data point has more than ${a.attributes.length} attributes`);
    const time = u64(p, 'timeUnixNano', 'time_unix_nano');
    ctx.checkTime(time, 'time');
    const exemplars = kind === 'summary' ? null : this.exemplars(p);
    const row: MetricPointRow = {
      tenant: ctx.tenant,
      name: head.name,
      description: head.description,
      unit: head.unit,
      data,
      attributes: a.attributes,
      startTimeUnixNano: u64(p, 'startTimeUnixNano', 'start_time_unix_nano'),
      timeUnixNano: time,
      flags: u32(p, 'flags', 'flags'),
      exemplars: exemplars ?? NONE,
      resource: head.resource,
      scope: head.scope,
    };
    if (ctx.endItem()) this.rows.push(row);
    else ctx.refuse(`${path.format()}.${kind}.dataPoints[${j}]`);
  }

  /** numberValue reads a point's or an exemplar's value; a point flagged no-recorded-value (`noValue`) may have none (the store keeps a staleness marker). */
  numberValue(p: JObj, what: string, noValue = false): NumberValue {
    const d = field(p, 'asDouble', 'as_double');
    if (d !== undefined) return { type: 'double', value: double(d, 'asDouble') };
    const i = field(p, 'asInt', 'as_int');
    if (i !== undefined) return { type: 'int', value: i64(i, 'asInt') };
    if (noValue) return { type: 'double', value: NaN };
    this.ctx.reject('OTLP_POINT_NO_VALUE', `${what} has neither as_double nor as_int`);
    return { type: 'double', value: 0 };
  }

  histogram(p: JObj, temporality: Temporality): MetricData {
    const ctx = this.ctx;
    const countsRaw = arr(p, 'bucketCounts', 'bucket_counts');
    const counts: number[] = [];
    for (let i = 0; i < countsRaw.length && i <= StorageLimits.histogramBucketsMax; i++) pushBucket(ctx, counts, count(countsRaw[i], 'bucketCounts'), 'bucket counts');
    const boundsRaw = arr(p, 'explicitBounds', 'explicit_bounds');
    const bounds: number[] = [];
    for (let i = 0; i < boundsRaw.length && i <= StorageLimits.histogramBucketsMax; i++) pushBound(ctx, bounds, double(boundsRaw[i], 'explicitBounds'));
    if (countsRaw.length > StorageLimits.histogramBucketsMax) checkListMax(ctx, countsRaw.length, StorageLimits.histogramBucketsMax, 'bucket counts');
    if (boundsRaw.length > StorageLimits.histogramBucketsMax) checkListMax(ctx, boundsRaw.length, StorageLimits.histogramBucketsMax, 'explicit bounds');
    checkHistogramShape(ctx, bounds, counts);
    return {
      type: 'histogram',
      temporality,
      count: checkCount(ctx, count(field(p, 'count', 'count'), 'count'), 'count'),
      sum: optionalDouble(p, 'sum', 'sum'),
      min: optionalDouble(p, 'min', 'min'),
      max: optionalDouble(p, 'max', 'max'),
      bounds: bounds.length === 0 ? NONE : bounds,
      bucketCounts: counts.length === 0 ? NONE : counts,
    };
  }

  buckets(p: JObj, camel: string, what: string): ExponentialBuckets {
    const b = obj(p, camel, camel);
    if (b === undefined) return EMPTY_BUCKETS;
    try {
      const raw = arr(b, 'bucketCounts', 'bucket_counts');
      const counts: number[] = [];
      for (let i = 0; i < raw.length && i <= StorageLimits.histogramBucketsMax; i++) pushBucket(this.ctx, counts, count(raw[i], 'bucketCounts'), what);
      return { offset: s32(b, 'offset', 'offset'), bucketCounts: counts.length === 0 ? NONE : counts };
    } catch (err) {
      return rethrowWithin(err, camel);
    }
  }

  expHistogram(p: JObj, temporality: Temporality): MetricData {
    const ctx = this.ctx;
    const scale = s32(p, 'scale', 'scale');
    checkScale(ctx, scale);
    return {
      type: 'exponentialHistogram',
      temporality,
      count: checkCount(ctx, count(field(p, 'count', 'count'), 'count'), 'count'),
      sum: optionalDouble(p, 'sum', 'sum'),
      min: optionalDouble(p, 'min', 'min'),
      max: optionalDouble(p, 'max', 'max'),
      scale,
      zeroCount: checkCount(ctx, count(field(p, 'zeroCount', 'zero_count'), 'zeroCount'), 'zero count'),
      zeroThreshold: doubleField(p, 'zeroThreshold', 'zero_threshold'),
      positive: this.buckets(p, 'positive', 'positive bucket counts'),
      negative: this.buckets(p, 'negative', 'negative bucket counts'),
    };
  }

  summary(p: JObj): MetricData {
    const ctx = this.ctx;
    const raw = arr(p, 'quantileValues', 'quantile_values');
    const quantiles: { quantile: number; value: number }[] = [];
    for (let i = 0; i < raw.length; i++) {
      try {
        const q = asObj(raw[i], '');
        const quantile = doubleField(q, 'quantile', 'quantile');
        checkQuantile(ctx, quantile);
        if (quantiles.length < StorageLimits.summaryQuantilesMax) quantiles.push({ quantile, value: doubleField(q, 'value', 'value') });
        else {
          ctx.reject('OTLP_LIMIT_EXCEEDED', `quantile values have more than ${StorageLimits.summaryQuantilesMax} entries`);
          break;
        }
      } catch (err) {
        rethrowWithin(err, `quantileValues[${i}]`);
      }
    }
    return { type: 'summary', count: checkCount(ctx, count(field(p, 'count', 'count'), 'count'), 'count'), sum: doubleField(p, 'sum', 'sum'), quantiles: quantiles.length === 0 ? NONE : quantiles };
  }

  exemplars(p: JObj): Exemplar[] | null {
    const ctx = this.ctx;
    const raw = arr(p, 'exemplars', 'exemplars');
    if (raw.length === 0) return null;
    checkListMax(ctx, raw.length, StorageLimits.exemplarsPerPointMax, 'exemplars');
    const n = Math.min(raw.length, StorageLimits.exemplarsPerPointMax);
    const out: Exemplar[] = [];
    for (let i = 0; i < n; i++) {
      try {
        const x = asObj(raw[i], '');
        const value = this.numberValue(x, 'an exemplar');
        const a = attributes(ctx, x, 'filteredAttributes', 'filtered_attributes', 'exemplar filtered attributes');
        if (a.cut > 0) ctx.reject('OTLP_TOO_MANY_ATTRIBUTES', `an exemplar has more than ${a.attributes.length} attributes`);
        out.push({
          timeUnixNano: u64(x, 'timeUnixNano', 'time_unix_nano'),
          value,
          traceId: hexId(ctx, this.hex, this.slab, x, 'traceId', 'trace_id', TRACE_ID_BYTES, false, 'OTLP_BAD_TRACE_ID', 'exemplar trace id'),
          spanId: hexId(ctx, this.hex, this.slab, x, 'spanId', 'span_id', SPAN_ID_BYTES, false, 'OTLP_BAD_SPAN_ID', 'exemplar span id'),
          filteredAttributes: a.attributes,
        });
      } catch (err) {
        rethrowWithin(err, `exemplars[${i}]`);
      }
    }
    return out;
  }
}
