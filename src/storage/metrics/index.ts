/**
 * index.ts — the metrics of a shard replica: the in-memory head (series
 * identity in series-registry.ts, label postings and matchers in
 * label-index.ts, samples in head.ts; pure, no I/O, no clock) and the metrics
 * store over LevelDB (metric-store.ts, with series-identity.ts,
 * identity-memo.ts, raw-identity-memo.ts, store-head.ts, rollup.ts,
 * record-rollup.ts and store-format.ts).
 */
export { AppendOutcome, AppendOutcomeInfo, HeadSampleIterator, MetricHead, isAccepted } from './head.js';
export type { AppendBatchResult, AppendOutcomeName, AppendOutcomeValue, HeadStats, MetricHeadOptions } from './head.js';
export { LabelIndex, METRIC_NAME_LABEL, compileMatchers, compileRegex } from './label-index.js';
export type { CompiledMatcher, MatchOp, Matcher } from './label-index.js';
export { PREPARE_NEW, PREPARE_REFUSED, SeriesRegistry, compareCodePoints, isWellFormed } from './series-registry.js';
export type { Label, Labels, SeriesHasher, SeriesInfo } from './series-registry.js';
export { MetricStore, metricsBatchBytes } from './metric-store.js';
export type { MetricStoreOptions, SelectOptions, SeriesExemplars, SeriesRecordRollups, SeriesRecords, SeriesRollups, SeriesSamples, TenantStats } from './metric-store.js';
export { addAgg, aggOf, emptyAgg, mergeRecordInto, recordPartialsOf, recordPointOf } from './record-rollup.js';
export type { RecordAgg, RecordRollupPartial, RecordRollupPoint } from './record-rollup.js';
export { IdentityMemo } from './identity-memo.js';
export { ByteKeyTable, PART_RESOURCE, PART_SCOPE, RawIdentityMemo, rawIdentityHash } from './raw-identity-memo.js';
export type { RawIdentityHash } from './raw-identity-memo.js';
export {
  OTEL_SCOPE_NAME_LABEL,
  OTEL_SCOPE_VERSION_LABEL,
  OTEL_TEMPORALITY_LABEL,
  OTEL_TYPE_LABEL,
  RESOURCE_LABEL_PREFIX,
  escapeLabelName,
  isFloatPoint,
  numberValue,
  pointTypeOf,
  renderAnyValue,
  renderDouble,
  seriesLabels,
  timestampMs,
} from './series-identity.js';
export type { PointType } from './series-identity.js';
export { ROLLUP_RESOLUTIONS, ROLLUP_WINDOW_MS, mergeInto, partialsOf, pickResolution, pointOf } from './rollup.js';
export type { Resolution, RollupPartial, RollupPoint, RollupResolution } from './rollup.js';
export { LAST_T_PAGE_SERIES, MetricKeySpace } from './store-format.js';
export { POINT_FLAG_NO_RECORDED_VALUE, STALE_NAN, isStaleMarker, noRecordedValue } from './staleness.js';
export type { RecordData, RecordPoint, StoredExemplar } from './store-format.js';
