/**
 * compression.ts — `node dist/bench/compression.js [--hosts N] [--hours H] [--json]`:
 * bytes per sample of the metric chunk codecs on two workloads, plain Gorilla
 * XOR (the baseline) against the per-chunk choice of the smallest encoding
 * (SeriesEncoder, what the store writes), in the same run.
 *
 * (a) TSBS devops (bench/compression-data/tsbs-devops.ts): --hosts × 101
 *     metrics × --hours at 10 s, TSBS's int64 cpu; streamed one series at a
 *     time, so memory stays at one series whatever the size.
 * (b) The committed real capture of a Node.js process's OpenTelemetry
 *     runtime + host metrics (fixtures/node-runtime-60s.json): 90 series of at
 *     most 60 samples at 1 s.
 *
 * For every series and every chunk size in CompressionBenchLimits.chunkSamplesList
 * (120, the codec default, then 240 and 480) the series is cut into chunks,
 * each chunk is encoded both ways, and both encodings are decoded again and
 * compared with the input bit for bit (timestamps and the values' float64
 * patterns); a mismatch throws ERR_CORRUPTION and aborts the run. Bytes per
 * sample = total encoded chunk bytes (headers included) / samples. Series
 * names and labels are not counted: they live in the index, not in chunks.
 *
 * Invariants (CompressionTally): for every chunk the choice is never larger
 * than plain XOR (it picks the smallest of plain XOR, compact XOR, compact
 * decimal and rational, and its plain XOR is the
 * same encoding); the "all" group's series, samples and bytes are the sums of
 * the per-kind groups. The tally is pure: the shell at the bottom reads the
 * fixture, measures time and prints.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { OtlpdbError, assert } from '../src/errors.js';
import { CompressionBenchLimits } from '../src/limits.js';
import { BitWriter, ChunkEncoding, ChunkIterator, SeriesEncoder, encodeChunk } from '../src/storage/codec/index.js';
import { TSBS_DEVOPS_DEFAULTS, TSBS_DEVOPS_FIELDS, seriesFromFile, tsbsDevopsSeries } from './compression-data/index.js';
import type { Series, TsbsFieldKind } from './compression-data/index.js';
import { type StoreBlockFigures, formatStoreBlocks, measureStoreBlocks } from './compression-store.js';

/** MetricKind is the breakdown key: TSBS's field kinds, which the Node capture's series are mapped onto by name. */
export type MetricKind = TsbsFieldKind;

/** METRIC_KINDS lists the kinds in report order. */
export const METRIC_KINDS: readonly MetricKind[] = ['counter', 'gauge', 'percent', 'constant'];

/** PathFigures are the totals of one encoding path at one chunk size. */
export interface PathFigures {
  bytes: number;
  chunks: number;
  /** decimalChunks counts the chunks written as decimal, legacy or compact (always 0 for plain XOR). */
  decimalChunks: number;
  /** rationalChunks counts the chunks written as rational (always 0 for plain XOR). */
  rationalChunks: number;
}

/** SizeFigures compare plain XOR and the per-chunk choice at one chunk size. */
export interface SizeFigures {
  readonly chunkSamples: number;
  readonly plain: PathFigures;
  readonly choice: PathFigures;
}

/** GroupFigures are the totals of a group of series (one kind, or all). */
export interface GroupFigures {
  series: number;
  samples: number;
  readonly sizes: SizeFigures[];
}

function emptyGroup(chunkSamplesList: readonly number[]): GroupFigures {
  return {
    series: 0,
    samples: 0,
    sizes: chunkSamplesList.map((chunkSamples) => ({
      chunkSamples,
      plain: { bytes: 0, chunks: 0, decimalChunks: 0, rationalChunks: 0 },
      choice: { bytes: 0, chunks: 0, decimalChunks: 0, rationalChunks: 0 },
    })),
  };
}

/**
 * verifyChunk decodes `bytes` and checks that it holds exactly the samples
 * [start, end) of the series: same count, same timestamps, same float64 bit
 * patterns (valueBits is a Uint32Array view of the value column, low word
 * first). It throws ERR_CORRUPTION naming the first difference; the bench
 * lets that abort the run.
 */
export function verifyChunk(
  bytes: Uint8Array,
  timestampsMs: Float64Array,
  valueBits: Uint32Array,
  start: number,
  end: number,
  it: ChunkIterator,
  label: string,
): void {
  assert(start >= 0 && start <= end, 'verifyChunk: 0 <= start <= end');
  assert(end <= timestampsMs.length && 2 * end <= valueBits.length, 'verifyChunk: end within the columns');
  const fail = (what: string, details: Record<string, unknown>): OtlpdbError =>
    new OtlpdbError('ERR_CORRUPTION', `compression bench: ${label}: chunk of samples [${start}, ${end}) does not round-trip: ${what}`, details);
  it.reset(bytes);
  if (it.count !== end - start) throw fail('sample count differs', { want: end - start, got: it.count });
  for (let i = start; i < end; i++) {
    if (!it.next()) throw fail('chunk ends early', { sample: i });
    if (it.t !== timestampsMs[i]) throw fail('timestamp differs', { sample: i, want: timestampsMs[i], got: it.t });
    if (it.vHi >>> 0 !== valueBits[2 * i + 1] || it.vLo >>> 0 !== valueBits[2 * i]) {
      throw fail('value bits differ', { sample: i, got: it.v });
    }
  }
  if (it.next()) throw fail('chunk holds extra samples', {});
}

/**
 * CompressionTally encodes series chunk by chunk, both ways and at every chunk
 * size, verifies every chunk, and keeps the byte totals per metric kind. It
 * holds no series: add() forgets each one when it returns.
 */
export class CompressionTally {
  readonly #chunkSamplesList: readonly number[];
  readonly #writer = new BitWriter();
  readonly #encoder = new SeriesEncoder();
  readonly #it = new ChunkIterator();
  readonly #all: GroupFigures;
  // Bounded by construction: one entry per MetricKind.
  readonly #byKind = new Map<MetricKind, GroupFigures>();

  constructor(chunkSamplesList: readonly number[] = CompressionBenchLimits.chunkSamplesList) {
    assert(chunkSamplesList.length >= 1, 'CompressionTally: at least one chunk size');
    for (const n of chunkSamplesList) assert(Number.isSafeInteger(n) && n >= 1, 'CompressionTally: chunk sizes are positive integers');
    this.#chunkSamplesList = chunkSamplesList;
    this.#all = emptyGroup(chunkSamplesList);
  }

  /** add encodes and verifies one series; it throws ERR_CORRUPTION if any chunk fails to round-trip. */
  add(series: Series, kind: MetricKind): void {
    const { timestampsMs, values } = series;
    const n = values.length;
    assert(timestampsMs.length === n, 'CompressionTally.add: columns of one length');
    let group = this.#byKind.get(kind);
    if (group === undefined) {
      group = emptyGroup(this.#chunkSamplesList);
      this.#byKind.set(kind, group);
    }
    const valueBits = new Uint32Array(values.buffer, values.byteOffset, 2 * n);
    for (let k = 0; k < this.#chunkSamplesList.length; k++) {
      const chunkSamples = this.#chunkSamplesList[k]!;
      const mine = group.sizes[k]!;
      const total = this.#all.sizes[k]!;
      for (let start = 0; start < n; start += chunkSamples) {
        const end = Math.min(n, start + chunkSamples);
        const ts = timestampsMs.subarray(start, end);
        const vs = values.subarray(start, end);
        const plain = encodeChunk(ts, vs, this.#writer);
        verifyChunk(plain, timestampsMs, valueBits, start, end, this.#it, `${series.name} plain XOR`);
        const choice = this.#encoder.encodeChunk(ts, vs);
        verifyChunk(choice, timestampsMs, valueBits, start, end, this.#it, `${series.name} per-chunk choice`);
        assert(choice.length <= plain.length, 'the per-chunk choice is never larger than plain XOR');
        const decimal = choice[1] === ChunkEncoding.Decimal || choice[1] === ChunkEncoding.DecimalCompact ? 1 : 0;
        const rational = choice[1] === ChunkEncoding.Rational ? 1 : 0;
        for (const figures of [mine, total]) {
          figures.plain.bytes += plain.length;
          figures.plain.chunks++;
          figures.choice.bytes += choice.length;
          figures.choice.chunks++;
          figures.choice.decimalChunks += decimal;
          figures.choice.rationalChunks += rational;
        }
      }
    }
    group.series++;
    group.samples += n;
    this.#all.series++;
    this.#all.samples += n;
  }

  /** figures returns the totals so far: all series, and per kind in METRIC_KINDS order (kinds never seen are left out). */
  figures(): { all: GroupFigures; byKind: { kind: MetricKind; group: GroupFigures }[] } {
    const byKind = METRIC_KINDS.flatMap((kind) => {
      const group = this.#byKind.get(kind);
      return group === undefined ? [] : [{ kind, group }];
    });
    assert(byKind.reduce((a, g) => a + g.group.samples, 0) === this.#all.samples, 'per-kind samples sum to all');
    assert(byKind.reduce((a, g) => a + g.group.series, 0) === this.#all.series, 'per-kind series sum to all');
    return { all: this.#all, byKind };
  }
}

/** TsbsRunOptions are the bench's flags for workload (a). */
export interface TsbsRunOptions {
  readonly hosts: number;
  readonly hours: number;
}

/**
 * tallyTsbsDevops streams the TSBS-devops series of `hosts` × 101 metrics ×
 * `hours` through a tally; onHost (the shell's progress line) runs after each host.
 */
export function tallyTsbsDevops(opts: TsbsRunOptions, tally: CompressionTally, onHost?: (host: number) => void): void {
  assert(Number.isSafeInteger(opts.hosts) && opts.hosts >= 1, 'tallyTsbsDevops: hosts >= 1');
  assert(Number.isSafeInteger(opts.hours) && opts.hours >= 1, 'tallyTsbsDevops: hours >= 1');
  const metricsPerHost = TSBS_DEVOPS_FIELDS.length;
  let index = 0;
  for (const series of tsbsDevopsSeries({ ...TSBS_DEVOPS_DEFAULTS, hosts: opts.hosts, durationMs: opts.hours * 3_600_000 })) {
    const field = TSBS_DEVOPS_FIELDS[index % metricsPerHost];
    assert(field !== undefined && series.name === `${field.measurement}_${field.field}`, 'TSBS series come in field-table order');
    tally.add(series, field.kind);
    index++;
    if (index % metricsPerHost === 0) onHost?.(index / metricsPerHost - 1);
  }
  assert(index === opts.hosts * metricsPerHost, 'tallyTsbsDevops: every series was tallied');
}

/**
 * nodeRuntimeKind maps an OpenTelemetry metric name of the Node capture to a
 * kind. The capture keeps no instrument types, so it goes by the semantic
 * conventions' names: `*.utilization` are ratios in [0, 1] (percents);
 * `*.time`, histogram `_sum`/`_count` and `system.network.*` are cumulative
 * sums (counters); everything else is a gauge.
 */
export function nodeRuntimeKind(name: string): MetricKind {
  if (name.endsWith('.utilization')) return 'percent';
  if (name.endsWith('.time') || name.endsWith('_sum') || name.endsWith('_count') || name.startsWith('system.network.')) return 'counter';
  return 'gauge';
}

/** tallyNodeRuntime runs the Node capture's series through a tally. */
export function tallyNodeRuntime(series: readonly Series[], tally: CompressionTally): void {
  assert(series.length >= 1, 'tallyNodeRuntime: the capture has series');
  for (const s of series) tally.add(s, nodeRuntimeKind(s.name));
}

/** FigureRow is one printed line: a kind (or "all") at one chunk size. */
export interface FigureRow {
  kind: MetricKind | 'all';
  chunkSamples: number;
  series: number;
  samples: number;
  plainBytesPerSample: number;
  choiceBytesPerSample: number;
  /** choiceOverPlain is choice bytes / plain bytes: below 1 is the decimal encoding's gain. */
  choiceOverPlain: number;
  decimalChunks: string;
  rationalChunks: string;
}

function rowsOf(kind: MetricKind | 'all', group: GroupFigures): FigureRow[] {
  return group.sizes.map((size) => ({
    kind,
    chunkSamples: size.chunkSamples,
    series: group.series,
    samples: group.samples,
    plainBytesPerSample: group.samples === 0 ? 0 : size.plain.bytes / group.samples,
    choiceBytesPerSample: group.samples === 0 ? 0 : size.choice.bytes / group.samples,
    choiceOverPlain: size.plain.bytes === 0 ? 1 : size.choice.bytes / size.plain.bytes,
    decimalChunks: `${size.choice.decimalChunks}/${size.choice.chunks}`,
    rationalChunks: `${size.choice.rationalChunks}/${size.choice.chunks}`,
  }));
}

/** WorkloadReport is one workload's figures and its verdict against the target. */
export interface WorkloadReport {
  workload: string;
  series: number;
  samples: number;
  elapsedMs: number;
  rows: FigureRow[];
  /** store is the store measure (compression-store.ts) when the workload ran through the store. */
  store?: StoreBlockFigures;
  /**
   * targetBytesPerSample judges bytesPerSample: the store measure when there
   * is one, else choiceBytesPerSample of all series at the first (default)
   * chunk size.
   */
  targetBytesPerSample: number;
  bytesPerSample: number;
  targetMet: boolean;
}

/**
 * workloadReport turns a finished tally into rows (per kind, then all) and the
 * target verdict: on the store measure when given (its samples must be the
 * tally's), else on the per-chunk choice.
 */
export function workloadReport(workload: string, tally: CompressionTally, targetBytesPerSample: number, elapsedMs: number, store?: StoreBlockFigures): WorkloadReport {
  const { all, byKind } = tally.figures();
  const rows = [...byKind.flatMap(({ kind, group }) => rowsOf(kind, group)), ...rowsOf('all', all)];
  const judged = rows.find((r) => r.kind === 'all' && r.chunkSamples === all.sizes[0]!.chunkSamples);
  assert(judged !== undefined, 'the all row at the default chunk size exists');
  if (store !== undefined) assert(store.samples === all.samples && store.series === all.series, 'the store measure saw the tally\'s series');
  const bytesPerSample = store === undefined ? judged.choiceBytesPerSample : store.bytesPerSample;
  return {
    workload,
    series: all.series,
    samples: all.samples,
    elapsedMs,
    rows,
    ...(store === undefined ? {} : { store }),
    targetBytesPerSample,
    bytesPerSample,
    targetMet: bytesPerSample <= targetBytesPerSample,
  };
}

/** formatReport renders one workload as a text table with its target line. */
export function formatReport(report: WorkloadReport): string {
  const header = ['kind', 'chunk', 'series', 'samples', 'plain B/sample', 'choice B/sample', 'choice/plain', 'decimal chunks', 'rational chunks'];
  const cells = report.rows.map((r) => [
    r.kind,
    String(r.chunkSamples),
    r.series.toLocaleString('en-US'),
    r.samples.toLocaleString('en-US'),
    r.plainBytesPerSample.toFixed(3),
    r.choiceBytesPerSample.toFixed(3),
    r.choiceOverPlain.toFixed(3),
    r.decimalChunks,
    r.rationalChunks,
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...cells.map((row) => row[c]!.length)));
  const line = (row: string[]): string => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  const verdict = report.targetMet ? 'met' : 'NOT met';
  const measure =
    report.store === undefined
      ? `choice, all series, ${report.rows[0]?.chunkSamples ?? '?'} samples per chunk`
      : `store chunk blocks, ${report.store.chunkSamples} samples per chunk`;
  return [
    `${report.workload}: ${report.series.toLocaleString('en-US')} series, ${report.samples.toLocaleString('en-US')} samples, ${(report.elapsedMs / 1000).toFixed(1)} s`,
    line(header),
    ...cells.map(line),
    ...(report.store === undefined ? [] : [formatStoreBlocks(report.store)]),
    `target <= ${report.targetBytesPerSample.toFixed(1)} B/sample (${measure}): ${report.bytesPerSample.toFixed(3)} — ${verdict}`,
  ].join('\n');
}

// ---- shell: flags, the fixture file, the clock, printing ----

function intFlag(argv: readonly string[], name: string, fallback: number, max: number): number {
  const i = argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(argv[i + 1]) : fallback;
  if (!Number.isSafeInteger(v) || v < 1 || v > max) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `bench/compression: --${name} must be an integer in [1, ${max}]`, { value: argv[i + 1] });
  }
  return v;
}

/** parseCompressionArgs reads --hosts, --hours and --json, bounded by CompressionBenchLimits. */
export function parseCompressionArgs(argv: readonly string[]): TsbsRunOptions & { json: boolean } {
  return {
    hosts: intFlag(argv, 'hosts', CompressionBenchLimits.hostsDefault, CompressionBenchLimits.tsbsDevops.hostsMax),
    hours: intFlag(argv, 'hours', CompressionBenchLimits.hoursDefault, CompressionBenchLimits.hoursMax),
    json: argv.includes('--json'),
  };
}

/** NODE_RUNTIME_FIXTURE is the committed capture workload (b) is judged on. */
export const NODE_RUNTIME_FIXTURE = 'node-runtime-60s.json';
/** NODE_RUNTIME_LONG_FIXTURE is the longer committed capture of the same tooling, reported as an extra, labelled row (b+). */
export const NODE_RUNTIME_LONG_FIXTURE = 'node-runtime-10m.json';

/** nodeRuntimeFixturePath finds a committed capture from bench/ (tsx) or dist/bench/ (node). */
export function nodeRuntimeFixturePath(file: string = NODE_RUNTIME_FIXTURE): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 4; depth++) {
    const candidate = join(dir, 'bench', 'compression-data', 'fixtures', file);
    if (existsSync(candidate)) return candidate;
    const sibling = join(dir, 'compression-data', 'fixtures', file);
    if (existsSync(sibling)) return sibling;
    dir = dirname(dir);
  }
  throw new OtlpdbError('ERR_NOT_FOUND', `bench/compression: cannot find bench/compression-data/fixtures/${file}`);
}

/**
 * runNodeRuntime measures workload (b) from a committed capture: per chunk
 * (the table) and through the store (the chunk blocks it writes, which the
 * target judges).
 */
export async function runNodeRuntime(path: string = nodeRuntimeFixturePath(), title = '(b) Node.js runtime + host metrics, real 60 s capture at 1 s (fixtures/node-runtime-60s.json)'): Promise<WorkloadReport> {
  const startMs = performance.now();
  const { series } = seriesFromFile(readFileSync(path, 'utf8'));
  const tally = new CompressionTally();
  tallyNodeRuntime(series, tally);
  const store = await measureStoreBlocks(series, CompressionBenchLimits.chunkSamplesList[0]);
  return workloadReport(title, tally, CompressionBenchLimits.nodeRuntimeBytesPerSampleTarget, performance.now() - startMs, store);
}

/** runNodeRuntimeLong measures the longer capture (b+), the same way as (b). */
export async function runNodeRuntimeLong(): Promise<WorkloadReport> {
  return runNodeRuntime(nodeRuntimeFixturePath(NODE_RUNTIME_LONG_FIXTURE), '(b+) extra: the same tooling, a longer real capture, 10 min at 1 s (fixtures/node-runtime-10m.json; not the target\'s data)');
}

/** runTsbsDevops measures workload (a); onHost gets each finished host index (progress). */
export function runTsbsDevops(opts: TsbsRunOptions, onHost?: (host: number) => void): WorkloadReport {
  const startMs = performance.now();
  const tally = new CompressionTally();
  tallyTsbsDevops(opts, tally, onHost);
  return workloadReport(
    `(a) TSBS devops, ${opts.hosts} hosts × ${TSBS_DEVOPS_FIELDS.length} metrics × ${opts.hours} h at 10 s, int64 cpu (seed ${TSBS_DEVOPS_DEFAULTS.seed})`,
    tally,
    CompressionBenchLimits.tsbsBytesPerSampleTarget,
    performance.now() - startMs,
  );
}

async function main(): Promise<void> {
  const args = parseCompressionArgs(process.argv.slice(2));
  const nodeRuntime = await runNodeRuntime();
  const nodeRuntimeLong = await runNodeRuntimeLong();
  const step = Math.max(1, Math.floor(args.hosts / 10));
  const tsbs = runTsbsDevops(args, (host) => {
    if ((host + 1) % step === 0) process.stderr.write(`bench/compression: TSBS host ${host + 1}/${args.hosts}\n`);
  });
  if (args.json) {
    console.log(
      JSON.stringify(
        {
          bytesCounted: 'rows: encoded chunk bytes incl. chunk headers; store: the chunk block values the metrics store wrote (envelope, framing, shared timestamp columns, chunks); no keys, series names or labels',
          tsbs,
          nodeRuntime,
          nodeRuntimeLong,
        },
        null,
        2,
      ),
    );
    return;
  }
  console.log('bench/compression: bytes per sample = encoded chunk bytes (chunk headers included) / samples;');
  console.log('series names and labels are not counted. plain = Gorilla XOR only; choice = per chunk the smallest of');
  console.log('plain XOR, compact XOR, compact decimal and rational (compact = varint t0 + Rice-coded timestamp jitter).');
  console.log('Every chunk of both paths was decoded and compared bit for bit with its input. The Node captures also');
  console.log('went through the metrics store (add, one flush into LevelDB, select): "store" counts the chunk block values');
  console.log('it wrote (envelope, framing, shared timestamp columns, value chunks) and every sample read back bit for bit.\n');
  console.log(formatReport(tsbs));
  console.log('');
  console.log(formatReport(nodeRuntime));
  console.log('');
  console.log(formatReport(nodeRuntimeLong));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
