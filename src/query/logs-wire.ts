/**
 * logs-wire.ts — the peer frames of the shard-wide log reads (logs-query.ts):
 *
 *   shard.logsSelect  request [group, tenant, consistency, select]
 *                     answer  [cut, stats, entriesRead, streams, entries]
 *   shard.logsEval    request [group, tenant, consistency, eval]
 *                     answer  [cut, stats, entriesRead, kind, streams, entries | partials]
 *   shard.logsLabels  request [group, tenant, consistency, labels]
 *                     answer  [stats, result]
 *
 *   select   = [matchers, startNs, endNs, direction, limit | nil, hints]
 *   matchers = [[name, op, value]...]          hints = [[[contains...], caseInsensitive]...]
 *   eval     = [expr, startNs, endNs, stepNs, direction, limit]
 *   labels   = [op ('names' | 'values' | 'series' | 'stats'), startNs, endNs, name | nil, [matchers...]]
 *   stats    = [blocksScanned, blocksPrunedTime, blocksPrunedBloom, blocksPrunedIndex, bytesRead, headRowsScanned]
 *   streams  = [labels...]  (labels = [[name, value]...], sorted by name, distinct)
 *   entries  = [[timeNs, streamIndex, line, metadata labels]...] in the direction's time order
 *   partials = [[labels, [stepNs...], [[value...]...]]...]  (steps ascending, one value list a step)
 *   result   = names/values: [string...] sorted distinct; series: [labels...];
 *              stats: [chunks, entries, bytes, [labels...]]
 *   (every ns is a decimal string)
 *
 * A peer's frame is outside input: requests are checked (ERR_INVALID_ARGUMENT)
 * and answers too (ERR_CORRUPTION: the fan-out then asks another replica):
 * shapes, string sizes (LogsQueryLimits.stringBytesMax), counts, sorted
 * labels, entries in order and no more than asked. An answer past
 * LogsQueryLimits.answerBytesMax keeps fewer entries and says `cut`.
 */
import { Packr } from 'msgpackr';
import { OtlpdbError } from '../errors.js';
import { LogsQueryLimits as L, LogStoreLimits } from '../limits.js';
import { readScanStatsTuple, scanStatsTuple } from '../storage/shard/signal-store.js';
import type { ScanStats } from '../storage/shard/signal-store.js';
import type { LineHint, LogEntry, LogLabel, LogLabels, LogShardEvalRequest, SelectLogsRequest, ShardPartialSeries, StreamSelectorMatcher } from './logql/source.js';
import type { Consistency } from './trace-search-wire.js';

/** SHARD_LOGS_SELECT is the peer method of a shard's part of a cluster select. */
export const SHARD_LOGS_SELECT = 'shard.logsSelect';
/** SHARD_LOGS_EVAL is the peer method of a shard's part of a pushed-down LogQL query. */
export const SHARD_LOGS_EVAL = 'shard.logsEval';
/** SHARD_LOGS_LABELS is the peer method of a shard's part of a label read (/labels, /label/{name}/values, /series, /index/stats). */
export const SHARD_LOGS_LABELS = 'shard.logsLabels';

/** LabelsRead is one label read: names, one label's values, the streams of selectors, or index stats of selectors. */
export interface LabelsRead {
  readonly op: 'names' | 'values' | 'series' | 'stats';
  readonly startNs: bigint;
  readonly endNs: bigint;
  /** name is the label of a values read (null otherwise). */
  readonly name: string | null;
  /** selectors are alternatives (series: any of them; stats: the one selector); empty reads every stream. */
  readonly selectors: readonly (readonly StreamSelectorMatcher[])[];
}

/** LabelsResult is a shard's (or the merged) answer of a LabelsRead. */
export type LabelsResult =
  | { readonly op: 'names' | 'values'; readonly values: readonly string[] }
  | { readonly op: 'series'; readonly series: readonly LogLabels[] }
  | { readonly op: 'stats'; readonly chunks: number; readonly entries: number; readonly bytes: number; readonly series: readonly LogLabels[] };

/** ShardEntriesAnswer is a shard's entries (a select, or a pushed log query), with what it read. */
export interface ShardEntriesAnswer {
  /** cut: the shard had more than it sent (answerBytesMax). */
  readonly cut: boolean;
  readonly stats: ScanStats;
  readonly entriesRead: number;
  readonly entries: readonly LogEntry[];
}

/** ShardEvalAnswer is a shard's answer to a pushed query. */
export type ShardEvalAnswer =
  | (ShardEntriesAnswer & { readonly kind: 'entries' })
  | { readonly kind: 'partials'; readonly cut: false; readonly stats: ScanStats; readonly entriesRead: number; readonly series: readonly ShardPartialSeries[] };

/** ShardCallHeader is what every request starts with. */
export interface ShardCallHeader {
  readonly group: number;
  readonly tenant: string;
  readonly consistency: Consistency;
}

const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false, mapsAsObjects: true });
const NS_TEXT = /^\d{1,20}$/;
const OPS = ['=', '!=', '=~', '!~'] as const;
type Fail = (why: string) => OtlpdbError;

const badRequest =
  (method: string): Fail =>
  (why) =>
    new OtlpdbError('ERR_INVALID_ARGUMENT', `${method} request: ${why}`);
const badAnswer =
  (method: string): Fail =>
  (why) =>
    new OtlpdbError('ERR_CORRUPTION', `${method} answer: ${why}`);

function unpack(b: Uint8Array, fail: Fail): unknown {
  try {
    return packr.unpack(b);
  } catch {
    throw fail('not msgpack');
  }
}
function arr(v: unknown, what: string, max: number, fail: Fail, len?: number): unknown[] {
  if (!Array.isArray(v) || v.length > max || (len !== undefined && v.length !== len)) throw fail(`${what} is not a list of ${len ?? `at most ${max}`} items`);
  return v;
}
function str(v: unknown, what: string, fail: Fail, max: number = L.stringBytesMax): string {
  if (typeof v !== 'string' || v.length > max || Buffer.byteLength(v) > max) throw fail(`${what} is not a string of at most ${max} bytes`);
  return v;
}
function int(v: unknown, what: string, min: number, max: number, fail: Fail): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw fail(`${what} is not an integer in [${min}, ${max}]`);
  return v;
}
function ns(v: unknown, what: string, fail: Fail): bigint {
  if (typeof v !== 'string' || !NS_TEXT.test(v)) throw fail(`${what} is not a decimal ns count`);
  const n = BigInt(v);
  if (n >= 1n << 64n) throw fail(`${what} exceeds u64`);
  return n;
}
function direction(v: unknown, fail: Fail): 'forward' | 'backward' {
  if (v !== 'forward' && v !== 'backward') throw fail('direction is not forward or backward');
  return v;
}

function encodeLabels(ls: LogLabels): string[][] {
  return ls.map((l) => [l.name, l.value]);
}
function decodeLabels(v: unknown, what: string, fail: Fail): LogLabel[] {
  const out: LogLabel[] = [];
  for (const [i, p] of arr(v, what, LogStoreLimits.labelResultsMax, fail).entries()) {
    const pair = arr(p, `${what}[${i}]`, 2, fail, 2);
    const name = str(pair[0], `${what}[${i}] name`, fail);
    const prev = out[out.length - 1];
    if (prev !== undefined && !(prev.name < name)) throw fail(`${what} names are not sorted and distinct`);
    out.push({ name, value: str(pair[1], `${what}[${i}] value`, fail) });
  }
  return out;
}
function encodeMatchers(ms: readonly StreamSelectorMatcher[]): string[][] {
  return ms.map((m) => [m.name, m.op, m.value]);
}
function decodeMatchers(v: unknown, fail: Fail): StreamSelectorMatcher[] {
  return arr(v, 'matchers', L.matchersMax, fail).map((m, i) => {
    const t = arr(m, `matcher ${i}`, 3, fail, 3);
    const op = t[1];
    if (!(OPS as readonly unknown[]).includes(op)) throw fail(`matcher ${i} op is not = != =~ !~`);
    return { name: str(t[0], `matcher ${i} name`, fail), op: op as StreamSelectorMatcher['op'], value: str(t[2], `matcher ${i} value`, fail) };
  });
}
function header(v: unknown[], fail: Fail): ShardCallHeader {
  const consistency = v[2];
  if (consistency !== 'linearizable' && consistency !== 'stale') throw fail('consistency is not linearizable or stale');
  return { group: int(v[0], 'group', 1, 0xffff_ffff, fail), tenant: str(v[1], 'tenant', fail, 1024), consistency };
}

// ---------------------------------------------------------------- select

/** encodeSelectRequest packs a shard.logsSelect request. */
export function encodeSelectRequest(h: ShardCallHeader, r: SelectLogsRequest): Uint8Array {
  const hints = r.hints.map((x) => [[...x.contains], x.caseInsensitive]);
  return packr.pack([h.group, h.tenant, h.consistency, [encodeMatchers(r.matchers), r.startNs.toString(), r.endNs.toString(), r.direction, r.limit, hints]]);
}

/** decodeSelectRequest checks a shard.logsSelect request (ERR_INVALID_ARGUMENT). */
export function decodeSelectRequest(b: Uint8Array): { header: ShardCallHeader; req: SelectLogsRequest } {
  const fail = badRequest(SHARD_LOGS_SELECT);
  const v = arr(unpack(b, fail), 'request', 4, fail, 4);
  const q = arr(v[3], 'select', 6, fail, 6);
  const limit = q[4] === null || q[4] === undefined ? null : int(q[4], 'limit', 1, L.shardEntriesMax, fail);
  const hints: LineHint[] = arr(q[5], 'hints', L.matchersMax, fail).map((h, i) => {
    const t = arr(h, `hint ${i}`, 2, fail, 2);
    if (typeof t[1] !== 'boolean') throw fail(`hint ${i} caseInsensitive is not a boolean`);
    return { contains: arr(t[0], `hint ${i} contains`, L.matchersMax, fail).map((s, j) => str(s, `hint ${i} literal ${j}`, fail)), caseInsensitive: t[1] };
  });
  const startNs = ns(q[1], 'startNs', fail);
  const endNs = ns(q[2], 'endNs', fail);
  if (startNs > endNs) throw fail('startNs is after endNs');
  return { header: header(v, fail), req: { matchers: decodeMatchers(q[0], fail), startNs, endNs, direction: direction(q[3], fail), limit, hints } };
}

/** packEntries lays entries out as a stream table and entry tuples. */
function packEntries(entries: readonly LogEntry[]): { streams: string[][][]; rows: unknown[][] } {
  const index = new Map<LogLabels, number>();
  const byKey = new Map<string, number>();
  const streams: string[][][] = [];
  const rows: unknown[][] = [];
  for (const e of entries) {
    let i = index.get(e.stream);
    if (i === undefined) {
      const key = JSON.stringify(encodeLabels(e.stream));
      i = byKey.get(key);
      if (i === undefined) {
        i = streams.length;
        streams.push(encodeLabels(e.stream));
        byKey.set(key, i);
      }
      index.set(e.stream, i);
    }
    rows.push([e.timeNs.toString(), i, e.line, encodeLabels(e.metadata)]);
  }
  return { streams, rows };
}

function unpackEntries(streamsRaw: unknown, rowsRaw: unknown, dir: 'forward' | 'backward', max: number, fail: Fail): LogEntry[] {
  const streams = arr(streamsRaw, 'streams', L.shardEntriesMax, fail).map((s, i) => decodeLabels(s, `stream ${i}`, fail));
  const rows = arr(rowsRaw, 'entries', max, fail);
  const out: LogEntry[] = [];
  for (const [i, r] of rows.entries()) {
    const t = arr(r, `entry ${i}`, 4, fail, 4);
    const timeNs = ns(t[0], `entry ${i} time`, fail);
    const prev = out[out.length - 1];
    if (prev !== undefined && (dir === 'forward' ? timeNs < prev.timeNs : timeNs > prev.timeNs)) throw fail(`entry ${i} is out of ${dir} order`);
    const stream = streams[int(t[1], `entry ${i} stream`, 0, streams.length - 1, fail)] as LogLabel[];
    out.push({ stream, timeNs, line: str(t[2], `entry ${i} line`, fail), metadata: decodeLabels(t[3], `entry ${i} metadata`, fail) });
  }
  return out;
}

/** encodeEntriesAnswer packs a select answer, keeping fewer entries (cut) when it would pass answerBytesMax. */
export function encodeEntriesAnswer(a: ShardEntriesAnswer): Uint8Array {
  let entries = a.entries;
  let cut = a.cut;
  for (;;) {
    const p = packEntries(entries);
    const out = packr.pack([cut, scanStatsTuple(a.stats), a.entriesRead, p.streams, p.rows]);
    if (out.length <= L.answerBytesMax || entries.length === 0) return out;
    entries = entries.slice(0, Math.floor(entries.length / 2));
    cut = true;
  }
}

/** decodeEntriesAnswer checks a select answer: at most `limit` entries in `dir` order (ERR_CORRUPTION). */
export function decodeEntriesAnswer(b: Uint8Array, dir: 'forward' | 'backward', limit: number | null): ShardEntriesAnswer {
  const fail = badAnswer(SHARD_LOGS_SELECT);
  const v = arr(unpack(b, fail), 'answer', 5, fail, 5);
  if (typeof v[0] !== 'boolean') throw fail('cut is not a boolean');
  return {
    cut: v[0],
    stats: readScanStatsTuple(v[1], fail),
    entriesRead: int(v[2], 'entriesRead', 0, Number.MAX_SAFE_INTEGER, fail),
    entries: unpackEntries(v[3], v[4], dir, limit ?? L.shardEntriesMax, fail),
  };
}

// ---------------------------------------------------------------- eval

/** encodeEvalRequest packs a shard.logsEval request. */
export function encodeEvalRequest(h: ShardCallHeader, r: LogShardEvalRequest): Uint8Array {
  return packr.pack([h.group, h.tenant, h.consistency, [r.expr, r.startNs.toString(), r.endNs.toString(), r.stepNs.toString(), r.direction, r.limit]]);
}

/** decodeEvalRequest checks a shard.logsEval request (ERR_INVALID_ARGUMENT). */
export function decodeEvalRequest(b: Uint8Array): { header: ShardCallHeader; req: LogShardEvalRequest } {
  const fail = badRequest(SHARD_LOGS_EVAL);
  const v = arr(unpack(b, fail), 'request', 4, fail, 4);
  const q = arr(v[3], 'eval', 6, fail, 6);
  const startNs = ns(q[1], 'startNs', fail);
  const endNs = ns(q[2], 'endNs', fail);
  if (startNs > endNs) throw fail('startNs is after endNs');
  return {
    header: header(v, fail),
    req: { expr: str(q[0], 'expr', fail, L.queryBytesMax), startNs, endNs, stepNs: ns(q[3], 'stepNs', fail), direction: direction(q[4], fail), limit: int(q[5], 'limit', 1, L.shardEntriesMax, fail) },
  };
}

/** encodeEvalAnswer packs a pushed query's answer; entries past answerBytesMax are cut, partials past it are ERR_LIMIT_EXCEEDED. */
export function encodeEvalAnswer(a: ShardEvalAnswer): Uint8Array {
  if (a.kind === 'entries') {
    let entries = a.entries;
    let cut = a.cut;
    for (;;) {
      const p = packEntries(entries);
      const out = packr.pack([cut, scanStatsTuple(a.stats), a.entriesRead, 'entries', p.streams, p.rows]);
      if (out.length <= L.answerBytesMax || entries.length === 0) return out;
      entries = entries.slice(0, Math.floor(entries.length / 2));
      cut = true;
    }
  }
  const series = a.series.map((s) => [encodeLabels(s.labels), s.stepsNs.map((t) => t.toString()), s.values.map((v) => [...v])]);
  const out = packr.pack([false, scanStatsTuple(a.stats), a.entriesRead, 'partials', [], series]);
  if (out.length > L.answerBytesMax) throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `a shard's partial series exceed LogsQueryLimits.answerBytesMax (${L.answerBytesMax} bytes); narrow the query`);
  return out;
}

/** decodeEvalAnswer checks a pushed query's answer (ERR_CORRUPTION). */
export function decodeEvalAnswer(b: Uint8Array, req: LogShardEvalRequest): ShardEvalAnswer {
  const fail = badAnswer(SHARD_LOGS_EVAL);
  const v = arr(unpack(b, fail), 'answer', 6, fail, 6);
  if (typeof v[0] !== 'boolean') throw fail('cut is not a boolean');
  const stats = readScanStatsTuple(v[1], fail);
  const entriesRead = int(v[2], 'entriesRead', 0, Number.MAX_SAFE_INTEGER, fail);
  if (v[3] === 'entries') return { kind: 'entries', cut: v[0], stats, entriesRead, entries: unpackEntries(v[4], v[5], req.direction, req.limit, fail) };
  if (v[3] !== 'partials' || v[0]) throw fail('kind is not entries or partials');
  const series: ShardPartialSeries[] = arr(v[5], 'partials', L.shardEntriesMax, fail).map((s, i) => {
    const t = arr(s, `series ${i}`, 3, fail, 3);
    const stepsNs = arr(t[1], `series ${i} steps`, L.stepsMax + 1, fail).map((x, j) => ns(x, `series ${i} step ${j}`, fail));
    for (let j = 1; j < stepsNs.length; j++) if (!((stepsNs[j - 1] as bigint) < (stepsNs[j] as bigint))) throw fail(`series ${i} steps are not ascending`);
    const values = arr(t[2], `series ${i} values`, stepsNs.length, fail, stepsNs.length).map((x, j) =>
      arr(x, `series ${i} value ${j}`, 2, fail).map((n) => {
        if (typeof n !== 'number') throw fail(`series ${i} value ${j} is not a number`);
        return n;
      }),
    );
    return { labels: decodeLabels(t[0], `series ${i} labels`, fail), stepsNs, values };
  });
  return { kind: 'partials', cut: false, stats, entriesRead, series };
}

// ---------------------------------------------------------------- labels

/** encodeLabelsRequest packs a shard.logsLabels request. */
export function encodeLabelsRequest(h: ShardCallHeader, r: LabelsRead): Uint8Array {
  return packr.pack([h.group, h.tenant, h.consistency, [r.op, r.startNs.toString(), r.endNs.toString(), r.name, r.selectors.map(encodeMatchers)]]);
}

/** decodeLabelsRequest checks a shard.logsLabels request (ERR_INVALID_ARGUMENT). */
export function decodeLabelsRequest(b: Uint8Array): { header: ShardCallHeader; read: LabelsRead } {
  const fail = badRequest(SHARD_LOGS_LABELS);
  const v = arr(unpack(b, fail), 'request', 4, fail, 4);
  const q = arr(v[3], 'labels', 5, fail, 5);
  const op = q[0];
  if (op !== 'names' && op !== 'values' && op !== 'series' && op !== 'stats') throw fail('op is not names, values, series or stats');
  const name = q[3] === null || q[3] === undefined ? null : str(q[3], 'name', fail);
  if ((op === 'values') !== (name !== null)) throw fail('a values read, and only it, names a label');
  const startNs = ns(q[1], 'startNs', fail);
  const endNs = ns(q[2], 'endNs', fail);
  if (startNs > endNs) throw fail('startNs is after endNs');
  const selectors = arr(q[4], 'selectors', L.seriesMatchesMax, fail).map((s) => decodeMatchers(s, fail));
  return { header: header(v, fail), read: { op, startNs, endNs, name, selectors } };
}

/** encodeLabelsAnswer packs a label read's answer. */
export function encodeLabelsAnswer(stats: ScanStats, r: LabelsResult): Uint8Array {
  let result: unknown;
  if ('values' in r) result = r.values;
  else if (r.op === 'series') result = r.series.map(encodeLabels);
  else result = [r.chunks, r.entries, r.bytes, r.series.map(encodeLabels)];
  return packr.pack([scanStatsTuple(stats), result]);
}

/** decodeLabelsAnswer checks a label read's answer to `read` (ERR_CORRUPTION). */
export function decodeLabelsAnswer(b: Uint8Array, read: LabelsRead): { stats: ScanStats; result: LabelsResult } {
  const fail = badAnswer(SHARD_LOGS_LABELS);
  const v = arr(unpack(b, fail), 'answer', 2, fail, 2);
  const stats = readScanStatsTuple(v[0], fail);
  const max = LogStoreLimits.labelResultsMax;
  if (read.op === 'names' || read.op === 'values') {
    const values = arr(v[1], 'values', max, fail).map((x, i) => str(x, `value ${i}`, fail));
    for (let i = 1; i < values.length; i++) if (!((values[i - 1] as string) < (values[i] as string))) throw fail('values are not sorted and distinct');
    return { stats, result: { op: read.op, values } };
  }
  if (read.op === 'series') return { stats, result: { op: 'series', series: arr(v[1], 'series', max, fail).map((s, i) => decodeLabels(s, `series ${i}`, fail)) } };
  const t = arr(v[1], 'stats', 4, fail, 4);
  const n = (x: unknown, what: string): number => int(x, what, 0, Number.MAX_SAFE_INTEGER, fail);
  return { stats, result: { op: 'stats', chunks: n(t[0], 'chunks'), entries: n(t[1], 'entries'), bytes: n(t[2], 'bytes'), series: arr(t[3], 'series', max, fail).map((s, i) => decodeLabels(s, `series ${i}`, fail)) } };
}
