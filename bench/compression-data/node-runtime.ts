/**
 * node-runtime.ts — real metric series from this Node.js process, collected
 * through the OpenTelemetry JS metrics SDK, for the compression bench's
 * "what do our users' counters and gauges look like" data set.
 *
 * Sources: `@opentelemetry/host-metrics` (system and process CPU, memory,
 * network) and `@opentelemetry/instrumentation-runtime-node` (event-loop delay,
 * utilization and time, V8 heap spaces, GC durations, active resources), both
 * bound to one private MeterProvider (never the global one). A manual
 * MetricReader is collected every `intervalMs`, drift-corrected against the
 * start, while node-runtime-workload.ts keeps the process busy.
 *
 * Every number stream becomes a Series: sums and gauges as they are,
 * histograms as two series `<name>_sum` and `<name>_count`. Labels are the
 * point's attributes plus `otel_scope_name` (as the Prometheus exporter names
 * it), so two scopes cannot merge into one series. Timestamps are the points'
 * end times rounded to whole milliseconds (OTLP carries nanoseconds; Series
 * carries ms). Non-finite values (an empty delay histogram's NaN) are left
 * out, so a series may have fewer samples than there were collections, and a
 * series that appears late (the first GC) starts late.
 *
 * Script mode saves a capture for replay:
 *   node dist/bench/compression-data/node-runtime.js --duration 60s [--interval 1s] [--no-workload] --out FILE.json
 *
 * Cumulative temporality throughout: counters stay counters, which is what the
 * bench's codecs see from a cumulative OTLP exporter.
 */
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import type { Attributes } from '@opentelemetry/api';
import { hrTimeToMilliseconds } from '@opentelemetry/core';
import { HostMetrics } from '@opentelemetry/host-metrics';
import { RuntimeNodeInstrumentation } from '@opentelemetry/instrumentation-runtime-node';
import { DataPointType, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import type { MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { OtlpdbError, assert } from '../../src/errors.js';
import { startWorkload } from './node-runtime-workload.js';
import type { Workload } from './node-runtime-workload.js';
import { assertSeries, seriesToFile } from './series.js';
import type { Series } from './series.js';

/** NodeRuntimeLimits bounds one collection: how often, how long, how many series. */
export const NodeRuntimeLimits = {
  intervalMsMin: 10,
  durationMsMax: 60 * 60 * 1000,
  collectionsMax: 100_000,
  seriesMax: 10_000,
} as const;
assert(NodeRuntimeLimits.durationMsMax / NodeRuntimeLimits.intervalMsMin <= 10 * NodeRuntimeLimits.collectionsMax, 'limits agree');

/** NodeRuntimeOptions: collect every intervalMs for durationMs, with the workload running unless workload is false. */
export interface NodeRuntimeOptions {
  durationMs: number;
  intervalMs: number;
  workload?: boolean;
}

/** NodeRuntimeCapture is a collection's series and what went wrong on the way, for a report. */
export interface NodeRuntimeCapture {
  series: Series[];
  collections: number;
  /** Errors the SDK reported from collect() (a failing observable callback, say), as strings. */
  collectErrors: string[];
  /** Series seen after seriesMax was reached, not kept. */
  seriesDropped: number;
  workloadTicks: number;
}

/** ManualReader is a MetricReader with no exporter of its own: the caller calls collect(). */
class ManualReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

interface SeriesBuilder {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly timestampsMs: number[];
  readonly values: number[];
}

/** SeriesAccumulator turns collections into series. Invariant: at most seriesMax builders; every builder's timestamps never decrease. */
class SeriesAccumulator {
  readonly #builders = new Map<string, SeriesBuilder>();
  #dropped = 0;

  get dropped(): number {
    return this.#dropped;
  }

  add(resourceMetrics: ResourceMetrics): void {
    for (const scopeMetrics of resourceMetrics.scopeMetrics) {
      for (const metric of scopeMetrics.metrics) this.#addMetric(scopeMetrics.scope.name, metric);
    }
  }

  #addMetric(scope: string, metric: MetricData): void {
    const name = metric.descriptor.name;
    switch (metric.dataPointType) {
      case DataPointType.SUM:
      case DataPointType.GAUGE:
        for (const point of metric.dataPoints) this.#push(name, scope, point.attributes, hrTimeToMilliseconds(point.endTime), point.value);
        break;
      case DataPointType.HISTOGRAM:
      case DataPointType.EXPONENTIAL_HISTOGRAM:
        for (const point of metric.dataPoints) {
          const timeMs = hrTimeToMilliseconds(point.endTime);
          if (point.value.sum !== undefined) this.#push(`${name}_sum`, scope, point.attributes, timeMs, point.value.sum);
          this.#push(`${name}_count`, scope, point.attributes, timeMs, point.value.count);
        }
        break;
    }
  }

  #push(name: string, scope: string, attributes: Attributes, timeMs: number, value: number): void {
    if (!Number.isFinite(value)) return;
    const labels: Record<string, string> = { otel_scope_name: scope };
    for (const key of Object.keys(attributes).sort()) {
      const v = attributes[key];
      if (v !== undefined && v !== null) labels[key] = Array.isArray(v) ? v.join(',') : String(v);
    }
    const key = `${name}\u0000${JSON.stringify(labels)}`;
    let builder = this.#builders.get(key);
    if (builder === undefined) {
      if (this.#builders.size >= NodeRuntimeLimits.seriesMax) {
        this.#dropped++;
        return;
      }
      builder = { name, labels, timestampsMs: [], values: [] };
      this.#builders.set(key, builder);
    }
    const last = builder.timestampsMs[builder.timestampsMs.length - 1];
    // A point no newer than the last one kept is a repeat within one collection; keep the first.
    if (last !== undefined && timeMs <= last) return;
    builder.timestampsMs.push(timeMs);
    builder.values.push(value);
  }

  /** series returns the series sorted by name, then labels, so two runs list them in one order. */
  series(): Series[] {
    const keys = [...this.#builders.keys()].sort();
    return keys.map((key) => {
      const b = this.#builders.get(key);
      assert(b !== undefined, 'a sorted key has its builder');
      const s: Series = { name: b.name, labels: b.labels, timestampsMs: Float64Array.from(b.timestampsMs), values: Float64Array.from(b.values) };
      assertSeries(s);
      return s;
    });
  }
}

function checkOptions(opts: NodeRuntimeOptions): number {
  if (!Number.isSafeInteger(opts.intervalMs) || opts.intervalMs < NodeRuntimeLimits.intervalMsMin) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `intervalMs must be an integer >= ${NodeRuntimeLimits.intervalMsMin}`, { intervalMs: opts.intervalMs });
  }
  if (!Number.isSafeInteger(opts.durationMs) || opts.durationMs < opts.intervalMs || opts.durationMs > NodeRuntimeLimits.durationMsMax) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `durationMs must be an integer in [intervalMs, ${NodeRuntimeLimits.durationMsMax}]`, { durationMs: opts.durationMs });
  }
  const collections = Math.floor(opts.durationMs / opts.intervalMs);
  if (collections > NodeRuntimeLimits.collectionsMax) {
    throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `durationMs / intervalMs must be <= ${NodeRuntimeLimits.collectionsMax}`, { collections });
  }
  return collections;
}

/**
 * collectNodeRuntime runs the collection described by opts in this process and
 * returns the series with a small report. Everything it starts (instruments,
 * the meter provider, the workload and its temporary files) is stopped before
 * it returns, also on error.
 */
export async function collectNodeRuntime(opts: NodeRuntimeOptions): Promise<NodeRuntimeCapture> {
  const collections = checkOptions(opts);
  const reader = new ManualReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const runtime = new RuntimeNodeInstrumentation({ enabled: false });
  const accumulator = new SeriesAccumulator();
  const collectErrors: string[] = [];
  let workload: Workload | undefined;
  let workloadTicks: number;
  try {
    // NB: host-metrics is deprecated for instrumentation-host-metrics, whose releases need Node 22; this package works on 20.
    new HostMetrics({ meterProvider, name: 'otlpdb-compression-data' }).start();
    runtime.setMeterProvider(meterProvider);
    runtime.enable();
    if (opts.workload ?? true) workload = await startWorkload();
    const startMs = performance.now();
    for (let k = 1; k <= collections; k++) {
      const waitMs = startMs + k * opts.intervalMs - performance.now();
      if (waitMs > 0) await sleep(waitMs);
      const { resourceMetrics, errors } = await reader.collect();
      for (const err of errors) if (collectErrors.length < 100) collectErrors.push(String(err));
      accumulator.add(resourceMetrics);
    }
  } finally {
    workloadTicks = workload?.ticks ?? 0;
    await workload?.stop();
    runtime.disable();
    await meterProvider.shutdown();
  }
  return { series: accumulator.series(), collections, collectErrors, seriesDropped: accumulator.dropped, workloadTicks };
}

/** collectNodeRuntimeSeries is collectNodeRuntime for callers that want only the series. */
export async function collectNodeRuntimeSeries(opts: NodeRuntimeOptions): Promise<Series[]> {
  return (await collectNodeRuntime(opts)).series;
}

/** parseDurationMs reads `500ms`, `2s` or `1m`; a bare number is refused, since its unit would be a guess. */
export function parseDurationMs(text: string): number {
  const match = /^(\d+)(ms|s|m)$/.exec(text.trim());
  if (match === null) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `not a duration (want e.g. 500ms, 60s, 2m): ${text}`, { text });
  const unitMs = match[2] === 'ms' ? 1 : match[2] === 's' ? 1000 : 60_000;
  return Number(match[1]) * unitMs;
}

function packageVersion(name: string): string {
  try {
    const require = createRequire(import.meta.url);
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

async function main(argv: readonly string[]): Promise<void> {
  let durationMs = 60_000;
  let intervalMs = 1_000;
  let out: string | undefined;
  let workload = true;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--duration') durationMs = parseDurationMs(argv[++i] ?? '');
    else if (arg === '--interval') intervalMs = parseDurationMs(argv[++i] ?? '');
    else if (arg === '--out') out = argv[++i];
    else if (arg === '--no-workload') workload = false;
    else throw new OtlpdbError('ERR_INVALID_ARGUMENT', `unknown argument: ${arg}`, { arg });
  }
  if (out === undefined) throw new OtlpdbError('ERR_INVALID_ARGUMENT', '--out FILE.json is required');
  const capture = await collectNodeRuntime({ durationMs, intervalMs, workload });
  const file = seriesToFile(capture.series, {
    source: 'node-runtime',
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    cpus: cpus().length,
    durationMs,
    intervalMs,
    workload,
    collections: capture.collections,
    sdkMetrics: packageVersion('@opentelemetry/sdk-metrics'),
    hostMetrics: packageVersion('@opentelemetry/host-metrics'),
    runtimeNode: packageVersion('@opentelemetry/instrumentation-runtime-node'),
  });
  const text = `${JSON.stringify(file)}\n`;
  await writeFile(out, text);
  const samples = capture.series.reduce((n, s) => n + s.values.length, 0);
  process.stdout.write(
    `${JSON.stringify({ out, series: capture.series.length, samples, bytes: Buffer.byteLength(text), collectErrors: capture.collectErrors.length, seriesDropped: capture.seriesDropped })}\n`,
  );
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
