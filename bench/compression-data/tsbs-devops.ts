/**
 * tsbs-devops.ts — a seeded, streaming generator of data shaped like the Time
 * Series Benchmark Suite's "devops" use case (timescale/tsbs,
 * pkg/data/usecases/devops), for the compression bench's bytes-per-sample
 * figures. Pure: no clock, no I/O, no Math.random; one seed reproduces every
 * value.
 *
 * What it models, following TSBS's distributions (pkg/data/usecases/common/
 * distribution.go): per host nine measurements with 101 fields in TSBS's order
 * (the table `TSBS_DEVOPS_FIELDS` below), each a series named
 * `<measurement>_<field>` labelled with the host's ten tags plus the
 * measurement's own tags. A field is one of
 *   - a clamped random walk (CWD): state += N(mean, sd), clamped to [min, max];
 *   - a monotonic random walk (MWD): state += |N(mean, sd)| — TSBS's counters;
 *   - an unclamped random walk (WD);
 *   - a value derived from such a walk (mem and disk) or a constant.
 * The first sample is the initial state at `startMs`; each later sample is one
 * Advance() later, as in TSBS's simulator, which emits before it ticks. Values
 * are cast like TSBS casts them: `int64(x)` truncation for every field TSBS
 * writes with ToPointAllInt64 (cpu included: TSBS today writes `usage_user=58i`)
 * and full float64 for mem's three percentages.
 *
 * How it differs from real TSBS (each difference is on purpose):
 *   1. Random source. TSBS draws everything from Go's global math/rand in
 *      host-interleaved order; here every walk has its own mulberry32 stream
 *      (SeededRand) seeded from (seed, host, stream id), and normals come from
 *      Box–Muller rather than Go's ziggurat. So any one series can be produced
 *      alone, in any order, and the numbers are not TSBS's numbers — only their
 *      distributions are.
 *   2. cpu precision is a choice: `cpuValues: 'int64'` (the default, TSBS
 *      today) or `'float64'` (full-precision doubles, as TSBS's predecessor
 *      influxdb-comparisons wrote them), because the two stress a
 *      decimal-scaled codec very differently.
 *   3. Series, not points: TSBS writes one row per (host, measurement, time)
 *      with all fields; a codec stores one column per field, so this yields one
 *      series per (host, field), host-major in TSBS's field order.
 *   4. Host churn (TSBS's `--initial-scale` and epochs) is not modelled: every
 *      host lives for the whole duration. `metricsPerHost` takes a prefix of
 *      the 101 fields (10 = TSBS's cpu-only use case).
 *   5. TSBS quirks kept as they are: the measurement is spelt `postgresl`, mem
 *      `free` equals `available`, postgres counters and redis `used_cpu_*` are
 *      clamped walks that can go down, `instantaneous_*` walks can dip below 0
 *      (truncated to 0 or -1 like int64() would; -0 is written as 0).
 */
import { assert } from '../../src/errors.js';
import { SeededRand } from '../../src/fs/seeded-rand.js';
import { CompressionBenchLimits } from '../../src/limits.js';
import { assertSeries } from './series.js';
import type { Series } from './series.js';

/**
 * TsbsDevopsLimits bounds a generator run so a typo cannot ask for a terabyte.
 * It is the `tsbsDevops` part of CompressionBenchLimits in src/limits.ts,
 * where its relations to the compression bench's flags are asserted at load.
 */
export const TsbsDevopsLimits = CompressionBenchLimits.tsbsDevops;

/** TsbsDevopsOptions are the knobs of one run; see TSBS_DEVOPS_DEFAULTS for TSBS's own values. */
export interface TsbsDevopsOptions {
  seed: number;
  hosts: number;
  /** A prefix of TSBS_DEVOPS_FIELDS, 1..101; 101 when absent. */
  metricsPerHost?: number;
  intervalMs: number;
  /** Samples per series = floor(durationMs / intervalMs). */
  durationMs: number;
  startMs: number;
  /** How cpu percentages are cast: 'int64' as TSBS does (default) or 'float64'. */
  cpuValues?: 'int64' | 'float64';
}

/** TSBS_DEVOPS_DEFAULTS is TSBS's devops run at scale 100: 10 s interval, one day from 2016-01-01T00:00:00Z. */
export const TSBS_DEVOPS_DEFAULTS: Readonly<Required<TsbsDevopsOptions>> = {
  seed: 1,
  hosts: 100,
  metricsPerHost: 101,
  intervalMs: 10_000,
  durationMs: 86_400_000,
  startMs: Date.UTC(2016, 0, 1),
  cpuValues: 'int64',
};

/** TsbsFieldKind tells a checker what a field may do: a counter never decreases, a percent stays in [0, 100]. */
export type TsbsFieldKind = 'counter' | 'gauge' | 'percent' | 'constant';

type Walk =
  | { readonly kind: 'clamped'; readonly mean: number; readonly sd: number; readonly min: number; readonly max: number; readonly start: number | 'uniform' }
  | { readonly kind: 'monotonic'; readonly mean: number; readonly sd: number }
  | { readonly kind: 'unclamped'; readonly mean: number; readonly sd: number; readonly start: number };

type MemField = 'total' | 'available' | 'used' | 'free' | 'cached' | 'buffered' | 'used_percent' | 'available_percent' | 'buffered_percent';
type DiskField = 'total' | 'free' | 'used' | 'used_percent' | 'inodes_total' | 'inodes_free' | 'inodes_used';

type Source =
  | { readonly from: 'walk'; readonly walk: Walk; readonly cpu: boolean }
  | { readonly from: 'mem'; readonly of: MemField }
  | { readonly from: 'disk'; readonly of: DiskField }
  | { readonly from: 'uptime' }
  | { readonly from: 'bootTime' };

/** TsbsField is one of the 101 per-host metrics: its measurement, field name, kind, and how its values arise. */
export interface TsbsField {
  readonly measurement: string;
  readonly field: string;
  readonly kind: TsbsFieldKind;
  readonly source: Source;
}

const ONE_TERABYTE = 2 ** 40;
const INODE_BYTES = 4096;
const SIXTEEN_GIB = 16 * 2 ** 30;
const MEMORY_TOTAL_CHOICES_BYTES = [8 * 2 ** 30, 12 * 2 ** 30, 16 * 2 ** 30] as const;

const cw = (mean: number, sd: number, min: number, max: number, start: number | 'uniform'): Walk => ({ kind: 'clamped', mean, sd, min, max, start });
const mw = (mean: number, sd: number): Walk => ({ kind: 'monotonic', mean, sd });

function walkFields(measurement: string, kind: TsbsFieldKind, names: readonly string[], walk: Walk, cpu = false): TsbsField[] {
  return names.map((field) => ({ measurement, field, kind, source: { from: 'walk', walk, cpu } }));
}

/**
 * TSBS_DEVOPS_FIELDS lists the 101 fields of one TSBS devops host in TSBS's
 * order, with TSBS's distributions: cpu 10, diskio 7, disk 7, kernel 6, mem 9,
 * net 8, nginx 7, postgresl 16, redis 31.
 */
export const TSBS_DEVOPS_FIELDS: readonly TsbsField[] = [
  ...walkFields('cpu', 'percent', ['usage_user', 'usage_system', 'usage_idle', 'usage_nice', 'usage_iowait', 'usage_irq', 'usage_softirq', 'usage_steal', 'usage_guest', 'usage_guest_nice'], cw(0, 1, 0, 100, 'uniform'), true),
  ...walkFields('diskio', 'counter', ['reads', 'writes'], mw(50, 1)),
  ...walkFields('diskio', 'counter', ['read_bytes', 'write_bytes'], mw(100, 1)),
  ...walkFields('diskio', 'counter', ['read_time', 'write_time', 'io_time'], mw(5, 1)),
  ...(['total', 'free', 'used', 'used_percent', 'inodes_total', 'inodes_free', 'inodes_used'] as const).map(
    (of): TsbsField => ({ measurement: 'disk', field: of, kind: diskKind(of), source: { from: 'disk', of } }),
  ),
  { measurement: 'kernel', field: 'boot_time', kind: 'constant', source: { from: 'bootTime' } },
  ...walkFields('kernel', 'counter', ['interrupts', 'context_switches', 'processes_forked', 'disk_pages_in', 'disk_pages_out'], mw(5, 1)),
  ...(['total', 'available', 'used', 'free', 'cached', 'buffered', 'used_percent', 'available_percent', 'buffered_percent'] as const).map(
    (of): TsbsField => ({ measurement: 'mem', field: of, kind: memKind(of), source: { from: 'mem', of } }),
  ),
  ...walkFields('net', 'counter', ['bytes_sent', 'bytes_recv', 'packets_sent', 'packets_recv'], mw(50, 1)),
  ...walkFields('net', 'counter', ['err_in', 'err_out', 'drop_in', 'drop_out'], mw(5, 1)),
  ...walkFields('nginx', 'counter', ['accepts'], mw(5, 1)),
  ...walkFields('nginx', 'gauge', ['active'], cw(5, 1, 0, 100, 0)),
  ...walkFields('nginx', 'counter', ['handled'], mw(5, 1)),
  ...walkFields('nginx', 'gauge', ['reading'], cw(5, 1, 0, 100, 0)),
  ...walkFields('nginx', 'counter', ['requests'], mw(5, 1)),
  ...walkFields('nginx', 'gauge', ['waiting', 'writing'], cw(5, 1, 0, 100, 0)),
  ...walkFields('postgresl', 'gauge', ['numbackends', 'xact_commit', 'xact_rollback', 'blks_read', 'blks_hit', 'tup_returned', 'tup_fetched', 'tup_inserted', 'tup_updated', 'tup_deleted', 'conflicts', 'temp_files'], cw(5, 1, 0, 1000, 0)),
  ...walkFields('postgresl', 'gauge', ['temp_bytes'], cw(1024, 1, 0, 2 ** 30, 0)),
  ...walkFields('postgresl', 'gauge', ['deadlocks', 'blk_read_time', 'blk_write_time'], cw(5, 1, 0, 1000, 0)),
  { measurement: 'redis', field: 'uptime_in_seconds', kind: 'counter', source: { from: 'uptime' } },
  ...walkFields('redis', 'counter', ['total_connections_received'], mw(5, 1)),
  ...walkFields('redis', 'counter', ['expired_keys', 'evicted_keys', 'keyspace_hits', 'keyspace_misses'], mw(50, 1)),
  ...walkFields('redis', 'gauge', ['instantaneous_ops_per_sec', 'instantaneous_input_kbps', 'instantaneous_output_kbps'], { kind: 'unclamped', mean: 1, sd: 1, start: 0 }),
  ...walkFields('redis', 'gauge', ['connected_clients'], cw(50, 1, 0, 10_000, 0)),
  ...walkFields('redis', 'gauge', ['used_memory', 'used_memory_rss', 'used_memory_peak', 'used_memory_lua'], cw(50, 1, 0, SIXTEEN_GIB, SIXTEEN_GIB / 2)),
  ...walkFields('redis', 'gauge', ['rdb_changes_since_last_save'], cw(50, 1, 0, 10_000, 0)),
  ...walkFields('redis', 'gauge', ['sync_full', 'sync_partial_ok', 'sync_partial_err', 'pubsub_channels', 'pubsub_patterns', 'latest_fork_usec', 'connected_slaves', 'master_repl_offset', 'repl_backlog_active', 'repl_backlog_size', 'repl_backlog_histlen'], cw(5, 1, 0, 1000, 0)),
  ...walkFields('redis', 'gauge', ['mem_fragmentation_ratio'], cw(5, 1, 0, 100, 0)),
  ...walkFields('redis', 'gauge', ['used_cpu_sys', 'used_cpu_user', 'used_cpu_sys_children', 'used_cpu_user_children'], cw(5, 1, 0, 1000, 0)),
];

function diskKind(of: DiskField): TsbsFieldKind {
  if (of === 'total' || of === 'inodes_total') return 'constant';
  return of === 'used_percent' ? 'percent' : 'gauge';
}

function memKind(of: MemField): TsbsFieldKind {
  if (of === 'total') return 'constant';
  return of.endsWith('_percent') ? 'percent' : 'gauge';
}

/** TSBS_DEVOPS_METRICS_PER_HOST is TSBS's count of devops fields per host. */
export const TSBS_DEVOPS_METRICS_PER_HOST = 101;
assert(TSBS_DEVOPS_FIELDS.length === TSBS_DEVOPS_METRICS_PER_HOST, 'the field table has TSBS devops 101 fields');

// Stream ids: a walk field uses its index in TSBS_DEVOPS_FIELDS; the shared
// walks of mem and disk and the host profile use ids past the table.
const STREAM_PROFILE = 1000;
const STREAM_MEM_USED = 1001;
const STREAM_MEM_CACHED = 1002;
const STREAM_MEM_BUFFERED = 1003;
const STREAM_DISK_FREE = 1004;

/** HostProfile is everything about a host that is fixed for its life: its tags and TSBS's per-host constants. */
interface HostProfile {
  readonly hostTags: Readonly<Record<string, string>>;
  readonly measurementTags: Readonly<Record<string, Readonly<Record<string, string>>>>;
  readonly memTotalBytes: number;
  readonly bootTime: number;
}

const REGIONS: readonly { readonly name: string; readonly datacenters: readonly string[] }[] = [
  { name: 'us-east-1', datacenters: ['us-east-1a', 'us-east-1b', 'us-east-1c', 'us-east-1e'] },
  { name: 'us-west-1', datacenters: ['us-west-1a', 'us-west-1b'] },
  { name: 'us-west-2', datacenters: ['us-west-2a', 'us-west-2b', 'us-west-2c'] },
  { name: 'eu-west-1', datacenters: ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'] },
  { name: 'eu-central-1', datacenters: ['eu-central-1a', 'eu-central-1b'] },
  { name: 'ap-southeast-1', datacenters: ['ap-southeast-1a', 'ap-southeast-1b'] },
  { name: 'ap-southeast-2', datacenters: ['ap-southeast-2a', 'ap-southeast-2b'] },
  { name: 'ap-northeast-1', datacenters: ['ap-northeast-1a', 'ap-northeast-1c'] },
  { name: 'sa-east-1', datacenters: ['sa-east-1a', 'sa-east-1b', 'sa-east-1c'] },
];
const TEAMS = ['SF', 'NYC', 'LON', 'CHI'] as const;
const OSES = ['Ubuntu16.10', 'Ubuntu16.04LTS', 'Ubuntu15.10'] as const;
const ARCHES = ['x64', 'x86'] as const;
const ENVIRONMENTS = ['production', 'staging', 'test'] as const;
const FS_TYPES = ['ext3', 'ext4', 'btrfs'] as const;

function pick<T>(rand: SeededRand, choices: readonly T[]): T {
  const choice = choices[rand.intn(choices.length)];
  assert(choice !== undefined, 'pick from a non-empty list');
  return choice;
}

function hostProfile(seed: number, host: number): HostProfile {
  const rand = new SeededRand(streamSeed(seed, host, STREAM_PROFILE));
  const region = pick(rand, REGIONS);
  const hostTags = {
    hostname: `host_${host}`,
    region: region.name,
    datacenter: pick(rand, region.datacenters),
    rack: String(rand.intn(100)),
    os: pick(rand, OSES),
    arch: pick(rand, ARCHES),
    team: pick(rand, TEAMS),
    service: String(rand.intn(20)),
    service_version: String(rand.intn(2)),
    service_environment: pick(rand, ENVIRONMENTS),
  };
  const pad3 = (n: number): string => String(n).padStart(3, '0');
  const measurementTags = {
    diskio: { serial: `${pad3(rand.intn(1000))}-${pad3(rand.intn(1000))}-${pad3(rand.intn(1000))}` },
    disk: { path: `/dev/sda${rand.intn(10)}`, fstype: pick(rand, FS_TYPES) },
    net: { interface: `eth${rand.intn(4)}` },
    nginx: { port: String(rand.intn(20_000) + 1024), server: `nginx_${rand.intn(100_000)}` },
    redis: { port: String(rand.intn(20_000) + 1024), server: `redis_${rand.intn(100_000)}` },
  };
  return { hostTags, measurementTags, memTotalBytes: pick(rand, MEMORY_TOTAL_CHOICES_BYTES), bootTime: rand.intn(240) };
}

/** fmix32 is MurmurHash3's finalizer: a bijection on 32 bits that spreads every input bit. */
function fmix32(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** streamSeed derives the independent stream of one (seed, host, stream id). */
function streamSeed(seed: number, host: number, stream: number): number {
  let h = fmix32(seed >>> 0);
  h = fmix32(h ^ Math.floor(seed / 0x1_0000_0000));
  h = fmix32(h ^ Math.imul(host + 1, 0x9e3779b9));
  return fmix32(h ^ Math.imul(stream + 1, 0x7f4a7c15));
}

/** NormalSource turns a SeededRand into N(0, 1) draws by Box–Muller, keeping the second draw of each pair. */
class NormalSource {
  readonly #rand: SeededRand;
  #spare: number | undefined = undefined;

  constructor(rand: SeededRand) {
    this.#rand = rand;
  }

  /** uniform returns a double in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.#rand.nextU32() >>> 5;
    const lo = this.#rand.nextU32() >>> 6;
    return (hi * 67_108_864 + lo) / 9_007_199_254_740_992;
  }

  next(): number {
    const spare = this.#spare;
    if (spare !== undefined) {
      this.#spare = undefined;
      return spare;
    }
    const u1 = 1 - this.uniform(); // (0, 1]: log stays finite
    const u2 = this.uniform();
    const radius = Math.sqrt(-2 * Math.log(u1));
    this.#spare = radius * Math.sin(2 * Math.PI * u2);
    return radius * Math.cos(2 * Math.PI * u2);
  }
}

/** walkColumn returns the walk's state at ticks 0..count-1; tick 0 is the initial state, as TSBS emits before it ticks. */
function walkColumn(walk: Walk, seed: number, host: number, stream: number, count: number): Float64Array {
  const normal = new NormalSource(new SeededRand(streamSeed(seed, host, stream)));
  const out = new Float64Array(count);
  let state: number;
  switch (walk.kind) {
    case 'clamped':
      state = walk.start === 'uniform' ? walk.min + normal.uniform() * (walk.max - walk.min) : walk.start;
      break;
    case 'monotonic':
      state = 0;
      break;
    case 'unclamped':
      state = walk.start;
      break;
  }
  for (let i = 0; i < count; i++) {
    if (i > 0) {
      const step = normal.next() * walk.sd + walk.mean;
      if (walk.kind === 'monotonic') {
        state += Math.abs(step);
      } else {
        state += step;
        if (walk.kind === 'clamped') state = Math.min(walk.max, Math.max(walk.min, state));
      }
    }
    out[i] = state;
  }
  return out;
}

/** int64 is Go's int64(x) for a float: truncation toward zero, with -0 written as 0. */
function int64(x: number): number {
  return Math.trunc(x) + 0;
}

function mapColumn(column: Float64Array, f: (x: number) => number): Float64Array {
  for (let i = 0; i < column.length; i++) column[i] = f(column[i]!);
  return column;
}

function fieldValues(spec: TsbsField, index: number, profile: HostProfile, opts: ResolvedOptions, host: number): Float64Array {
  const { seed, sampleCount } = opts;
  const source = spec.source;
  switch (source.from) {
    case 'walk': {
      const column = walkColumn(source.walk, seed, host, index, sampleCount);
      return source.cpu && opts.cpuValues === 'float64' ? column : mapColumn(column, int64);
    }
    case 'uptime': {
      const column = new Float64Array(sampleCount);
      for (let i = 0; i < sampleCount; i++) column[i] = int64((i * opts.intervalMs) / 1000);
      return column;
    }
    case 'bootTime':
      return new Float64Array(sampleCount).fill(profile.bootTime);
    case 'mem':
      return memValues(source.of, profile.memTotalBytes, seed, host, sampleCount);
    case 'disk':
      return diskValues(source.of, seed, host, sampleCount);
  }
}

function memValues(of: MemField, total: number, seed: number, host: number, count: number): Float64Array {
  // TSBS: used, cached and buffered are CWD(ND(0, total/64), 0, total, U*total); everything else derives.
  const walk = cw(0, total / 64, 0, total, 'uniform');
  const stream = of === 'cached' ? STREAM_MEM_CACHED : of === 'buffered' || of === 'buffered_percent' ? STREAM_MEM_BUFFERED : STREAM_MEM_USED;
  const column = mapColumn(walkColumn(walk, seed, host, stream, count), int64);
  switch (of) {
    case 'total':
      return column.fill(total);
    case 'used':
    case 'cached':
    case 'buffered':
      return column;
    case 'available':
    case 'free': // TSBS writes `available` as `free` too (its own TODO says the model is broken).
      return mapColumn(column, (used) => total - used);
    case 'used_percent':
      return mapColumn(column, (used) => 100 * (used / total));
    case 'available_percent':
      return mapColumn(column, (used) => 100 * ((total - used) / total));
    case 'buffered_percent':
      return mapColumn(column, (buffered) => (100 * buffered) / total);
  }
}

function diskValues(of: DiskField, seed: number, host: number, count: number): Float64Array {
  // TSBS: only the free byte count moves, CWD(ND(50, 1), 0, 1 TiB, 1/2 TiB); total is 1 TiB.
  const column = mapColumn(walkColumn(cw(50, 1, 0, ONE_TERABYTE, ONE_TERABYTE / 2), seed, host, STREAM_DISK_FREE, count), int64);
  const inodesTotal = Math.floor(ONE_TERABYTE / INODE_BYTES);
  switch (of) {
    case 'total':
      return column.fill(ONE_TERABYTE);
    case 'free':
      return column;
    case 'used':
      return mapColumn(column, (free) => ONE_TERABYTE - free);
    case 'used_percent':
      return mapColumn(column, (free) => int64(100 * ((ONE_TERABYTE - free) / ONE_TERABYTE)));
    case 'inodes_total':
      return column.fill(inodesTotal);
    case 'inodes_free':
      return mapColumn(column, (free) => Math.floor(free / INODE_BYTES));
    case 'inodes_used':
      return mapColumn(column, (free) => inodesTotal - Math.floor(free / INODE_BYTES));
  }
}

interface ResolvedOptions {
  readonly seed: number;
  readonly hosts: number;
  readonly metricsPerHost: number;
  readonly intervalMs: number;
  readonly startMs: number;
  readonly sampleCount: number;
  readonly cpuValues: 'int64' | 'float64';
}

function resolveOptions(opts: TsbsDevopsOptions): ResolvedOptions {
  const metricsPerHost = opts.metricsPerHost ?? TSBS_DEVOPS_METRICS_PER_HOST;
  assert(Number.isSafeInteger(opts.seed), 'seed is a safe integer');
  assert(Number.isSafeInteger(opts.hosts) && opts.hosts >= 1, 'hosts >= 1');
  assert(opts.hosts <= TsbsDevopsLimits.hostsMax, 'hosts <= hostsMax');
  assert(Number.isSafeInteger(metricsPerHost) && metricsPerHost >= 1, 'metricsPerHost >= 1');
  assert(metricsPerHost <= TSBS_DEVOPS_METRICS_PER_HOST, 'metricsPerHost <= 101');
  assert(Number.isSafeInteger(opts.intervalMs) && opts.intervalMs >= TsbsDevopsLimits.intervalMsMin, 'intervalMs is a positive integer');
  assert(Number.isSafeInteger(opts.startMs), 'startMs is an integer');
  assert(Number.isFinite(opts.durationMs) && opts.durationMs >= opts.intervalMs, 'durationMs >= intervalMs');
  const sampleCount = Math.floor(opts.durationMs / opts.intervalMs);
  assert(sampleCount <= TsbsDevopsLimits.samplesPerSeriesMax, 'samples per series <= samplesPerSeriesMax');
  return { seed: opts.seed, hosts: opts.hosts, metricsPerHost, intervalMs: opts.intervalMs, startMs: opts.startMs, sampleCount, cpuValues: opts.cpuValues ?? 'int64' };
}

/** tsbsDevopsSeriesCount is how many series a run yields: hosts × metricsPerHost. */
export function tsbsDevopsSeriesCount(opts: TsbsDevopsOptions): number {
  const resolved = resolveOptions(opts);
  return resolved.hosts * resolved.metricsPerHost;
}

/**
 * tsbsDevopsSeriesAt builds the one series of (host, metric) without building
 * any other: every walk has its own stream, so the result does not depend on
 * which series were asked for before.
 */
export function tsbsDevopsSeriesAt(opts: TsbsDevopsOptions, host: number, metric: number): Series {
  const resolved = resolveOptions(opts);
  assert(Number.isSafeInteger(host) && host >= 0 && host < resolved.hosts, 'host in [0, hosts)');
  assert(Number.isSafeInteger(metric) && metric >= 0 && metric < resolved.metricsPerHost, 'metric in [0, metricsPerHost)');
  return buildSeries(resolved, hostProfile(resolved.seed, host), host, metric);
}

function buildSeries(opts: ResolvedOptions, profile: HostProfile, host: number, metric: number): Series {
  const spec = TSBS_DEVOPS_FIELDS[metric];
  assert(spec !== undefined, 'metric indexes the field table');
  const timestampsMs = new Float64Array(opts.sampleCount);
  for (let i = 0; i < opts.sampleCount; i++) timestampsMs[i] = opts.startMs + i * opts.intervalMs;
  const values = fieldValues(spec, metric, profile, opts, host);
  const series: Series = {
    name: `${spec.measurement}_${spec.field}`,
    labels: { ...profile.hostTags, ...profile.measurementTags[spec.measurement] },
    timestampsMs,
    values,
  };
  assertSeries(series);
  return series;
}

/**
 * tsbsDevopsSeries yields every series of a run, host by host in TSBS's field
 * order, building each only when asked: the caller holds one series at a time
 * rather than hosts × 101 × samples values.
 */
export function* tsbsDevopsSeries(opts: TsbsDevopsOptions): Generator<Series> {
  const resolved = resolveOptions(opts);
  for (let host = 0; host < resolved.hosts; host++) {
    const profile = hostProfile(resolved.seed, host);
    for (let metric = 0; metric < resolved.metricsPerHost; metric++) {
      yield buildSeries(resolved, profile, host, metric);
    }
  }
}
