/**
 * metrics-prom-view.ts — the Prometheus view of stored metric series: how a
 * series the MetricStore keeps (raw OTLP name + labels, series-identity.ts)
 * is named and labelled when PromQL and the Prometheus API read it. It
 * follows Prometheus's own OTLP translation (prometheus/otlptranslator,
 * strategy UnderscoreEscapingWithSuffixes, Prometheus 3's defaults):
 *
 * Metric name: split at every character outside [a-zA-Z0-9:] (runs of them
 * collapse to one `_`); the unit's suffix appended unless the name already
 * has that token (UCUM → Prometheus: ms → milliseconds, s → seconds,
 * By → bytes, KiBy → kibibytes, … , `%` → percent, `1` → nothing; `X/Y` →
 * `X_per_Y` with s → second, m → minute, …; units in `{}` are dropped);
 * `_total` for monotonic sums (a `total` token already in the name is moved
 * to the end, never doubled); `_ratio` for gauges of unit `1`; a leading
 * digit gets a `_`.
 *
 * Labels: every point attribute, its key sanitized (characters outside
 * [a-zA-Z0-9] → `_`, runs collapsed; a leading digit gets `key_`; `__x__`
 * kept reserved); attributes that sanitize to one name are joined with `;`
 * in key order, as Prometheus does. `job` is `service.namespace/service.name`
 * (or `service.name`), `instance` is `service.instance.id`; they replace a
 * point attribute of that name. Other resource attributes are not labels
 * unless named in PromViewConfig.promoteResourceAttributes (node option
 * `promoteResourceAttributes`, Prometheus's
 * `otlp.promote_resource_attributes`); a promoted one never replaces a point
 * attribute. Scope name and version are not labels (Prometheus's default
 * `promote_scope_metadata: false`).
 *
 * Types: gauge → one series; sum → one series (`counter` when monotonic and
 * cumulative, else `gauge`); histogram → `_bucket{le}` (cumulative counts,
 * a `+Inf` bucket equal to the count), `_sum` (left out when OTLP has none),
 * `_count`; summary → `{quantile}` on the base name, `_sum`, `_count`.
 * Exponential histograms become classic buckets (metrics-prom-records.ts),
 * so histogram_quantile works on them.
 *
 * Delta temporality: a delta sum is shown as stored, one value per interval,
 * with type `gauge` and no `_total` (sum_over_time gives an increase; rate()
 * does not apply); a delta histogram's buckets are per-interval counts
 * (still cumulative across `le`). Prometheus's own OTLP receiver refuses
 * delta unless asked to convert it; otlpdb keeps it and documents it here.
 *
 * Remote-write series (api/prom-remote-write.ts) are stored as OTLP gauges
 * of the scope REMOTE_WRITE_SCOPE with every Prometheus label as a point
 * attribute; the view shows them unchanged: name as written, labels as
 * written, no suffixes.
 *
 * Metadata: the unit and the monotonic flag are part of a stored series'
 * identity (series-identity.ts labels `otel_unit`, `otel_monotonic=false`);
 * the description is kept beside the series (the store's seriesInfo, the
 * description of the series' latest point) and passed to familyOf, so a new
 * description changes HELP without starting a new series. A family's `unit`
 * is the Prometheus unit (otlptranslator's UnitNamer: `s` → `seconds`,
 * `By/s` → `bytes_per_second`, `1` and `{…}` → none), the suffix its name
 * carries, as Prometheus's OTLP receiver records it in metadata; `help` is
 * the description. A series stored before the unit and flag were recorded
 * has neither label: no unit, and a sum is taken as monotonic.

 * NB: the view is not injective: two stored series (two scopes, or
 * attribute keys that sanitize alike) can become one Prometheus series.
 * Readers merge them deterministically (mergeCollisions): samples by
 * timestamp, and at one timestamp the series with the lowest stored id
 * (across shards: the lowest shard) wins.
 *
 * Invariants: the cache holds at most MetricsQueryLimits.viewCacheSeriesMax
 * families (cleared whole when full); a family's labels are sorted by name,
 * without `__name__` and without empty values.
 */
import { MetricsQueryLimits } from '../limits.js';
import { assert } from '../errors.js';
import type { Labels } from '../storage/metrics/series-registry.js';
import { compareCodePoints } from '../storage/metrics/series-registry.js';
import { OTEL_MONOTONIC_LABEL, OTEL_SCOPE_NAME_LABEL, OTEL_TEMPORALITY_LABEL, OTEL_TYPE_LABEL, OTEL_UNIT_LABEL, RESOURCE_LABEL_PREFIX } from '../storage/metrics/series-identity.js';
import type { FloatSeries, PromLabel, PromLabels } from './promql/source.js';

/** REMOTE_WRITE_SCOPE is the instrumentation scope name remote-write series are stored under (see the file comment). */
export const REMOTE_WRITE_SCOPE = 'otlpdb.prometheus.remote_write';

/** PromViewConfig chooses which resource attributes become labels (node option promoteResourceAttributes). */
export interface PromViewConfig {
  /** promoteResourceAttributes are resource attribute keys (as sent, e.g. `k8s.pod.name`) shown as labels. */
  readonly promoteResourceAttributes: readonly string[];
}

/** PromMetricType is a family's type as /api/v1/metadata spells it. */
export type PromMetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'unknown';

/** FamilyKind says how a stored series expands: one float series, classic buckets, exponential buckets, or quantiles. */
export type FamilyKind = 'float' | 'histogram' | 'exponential_histogram' | 'summary';

/** PromFamily is the Prometheus view of one stored series: base name, labels, and how it expands. */
export interface PromFamily {
  readonly kind: FamilyKind;
  /** name is the base metric name (a histogram's series add `_bucket`, `_sum`, `_count`). */
  readonly name: string;
  /** labels are sorted by name, without `__name__`. */
  readonly labels: PromLabels;
  readonly type: PromMetricType;
  /** unit is the Prometheus unit (promUnitName of the OTLP unit), "" when none. */
  readonly unit: string;
  /** help is the OTLP description, "" when none. */
  readonly help: string;
}

const UNIT_MAP: Readonly<Record<string, string>> = {
  d: 'days',
  h: 'hours',
  min: 'minutes',
  s: 'seconds',
  ms: 'milliseconds',
  us: 'microseconds',
  ns: 'nanoseconds',
  By: 'bytes',
  KiBy: 'kibibytes',
  MiBy: 'mebibytes',
  GiBy: 'gibibytes',
  TiBy: 'tibibytes',
  KBy: 'kilobytes',
  MBy: 'megabytes',
  GBy: 'gigabytes',
  TBy: 'terabytes',
  m: 'meters',
  V: 'volts',
  A: 'amperes',
  J: 'joules',
  W: 'watts',
  g: 'grams',
  Cel: 'celsius',
  Hz: 'hertz',
  '1': '',
  '%': 'percent',
};
const PER_UNIT_MAP: Readonly<Record<string, string>> = { s: 'second', m: 'minute', h: 'hour', d: 'day', w: 'week', mo: 'month', y: 'year' };

const isMetricChar = (c: string): boolean => /^[a-zA-Z0-9:]$/.test(c);
const isLabelChar = (c: string): boolean => /^[a-zA-Z0-9]$/.test(c);

/** collapse replaces every run of characters failing `ok` by one `_`. */
function collapse(s: string, ok: (c: string) => boolean): string {
  let out = '';
  let prevUnderscore = false;
  for (const c of s) {
    if (ok(c)) {
      out += c;
      prevUnderscore = false;
    } else if (!prevUnderscore) {
      out += '_';
      prevUnderscore = true;
    }
  }
  return out;
}

function cleanUpUnit(u: string): string {
  return collapse(u, isMetricChar).replace(/^_/, '');
}

/** unitSuffixes is a UCUM unit's main and per suffix (otlptranslator's buildUnitSuffixes). */
export function unitSuffixes(unit: string): { main: string; per: string } {
  const [mainRaw = '', perRaw] = unit.split(/\/(.*)/s);
  let main = '';
  let per = '';
  const m = mainRaw.trim();
  if (m !== '' && !/[{}]/.test(m)) main = UNIT_MAP[m] ?? m;
  if (perRaw !== undefined && perRaw !== '') {
    const p = perRaw.trim();
    if (p !== '' && !/[{}]/.test(p)) per = PER_UNIT_MAP[p] ?? p;
    if (per !== '') per = `per_${per}`;
  }
  return { main: cleanUpUnit(main), per: cleanUpUnit(per) };
}

/** promUnitName is an OTLP unit as Prometheus names it (otlptranslator's UnitNamer): the suffix promMetricName appends, "" when none. */
export function promUnitName(unit: string): string {
  const s = unitSuffixes(unit);
  const per = s.per === 'per_' ? '' : s.per.replace(/_$/, '');
  const main = per !== '' ? s.main.replace(/_$/, '') : s.main;
  return [main, per].filter((x) => x !== '').join('_');
}

/** promMetricName is an OTLP metric's Prometheus name (see the file comment); `counter` adds `_total`, a `gauge` of unit `1` `_ratio`. */
export function promMetricName(name: string, unit: string, type: PromMetricType): string {
  let tokens = name.split(/[^a-zA-Z0-9:]+/).filter((t) => t !== '');
  const s = unitSuffixes(unit);
  let main = tokens.includes(s.main) ? '' : s.main;
  let per = s.per === 'per_' ? '' : s.per.replace(/_$/, '');
  if (tokens.includes(per)) per = '';
  if (per !== '') main = main.replace(/_$/, '');
  if (main !== '') tokens.push(main);
  if (per !== '') tokens.push(per);
  if (type === 'counter') tokens = [...tokens.filter((t) => t !== 'total'), 'total'];
  if (unit === '1' && type === 'gauge') tokens = [...tokens.filter((t) => t !== 'ratio'), 'ratio'];
  let out = tokens.join('_');
  if (/^[0-9]/.test(out)) out = `_${out}`;
  return out;
}

/** promLabelName is an attribute key's Prometheus label name (otlptranslator's LabelNamer, collapsing underscores); "" when none is valid. */
export function promLabelName(key: string): string {
  if (key === '') return '';
  const reserved = key.length >= 4 && key.startsWith('__') && key.endsWith('__');
  let out = collapse(reserved ? key.slice(2, -2) : key, isLabelChar);
  if (reserved) out = `__${out}__`;
  if (/^[0-9]/.test(out)) out = `key_${out}`;
  return /^_*$/.test(out) ? '' : out;
}

/** unescapeLabelName inverts series-identity.ts's escapeLabelName: the attribute key a stored label name came from. */
export function unescapeLabelName(stored: string): string {
  if (!stored.startsWith('U__')) return stored;
  let out = '';
  const s = stored.slice(3);
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (c !== '_') {
      out += c;
      continue;
    }
    if (s[i + 1] === '_') {
      out += '_';
      i++;
      continue;
    }
    const end = s.indexOf('_', i + 1);
    const cp = end < 0 ? NaN : parseInt(s.slice(i + 1, end), 16);
    if (!Number.isInteger(cp) || cp < 0 || cp > 0x10ffff) return stored;
    out += String.fromCodePoint(cp);
    i = end;
  }
  return out;
}

function byName(a: PromLabel, b: PromLabel): number {
  return compareCodePoints(a.name, b.name);
}

/**
 * promFamilyOf maps one stored series (raw name, stored labels, its
 * description) to its Prometheus family; pure, see the file comment.
 */
export function promFamilyOf(storedName: string, stored: Labels, cfg: PromViewConfig, description = ''): PromFamily {
  const get = (n: string): string | undefined => stored.find((l) => l.name === n)?.value;
  const otelType = get(OTEL_TYPE_LABEL) ?? 'gauge';
  if (get(OTEL_SCOPE_NAME_LABEL) === REMOTE_WRITE_SCOPE && otelType === 'gauge') {
    const labels: PromLabel[] = [];
    for (const l of stored) {
      if (l.name.startsWith('otel_') || l.name.startsWith(RESOURCE_LABEL_PREFIX) || l.value === '') continue;
      labels.push({ name: unescapeLabelName(l.name), value: l.value });
    }
    return { kind: 'float', name: storedName, labels: labels.sort(byName), type: 'unknown', unit: '', help: description };
  }
  const delta = get(OTEL_TEMPORALITY_LABEL) === 'delta';
  const unit = get(OTEL_UNIT_LABEL) ?? '';
  const monotonic = get(OTEL_MONOTONIC_LABEL) !== 'false';
  let kind: FamilyKind = 'float';
  let type: PromMetricType = 'gauge';
  if (otelType === 'sum') type = monotonic && !delta ? 'counter' : 'gauge';
  else if (otelType === 'histogram' || otelType === 'exponential_histogram') {
    kind = otelType;
    type = 'histogram';
  } else if (otelType === 'summary') {
    kind = 'summary';
    type = 'summary';
  }
  // Point attributes, joined with ';' in key order when they sanitize alike.
  const attrs = new Map<string, { key: string; value: string }[]>();
  const resource = new Map<string, string>();
  for (const l of stored) {
    if (l.name.startsWith('otel_')) continue;
    if (l.name.startsWith(RESOURCE_LABEL_PREFIX)) {
      resource.set(unescapeLabelName(l.name.slice(RESOURCE_LABEL_PREFIX.length)), l.value);
      continue;
    }
    const key = unescapeLabelName(l.name);
    const name = promLabelName(key);
    if (name === '' || name === '__name__') continue;
    const list = attrs.get(name) ?? [];
    list.push({ key, value: l.value });
    attrs.set(name, list);
  }
  const out = new Map<string, string>();
  for (const [name, list] of attrs) {
    list.sort((a, b) => compareCodePoints(a.key, b.key));
    out.set(name, list.map((e) => e.value).join(';'));
  }
  for (const key of cfg.promoteResourceAttributes) {
    const v = resource.get(key);
    const name = promLabelName(key);
    if (v !== undefined && name !== '' && name !== '__name__' && !out.has(name)) out.set(name, v);
  }
  const service = resource.get('service.name');
  const ns = resource.get('service.namespace');
  if (service !== undefined && service !== '') out.set('job', ns !== undefined && ns !== '' ? `${ns}/${service}` : service);
  const inst = resource.get('service.instance.id');
  if (inst !== undefined && inst !== '') out.set('instance', inst);
  const labels: PromLabel[] = [];
  for (const [name, value] of out) if (value !== '') labels.push({ name, value });
  // otlptranslator's metric type for naming: `_total` for monotonic cumulative sums only, `_ratio` for gauges (not other sums) of unit 1.
  const nameType: PromMetricType = otelType === 'gauge' ? 'gauge' : type === 'counter' ? 'counter' : 'unknown';
  return { kind, name: promMetricName(storedName, unit, nameType), labels: labels.sort(byName), type, unit: promUnitName(unit), help: description };
}

/** familyNames are the metric names a family's series carry, with the label each name adds per sample (`le`, `quantile`) or null. */
export function familyNames(f: PromFamily): readonly { readonly name: string; readonly extra: 'le' | 'quantile' | null }[] {
  switch (f.kind) {
    case 'float':
      return [{ name: f.name, extra: null }];
    case 'summary':
      return [
        { name: f.name, extra: 'quantile' },
        { name: `${f.name}_sum`, extra: null },
        { name: `${f.name}_count`, extra: null },
      ];
    default:
      return [
        { name: `${f.name}_bucket`, extra: 'le' },
        { name: `${f.name}_sum`, extra: null },
        { name: `${f.name}_count`, extra: null },
      ];
  }
}

/** withName is a family's labels with `__name__` (and an optional extra label) inserted in order. */
export function withName(labels: PromLabels, name: string, extra?: PromLabel): PromLabel[] {
  const out: PromLabel[] = [{ name: '__name__', value: name }, ...labels.filter((l) => l.name !== extra?.name)];
  if (extra !== undefined) out.push(extra);
  return out.sort(byName);
}

/** labelsKey is a label set's identity as one string (names and values NUL-separated). */
export function labelsKey(labels: PromLabels): string {
  let k = '';
  for (const l of labels) k += `${l.name}\u0000${l.value}\u0000`;
  return k;
}

/** compareLabels orders label sets as Prometheus does (labels.Compare: name, then value, pairwise; shorter first). */
export function compareLabels(a: PromLabels, b: PromLabels): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i] as PromLabel;
    const y = b[i] as PromLabel;
    const c = compareCodePoints(x.name, y.name) || compareCodePoints(x.value, y.value);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

/**
 * mergeCollisions merges series with equal labels (the view's collisions, or
 * one series answered by two shards): samples by timestamp, and at one
 * timestamp the earlier series in `series` order wins (callers order by
 * stored id, or by shard). The answer is sorted by labels.
 */
export function mergeCollisions(series: readonly FloatSeries[]): FloatSeries[] {
  const groups = new Map<string, FloatSeries[]>();
  for (const s of series) {
    const k = labelsKey(s.labels);
    const g = groups.get(k);
    if (g === undefined) groups.set(k, [s]);
    else g.push(s);
  }
  const out: FloatSeries[] = [];
  for (const g of groups.values()) {
    const first = g[0] as FloatSeries;
    if (g.length === 1) {
      out.push(first);
      continue;
    }
    const byT = new Map<number, number>();
    for (let i = g.length - 1; i >= 0; i--) {
      const s = g[i] as FloatSeries;
      for (let j = 0; j < s.timestampsMs.length; j++) byT.set(s.timestampsMs[j] as number, s.values[j] as number);
    }
    const ts = [...byT.keys()].sort((a, b) => a - b);
    out.push({ labels: first.labels, timestampsMs: Float64Array.from(ts), values: Float64Array.from(ts, (t) => byT.get(t) as number) });
  }
  return out.sort((a, b) => compareLabels(a.labels, b.labels));
}

/** PromView caches promFamilyOf per stored series (key: shard and series id); bounded, see the file comment. */
export class PromView {
  readonly config: PromViewConfig;
  readonly #cache = new Map<string, PromFamily>();

  constructor(config: PromViewConfig) {
    this.config = config;
  }

  /** familyOf is the family of series `id` of shard `shard`, computed once while cached (again when its description changed). */
  familyOf(shard: number, id: number, storedName: string, stored: Labels, description = ''): PromFamily {
    const k = `${shard}:${id}`;
    const hit = this.#cache.get(k);
    if (hit !== undefined && hit.help === description) return hit;
    const f = promFamilyOf(storedName, stored, this.config, description);
    if (this.#cache.size >= MetricsQueryLimits.viewCacheSeriesMax) this.#cache.clear();
    this.#cache.set(k, f);
    assert(this.#cache.size <= MetricsQueryLimits.viewCacheSeriesMax, 'the view cache stays bounded');
    return f;
  }
}
