/**
 * proto-metrics.ts — ExportMetricsServiceRequest protobuf bytes straight to
 * MetricPointRows, one row per data point (field numbers:
 * src/otlp/proto/.../metrics/v1/metrics.proto and
 * collector/metrics/v1/metrics_service.proto).
 *
 * A Metric is read in two passes (its name, description and unit may follow
 * its data on the wire), and so is its data message (temporality and
 * monotonicity may follow the points). When the data oneof is sent more than
 * once the last one wins. Metric.metadata (field 12) has no place in the rows
 * and is skipped.
 */
import { assert } from '../errors.js';
import { StorageLimits } from '../limits.js';
import type { Exemplar, ExponentialBuckets, KeyValue, MetricData, MetricPointRow, NumberValue, Resource, Scope, Temporality } from '../storage/rows.js';
import { DecodeContext } from './decode-result.js';
import type { OtlpDecodeOptions, OtlpDecodeResult, OtlpRejection } from './decode-result.js';
import { IdSlab, NONE } from './item-values.js';
import { checkCount, checkHistogramShape, checkListMax, checkQuantile, checkScale, checkTemporality, pushBound, pushBucket } from './metric-checks.js';
import { noRecordedValue } from '../storage/metrics/staleness.js';
import { AttrList, readString } from './proto-common.js';
import { readExemplar } from './proto-exemplar.js';
import { walkRequest } from './proto-envelope.js';
import type { EnvelopeNames, ItemPath, ItemSink } from './proto-envelope.js';
import { ProtoReader, WT_I64, WT_LEN, WT_VARINT, fieldMask } from './proto-reader.js';

const NAMES: EnvelopeNames = {
  request: 'ExportMetricsServiceRequest',
  resource: 'ResourceMetrics',
  scope: 'ScopeMetrics',
  resourceField: 'resourceMetrics',
  scopeField: 'scopeMetrics',
  itemField: 'metrics',
};

const M_NAME = (1 << 3) | WT_LEN;
const M_DESCRIPTION = (2 << 3) | WT_LEN;
const M_UNIT = (3 << 3) | WT_LEN;
const M_GAUGE = (5 << 3) | WT_LEN;
const M_SUM = (7 << 3) | WT_LEN;
const M_HISTOGRAM = (9 << 3) | WT_LEN;
const M_EXP_HISTOGRAM = (10 << 3) | WT_LEN;
const M_SUMMARY = (11 << 3) | WT_LEN;
// Field 12 (metadata) is skipped like an unknown field.
const M_MASK = fieldMask(1, 2, 3, 5, 7, 9, 10, 11);

const D_POINTS = (1 << 3) | WT_LEN;
const D_TEMPORALITY = (2 << 3) | WT_VARINT;
const D_MONOTONIC = (3 << 3) | WT_VARINT;
const D_MASK = fieldMask(1, 2, 3);

const ANY_START = (2 << 3) | WT_I64;
const ANY_TIME = (3 << 3) | WT_I64;

const N_ATTR = (7 << 3) | WT_LEN;
const N_DOUBLE = (4 << 3) | WT_I64;
const N_INT = (6 << 3) | WT_I64;
const N_EXEMPLAR = (5 << 3) | WT_LEN;
const N_FLAGS = (8 << 3) | WT_VARINT;
const N_MASK = fieldMask(2, 3, 4, 5, 6, 7, 8);

const H_ATTR = (9 << 3) | WT_LEN;
const H_COUNT = (4 << 3) | WT_I64;
const H_SUM = (5 << 3) | WT_I64;
const H_COUNTS_PACKED = (6 << 3) | WT_LEN;
const H_COUNTS_ONE = (6 << 3) | WT_I64;
const H_BOUNDS_PACKED = (7 << 3) | WT_LEN;
const H_BOUNDS_ONE = (7 << 3) | WT_I64;
const H_EXEMPLAR = (8 << 3) | WT_LEN;
const H_FLAGS = (10 << 3) | WT_VARINT;
const H_MIN = (11 << 3) | WT_I64;
const H_MAX = (12 << 3) | WT_I64;
const H_MASK = fieldMask(2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12);

const E_ATTR = (1 << 3) | WT_LEN;
const E_COUNT = (4 << 3) | WT_I64;
const E_SUM = (5 << 3) | WT_I64;
const E_SCALE = (6 << 3) | WT_VARINT;
const E_ZERO_COUNT = (7 << 3) | WT_I64;
const E_POSITIVE = (8 << 3) | WT_LEN;
const E_NEGATIVE = (9 << 3) | WT_LEN;
const E_FLAGS = (10 << 3) | WT_VARINT;
const E_EXEMPLAR = (11 << 3) | WT_LEN;
const E_MIN = (12 << 3) | WT_I64;
const E_MAX = (13 << 3) | WT_I64;
const E_ZERO_THRESHOLD = (14 << 3) | WT_I64;
const E_MASK = fieldMask(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14);
const B_OFFSET = (1 << 3) | WT_VARINT;
const B_COUNTS_PACKED = (2 << 3) | WT_LEN;
const B_COUNTS_ONE = (2 << 3) | WT_VARINT;
const B_MASK = fieldMask(1, 2);

const S_ATTR = (7 << 3) | WT_LEN;
const S_COUNT = (4 << 3) | WT_I64;
const S_SUM = (5 << 3) | WT_I64;
const S_QUANTILE = (6 << 3) | WT_LEN;
const S_FLAGS = (8 << 3) | WT_VARINT;
const S_MASK = fieldMask(2, 3, 4, 5, 6, 7, 8);
const Q_QUANTILE = (1 << 3) | WT_I64;
const Q_VALUE = (2 << 3) | WT_I64;
const Q_MASK = fieldMask(1, 2);

const EMPTY_BUCKETS: ExponentialBuckets = Object.freeze({ offset: 0, bucketCounts: NONE });

/**
 * MetricsDecodeResult is decodeMetricsProto's result: the rows and, for each
 * row i, the byte range [pointAttributeRanges[2i], pointAttributeRanges[2i + 1])
 * of the request body that holds its point's attribute fields (tags,
 * lengths and KeyValue messages, in order), or -1, -1 when the row's
 * attributes are not such a run (not a gauge or sum point, an attribute
 * field after another field of the point, a value truncated). Equal ranges'
 * bytes decode to equal attributes, which lets the receiver remember a
 * series' shard by them (series-shard-memo.ts).
 */
export interface MetricsDecodeResult extends OtlpDecodeResult<MetricPointRow> {
  readonly pointAttributeRanges: Int32Array;
}

/** decodeMetricsProto decodes an ExportMetricsServiceRequest into MetricPointRows; see src/otlp/README.md for the rules. */
export function decodeMetricsProto(body: Uint8Array, o: OtlpDecodeOptions): MetricsDecodeResult {
  const ctx = new DecodeContext(o);
  const r = new ProtoReader(body);
  const sink = new MetricSink(r, ctx);
  walkRequest(r, ctx, NAMES, sink);
  const res = ctx.result(sink.rows);
  assert(sink.ranges.length >= 2 * sink.rows.length, 'an attribute range per row');
  return { ...res, pointAttributeRanges: sink.ranges.subarray(0, 2 * sink.rows.length) };
}

/** PointHead is what every point of one metric shares. */
interface PointHead {
  readonly name: string;
  readonly description: string;
  readonly unit: string;
  readonly resource: Resource;
  readonly scope: Scope;
  readonly problem: OtlpRejection | null;
  readonly temporality: Temporality;
  readonly monotonic: boolean;
  readonly path: ItemPath;
  readonly kind: string;
}

class MetricSink implements ItemSink {
  readonly r: ProtoReader;
  readonly ctx: DecodeContext;
  readonly slab = new IdSlab();
  readonly rows: MetricPointRow[] = [];
  readonly attrs = new AttrList();
  readonly innerAttrs = new AttrList();
  /** Common point fields, reset by each point: attributes live in `attrs`. */
  start = 0n;
  time = 0n;
  flags = 0;
  exemplars: Exemplar[] | null = null;
  /**
   * ranges holds the rows' attribute byte ranges (MetricsDecodeResult);
   * tagAt is the offset of the tag being read, and attrAt..attrEnd the
   * current point's run of attribute fields (attrAt -1: none yet; -2: not a
   * run, or not a number point).
   */
  ranges = new Int32Array(64);
  tagAt = 0;
  attrAt = -2;
  attrEnd = -2;

  constructor(r: ProtoReader, ctx: DecodeContext) {
    this.r = r;
    this.ctx = ctx;
  }

  item(end: number, resource: Resource, scope: Scope, inherited: OtlpRejection | null, path: ItemPath): void {
    const r = this.r;
    const ctx = this.ctx;
    r.where = 'Metric';
    ctx.problem = inherited;
    let name = '';
    let description = '';
    let unit = '';
    let dataTag = 0;
    let dataStart = 0;
    let dataEnd = 0;
    while (r.pos < end) {
      const tag = r.tag(end);
      switch (tag) {
        case M_NAME:
        case M_DESCRIPTION:
        case M_UNIT: {
          const e = r.len(end);
          const what = tag === M_NAME ? 'metric name' : tag === M_UNIT ? 'metric unit' : 'metric description';
          const s = readString(r, ctx, r.pos, e, what);
          if (tag === M_NAME) name = s;
          else if (tag === M_UNIT) unit = s;
          else description = s;
          r.pos = e;
          break;
        }
        case M_GAUGE:
        case M_SUM:
        case M_HISTOGRAM:
        case M_EXP_HISTOGRAM:
        case M_SUMMARY:
          dataTag = tag;
          dataEnd = r.len(end);
          dataStart = r.pos;
          r.pos = dataEnd;
          break;
        default:
          r.skip(tag, end, M_MASK);
      }
    }
    if (dataTag === 0) {
      ctx.problem = null;
      ctx.rejectWhole('OTLP_METRIC_NO_DATA', path.format(), 'the metric has no data (gauge, sum, histogram, exponential histogram or summary)');
      return;
    }
    // First pass over the data message: its temporality and monotonicity.
    const kind = dataTag === M_GAUGE ? 'gauge' : dataTag === M_SUM ? 'sum' : dataTag === M_HISTOGRAM ? 'histogram' : dataTag === M_SUMMARY ? 'summary' : 'exponentialHistogram';
    r.where = kind;
    let temporality = 0;
    let monotonic = false;
    r.pos = dataStart;
    while (r.pos < dataEnd) {
      const tag = r.tag(dataEnd);
      if (tag === D_POINTS) r.pos = r.len(dataEnd);
      else if (tag === D_TEMPORALITY && dataTag !== M_GAUGE && dataTag !== M_SUMMARY) temporality = r.int32(dataEnd);
      else if (tag === D_MONOTONIC && dataTag === M_SUM) monotonic = r.bool(dataEnd);
      else r.skip(tag, dataEnd, dataTag === M_SUM ? D_MASK : dataTag === M_GAUGE || dataTag === M_SUMMARY ? fieldMask(1) : fieldMask(1, 2));
    }
    if (dataTag !== M_GAUGE && dataTag !== M_SUMMARY) checkTemporality(ctx, temporality, kind);
    const head: PointHead = { name, description, unit, resource, scope, problem: ctx.problem, temporality: temporality as Temporality, monotonic, path, kind };
    ctx.problem = null;
    r.pos = dataStart;
    let j = 0;
    while (r.pos < dataEnd) {
      const tag = r.tag(dataEnd);
      if (tag !== D_POINTS) {
        r.skip(tag, dataEnd, 0);
        continue;
      }
      const e = r.len(dataEnd);
      ctx.beginItem(head.problem);
      this.attrs.reset();
      this.start = 0n;
      this.time = 0n;
      this.flags = 0;
      this.exemplars = null;
      this.attrAt = dataTag === M_GAUGE || dataTag === M_SUM ? -1 : -2;
      let data: MetricData;
      switch (dataTag) {
        case M_GAUGE:
        case M_SUM:
          data = this.numberPoint(e, head, dataTag === M_SUM);
          break;
        case M_HISTOGRAM:
          data = this.histogramPoint(e, head);
          break;
        case M_EXP_HISTOGRAM:
          data = this.expHistogramPoint(e, head);
          break;
        default:
          data = this.summaryPoint(e);
      }
      this.finishPoint(head, data, j++);
      r.pos = e;
      r.where = kind;
    }
    r.pos = end;
  }

  finishPoint(head: PointHead, data: MetricData, j: number): void {
    const ctx = this.ctx;
    const attrs = this.attrs;
    attrs.refuseCut(ctx, 'the data point');
    const attributes: readonly KeyValue[] = attrs.finish(ctx, 'point attributes');
    ctx.checkTime(this.time, 'time');
    const exemplars = this.exemplars;
    if (exemplars !== null) checkListMax(ctx, exemplars.length, StorageLimits.exemplarsPerPointMax, 'exemplars');
    const row: MetricPointRow = {
      tenant: ctx.tenant,
      name: head.name,
      description: head.description,
      unit: head.unit,
      data,
      attributes,
      startTimeUnixNano: this.start,
      timeUnixNano: this.time,
      flags: this.flags,
      exemplars: exemplars ?? NONE,
      resource: head.resource,
      scope: head.scope,
    };
    // The range is taken before endItem, which clears the item's truncation count.
    let a0 = this.attrAt;
    let a1 = this.attrEnd;
    if (a0 === -1) a1 = a0 = 0; // no attribute fields: the empty run
    if (a0 < 0 || ctx.itemTruncated !== 0 || attrs.cut !== 0) a1 = a0 = -1;
    if (ctx.endItem()) {
      const i = 2 * this.rows.length;
      if (i + 2 > this.ranges.length) {
        const grown = new Int32Array(2 * this.ranges.length);
        grown.set(this.ranges);
        this.ranges = grown;
      }
      this.ranges[i] = a0;
      this.ranges[i + 1] = a1;
      this.rows.push(row);
    } else ctx.refuse(`${head.path.format()}.${head.kind}.dataPoints[${j}]`);
  }

  /** common reads a field every point type has at these tags; false if `tag` is not one. */
  common(tag: number, end: number, attrTag: number, exemplarTag: number, flagsTag: number): boolean {
    const r = this.r;
    if (tag === ANY_TIME) this.time = r.fixed64(end);
    else if (tag === ANY_START) this.start = r.fixed64(end);
    else if (tag === attrTag) {
      const e = r.len(end);
      this.attrs.add(r, this.ctx, e);
      r.pos = e;
      // A run of attribute fields grows only by the field right after it.
      if (this.attrAt === -1) this.attrAt = this.tagAt;
      else if (this.attrAt >= 0 && this.attrEnd !== this.tagAt) this.attrAt = -2;
      this.attrEnd = e;
    } else if (tag === exemplarTag) {
      const e = r.len(end);
      if (this.exemplars === null) this.exemplars = [];
      // One past the limit is kept so that the count check sees it; the rest are skipped unread.
      if (this.exemplars.length <= StorageLimits.exemplarsPerPointMax) this.exemplars.push(readExemplar(r, this.ctx, this.slab, this.innerAttrs, e));
      r.pos = e;
      r.where = 'point';
    } else if (tag === flagsTag) this.flags = r.uint32(end);
    else return false;
    return true;
  }

  numberPoint(end: number, head: PointHead, isSum: boolean): MetricData {
    const r = this.r;
    r.where = 'NumberDataPoint';
    let value: NumberValue | null = null;
    while (r.pos < end) {
      this.tagAt = r.pos;
      const tag = r.tag(end);
      if (tag === N_DOUBLE) value = { type: 'double', value: r.double(end) };
      else if (tag === N_INT) value = { type: 'int', value: r.sfixed64(end) };
      else if (!this.common(tag, end, N_ATTR, N_EXEMPLAR, N_FLAGS)) r.skip(tag, end, N_MASK);
    }
    if (value === null) {
      // A point flagged no-recorded-value needs no value: the store keeps it as a staleness marker.
      if (!noRecordedValue(this.flags)) this.ctx.reject('OTLP_POINT_NO_VALUE', 'the data point has neither as_double nor as_int');
      value = { type: 'double', value: noRecordedValue(this.flags) ? NaN : 0 };
    }
    return isSum ? { type: 'sum', temporality: head.temporality, monotonic: head.monotonic, value } : { type: 'gauge', value };
  }

  histogramPoint(end: number, head: PointHead): MetricData {
    const r = this.r;
    const ctx = this.ctx;
    r.where = 'HistogramDataPoint';
    let count = 0;
    let sum: number | null = null;
    let min: number | null = null;
    let max: number | null = null;
    const counts: number[] = [];
    const bounds: number[] = [];
    while (r.pos < end) {
      const tag = r.tag(end);
      switch (tag) {
        case H_COUNT:
          count = checkCount(ctx, r.fixed64Count(end), 'count');
          break;
        case H_SUM:
          sum = r.double(end);
          break;
        case H_MIN:
          min = r.double(end);
          break;
        case H_MAX:
          max = r.double(end);
          break;
        case H_COUNTS_ONE:
          pushBucket(ctx, counts, r.fixed64Count(end), 'bucket counts');
          break;
        case H_COUNTS_PACKED: {
          const e = r.len(end);
          if ((e - r.pos) % 8 !== 0) r.fail('packed fixed64 bucket counts are not a multiple of 8 bytes');
          while (r.pos < e) pushBucket(ctx, counts, r.fixed64Count(e), 'bucket counts');
          break;
        }
        case H_BOUNDS_ONE:
          pushBound(ctx, bounds, r.double(end));
          break;
        case H_BOUNDS_PACKED: {
          const e = r.len(end);
          if ((e - r.pos) % 8 !== 0) r.fail('packed explicit bounds are not a multiple of 8 bytes');
          while (r.pos < e) pushBound(ctx, bounds, r.double(e));
          break;
        }
        default:
          if (!this.common(tag, end, H_ATTR, H_EXEMPLAR, H_FLAGS)) r.skip(tag, end, H_MASK);
      }
    }
    checkHistogramShape(ctx, bounds, counts);
    return {
      type: 'histogram',
      temporality: head.temporality,
      count,
      sum,
      min,
      max,
      bounds: bounds.length === 0 ? NONE : bounds,
      bucketCounts: counts.length === 0 ? NONE : counts,
    };
  }

  expHistogramPoint(end: number, head: PointHead): MetricData {
    const r = this.r;
    const ctx = this.ctx;
    r.where = 'ExponentialHistogramDataPoint';
    let count = 0;
    let sum: number | null = null;
    let min: number | null = null;
    let max: number | null = null;
    let scale = 0;
    let zeroCount = 0;
    let zeroThreshold = 0;
    let positive = EMPTY_BUCKETS;
    let negative = EMPTY_BUCKETS;
    while (r.pos < end) {
      const tag = r.tag(end);
      switch (tag) {
        case E_COUNT:
          count = checkCount(ctx, r.fixed64Count(end), 'count');
          break;
        case E_SUM:
          sum = r.double(end);
          break;
        case E_MIN:
          min = r.double(end);
          break;
        case E_MAX:
          max = r.double(end);
          break;
        case E_SCALE:
          scale = r.sint32(end);
          break;
        case E_ZERO_COUNT:
          zeroCount = checkCount(ctx, r.fixed64Count(end), 'zero count');
          break;
        case E_ZERO_THRESHOLD:
          zeroThreshold = r.double(end);
          break;
        case E_POSITIVE:
        case E_NEGATIVE: {
          const e = r.len(end);
          const b = this.buckets(e, tag === E_POSITIVE ? 'positive bucket counts' : 'negative bucket counts');
          if (tag === E_POSITIVE) positive = b;
          else negative = b;
          r.pos = e;
          r.where = 'ExponentialHistogramDataPoint';
          break;
        }
        default:
          if (!this.common(tag, end, E_ATTR, E_EXEMPLAR, E_FLAGS)) r.skip(tag, end, E_MASK);
      }
    }
    checkScale(ctx, scale);
    return { type: 'exponentialHistogram', temporality: head.temporality, count, sum, min, max, scale, zeroCount, zeroThreshold, positive, negative };
  }

  buckets(end: number, what: string): ExponentialBuckets {
    const r = this.r;
    const ctx = this.ctx;
    r.where = 'ExponentialHistogramDataPoint.Buckets';
    let offset = 0;
    const counts: number[] = [];
    while (r.pos < end) {
      const tag = r.tag(end);
      if (tag === B_OFFSET) offset = r.sint32(end);
      else if (tag === B_COUNTS_ONE) pushBucket(ctx, counts, r.uint64Count(end), what);
      else if (tag === B_COUNTS_PACKED) {
        const e = r.len(end);
        while (r.pos < e) pushBucket(ctx, counts, r.uint64Count(e), what);
      } else r.skip(tag, end, B_MASK);
    }
    return { offset, bucketCounts: counts.length === 0 ? NONE : counts };
  }

  summaryPoint(end: number): MetricData {
    const r = this.r;
    const ctx = this.ctx;
    r.where = 'SummaryDataPoint';
    let count = 0;
    let sum = 0;
    const quantiles: { quantile: number; value: number }[] = [];
    while (r.pos < end) {
      const tag = r.tag(end);
      if (tag === S_COUNT) count = checkCount(ctx, r.fixed64Count(end), 'count');
      else if (tag === S_SUM) sum = r.double(end);
      else if (tag === S_QUANTILE) {
        const e = r.len(end);
        r.where = 'SummaryDataPoint.ValueAtQuantile';
        let quantile = 0;
        let value = 0;
        while (r.pos < e) {
          const qt = r.tag(e);
          if (qt === Q_QUANTILE) quantile = r.double(e);
          else if (qt === Q_VALUE) value = r.double(e);
          else r.skip(qt, e, Q_MASK);
        }
        checkQuantile(ctx, quantile);
        if (quantiles.length < StorageLimits.summaryQuantilesMax) quantiles.push({ quantile, value });
        else ctx.reject('OTLP_LIMIT_EXCEEDED', `quantile values have more than ${StorageLimits.summaryQuantilesMax} entries`);
        r.where = 'SummaryDataPoint';
      } else if (!this.common(tag, end, S_ATTR, -1, S_FLAGS)) r.skip(tag, end, S_MASK);
    }
    return { type: 'summary', count, sum, quantiles: quantiles.length === 0 ? NONE : quantiles };
  }
}
