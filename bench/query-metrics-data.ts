/**
 * query-metrics-data.ts — the data of `bench/query-metrics.ts`: one
 * counter, `bench_requests_total`, over `series` series sampled every 15 s
 * for `hours` hours, made two ways from the same pure functions so that
 * otlpdb and Prometheus hold exactly the same samples:
 *
 * - OTLP/protobuf ExportMetricsServiceRequest bodies, time-major (every
 *   series' points of one window before the next window), many points per
 *   request (MetricsBodyPlan), as monotonic cumulative sums;
 * - OpenMetrics text, series-major, for `promtool tsdb create-blocks-from
 *   openmetrics`.
 *
 * Labels as Prometheus shows them: `job="bench"` (resource service.name),
 * `instance="host-NNN"` (resource service.instance.id; 100 series a host),
 * `app="app-NN"` (point attribute; series i has app i mod GROUPS, so
 * `sum by (app)` has min(series, GROUPS) groups) and `pod="p-i"` (point
 * attribute, one series each: the selective query's label).
 *
 * Values: integers, each sample the previous one plus a seeded increment in
 * [0, 100); about twice a day per series a reset to 0, where the OTLP start
 * time moves to the reset's time (as an SDK restarting). The increment and
 * the reset are a pure hash of (seed, series, sample index), so either order
 * of generation gives the same numbers. Pure: no I/O, no clock.
 */
import { assert } from '../src/errors.js';

/** METRIC_NAME is the counter's name (Prometheus-shaped, so the OTLP translation keeps it). */
export const METRIC_NAME = 'bench_requests_total';
/** GROUPS is how many `app` values there are: the aggregation's group count at full scale. */
export const GROUPS = 40;
/** SERIES_PER_HOST is how many series share one resource (one `instance`). */
export const SERIES_PER_HOST = 100;
/** INTERVAL_MS is the sample interval. */
export const INTERVAL_MS = 15_000;
/** RESET_PERIOD makes a reset at about one sample in RESET_PERIOD (twice a day at 15 s). */
const RESET_PERIOD = 2_880;

/** MetricsShape is what the data holds: series count, hours, seed, and where it starts. */
export interface MetricsShape {
  readonly series: number;
  readonly hours: number;
  readonly seed: number;
  /** t0Ms is the first sample's time (a multiple of a minute). */
  readonly t0Ms: number;
}

/** samplesPerSeries is how many samples each series holds. */
export function samplesPerSeries(s: MetricsShape): number {
  return Math.round((s.hours * 3_600_000) / INTERVAL_MS);
}

/** mix32 is a 32-bit integer hash (lowbias32), the data's only source of variety. */
function mix32(x: number): number {
  let a = x >>> 0;
  a ^= a >>> 16;
  a = Math.imul(a, 0x7feb352d);
  a ^= a >>> 15;
  a = Math.imul(a, 0x846ca68b);
  a ^= a >>> 16;
  return a >>> 0;
}

/** sampleHash is the hash of (seed, series, sample index) that decides an increment and a reset. */
function sampleHash(seed: number, series: number, k: number): number {
  return mix32(mix32(mix32(seed) ^ series) ^ Math.imul(k, 0x9e3779b1));
}

/**
 * SeriesCursor walks one series' samples in time order: value and the start
 * time of the current counter run. The first sample starts a run at 0.
 * Invariant: after step(k), value and startMs describe sample k.
 */
export class SeriesCursor {
  value = 0;
  startMs: number;
  #next = 0;
  readonly #shape: MetricsShape;
  readonly #series: number;

  constructor(shape: MetricsShape, series: number) {
    this.#shape = shape;
    this.#series = series;
    this.startMs = shape.t0Ms;
  }

  /** step moves to sample k (which must be the next one) and answers its time. */
  step(k: number): number {
    assert(k === this.#next, 'SeriesCursor steps in order');
    this.#next++;
    const t = this.#shape.t0Ms + k * INTERVAL_MS;
    const h = sampleHash(this.#shape.seed, this.#series, k);
    if (k === 0) {
      this.value = 0;
      this.startMs = t;
    } else if (h % RESET_PERIOD === 0) {
      this.value = 0;
      this.startMs = t;
    } else {
      this.value += (h >>> 12) % 100;
    }
    return t;
  }
}

/** seriesLabels are series i's Prometheus labels without `__name__`, sorted by name. */
export function seriesLabels(i: number): { app: string; instance: string; job: string; pod: string } {
  return { app: `app-${String(i % GROUPS).padStart(2, '0')}`, instance: hostOf(i), job: 'bench', pod: `p-${i}` };
}

function hostOf(i: number): string {
  return `host-${String(Math.floor(i / SERIES_PER_HOST)).padStart(3, '0')}`;
}

/** openMetricsChunks yields the OpenMetrics text of every series (series-major, time order, `# EOF` last) in chunks of about chunkBytes. */
export function* openMetricsChunks(shape: MetricsShape, chunkBytes = 4 * 1024 * 1024): Generator<string> {
  const n = samplesPerSeries(shape);
  let buf = '';
  for (let i = 0; i < shape.series; i++) {
    const l = seriesLabels(i);
    const prefix = `${METRIC_NAME}{app="${l.app}",instance="${l.instance}",job="${l.job}",pod="${l.pod}"} `;
    const c = new SeriesCursor(shape, i);
    for (let k = 0; k < n; k++) {
      const t = c.step(k);
      buf += `${prefix}${c.value} ${t / 1000}\n`;
      if (buf.length >= chunkBytes) {
        yield buf;
        buf = '';
      }
    }
  }
  yield `${buf}# EOF\n`;
}

/** MetricsBodyPlan cuts the data into requests: windowSamples samples of every series per window, hostsPerBody hosts per request. */
export interface MetricsBodyPlan {
  readonly windowSamples: number;
  readonly hostsPerBody: number;
}

/**
 * planBodies picks a window and hosts per request near pointsPerBody
 * points: 10-minute windows of whole hosts; data of less than one host
 * (the smoke test) takes longer windows instead, so it needs few requests.
 */
export function planBodies(shape: MetricsShape, pointsPerBody: number): MetricsBodyPlan {
  const window = shape.series >= SERIES_PER_HOST ? 40 : Math.max(40, Math.floor(pointsPerBody / shape.series));
  const windowSamples = Math.min(window, samplesPerSeries(shape));
  const hosts = Math.ceil(shape.series / SERIES_PER_HOST);
  const hostsPerBody = Math.max(1, Math.min(hosts, Math.floor(pointsPerBody / (windowSamples * SERIES_PER_HOST))));
  return { windowSamples, hostsPerBody };
}

/** bodyCount is how many requests the plan makes. */
export function bodyCount(shape: MetricsShape, plan: MetricsBodyPlan): number {
  const hosts = Math.ceil(shape.series / SERIES_PER_HOST);
  return Math.ceil(samplesPerSeries(shape) / plan.windowSamples) * Math.ceil(hosts / plan.hostsPerBody);
}

const utf8 = new TextEncoder();

/** ByteSink is a growable byte buffer with the few protobuf writes the bodies need. */
class ByteSink {
  buf = new Uint8Array(1 << 16);
  len = 0;
  #view = new DataView(this.buf.buffer);

  ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.#view = new DataView(next.buffer);
  }

  varint(v: number): void {
    this.ensure(10);
    let x = v;
    while (x >= 0x80) {
      this.buf[this.len++] = (x % 0x80) | 0x80;
      x = Math.floor(x / 0x80);
    }
    this.buf[this.len++] = x;
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  /** fixed64Ns writes a time in ms as a fixed64 of nanoseconds (exact: BigInt). */
  fixed64Ns(ms: number): void {
    this.ensure(8);
    const ns = BigInt(ms) * 1_000_000n;
    this.#view.setBigUint64(this.len, ns, true);
    this.len += 8;
  }

  double(v: number): void {
    this.ensure(8);
    this.#view.setFloat64(this.len, v, true);
    this.len += 8;
  }
}

/** varintLen is the encoded length of a non-negative varint. */
function varintLen(v: number): number {
  let n = 1;
  for (let x = v; x >= 0x80; x = Math.floor(x / 0x80)) n++;
  return n;
}

/** lenField encodes field `no` (length-delimited) around already-encoded bytes. */
function lenField(no: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(varintLen(no * 8 + 2) + varintLen(body.length) + body.length);
  const s = new ByteSink();
  s.varint(no * 8 + 2);
  s.varint(body.length);
  s.bytes(body);
  out.set(s.buf.subarray(0, s.len));
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** keyValue encodes a KeyValue with a string AnyValue. */
function keyValue(key: string, value: string): Uint8Array {
  return concat([lenField(1, utf8.encode(key)), lenField(2, lenField(1, utf8.encode(value)))]);
}

/** POINT_FIXED_BYTES are a point's bytes besides its attributes: start, time, as_double (tag + 8 each). */
const POINT_FIXED_BYTES = 27;

/**
 * MetricsBodies makes the requests of a plan: body(window, block) holds
 * window `window`'s samples of the hosts of block `block`. The store
 * refuses a sample older than its series' last one, so one series' windows
 * must be written in order, one after the other: the caller gives each
 * block to one sender, which walks its windows in order. Ownership: it
 * owns the series cursors; a body, once returned, is the caller's.
 * Invariant: every block's bodies are asked for in window order (the
 * cursors assert it).
 */
export class MetricsBodies {
  readonly shape: MetricsShape;
  readonly plan: MetricsBodyPlan;
  readonly total: number;
  /** windows and blocks are the body grid: total = windows × blocks. */
  readonly windows: number;
  readonly blocks: number;
  readonly #cursors: SeriesCursor[];
  readonly #pointAttrs: Uint8Array[];
  readonly #scope = lenField(1, lenField(1, utf8.encode('otlpdb-bench-query-metrics')));
  readonly #metricHead = concat([lenField(1, utf8.encode(METRIC_NAME))]);
  readonly #hosts: number;

  constructor(shape: MetricsShape, plan: MetricsBodyPlan) {
    assert(shape.series >= 1 && shape.hours > 0, 'MetricsBodies has data');
    this.shape = shape;
    this.plan = plan;
    this.total = bodyCount(shape, plan);
    this.#hosts = Math.ceil(shape.series / SERIES_PER_HOST);
    this.blocks = Math.ceil(this.#hosts / plan.hostsPerBody);
    this.windows = Math.ceil(samplesPerSeries(shape) / plan.windowSamples);
    assert(this.windows * this.blocks === this.total, 'the grid is every body');
    this.#cursors = Array.from({ length: shape.series }, (_, i) => new SeriesCursor(shape, i));
    this.#pointAttrs = Array.from({ length: shape.series }, (_, i) => {
      const l = seriesLabels(i);
      return concat([lenField(7, keyValue('app', l.app)), lenField(7, keyValue('pod', l.pod))]);
    });
  }

  /** body answers window `window` of host block `hostBlock` and its point count. */
  body(window: number, hostBlock: number): { bytes: Uint8Array; points: number } {
    assert(window >= 0 && window < this.windows && hostBlock >= 0 && hostBlock < this.blocks, 'a body inside the grid');
    const k0 = window * this.plan.windowSamples;
    const k1 = Math.min(samplesPerSeries(this.shape), k0 + this.plan.windowSamples);
    const resources: Uint8Array[] = [];
    let points = 0;
    for (let h = hostBlock * this.plan.hostsPerBody; h < Math.min(this.#hosts, (hostBlock + 1) * this.plan.hostsPerBody); h++) {
      const first = h * SERIES_PER_HOST;
      const last = Math.min(this.shape.series, first + SERIES_PER_HOST);
      const sink = new ByteSink();
      for (let i = first; i < last; i++) {
        const c = this.#cursors[i] as SeriesCursor;
        const attrs = this.#pointAttrs[i] as Uint8Array;
        for (let k = k0; k < k1; k++) {
          const t = c.step(k);
          sink.varint(1 * 8 + 2); // Sum.data_points
          sink.varint(attrs.length + POINT_FIXED_BYTES);
          sink.bytes(attrs);
          sink.varint(2 * 8 + 1);
          sink.fixed64Ns(c.startMs);
          sink.varint(3 * 8 + 1);
          sink.fixed64Ns(t);
          sink.varint(4 * 8 + 1);
          sink.double(c.value);
          points++;
        }
      }
      // Sum { data_points = 1; aggregation_temporality = 2 (CUMULATIVE); is_monotonic = 3 }
      const sum = concat([sink.buf.subarray(0, sink.len), Uint8Array.of(2 * 8, 2, 3 * 8, 1)]);
      const metric = concat([this.#metricHead, lenField(7, sum)]);
      const resource = lenField(1, concat([lenField(1, keyValue('service.name', 'bench')), lenField(1, keyValue('service.instance.id', hostOf(first)))]));
      const scopeMetrics = lenField(2, concat([this.#scope, lenField(2, metric)]));
      resources.push(lenField(1, concat([resource, scopeMetrics])));
    }
    return { bytes: concat(resources), points };
  }
}
