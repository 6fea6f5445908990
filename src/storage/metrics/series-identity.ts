/**
 * series-identity.ts — how one OTLP metric point (MetricPointRow) becomes a
 * series identity (metric name + Prometheus-style labels) and a millisecond
 * timestamp. Pure functions, no state.
 *
 * Labels of a point (the metric name itself is `__name__`, kept as given):
 *
 *   otel_type            gauge | sum | histogram | exponential_histogram | summary,
 *                        so a gauge and a histogram of one name are different series
 *   otel_temporality     delta | cumulative (sums and both histograms only)
 *   otel_unit            the metric's unit, as sent (absent when empty): the
 *                        Prometheus name carries the unit (`_seconds`), so two
 *                        units of one name are two Prometheus metrics anyway
 *   otel_monotonic       `false` for a non-monotonic sum (an UpDownCounter);
 *                        absent for a monotonic sum and every other type, so a
 *                        monotonic sum keeps the identity it had before the
 *                        flag was recorded; the Prometheus view gives
 *                        `_total` and type counter only to monotonic
 *                        cumulative sums
 *   otel_scope_name      the instrumentation scope's name (absent when empty)
 *   otel_scope_version   the scope's version (absent when empty)
 *   <point attribute>    each point attribute, under escapeLabelName(key)
 *   resource_<key>       each resource attribute, under RESOURCE_LABEL_PREFIX +
 *                        escapeLabelName(key); the query layer (Prometheus's
 *                        OTLP translation: job/instance, promotion) chooses
 *                        what to show
 *
 * Label names (escapeLabelName) follow Prometheus 3's "values" escaping so
 * that the mapping is injective (two different attribute keys never share a
 * label name): a key that is a valid legacy label name `[a-zA-Z_][a-zA-Z0-9_]*`
 * and does not start with `__`, `U__`, `otel_` or `resource_` is kept as is;
 * any other key becomes `U__` followed by its characters, `_` written `__`,
 * [a-zA-Z0-9] kept, and every other code point written `_<lower hex>_`
 * (`host.name` → `U__host_2e_name`). Point attributes, resource attributes and
 * the `otel_` labels therefore live in disjoint name spaces.
 *
 * The metric's description is deliberately not part of the identity: a new
 * wording must not start a new series. The store keeps it beside the series
 * (metric-store.ts, the description of the series' latest point).
 *
 * Label values (renderAnyValue): a string as is; a bool `true`/`false`; an
 * int in decimal; a double in JavaScript's shortest round-trip form, NaN as
 * `NaN` and infinities as `+Inf`/`-Inf` (Prometheus's spelling); bytes in
 * base64; an array or a kvlist as JSON of the rendered members (kvlist keys
 * in given order); empty as "". NB: the rendering is not injective across
 * types (the string "true" and the bool true give one value), as in
 * Prometheus's OTLP translation; and an empty value is the same as an absent
 * label (Prometheus drops empty values).
 *
 * Timestamps: ms = floor(timeUnixNano / 1e6). NB: sub-millisecond precision is
 * lost, so two points of one series within one millisecond share a timestamp
 * (the later write wins in the store). Values: an OTLP int becomes a float64
 * Number; NB: ints beyond ±2^53 are rounded to the nearest float64.
 */
import type { AnyValue, KeyValue, MetricData, MetricPointRow, NumberValue, Resource } from '../rows.js';
import type { Label } from './series-registry.js';
import { StorageLimits } from '../../limits.js';

/** RESOURCE_LABEL_PREFIX prefixes the label name of every resource attribute. */
export const RESOURCE_LABEL_PREFIX = 'resource_';

/** Reserved label names the store writes itself. */
export const OTEL_TYPE_LABEL = 'otel_type';
/** OTEL_TEMPORALITY_LABEL carries the aggregation temporality of sums and histograms. */
export const OTEL_TEMPORALITY_LABEL = 'otel_temporality';
/** OTEL_UNIT_LABEL carries the metric's unit when it is not empty (see the file comment). */
export const OTEL_UNIT_LABEL = 'otel_unit';
/** OTEL_MONOTONIC_LABEL is `false` on a non-monotonic sum's series (see the file comment). */
export const OTEL_MONOTONIC_LABEL = 'otel_monotonic';
/** OTEL_SCOPE_NAME_LABEL carries the instrumentation scope name. */
export const OTEL_SCOPE_NAME_LABEL = 'otel_scope_name';
/** OTEL_SCOPE_VERSION_LABEL carries the instrumentation scope version. */
export const OTEL_SCOPE_VERSION_LABEL = 'otel_scope_version';

/** PointType names the five OTLP point types as the `otel_type` label spells them. */
export type PointType = 'gauge' | 'sum' | 'histogram' | 'exponential_histogram' | 'summary';

const LEGACY_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const NS_PER_MS = 1_000_000n;

/** escapeLabelName maps an attribute key to a valid, reserved-prefix-free label name; injective (see the file comment). */
export function escapeLabelName(key: string): string {
  if (LEGACY_NAME_RE.test(key) && !key.startsWith('__') && !key.startsWith('U__') && !key.startsWith('otel_') && !key.startsWith(RESOURCE_LABEL_PREFIX)) {
    return key;
  }
  let out = 'U__';
  for (const ch of key) {
    const cp = ch.codePointAt(0) as number;
    if (ch === '_') out += '__';
    else if ((cp >= 0x30 && cp <= 0x39) || (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a)) out += ch;
    else out += `_${cp.toString(16)}_`;
  }
  return out;
}

/** renderDouble spells a double as a label value (Prometheus's NaN and ±Inf). */
export function renderDouble(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** renderAnyValue spells an attribute value as a label value (see the file comment). */
export function renderAnyValue(v: AnyValue): string {
  switch (v.type) {
    case 'empty':
      return '';
    case 'string':
      return v.value;
    case 'bool':
      return v.value ? 'true' : 'false';
    case 'int':
      return v.value.toString();
    case 'double':
      return renderDouble(v.value);
    case 'bytes':
      return Buffer.from(v.value.buffer, v.value.byteOffset, v.value.byteLength).toString('base64');
    case 'array':
      return JSON.stringify(v.values.map(renderAnyValue));
    case 'kvlist':
      return JSON.stringify(Object.fromEntries(v.values.map((kv) => [kv.key, renderAnyValue(kv.value)])));
  }
}

/** pointTypeOf is the `otel_type` value of a point's data. */
export function pointTypeOf(data: MetricData): PointType {
  return data.type === 'exponentialHistogram' ? 'exponential_histogram' : data.type;
}

/** isFloatPoint says whether a point is a float sample (gauge or sum) rather than a record (histograms, summaries). */
export function isFloatPoint(data: MetricData): data is Extract<MetricData, { type: 'gauge' | 'sum' }> {
  return data.type === 'gauge' || data.type === 'sum';
}

function pushAttributes(out: Label[], attrs: readonly KeyValue[], prefix: string): void {
  for (const kv of attrs) out.push({ name: prefix === '' ? escapeLabelName(kv.key) : resourceLabelName(kv.key), value: renderAnyValue(kv.value) });
}

/** RESOURCE_LABEL_NAMES_MAX is StorageLimits.resourceLabelNamesMax: it bounds RESOURCE_LABEL_NAMES (entries; cleared when full). */
export const RESOURCE_LABEL_NAMES_MAX = StorageLimits.resourceLabelNamesMax;

/**
 * RESOURCE_LABEL_NAMES maps a resource attribute key to its label name, so
 * that every series of a resource shares one string per label name instead
 * of a concatenation per series and label (a resource's labels are in every
 * series it sends; bench/README.md, ingest). Strings are immutable: sharing
 * them changes nothing a caller sees.
 */
const RESOURCE_LABEL_NAMES = new Map<string, string>();

/** resourceLabelName is RESOURCE_LABEL_PREFIX + escapeLabelName(key), remembered in RESOURCE_LABEL_NAMES. */
export function resourceLabelName(key: string): string {
  let name = RESOURCE_LABEL_NAMES.get(key);
  if (name === undefined) {
    if (RESOURCE_LABEL_NAMES.size >= RESOURCE_LABEL_NAMES_MAX) RESOURCE_LABEL_NAMES.clear();
    name = RESOURCE_LABEL_PREFIX + escapeLabelName(key);
    RESOURCE_LABEL_NAMES.set(key, name);
  }
  return name;
}

/**
 * seriesLabels is the labels of a point's series (without `__name__`, which is
 * the metric name), unsorted; the registry sorts them and drops empty values.
 */
export function seriesLabels(row: MetricPointRow): Label[] {
  const out: Label[] = [{ name: OTEL_TYPE_LABEL, value: pointTypeOf(row.data) }];
  const d = row.data;
  if (d.type === 'sum' || d.type === 'histogram' || d.type === 'exponentialHistogram') {
    out.push({ name: OTEL_TEMPORALITY_LABEL, value: d.temporality === 1 ? 'delta' : 'cumulative' });
  }
  if (row.unit !== '') out.push({ name: OTEL_UNIT_LABEL, value: row.unit });
  if (d.type === 'sum' && !d.monotonic) out.push({ name: OTEL_MONOTONIC_LABEL, value: 'false' });
  out.push({ name: OTEL_SCOPE_NAME_LABEL, value: row.scope.name });
  out.push({ name: OTEL_SCOPE_VERSION_LABEL, value: row.scope.version });
  pushAttributes(out, row.attributes, '');
  pushAttributes(out, row.resource.attributes, RESOURCE_LABEL_PREFIX);
  return out;
}

/**
 * pointLabelsInto writes the labels seriesLabels gives before the resource's
 * (the `otel_` labels and the point attributes, in its order) as parallel
 * name and value arrays from index `at`, and returns the index after them;
 * `escape` is escapeLabelName or a memo of it. With resourceLabelsInto it
 * gives exactly seriesLabels(row) without an object per label: the ingest
 * path (src/otlp/shard-parts.ts) keys every point by them, and renders a
 * resource's labels once per request (series-identity.test.ts checks the
 * two against seriesLabels).
 */
export function pointLabelsInto(row: MetricPointRow, names: string[], values: string[], at: number, escape: (key: string) => string): number {
  let i = at;
  const d = row.data;
  names[i] = OTEL_TYPE_LABEL;
  values[i++] = pointTypeOf(d);
  if (d.type === 'sum' || d.type === 'histogram' || d.type === 'exponentialHistogram') {
    names[i] = OTEL_TEMPORALITY_LABEL;
    values[i++] = d.temporality === 1 ? 'delta' : 'cumulative';
  }
  if (row.unit !== '') {
    names[i] = OTEL_UNIT_LABEL;
    values[i++] = row.unit;
  }
  if (d.type === 'sum' && !d.monotonic) {
    names[i] = OTEL_MONOTONIC_LABEL;
    values[i++] = 'false';
  }
  names[i] = OTEL_SCOPE_NAME_LABEL;
  values[i++] = row.scope.name;
  names[i] = OTEL_SCOPE_VERSION_LABEL;
  values[i++] = row.scope.version;
  for (const kv of row.attributes) {
    names[i] = escape(kv.key);
    values[i++] = renderAnyValue(kv.value);
  }
  return i;
}

/** resourceLabelsInto writes the labels seriesLabels gives for a point's resource attributes, as pointLabelsInto does. */
export function resourceLabelsInto(resource: Resource, names: string[], values: string[], at: number): number {
  let i = at;
  for (const kv of resource.attributes) {
    names[i] = resourceLabelName(kv.key);
    values[i++] = renderAnyValue(kv.value);
  }
  return i;
}

/** timestampMs is floor(ns / 1e6) as a number (exact: 2^64 ns is below 2^53 ms). */
export function timestampMs(timeUnixNano: bigint): number {
  return Number(timeUnixNano / NS_PER_MS);
}

/** numberValue is a gauge or sum value as a float64 (ints past ±2^53 rounded). */
export function numberValue(v: NumberValue): number {
  return v.type === 'double' ? v.value : Number(v.value);
}
