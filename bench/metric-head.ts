/**
 * metric-head.ts — `node dist/bench/metric-head.js [--series N] [--samples N] [--json]`:
 * the in-memory metrics head (src/storage/metrics) on a seeded synthetic
 * workload shaped like a scrape: N series (10 metric names × job × instance
 * × env), one sample per series per 15 s, appended time-major (every series
 * at t, then every series at t + 15 s).
 *
 * Figures: samples/s appended (single appends and appendBatch), accounted head
 * bytes/sample and encoded chunk bytes/sample, select latency of a 3-matcher
 * query (`__name__="m3", job="job4", env=~"prod|staging"`) and of a wide one,
 * and samples/s read back through HeadSampleIterator. Timing never gates
 * anything.
 */
import { performance } from 'node:perf_hooks';
import { SeededRand } from '../src/fs/seeded-rand.js';
import { initHash } from '../src/partition/hash.js';
import { HeadSampleIterator, MetricHead } from '../src/storage/metrics/head.js';
import type { Matcher } from '../src/storage/metrics/label-index.js';
import type { Labels } from '../src/storage/metrics/series-registry.js';
import { positiveIntArg } from './cli-args.js';

const SERIES = positiveIntArg('series', 10_000);
const SAMPLES = positiveIntArg('samples', 120);
const JSON_OUT = process.argv.includes('--json');
const ENVS = ['prod', 'staging', 'dev'];
const T0 = 1_700_000_000_000;

interface Workload {
  names: string[];
  labels: Labels[];
  start: Float64Array;
  kind: Uint8Array;
}

function workload(rand: SeededRand): Workload {
  const names: string[] = [];
  const labels: Labels[] = [];
  for (let s = 0; s < SERIES; s++) {
    names.push(`m${s % 10}`);
    labels.push([
      { name: 'env', value: ENVS[s % 3] as string },
      { name: 'instance', value: `host-${Math.floor(s / 10) % 1000}:9100` },
      { name: 'job', value: `job${Math.floor(s / 30) % 10}` },
      { name: 'shard', value: String(Math.floor(s / 10_000)) },
    ]);
  }
  const start = new Float64Array(SERIES);
  const kind = new Uint8Array(SERIES);
  for (let s = 0; s < SERIES; s++) {
    start[s] = rand.intn(1000);
    kind[s] = rand.intn(3);
  }
  return { names, labels, start, kind };
}

function value(w: Workload, rand: SeededRand, s: number, i: number): number {
  const k = w.kind[s];
  if (k === 0) return (w.start[s] as number) + i * 7 + rand.intn(3); // counter
  if (k === 1) return Math.round((50 + rand.intn(5000) / 100) * 100) / 100; // gauge, 2 decimals
  return rand.nextU32() / 997; // noisy float
}

function timed<T>(f: () => T): [T, number] {
  const t0 = performance.now();
  const r = f();
  return [r, performance.now() - t0];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

const hasher = await initHash();

function fill(batch: boolean): [MetricHead, number] {
  const rand = new SeededRand(42);
  const w = workload(rand);
  const head = new MetricHead({ hasher });
  const ts = new Float64Array(SERIES);
  const vs = new Float64Array(SERIES);
  const [, ms] = timed(() => {
    for (let i = 0; i < SAMPLES; i++) {
      const t = T0 + i * 15_000;
      if (batch) {
        ts.fill(t);
        for (let s = 0; s < SERIES; s++) vs[s] = value(w, rand, s, i);
        const r = head.appendBatch('tenant-1', w.names, w.labels, ts, vs);
        if (r.refused !== 0) throw new Error(`refused ${r.refused}: ${r.firstRefusal?.message}`);
      } else {
        for (let s = 0; s < SERIES; s++) {
          const o = head.append('tenant-1', w.names[s] as string, w.labels[s] as Labels, t, value(w, rand, s, i));
          if (o !== 0) throw new Error(`refused: ${head.lastRefusal?.message}`);
        }
      }
    }
  });
  return [head, ms];
}

const [head, appendMs] = fill(false);
const [, batchMs] = fill(true);
const st = head.stats();
const total = SERIES * SAMPLES;

const narrow: Matcher[] = [
  { name: '__name__', op: '=', value: 'm3' },
  { name: 'job', op: '=', value: 'job4' },
  { name: 'env', op: '=~', value: 'prod|staging' },
];
const wide: Matcher[] = [
  { name: 'env', op: '!=', value: 'dev' },
  { name: 'instance', op: '=~', value: 'host-1.*' },
  { name: 'job', op: '!~', value: 'job[01]' },
];
function selectLatency(ms: Matcher[]): { us: number; series: number } {
  let n = 0;
  for (let k = 0; k < 50; k++) n = head.select('tenant-1', ms).length; // warm-up
  const lat: number[] = [];
  for (let k = 0; k < 500; k++) lat.push(timed(() => head.select('tenant-1', ms))[1]);
  return { us: median(lat) * 1000, series: n };
}
const selNarrow = selectLatency(narrow);
const selWide = selectLatency(wide);

const it = new HeadSampleIterator();
const [read, readMs] = timed(() => {
  let n = 0;
  for (let id = 0; id < st.series; id++) {
    head.samples(id, -Infinity, Infinity, it);
    while (it.next()) n++;
  }
  return n;
});

const out = {
  series: st.series,
  samples: st.samples,
  chunks: st.chunks,
  chunksXor: st.chunksXor,
  chunksDecimal: st.chunksDecimal,
  appendSamplesPerSec: Math.round(total / (appendMs / 1000)),
  appendBatchSamplesPerSec: Math.round(total / (batchMs / 1000)),
  headBytes: st.bytes,
  headBytesPerSample: +(st.bytes / st.samples).toFixed(2),
  chunkBytesPerSample: +(st.chunkBytes / st.samples).toFixed(2),
  select3MatchersMedianUs: +selNarrow.us.toFixed(1),
  select3MatchersSeries: selNarrow.series,
  selectWideMedianUs: +selWide.us.toFixed(1),
  selectWideSeries: selWide.series,
  readSamplesPerSec: Math.round(read / (readMs / 1000)),
};
if (JSON_OUT) console.log(JSON.stringify(out));
else for (const [k, v] of Object.entries(out)) console.log(`${k.padEnd(28)} ${v}`);
