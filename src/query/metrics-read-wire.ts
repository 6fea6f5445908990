/**
 * metrics-read-wire.ts — the peer frames of a shard's part of a Prometheus
 * read (metrics-read.ts):
 *
 *   shard.metricsRead  request  [op, group, tenant, consistency, body]
 *                      answer   [stats, seriesRead, samplesRead, series, rollupPointsRead]
 *
 *   op 'select'  body = [matchers, startMs, endMs, seriesMax, samplesMax, resolution, aggregate]
 *                resolution 'raw' (samples) or '5m' / '1h' (one point per rollup window at its lastT
 *                carrying aggregate min | max | sum | count | last; promql/source.ts SelectRollup);
 *                a 5-field body (a node before rollups) reads raw
 *   op 'series'  body = [matchers, startMs, endMs, seriesMax, samplesMax]   (answers labels only)
 *   op 'metadata' body = [matchers, startMs, endMs, seriesMax, samplesMax]  (answers one label set per
 *                family: __name__ = its base name, type, unit and help when not empty; no samples)
 *   op 'eval'    body = [expr, startMs, endMs, stepMs, lookbackMs, seriesMax, samplesMax, maxSourceResolution, form]
 *                maxSourceResolution raw | 5m | 1h | auto (a 7-field body: auto)
 *                form 'series' (a 7- or 8-field body) or 'grid': the answer may then carry its series
 *                laid on the request's step grid instead (promql/grid-partials.ts):
 *                answer [stats, seriesRead, samplesRead, [], rollupPointsRead, grid]
 *                grid = [steps, labels..., present, values]   labels as below, one per series;
 *                present = the series' bitmaps, ceil(steps / 8) bytes each; values = little-endian
 *                float64 bytes of the present points, series after series, in step order
 *   matchers = [[name, op, value]...]          op one of = != =~ !~
 *   stats    = [...scanStatsTuple (signal-store.ts), samplesDecoded]   (an older node's: the 6-tuple alone, samplesDecoded 0)
 *   series   = [[labels, timestamps, values]...]
 *   labels   = [name, value, name, value, ...] sorted by name, distinct, no empty value
 *   timestamps, values = little-endian float64 bytes of equal length (empty for 'series');
 *                        timestamps integer ms, strictly increasing
 *
 * A peer's frame is outside input: the request decoder throws
 * ERR_INVALID_ARGUMENT and the answer decoder ERR_CORRUPTION on anything
 * malformed — wrong shapes, unsorted or empty labels, misaligned or
 * unordered samples, a grid of other steps than the request's or whose
 * bitmaps and values disagree, more series or samples than the request's
 * budget, a frame past MetricsQueryLimits.answerBytesMax.
 */
import { endianness } from 'node:os';
import { Packr } from 'msgpackr';
import { OtlpdbError, assert } from '../errors.js';
import { MetricsQueryLimits as L } from '../limits.js';
import { readScanStatsTuple, scanStatsTuple } from '../storage/shard/signal-store.js';
import type { ScanStats } from '../storage/shard/signal-store.js';
import { EMPTY_BIN_TAIL, binHeaderBytes, writeBinHeader } from '../transport/codec.js';
import type { FloatSeries, PromLabel, PromLabels, PromMatcher, RollupAggregate, SelectRollup } from './promql/source.js';
import type { GridPartials } from './promql/grid-partials.js';
import { strideBytes } from './promql/grid-partials.js';
import type { MaxSourceResolution } from './promql/rollup-eval.js';
import type { Consistency } from './trace-search-wire.js';

/** SHARD_METRICS_READ is the peer method of a shard's part of a Prometheus read. */
export const SHARD_METRICS_READ = 'shard.metricsRead';

/** MetricsBudget is what one shard may read for one request; past it the shard refuses with ERR_LIMIT_EXCEEDED. */
export interface MetricsBudget {
  readonly seriesMax: number;
  readonly samplesMax: number;
}

/** MetricsShardRequest is one shard.metricsRead call. */
export type MetricsShardRequest = {
  readonly group: number;
  readonly tenant: string;
  readonly consistency: Consistency;
  readonly budget: MetricsBudget;
} & (
  | { readonly op: 'select' | 'series' | 'metadata'; readonly matchers: readonly PromMatcher[]; readonly startMs: number; readonly endMs: number; readonly rollup?: SelectRollup }
  | {
      readonly op: 'eval';
      readonly expr: string;
      readonly startMs: number;
      readonly endMs: number;
      readonly stepMs: number;
      readonly lookbackMs: number;
      readonly maxSourceResolution: MaxSourceResolution;
      /** answerForm 'grid' lets the shard answer on the step grid (GridPartials); absent or 'series': series only. */
      readonly answerForm?: AnswerForm;
    }
);

/** AnswerForm is how an eval answer may carry its series: as (timestamps, values) pairs, or laid on the request's grid. */
export type AnswerForm = 'series' | 'grid';

/** MetricsShardAnswer is one shard's answer. */
export interface MetricsShardAnswer {
  readonly stats: ScanStats;
  readonly seriesRead: number;
  readonly samplesRead: number;
  readonly series: readonly FloatSeries[];
  /** rollupPointsRead counts the rollup points among samplesRead. */
  readonly rollupPointsRead: number;
  /** grid, when present, is the answer on the request's grid (an eval asked with answerForm 'grid'); `series` is then empty. */
  readonly grid?: GridPartials;
}

const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false, mapsAsObjects: true });
const MATCH_OPS = new Set(['=', '!=', '=~', '!~']);
const AGGREGATES: ReadonlySet<string> = new Set<RollupAggregate>(['min', 'max', 'sum', 'count', 'last']);
const MAX_RESOLUTIONS: ReadonlySet<string> = new Set<MaxSourceResolution>(['raw', '5m', '1h', 'auto']);
const TIME_MS_MAX = 8.64e15;
const EXPR_BYTES_MAX = 256 * 1024;
/** STRING_BYTES_MAX bounds one label name or value in a frame (an attribute rendered as JSON may pass the 64 KiB OTLP value bound). */
const STRING_BYTES_MAX = 1024 * 1024;

function badRequest(why: string): OtlpdbError {
  return new OtlpdbError('ERR_INVALID_ARGUMENT', `${SHARD_METRICS_READ} request: ${why}`);
}
function badAnswer(why: string): OtlpdbError {
  return new OtlpdbError('ERR_CORRUPTION', `${SHARD_METRICS_READ} answer: ${why}`);
}
function unpack(b: Uint8Array, fail: (why: string) => OtlpdbError): unknown {
  try {
    return packr.unpack(b);
  } catch {
    throw fail('not msgpack');
  }
}
function str(v: unknown, what: string, maxBytes: number, fail: (why: string) => OtlpdbError): string {
  if (typeof v !== 'string' || Buffer.byteLength(v) > maxBytes) throw fail(`${what} is not a string of at most ${maxBytes} bytes`);
  return v;
}
function int(v: unknown, what: string, min: number, max: number, fail: (why: string) => OtlpdbError): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw fail(`${what} is not an integer in [${min}, ${max}]`);
  return v;
}

function decodeMatchers(v: unknown): PromMatcher[] {
  if (!Array.isArray(v) || v.length < 1 || v.length > L.matchersMax) throw badRequest(`matchers is not a list of 1 to ${L.matchersMax}`);
  return v.map((m: unknown, i) => {
    if (!Array.isArray(m) || m.length !== 3 || !MATCH_OPS.has(m[1] as string)) throw badRequest(`matcher ${i} is not [name, op, value]`);
    const name = str(m[0], `matcher ${i} name`, STRING_BYTES_MAX, badRequest);
    if (name === '') throw badRequest(`matcher ${i} has an empty name`);
    return { name, op: m[1] as PromMatcher['op'], value: str(m[2], `matcher ${i} value`, STRING_BYTES_MAX, badRequest) };
  });
}

/** encodeMetricsRequest packs a shard.metricsRead request. */
export function encodeMetricsRequest(r: MetricsShardRequest): Uint8Array {
  const b = r.budget;
  const body =
    r.op === 'eval'
      ? [r.expr, r.startMs, r.endMs, r.stepMs, r.lookbackMs, b.seriesMax, b.samplesMax, r.maxSourceResolution, ...(r.answerForm === 'grid' ? ['grid'] : [])]
      : [r.matchers.map((m) => [m.name, m.op, m.value]), r.startMs, r.endMs, b.seriesMax, b.samplesMax, r.rollup?.resolution ?? 'raw', r.rollup?.aggregate ?? 'last'];
  return packr.pack([r.op, r.group, r.tenant, r.consistency, body]);
}

/** decodeMetricsRequest checks a shard.metricsRead request (ERR_INVALID_ARGUMENT when malformed). */
export function decodeMetricsRequest(bytes: Uint8Array): MetricsShardRequest {
  const v = unpack(bytes, badRequest);
  if (!Array.isArray(v) || v.length !== 5) throw badRequest('not [op, group, tenant, consistency, body]');
  const op = v[0];
  const group = int(v[1], 'group', 1, 0xffff_ffff, badRequest);
  const tenant = str(v[2], 'tenant', 1024, badRequest);
  const consistency = v[3];
  if (consistency !== 'linearizable' && consistency !== 'stale') throw badRequest('consistency is not linearizable or stale');
  const body: unknown = v[4];
  if (op === 'select' || op === 'series' || op === 'metadata') {
    if (!Array.isArray(body) || (body.length !== 5 && body.length !== 7)) throw badRequest(`${op} body is not a 5- or 7-field tuple`);
    const matchers = decodeMatchers(body[0]);
    const startMs = int(body[1], 'startMs', -TIME_MS_MAX, TIME_MS_MAX, badRequest);
    const endMs = int(body[2], 'endMs', startMs, TIME_MS_MAX, badRequest);
    const budget = { seriesMax: int(body[3], 'seriesMax', 1, L.seriesMax, badRequest), samplesMax: int(body[4], 'samplesMax', 0, L.samplesMax, badRequest) };
    const res: unknown = body[5] ?? 'raw';
    const aggregate: unknown = body[6] ?? 'last';
    if (res !== 'raw' && res !== '5m' && res !== '1h') throw badRequest('resolution is not raw, 5m or 1h');
    if (typeof aggregate !== 'string' || !AGGREGATES.has(aggregate)) throw badRequest('aggregate is not min, max, sum, count or last');
    // Literals, not a spread of the shared fields: every request of a kind then has one hidden class.
    if (res === 'raw') return { group, tenant, consistency, op, matchers, startMs, endMs, budget };
    return { group, tenant, consistency, op, matchers, startMs, endMs, budget, rollup: { resolution: res, aggregate: aggregate as RollupAggregate } };
  }
  if (op === 'eval') {
    if (!Array.isArray(body) || body.length < 7 || body.length > 9) throw badRequest('eval body is not a 7- to 9-field tuple');
    const expr = str(body[0], 'expr', EXPR_BYTES_MAX, badRequest);
    const startMs = int(body[1], 'startMs', -TIME_MS_MAX, TIME_MS_MAX, badRequest);
    const endMs = int(body[2], 'endMs', startMs, TIME_MS_MAX, badRequest);
    const stepMs = int(body[3], 'stepMs', 0, TIME_MS_MAX, badRequest);
    if (stepMs === 0 && endMs !== startMs) throw badRequest('an instant eval (stepMs 0) has startMs = endMs');
    const lookbackMs = int(body[4], 'lookbackMs', 1, TIME_MS_MAX, badRequest);
    const budget = { seriesMax: int(body[5], 'seriesMax', 1, L.seriesMax, badRequest), samplesMax: int(body[6], 'samplesMax', 0, L.samplesMax, badRequest) };
    const max: unknown = body[7] ?? 'auto';
    if (typeof max !== 'string' || !MAX_RESOLUTIONS.has(max)) throw badRequest('maxSourceResolution is not raw, 5m, 1h or auto');
    const form: unknown = body[8] ?? 'series';
    if (form !== 'series' && form !== 'grid') throw badRequest('form is not series or grid');
    const maxSourceResolution = max as MaxSourceResolution;
    if (form === 'grid') return { group, tenant, consistency, op, expr, startMs, endMs, stepMs, lookbackMs, budget, maxSourceResolution, answerForm: form };
    return { group, tenant, consistency, op, expr, startMs, endMs, stepMs, lookbackMs, budget, maxSourceResolution };
  }
  throw badRequest('op is not select, series, metadata or eval');
}

/** LITTLE_ENDIAN_HOST says typed arrays are little-endian here (every Node target), so float64 columns copy as bytes. */
const LITTLE_ENDIAN_HOST = endianness() === 'LE';

/**
 * f64Bytes is a float64 column as little-endian bytes for packr.pack: on a
 * little-endian host a view of the column itself (pack copies it into its
 * output at once; a copy here was a second one, half a megabyte a shard's
 * grid answer), else a converted copy.
 */
function f64Bytes(a: Float64Array): Uint8Array {
  if (LITTLE_ENDIAN_HOST) return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const out = new Uint8Array(a.length * 8);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < a.length; i++) dv.setFloat64(i * 8, a[i] as number, true);
  return out;
}
/**
 * f64Of reads float64 bytes of a frame: with `view`, a view of the frame
 * when the bytes sit at a multiple of 8 (a float64 view must), else a copy
 * into a fresh, aligned buffer. A series answer's columns are always
 * copied (the engine may keep or change them); a grid answer's values,
 * read once by the fold, may be a view.
 */
function f64Of(v: unknown, what: string, view = false): Float64Array {
  if (!(v instanceof Uint8Array) || v.length % 8 !== 0) throw badAnswer(`${what} is not float64 bytes`);
  if (view && LITTLE_ENDIAN_HOST && v.byteOffset % 8 === 0) return new Float64Array(v.buffer, v.byteOffset, v.length / 8);
  if (LITTLE_ENDIAN_HOST) return new Float64Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
  const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
  const out = new Float64Array(v.length / 8);
  for (let i = 0; i < out.length; i++) out[i] = dv.getFloat64(i * 8, true);
  return out;
}

function flatLabels(labels: PromLabels): string[] {
  return labels.flatMap((l) => [l.name, l.value]);
}

/**
 * AnswerBytes is a shard answer ready to go on the wire: its exact encoded
 * length, and a writer that puts those bytes at an offset of a larger
 * buffer (the batch answer's: metrics-read-batch.ts), so a grid answer's
 * values are copied once, from its column into the bytes that are sent,
 * and not first into a packer's growing buffer and then out of it.
 */
export interface AnswerBytes {
  readonly byteLength: number;
  writeInto(out: Uint8Array, offset: number): void;
}

/** writeF64 writes a float64 column as little-endian bytes at `offset` (one copy; a conversion on a big-endian host). */
function writeF64(out: Uint8Array, offset: number, a: Float64Array): void {
  if (LITTLE_ENDIAN_HOST) {
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), offset);
    return;
  }
  const dv = new DataView(out.buffer, out.byteOffset + offset, a.byteLength);
  for (let i = 0; i < a.length; i++) dv.setFloat64(i * 8, a[i] as number, true);
}

function refuseLarge(bytes: number): void {
  if (bytes > L.answerBytesMax) throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `a shard's metrics answer exceeds MetricsQueryLimits.answerBytesMax (${L.answerBytesMax} bytes); narrow the query`);
}

/**
 * answerBytes is a shard's answer ready to be written (see AnswerBytes);
 * one past MetricsQueryLimits.answerBytesMax is refused with
 * ERR_LIMIT_EXCEEDED (a cut answer would be a wrong one). A grid answer's
 * fields before its values are packed (a few KB: stats, labels, bitmaps),
 * its values written after them by writeInto; the bytes are the ones
 * packr.pack makes of the whole tuple.
 */
export function answerBytes(a: MetricsShardAnswer): AnswerBytes {
  assert(a.grid === undefined || a.series.length === 0, 'a grid answer carries no series beside it');
  if (a.grid === undefined) {
    const packed = packSeriesAnswer(a);
    return { byteLength: packed.length, writeInto: (out, offset) => out.set(packed, offset) };
  }
  const stats = [...scanStatsTuple(a.stats), a.stats.samplesDecoded ?? 0];
  const g = a.grid;
  // The values are the tuple's last field (the grid's last, the grid the answer's last): pack the rest with an empty bin there, then write the values in its place.
  const head = packr.pack([stats, a.seriesRead, a.samplesRead, [], a.rollupPointsRead, [g.steps, ...g.labels.map(flatLabels), g.present, EMPTY]]);
  assert(head.length >= 2 && head[head.length - 2] === EMPTY_BIN_TAIL[0] && head[head.length - 1] === EMPTY_BIN_TAIL[1], 'a packed grid answer ends with its empty values field');
  const headBytes = head.length - EMPTY_BIN_TAIL.length;
  const valueBytes = g.values.byteLength;
  const byteLength = headBytes + binHeaderBytes(valueBytes) + valueBytes;
  refuseLarge(byteLength);
  return {
    byteLength,
    writeInto: (out, offset) => {
      assert(offset >= 0 && offset + byteLength <= out.length, 'a grid answer written inside its buffer');
      out.set(head.subarray(0, headBytes), offset);
      const at = writeBinHeader(out, offset + headBytes, valueBytes);
      writeF64(out, at, g.values);
      assert(at + valueBytes === offset + byteLength, 'a grid answer fills its bytes');
    },
  };
}
const EMPTY = new Uint8Array(0);

/** packSeriesAnswer packs an answer of series (no grid) in one packr.pack, refused past answerBytesMax. */
function packSeriesAnswer(a: MetricsShardAnswer): Uint8Array {
  const series = a.series.map((s) => [flatLabels(s.labels), f64Bytes(s.timestampsMs), f64Bytes(s.values)]);
  const packed = packr.pack([[...scanStatsTuple(a.stats), a.stats.samplesDecoded ?? 0], a.seriesRead, a.samplesRead, series, a.rollupPointsRead]);
  refuseLarge(packed.length);
  return packed;
}

/** encodeMetricsAnswer packs a shard's answer (a grid answer: answerBytes written into a buffer of its own); one past MetricsQueryLimits.answerBytesMax is refused with ERR_LIMIT_EXCEEDED. */
export function encodeMetricsAnswer(a: MetricsShardAnswer): Uint8Array {
  if (a.grid === undefined) return packSeriesAnswer(a);
  const b = answerBytes(a);
  const out = Buffer.allocUnsafe(b.byteLength);
  b.writeInto(out, 0);
  return out;
}

function decodeLabels(v: unknown, what: string): PromLabel[] {
  if (!Array.isArray(v) || v.length % 2 !== 0) throw badAnswer(`${what} labels are not [name, value, ...]`);
  const labels: PromLabel[] = [];
  for (let j = 0; j < v.length; j += 2) {
    const name = str(v[j], `${what} label name`, STRING_BYTES_MAX, badAnswer);
    const value = str(v[j + 1], `${what} label value`, STRING_BYTES_MAX, badAnswer);
    if (name === '' || value === '') throw badAnswer(`${what} has an empty label name or value`);
    const prev = labels[labels.length - 1];
    if (prev !== undefined && !(prev.name < name)) throw badAnswer(`${what} labels are not sorted and distinct`);
    labels.push({ name, value });
  }
  return labels;
}

/** popcount8 is the number of set bits of each byte value. */
const POPCOUNT8 = Uint8Array.from({ length: 256 }, (_, b) => {
  let n = 0;
  for (let x = b; x !== 0; x >>>= 1) n += x & 1;
  return n;
});

/** decodeGrid checks a grid answer against the request's step count and budget (see the top of this file). */
function decodeGrid(v: unknown, budget: MetricsBudget, steps: number | null): GridPartials {
  if (!Array.isArray(v) || v.length < 3) throw badAnswer('grid is not [steps, labels..., present, values]');
  const n = int(v[0], 'grid steps', 1, Number.MAX_SAFE_INTEGER, badAnswer);
  if (steps === null || n !== steps) throw badAnswer(`a grid of ${n} steps answers a request of ${steps ?? 'no grid'}`);
  const count = v.length - 3;
  if (count > budget.seriesMax) throw badAnswer(`grid series are not a list of at most ${budget.seriesMax}`);
  const labels: PromLabels[] = [];
  for (let k = 0; k < count; k++) labels.push(decodeLabels(v[1 + k], `grid series ${k}`));
  const present: unknown = v[count + 1];
  const stride = strideBytes(n);
  if (!(present instanceof Uint8Array) || present.length !== count * stride) throw badAnswer(`grid present is not ${count} bitmaps of ${stride} bytes`);
  let bits = 0;
  for (let k = 0; k < count; k++) {
    const base = k * stride;
    for (let b = 0; b < stride; b++) bits += POPCOUNT8[present[base + b] as number] as number;
    // Bits past the last step are 0: a set one would be a point off the grid.
    if (n % 8 !== 0 && ((present[base + stride - 1] as number) >>> (n % 8)) !== 0) throw badAnswer(`grid series ${k} has a point past step ${n - 1}`);
  }
  const values = f64Of(v[count + 2], 'grid values', true);
  if (values.length !== bits) throw badAnswer(`grid has ${bits} points and ${values.length} values`);
  if (bits > budget.samplesMax) throw badAnswer(`${bits} samples exceed the budget of ${budget.samplesMax}`);
  // present (and values, when aligned) are views of the frame: nothing writes into a received frame, and the answer is dropped once folded.
  // A plain Uint8Array view, not the Buffer msgpackr hands out: the fold then meets one kind of array from a local and a remote answer.
  return { steps: n, labels, present: new Uint8Array(present.buffer, present.byteOffset, present.length), values };
}

/** readMetricsStats reads an answer's stats: the scan stats' 6-tuple, then samplesDecoded (absent from an older node's answer: 0). */
function readMetricsStats(v: unknown): ScanStats {
  if (!Array.isArray(v) || (v.length !== 6 && v.length !== 7)) throw badAnswer('stats is not [scan stats..., samplesDecoded]');
  const stats = readScanStatsTuple(v.slice(0, 6), badAnswer);
  stats.samplesDecoded = int(v[6] ?? 0, 'samplesDecoded', 0, Number.MAX_SAFE_INTEGER, badAnswer);
  return stats;
}

/**
 * decodeMetricsAnswer checks a shard's answer to a request with `budget`
 * (ERR_CORRUPTION when malformed); `steps` is the request's grid step count
 * when it asked for the grid form (null: a grid answer is refused).
 */
export function decodeMetricsAnswer(bytes: Uint8Array, budget: MetricsBudget, steps: number | null = null): MetricsShardAnswer {
  if (bytes.length > L.answerBytesMax) throw badAnswer(`frame exceeds ${L.answerBytesMax} bytes`);
  const v = unpack(bytes, badAnswer);
  if (!Array.isArray(v) || v.length < 4 || v.length > 6) throw badAnswer('not [stats, seriesRead, samplesRead, series, rollupPointsRead, grid]');
  const stats = readMetricsStats(v[0]);
  const seriesRead = int(v[1], 'seriesRead', 0, Number.MAX_SAFE_INTEGER, badAnswer);
  const samplesRead = int(v[2], 'samplesRead', 0, Number.MAX_SAFE_INTEGER, badAnswer);
  const rollupPointsRead = int(v[4] ?? 0, 'rollupPointsRead', 0, samplesRead, badAnswer);
  const raw: unknown = v[3];
  if (!Array.isArray(raw) || raw.length > budget.seriesMax) throw badAnswer(`series is not a list of at most ${budget.seriesMax}`);
  if (v.length === 6) {
    if (raw.length !== 0) throw badAnswer('a grid answer carries series beside it');
    return { stats, seriesRead, samplesRead, series: [], rollupPointsRead, grid: decodeGrid(v[5], budget, steps) };
  }
  let samples = 0;
  const series: FloatSeries[] = raw.map((s: unknown, i): FloatSeries => {
    if (!Array.isArray(s) || s.length !== 3) throw badAnswer(`series ${i} is not [labels, timestamps, values]`);
    const labels = decodeLabels(s[0], `series ${i}`);
    const timestampsMs = f64Of(s[1], `series ${i} timestamps`);
    const values = f64Of(s[2], `series ${i} values`);
    if (timestampsMs.length !== values.length) throw badAnswer(`series ${i} has ${timestampsMs.length} timestamps and ${values.length} values`);
    for (let j = 0; j < timestampsMs.length; j++) {
      const t = timestampsMs[j] as number;
      if (!Number.isSafeInteger(t) || (j > 0 && t <= (timestampsMs[j - 1] as number))) throw badAnswer(`series ${i} timestamps are not increasing integers`);
    }
    samples += values.length;
    return { labels, timestampsMs, values };
  });
  if (samples > budget.samplesMax) throw badAnswer(`${samples} samples exceed the budget of ${budget.samplesMax}`);
  return { stats, seriesRead, samplesRead, series, rollupPointsRead };
}
