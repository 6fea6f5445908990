/**
 * apply.ts — `node dist/bench/apply.js [--samples N] [--spans N] [--logs N] [--only metrics|traces|logs] [--ingest-entries] [--json]`:
 * rows applied per second by one shard state machine (src/storage/shard,
 * with the real trace, metric and log stores on a real LevelDB) without Raft,
 * one signal at a time, and the head memory at the end.
 *
 * Workloads (seeded, pre-encoded as shard entries before the clock starts):
 * - metrics: TSBS-devops-like gauges — hosts × 10 metrics, a point every 10 s,
 *   1,000 points per entry, time-major (every series at t, then at t + 10 s);
 * - spans: realistic traces (src/storage/traces/traces-test-util.ts), 500 per entry;
 * - logs: realistic log lines (src/storage/logs/log-test-util.ts), 500 per entry.
 *
 * `--ingest-entries` replaces those workloads by the ingest bench's own
 * entries (bench/ingest-payloads.ts bodies, batch 512, through the receive
 * worker's prepareParts over 16 shards: about 32 rows per entry, every entry
 * of every shard applied by the one state machine), the entries a node's
 * main thread applies under `bench/ingest.ts`. It also times the leader's
 * restamp of those entries (src/shard-service.ts proposeHere): the copying
 * restampLeaderTime against restampLeaderTimeInPlace, alternated, process CPU
 * per row.
 *
 * Baseline, in the same run: decoding the same entries (decodeShardEntry),
 * the work every replica must do before storing anything. The ratio
 * apply/decode says how much the stores add; the absolute rows/s are compared
 * with the shard storage issue's targets (>= 1,000,000 samples/s, >= 200,000
 * spans/s, >= 200,000 log records/s). Timing never gates anything.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SeededRand } from '../src/fs/seeded-rand.js';
import { EntryType } from '../src/raft/types.js';
import type { Entry } from '../src/raft/types.js';
import { realisticLogs } from '../src/storage/logs/log-test-util.js';
import type { LogRow, MetricPointRow, Resource, Scope, SpanRow } from '../src/storage/rows.js';
import { decodeShardEntry, encodeShardEntry, restampLeaderTime, restampLeaderTimeInPlace } from '../src/storage/shard-entry.js';
import { decodeApplyResult } from '../src/storage/shard/shard-records.js';
import { ShardStateMachine } from '../src/storage/shard/shard-state-machine.js';
import { initHash } from '../src/partition/hash.js';
import { shardStoresFactory } from '../src/storage/shard/stores.js';
import { realisticSpans } from '../src/storage/traces/traces-test-util.js';
import { OTLP_DECODERS } from '../src/otlp/decoders.js';
import { prepareParts } from '../src/otlp/prepare-parts.js';
import type { OtlpSignal } from '../src/otlp/ingest.js';
import { buildTemplate, makeBody } from './ingest-payloads.js';
import { positiveIntArg } from './cli-args.js';

const SAMPLES = positiveIntArg('samples', 1_000_000);
const SPANS = positiveIntArg('spans', 200_000);
const LOGS = positiveIntArg('logs', 200_000);
const JSON_OUT = process.argv.includes('--json');
const INGEST_ENTRIES = process.argv.includes('--ingest-entries');
/** INGEST_BATCH and INGEST_SHARDS are the ingest bench's defaults (batch 512, a cluster's 16 shards). */
const INGEST_BATCH = 512;
const INGEST_SHARDS = 16;
const ONLY = onlyArg();

/** onlyArg is the one signal `--only` names, or null for all three. */
function onlyArg(): 'metrics' | 'traces' | 'logs' | null {
  const i = process.argv.indexOf('--only');
  if (i < 0) return null;
  const v = process.argv[i + 1];
  if (v !== 'metrics' && v !== 'traces' && v !== 'logs') throw new Error('--only must be metrics, traces or logs');
  return v;
}
const T0_NS = 1_700_000_000_000_000_000n;
const METRICS = ['cpu_usage_user', 'cpu_usage_system', 'mem_used_percent', 'disk_used', 'net_bytes_recv', 'net_bytes_sent', 'diskio_reads', 'diskio_writes', 'load1', 'processes_total'];

/** tsbsPoints makes `n` gauge points of hosts × 10 metrics, time-major, values a seeded random walk. */
function tsbsPoints(rand: SeededRand, n: number): MetricPointRow[] {
  const hosts = Math.max(1, Math.ceil(Math.sqrt(n / 10 / 4)) * 4);
  const scope: Scope = { name: 'telegraf', version: '1.30', attributes: [], droppedAttributesCount: 0, schemaUrl: '' };
  const resources: Resource[] = Array.from({ length: hosts }, (_, h) => ({
    attributes: [
      { key: 'service.name', value: { type: 'string', value: 'telegraf' } },
      { key: 'host.name', value: { type: 'string', value: `host_${h}` } },
      { key: 'cloud.region', value: { type: 'string', value: `region-${h % 3}` } },
    ],
    droppedAttributesCount: 0,
    schemaUrl: '',
  }));
  const level = new Float64Array(hosts * METRICS.length).map(() => rand.intn(1000) / 10);
  const out: MetricPointRow[] = [];
  for (let step = 0; out.length < n; step++) {
    const t = T0_NS + BigInt(step) * 10_000_000_000n;
    for (let h = 0; h < hosts && out.length < n; h++) {
      for (let m = 0; m < METRICS.length && out.length < n; m++) {
        const k = h * METRICS.length + m;
        level[k] = Math.max(0, (level[k] as number) + (rand.intn(21) - 10) / 10);
        out.push({
          tenant: 'default',
          name: METRICS[m] as string,
          description: '',
          unit: '',
          data: { type: 'gauge', value: { type: 'double', value: Math.round((level[k] as number) * 10) / 10 } },
          attributes: [{ key: 'cpu', value: { type: 'string', value: `cpu${m % 4}` } }],
          startTimeUnixNano: 0n,
          timeUnixNano: t,
          flags: 0,
          exemplars: [],
          resource: resources[h] as Resource,
          scope,
        });
      }
    }
  }
  return out;
}

type Rows = { spans: SpanRow[]; points: MetricPointRow[]; logs: LogRow[] };

function entries(rows: Rows, perEntry: number, total: number): Entry[] {
  const out: Entry[] = [];
  const all = rows.points.length > 0 ? rows.points : rows.spans.length > 0 ? rows.spans : rows.logs;
  for (let i = 0, k = 1; i < total; i += perEntry, k++) {
    const part = all.slice(i, i + perEntry);
    const data = encodeShardEntry({
      version: 1,
      tenant: 'default',
      idempotencyKey: k.toString(16).padStart(16, '0'),
      part: 0,
      parts: 1,
      leaderTimeMs: 1_700_000_000_000 + k,
      spans: rows.spans.length > 0 ? (part as SpanRow[]) : [],
      points: rows.points.length > 0 ? (part as MetricPointRow[]) : [],
      logs: rows.logs.length > 0 ? (part as LogRow[]) : [],
    });
    out.push({ index: k, term: 1, type: EntryType.Normal, data });
  }
  return out;
}

/**
 * ingestEntries encodes at least `rows` items of `signal` as the ingest bench
 * sends them (one body per (slot, seq), prepareParts as the receive worker
 * runs it) and returns every shard part as an entry, in request order.
 */
async function ingestEntries(signal: OtlpSignal, rows: number): Promise<{ es: Entry[]; rows: number }> {
  const hasher = await initHash();
  const nowMs = Date.now();
  const template = buildTemplate(signal, INGEST_BATCH, nowMs, 7);
  const es: Entry[] = [];
  let n = 0;
  for (let seq = 0; n < rows; seq++) {
    const body = makeBody(template, seq % 16, Math.floor(seq / 16), nowMs - 60_000);
    const job = { signal, tenant: 'bench', format: 'proto' as const, body, shardCount: INGEST_SHARDS, traceSampleRatio: 1, wallMs: nowMs };
    for (const part of prepareParts(job, { hasher, decoders: OTLP_DECODERS }).parts) {
      es.push({ index: es.length + 1, term: 1, type: EntryType.Normal, data: part.bytes });
      n += part.rows;
    }
  }
  return { es, rows: n };
}

interface Figure {
  readonly signal: string;
  readonly rows: number;
  readonly accepted: number;
  readonly applyRowsPerSec: number;
  readonly decodeRowsPerSec: number;
  readonly ratio: number;
  readonly target: number;
  readonly met: boolean;
  readonly headBytes: number;
  readonly headBytesPerRow: number;
  /** applyRowsPerCpuSec divides by the process CPU time of apply (every thread, GC helpers included): steadier than wall time on a loaded machine. */
  readonly applyRowsPerCpuSec: number;
}

/** RESTAMP_ROUNDS is how many times each restamp (copying, in place) runs over the entries, alternated. */
const RESTAMP_ROUNDS = 6;

/** restampNsPerRow times both restamps over the entries (each round stamps a new time), process CPU nanoseconds per row, median of the rounds. */
function restampNsPerRow(es: readonly Entry[], rows: number): { copy: number; inPlace: number } {
  const copy: number[] = [];
  const inPlace: number[] = [];
  let now = Date.now();
  let sink = 0;
  for (let r = 0; r < RESTAMP_ROUNDS * 2; r++) {
    const fn = r % 2 === 0 ? restampLeaderTime : restampLeaderTimeInPlace;
    now += 1;
    const cpu0 = process.cpuUsage();
    for (const e of es) sink += fn(e.data, now).length;
    const cpu = process.cpuUsage(cpu0);
    (r % 2 === 0 ? copy : inPlace).push(((cpu.user + cpu.system) * 1000) / rows);
  }
  if (sink < 0) console.log(sink);
  const median = (xs: number[]): number => Math.round([...xs].sort((a, b) => a - b)[xs.length >> 1] as number);
  return { copy: median(copy), inPlace: median(inPlace) };
}

async function measure(makeStores: ReturnType<typeof shardStoresFactory>, signal: 'metrics' | 'traces' | 'logs', es: Entry[], rows: number, target: number): Promise<Figure> {
  // Baseline: decode every entry.
  let t0 = performance.now();
  for (const e of es) decodeShardEntry(e.data);
  const decodeMs = performance.now() - t0;
  const dir = mkdtempSync(join(tmpdir(), 'otlpdb-bench-apply-'));
  const sm = new ShardStateMachine({
    group: 1,
    dir,
    makeStores,
    peer: { fetchPage: () => Promise.reject(new Error('no peers in the bench')) },
    nowMs: () => Date.now(),
    headBytesSoftMax: 2 ** 40,
    headBytesHardMax: 2 ** 41,
  });
  try {
    await sm.open({ index: 0, data: new Uint8Array(0) });
    let accepted = 0;
    t0 = performance.now();
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < es.length; i += 16) {
      for (const r of sm.apply(es.slice(i, i + 16))) {
        const d = decodeApplyResult(r);
        accepted += d.spans.accepted + d.points.accepted + d.logs.accepted;
      }
    }
    const applyMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const applyCpuMs = (cpu.user + cpu.system) / 1000;
    const headBytes = sm.headBytes();
    const applyRowsPerSec = rows / (applyMs / 1000);
    return {
      signal,
      rows,
      accepted,
      applyRowsPerSec: Math.round(applyRowsPerSec),
      decodeRowsPerSec: Math.round(rows / (decodeMs / 1000)),
      ratio: Math.round((decodeMs / applyMs) * 1000) / 1000,
      target,
      met: applyRowsPerSec >= target,
      headBytes,
      headBytesPerRow: Math.round((headBytes / rows) * 10) / 10,
      applyRowsPerCpuSec: Math.round(rows / (applyCpuMs / 1000)),
    };
  } finally {
    await sm.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const rand = new SeededRand(2026);
  const makeStores = shardStoresFactory(await initHash());
  const figures: Figure[] = [];
  const restamps: { signal: string; copyNsPerRow: number; inPlaceNsPerRow: number }[] = [];
  if (INGEST_ENTRIES) {
    const wanted: [OtlpSignal, 'metrics' | 'traces' | 'logs', number, number][] = [
      ['metrics', 'metrics', SAMPLES, 1_000_000],
      ['traces', 'traces', SPANS, 200_000],
      ['logs', 'logs', LOGS, 200_000],
    ];
    for (const [signal, name, rows, target] of wanted) {
      if (ONLY !== null && ONLY !== name) continue;
      const w = await ingestEntries(signal, rows);
      const rs = restampNsPerRow(w.es, w.rows);
      restamps.push({ signal: name, copyNsPerRow: rs.copy, inPlaceNsPerRow: rs.inPlace });
      figures.push(await measure(makeStores, name, w.es, w.rows, target));
    }
  }
  if (!INGEST_ENTRIES && (ONLY === null || ONLY === 'metrics')) {
    // The rows are dropped once encoded: the timed phase's heap holds the entries, not a million row objects.
    const es = entries({ spans: [], points: tsbsPoints(rand, SAMPLES), logs: [] }, 1000, SAMPLES);
    figures.push(await measure(makeStores, 'metrics', es, SAMPLES, 1_000_000));
  }
  if (!INGEST_ENTRIES && (ONLY === null || ONLY === 'traces')) {
    const spans: SpanRow[] = [];
    while (spans.length < SPANS) spans.push(...realisticSpans(rand, 100));
    spans.length = SPANS;
    figures.push(await measure(makeStores, 'traces', entries({ spans, points: [], logs: [] }, 500, spans.length), spans.length, 200_000));
  }
  if (!INGEST_ENTRIES && (ONLY === null || ONLY === 'logs')) {
    const logs = realisticLogs(rand, LOGS);
    figures.push(await measure(makeStores, 'logs', entries({ spans: [], points: [], logs }, 500, logs.length), logs.length, 200_000));
  }
  const mem = process.memoryUsage();
  if (JSON_OUT) {
    console.log(JSON.stringify({ figures, restamps, rssBytes: mem.rss, heapUsedBytes: mem.heapUsed }));
    return;
  }
  console.log('rows applied per second by one shard state machine (no Raft), baseline = decodeShardEntry of the same entries');
  for (const f of figures) {
    console.log(
      `${f.signal.padEnd(8)} ${String(f.rows).padStart(9)} rows  apply ${String(f.applyRowsPerSec).padStart(9)}/s  decode ${String(f.decodeRowsPerSec).padStart(9)}/s  apply/decode ${f.ratio}  target ${f.target}/s ${f.met ? 'met' : 'NOT met'}  head ${(f.headBytes / 1048576).toFixed(1)} MiB (${f.headBytesPerRow} B/row)  accepted ${f.accepted}`,
    );
  }
  for (const f of figures) console.log(`${f.signal.padEnd(8)} apply ${f.applyRowsPerCpuSec}/s of process CPU time (all threads)`);
  for (const r of restamps) console.log(`${r.signal.padEnd(8)} restamp ${r.copyNsPerRow} ns/row copying, ${r.inPlaceNsPerRow} ns/row in place (process CPU, median of ${RESTAMP_ROUNDS})`);
  console.log(`process rss ${(mem.rss / 1048576).toFixed(0)} MiB, heap used ${(mem.heapUsed / 1048576).toFixed(0)} MiB`);
}

await main();
