/**
 * index.ts — the compression bench's data sources: a seeded TSBS-devops-like
 * generator, a real Node.js runtime capture through the OpenTelemetry SDK, and
 * the Series shape and file form they share.
 */
export { assertSeries, SERIES_FILE_FORMAT, seriesFromFile, seriesToFile } from './series.js';
export type { Series, SeriesFile } from './series.js';
export {
  TSBS_DEVOPS_DEFAULTS,
  TSBS_DEVOPS_FIELDS,
  TSBS_DEVOPS_METRICS_PER_HOST,
  TsbsDevopsLimits,
  tsbsDevopsSeries,
  tsbsDevopsSeriesAt,
  tsbsDevopsSeriesCount,
} from './tsbs-devops.js';
export type { TsbsDevopsOptions, TsbsField, TsbsFieldKind } from './tsbs-devops.js';
export { NodeRuntimeLimits, collectNodeRuntime, collectNodeRuntimeSeries, parseDurationMs } from './node-runtime.js';
export type { NodeRuntimeCapture, NodeRuntimeOptions } from './node-runtime.js';
