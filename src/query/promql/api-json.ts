/**
 * api-json.ts — an engine result in the JSON shape of Prometheus's HTTP API
 * (`data.resultType` and `data.result` of /api/v1/query and
 * /api/v1/query_range): times in float seconds, values as Go prints them
 * ("+Inf", "NaN", no exponent).
 */

import { formatGoFloat } from './labels.js';
import type { FloatSeries, PromResult } from './source.js';

/** PromApiResponse is a Prometheus HTTP API answer to /api/v1/query or /api/v1/query_range. */
export type PromApiResponse =
  | { readonly status: 'success'; readonly data: { readonly resultType: string; readonly result: unknown } }
  | { readonly status: 'error'; readonly errorType: string; readonly error: string };

type JsonMetric = Record<string, string>;

/** metricOf is a label set as the API's `metric` object. */
export function metricOf(labels: FloatSeries['labels']): JsonMetric {
  const m: JsonMetric = {};
  for (const l of labels) m[l.name] = l.value;
  return m;
}

function sec(ms: number): number {
  return ms / 1000;
}

/** toPromApiJson shapes an engine result as Prometheus's API does (values as Go-formatted strings, times in seconds). */
export function toPromApiJson(r: PromResult): PromApiResponse {
  switch (r.kind) {
    case 'vector': return { status: 'success', data: { resultType: 'vector', result: r.samples.map((s) => ({ metric: metricOf(s.labels), value: [sec(s.timestampMs), formatGoFloat(s.value)] })) } };
    case 'matrix': return { status: 'success', data: { resultType: 'matrix', result: r.series.map((s) => ({ metric: metricOf(s.labels), values: Array.from(s.timestampsMs, (t, i) => [sec(t), formatGoFloat(s.values[i] as number)]) })) } };
    case 'scalar': return { status: 'success', data: { resultType: 'scalar', result: [sec(r.timestampMs), formatGoFloat(r.value)] } };
    case 'string': return { status: 'success', data: { resultType: 'string', result: [sec(r.timestampMs), r.value] } };
  }
}

