/**
 * oracle-dataset.ts — the seeded metrics the Prometheus oracle loads into
 * both Prometheus and otlpdb: gauges (one with a gap, one starting late),
 * counters named `*_total` with resets, and classic histograms; three hours
 * at 15 s with a little scrape jitter. The same data comes out three ways:
 * Prometheus-shaped series (the in-memory source), OpenMetrics text (for
 * `promtool tsdb create-blocks-from openmetrics`), and OTLP JSON
 * ExportMetricsServiceRequest bodies (for a real otlpdb node).
 */

import { SeededRand } from '../../fs/seeded-rand.js';
import { compareLabels, formatGoFloat } from './labels.js';
import type { FloatSeries, PromLabel, PromLabels } from './source.js';

/** OracleT0Ms is the dataset's first sample time (an hour boundary, so Prometheus's 2h blocks split cleanly). */
export const OracleT0Ms = 1_699_999_200_000;
/** OracleDurationMs is how long the dataset spans. */
export const OracleDurationMs = 3 * 3_600_000;
/** OracleIntervalMs is the scrape interval. */
export const OracleIntervalMs = 15_000;

interface Point { readonly t: number; readonly v: number }
interface HistPoint { readonly t: number; readonly buckets: readonly number[]; readonly sum: number; readonly count: number }

/** OracleMetric is one generated series before it is shaped for a store. */
export type OracleMetric =
  | { readonly kind: 'gauge' | 'counter'; readonly name: string; readonly job: string; readonly instance: string; readonly attrs: Readonly<Record<string, string>>; readonly points: readonly Point[]; readonly startsMs: readonly number[] }
  | { readonly kind: 'histogram'; readonly name: string; readonly job: string; readonly instance: string; readonly attrs: Readonly<Record<string, string>>; readonly bounds: readonly number[]; readonly points: readonly HistPoint[] };

/** OracleDataset is the generated data. */
export interface OracleDataset {
  readonly seed: number;
  readonly metrics: readonly OracleMetric[];
}

function times(rand: SeededRand, fromMs: number, toMs: number, jitter: boolean): number[] {
  const out: number[] = [];
  for (let t = fromMs; t < toMs; t += OracleIntervalMs) out.push(jitter ? t + rand.intn(200) : t);
  return out;
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}

/** makeOracleDataset generates the dataset from a seed. */
export function makeOracleDataset(seed: number): OracleDataset {
  const rand = new SeededRand(seed);
  const metrics: OracleMetric[] = [];
  const end = OracleT0Ms + OracleDurationMs;
  const jobs = ['api', 'db'];
  const instances = ['i1', 'i2', 'i3'];
  for (const job of jobs) {
    for (const instance of instances) {
      for (const zone of ['a', 'b']) {
        let v = 20 + rand.intn(100) / 7;
        let ts = times(rand, OracleT0Ms, end, instance === 'i2');
        if (job === 'db' && instance === 'i3' && zone === 'a') ts = ts.filter((t) => t < OracleT0Ms + 3_900_000 || t > OracleT0Ms + 4_800_000);
        if (job === 'api' && instance === 'i3' && zone === 'b') ts = ts.filter((t) => t > OracleT0Ms + 3_600_000);
        const points = ts.map((t) => {
          v += (rand.intn(2001) - 1000) / 997;
          return { t, v: round3(v) };
        });
        metrics.push({ kind: 'gauge', name: 'node_temp_celsius', job, instance, attrs: { zone }, points, startsMs: [] });
      }
      for (const method of ['GET', 'POST']) {
        for (const code of ['200', '500']) {
          let v = rand.intn(50);
          const startsMs: number[] = [OracleT0Ms];
          const points = times(rand, OracleT0Ms, end, instance === 'i1').map((t) => {
            if (rand.intn(250) === 0) {
              v = 0;
              startsMs.push(t);
            } else v += rand.intn(code === '200' ? 40 : 5);
            return { t, v };
          });
          metrics.push({ kind: 'counter', name: 'http_requests_total', job, instance, attrs: { method, code }, points, startsMs });
        }
      }
      const bounds = [0.05, 0.1, 0.25, 0.5, 1, 2.5];
      const counts = new Array<number>(bounds.length + 1).fill(0);
      let sum = 0;
      const points = times(rand, OracleT0Ms, end, false).map((t) => {
        const n = rand.intn(20);
        for (let k = 0; k < n; k++) {
          const x = (rand.intn(3000) + 1) / 1000;
          sum += x;
          const b = bounds.findIndex((ub) => x <= ub);
          counts[b < 0 ? bounds.length : b] = (counts[b < 0 ? bounds.length : b] ?? 0) + 1;
        }
        return { t, buckets: [...counts], sum: round3(sum), count: counts.reduce((a, c) => a + c, 0) };
      });
      metrics.push({ kind: 'histogram', name: 'request_duration_seconds', job, instance, attrs: {}, bounds, points });
    }
  }
  return { seed, metrics };
}

function labelsOf(name: string, m: OracleMetric, extra: Record<string, string> = {}): PromLabels {
  const ls: PromLabel[] = [{ name: '__name__', value: name }, { name: 'job', value: m.job }, { name: 'instance', value: m.instance }];
  for (const [k, v] of Object.entries({ ...m.attrs, ...extra })) ls.push({ name: k, value: v });
  return ls.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** oracleSeries shapes the dataset as Prometheus series (histograms as cumulative `_bucket{le}`, `_sum`, `_count`), sorted by labels. */
export function oracleSeries(ds: OracleDataset): FloatSeries[] {
  const out: FloatSeries[] = [];
  for (const m of ds.metrics) {
    if (m.kind !== 'histogram') {
      out.push({ labels: labelsOf(m.name, m), timestampsMs: Float64Array.from(m.points, (p) => p.t), values: Float64Array.from(m.points, (p) => p.v) });
      continue;
    }
    const ts = Float64Array.from(m.points, (p) => p.t);
    const les = [...m.bounds.map(formatGoFloat), '+Inf'];
    les.forEach((le, b) => {
      const vs = Float64Array.from(m.points, (p) => p.buckets.slice(0, b + 1).reduce((a, c) => a + c, 0));
      out.push({ labels: labelsOf(`${m.name}_bucket`, m, { le }), timestampsMs: ts, values: vs });
    });
    out.push({ labels: labelsOf(`${m.name}_sum`, m), timestampsMs: ts, values: Float64Array.from(m.points, (p) => p.sum) });
    out.push({ labels: labelsOf(`${m.name}_count`, m), timestampsMs: ts, values: Float64Array.from(m.points, (p) => p.count) });
  }
  return out.sort((a, b) => compareLabels(a.labels, b.labels));
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** oracleOpenMetrics writes the series as OpenMetrics text (untyped families, one series' samples together, `# EOF` last). */
export function oracleOpenMetrics(series: readonly FloatSeries[]): string {
  const byName = new Map<string, FloatSeries[]>();
  for (const s of series) {
    const name = s.labels.find((l) => l.name === '__name__')?.value ?? '';
    byName.set(name, [...(byName.get(name) ?? []), s]);
  }
  const lines: string[] = [];
  for (const [name, ss] of byName) {
    for (const s of ss) {
      const ls = s.labels.filter((l) => l.name !== '__name__').map((l) => `${l.name}="${escapeLabel(l.value)}"`).join(',');
      for (let i = 0; i < s.values.length; i++) lines.push(`${name}{${ls}} ${formatGoFloat(s.values[i] as number)} ${((s.timestampsMs[i] as number) / 1000).toFixed(3)}`);
    }
  }
  lines.push('# EOF');
  return `${lines.join('\n')}\n`;
}

const attr = (key: string, value: string): object => ({ key, value: { stringValue: value } });
const nanos = (ms: number): string => `${BigInt(ms) * 1_000_000n}`;

/**
 * oracleOtlpBodies shapes the dataset as OTLP JSON ExportMetricsServiceRequest
 * bodies, one per resource (service.name = job, service.instance.id =
 * instance): gauges, counters as monotonic cumulative sums (start time moved
 * at each reset), histograms with explicit bounds and per-bucket (not
 * cumulative) counts. Names are Prometheus-shaped and carry their unit
 * already (`Cel` on node_temp_celsius, `s` on request_duration_seconds, `1`
 * on the http_requests_total counter), so Prometheus's OTLP translation keeps
 * them unchanged: the openmetrics side needs no unit, and the otlpdb side
 * exercises the unit path (a suffix already present is not doubled; `1`
 * adds nothing to a counter).
 */
export function oracleOtlpBodies(ds: OracleDataset): object[] {
  const byResource = new Map<string, OracleMetric[]>();
  for (const m of ds.metrics) {
    const k = `${m.job}\xff${m.instance}`;
    byResource.set(k, [...(byResource.get(k) ?? []), m]);
  }
  const bodies: object[] = [];
  for (const ms of byResource.values()) {
    const first = ms[0];
    if (first === undefined) continue;
    const metrics = ms.map((m) => {
      const attributes = Object.entries(m.attrs).map(([k, v]) => attr(k, v));
      if (m.kind === 'gauge') return { name: m.name, unit: 'Cel', gauge: { dataPoints: m.points.map((p) => ({ attributes, timeUnixNano: nanos(p.t), asDouble: p.v })) } };
      if (m.kind === 'counter') {
        const startOf = (t: number): number => m.startsMs.filter((s) => s <= t).reduce((a, s) => Math.max(a, s), m.startsMs[0] ?? t);
        return {
          name: m.name, unit: '1',
          sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: m.points.map((p) => ({ attributes, startTimeUnixNano: nanos(startOf(p.t)), timeUnixNano: nanos(p.t), asDouble: p.v })) },
        };
      }
      const h = m as Extract<OracleMetric, { kind: 'histogram' }>;
      return {
        name: h.name, unit: 's',
        histogram: {
          aggregationTemporality: 2,
          dataPoints: h.points.map((p) => ({ attributes, startTimeUnixNano: nanos(OracleT0Ms), timeUnixNano: nanos(p.t), count: String(p.count), sum: p.sum, bucketCounts: p.buckets.map(String), explicitBounds: h.bounds })),
        },
      };
    });
    bodies.push({ resourceMetrics: [{ resource: { attributes: [attr('service.name', first.job), attr('service.instance.id', first.instance)] }, scopeMetrics: [{ scope: { name: 'otlpdb-promql-oracle' }, metrics }] }] });
  }
  return bodies;
}
