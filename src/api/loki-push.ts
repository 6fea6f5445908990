/**
 * loki-push.ts — Loki's push API (`POST /loki/api/v1/push`) as a front end
 * of the OTLP write path: a push body (JSON, or protobuf with snappy) is
 * checked and rewritten as one OTLP ExportLogsServiceRequest (protobuf), which
 * then goes through the same admission, decoding, item checks, idempotency
 * key, shard split and commit wait as an OTLP request (otlp/ingest.ts). The
 * rewrite is a pure function of the push body, so a retried push has the
 * same idempotency key and is stored once.
 *
 * Bodies:
 * - JSON (`Content-Type: application/json`, optionally
 *   `Content-Encoding: gzip`): {"streams": [{"stream": {"label": "value"},
 *   "values": [["<unix ns>", "<line>"], ["<unix ns>", "<line>", {"meta": "v"}]]}]}.
 * - protobuf (any other content type; Loki's default), snappy block format:
 *   logproto.PushRequest { repeated StreamAdapter streams = 1 }
 *   StreamAdapter { string labels = 1; repeated EntryAdapter entries = 2; uint64 hash = 3 }
 *   EntryAdapter { Timestamp timestamp = 1; string line = 2; repeated LabelPairAdapter structuredMetadata = 3 }
 *   LabelPairAdapter { string name = 1; string value = 2 }
 *   Timestamp { int64 seconds = 1; int32 nanos = 2 }
 *   `labels` is a selector of `=` matchers only: `{app="web", env="prod"}`.
 *
 * Storage of a pushed stream (storage/logs/log-line.ts LOKI_PUSH_SCOPE): its
 * labels become the resource attributes, names unchanged, under the scope
 * `otlpdb/loki-push`, so the LogEntry view (query/logs-view.ts) shows them
 * exactly as pushed and derives no `level`. A `level` label also sets the
 * record's severity (trace, debug, info, warn/warning, error, fatal/critical;
 * any case) and severity text, for OTLP readers. Structured metadata becomes
 * log attributes; `trace_id` (32 hex digits) and `span_id` (16) become the
 * record's ids instead. The line is the string body.
 *
 * Refused (ERR_INVALID_ARGUMENT, 400): a body that is not JSON or protobuf of
 * these shapes (truncated snappy, bad varints, wrong types), a label string
 * that is not such a selector, a label name Loki refuses, a timestamp that is
 * not a decimal u64 of nanoseconds, no streams. ERR_LIMIT_EXCEEDED (413): a
 * decompressed body past the ingest path's requestBytesMax, more than
 * LogsQueryLimits.pushStreamsMax streams or matchersMax labels a stream.
 */
import snappy from 'snappyjs';
import { OtlpdbError } from '../errors.js';
import { LogsQueryLimits as L } from '../limits.js';
import { ProtoReader, WT_LEN, WT_VARINT } from '../otlp/proto-reader.js';
import { ProtoWriter } from '../otlp/rpc-status.js';
import { LOKI_PUSH_SCOPE } from '../storage/logs/log-line.js';
import { parseSelector } from '../query/logs-selector.js';

/** LOKI_PUSH_PATH is Loki's push route. */
export const LOKI_PUSH_PATH = '/loki/api/v1/push';

/** PushEntry is one pushed line. */
export interface PushEntry {
  readonly timeNs: bigint;
  readonly line: string;
  readonly metadata: readonly { readonly name: string; readonly value: string }[];
}

/** PushStream is one pushed stream: its labels (in the order given) and entries. */
export interface PushStream {
  readonly labels: readonly { readonly name: string; readonly value: string }[];
  readonly entries: readonly PushEntry[];
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const NS = /^\d{1,20}$/;
const utf8 = new TextEncoder();

function bad(why: string): OtlpdbError {
  return new OtlpdbError('ERR_INVALID_ARGUMENT', `loki push: ${why}`);
}

function checkLabels(labels: readonly { name: string; value: string }[], where: string): void {
  if (labels.length === 0) throw bad(`${where} has no labels`);
  if (labels.length > L.matchersMax) throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `loki push: ${where} has more than ${L.matchersMax} labels`);
  const seen = new Set<string>();
  for (const l of labels) {
    if (!LABEL_NAME.test(l.name)) throw bad(`${where}: invalid label name ${JSON.stringify(l.name.slice(0, 64))}`);
    if (seen.has(l.name)) throw bad(`${where}: duplicate label name ${l.name}`);
    seen.add(l.name);
  }
}

function nsOf(v: unknown, where: string): bigint {
  if (typeof v !== 'string' || !NS.test(v)) throw bad(`${where}: timestamp is not a string of unix nanoseconds`);
  const n = BigInt(v);
  if (n >= 1n << 64n) throw bad(`${where}: timestamp exceeds u64`);
  return n;
}

/** parsePushJson reads a JSON push body (see the file comment). */
export function parsePushJson(body: Uint8Array): PushStream[] {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
  } catch {
    throw bad('body is not JSON');
  }
  const streams = (doc as { streams?: unknown } | null)?.streams;
  if (typeof doc !== 'object' || doc === null || !Array.isArray(streams)) throw bad('body is not {"streams": [...]}');
  if (streams.length > L.pushStreamsMax) throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `loki push: more than ${L.pushStreamsMax} streams`);
  return streams.map((s: unknown, i) => {
    const where = `streams[${i}]`;
    const st = s as { stream?: unknown; values?: unknown } | null;
    if (typeof st !== 'object' || st === null || typeof st.stream !== 'object' || st.stream === null || Array.isArray(st.stream) || !Array.isArray(st.values)) {
      throw bad(`${where} is not {"stream": {...}, "values": [...]}`);
    }
    const labels = Object.entries(st.stream as Record<string, unknown>).map(([name, value]) => {
      if (typeof value !== 'string') throw bad(`${where}.stream.${name} is not a string`);
      return { name, value };
    });
    checkLabels(labels, where);
    const entries = (st.values as unknown[]).map((v, j): PushEntry => {
      const w = `${where}.values[${j}]`;
      if (!Array.isArray(v) || v.length < 2 || v.length > 3 || typeof v[1] !== 'string') throw bad(`${w} is not ["<ns>", "<line>"(, {metadata})]`);
      const meta: unknown = v[2];
      let metadata: { name: string; value: string }[] = [];
      if (meta !== undefined && meta !== null) {
        if (typeof meta !== 'object' || Array.isArray(meta)) throw bad(`${w} metadata is not an object`);
        metadata = Object.entries(meta as Record<string, unknown>).map(([name, value]) => {
          if (typeof value !== 'string') throw bad(`${w} metadata ${name} is not a string`);
          return { name, value };
        });
      }
      return { timeNs: nsOf(v[0], w), line: v[1], metadata };
    });
    return { labels, entries };
  });
}

/** parsePushProto reads a snappy-compressed protobuf push body (see the file comment); the decompressed size is bounded by `bytesMax`. */
export function parsePushProto(wire: Uint8Array, bytesMax: number): PushStream[] {
  let body: Uint8Array;
  try {
    body = snappy.uncompress(wire, bytesMax);
  } catch (err) {
    const m = String((err as Error).message ?? err);
    if (/length|exceed/i.test(m) && !/invalid/i.test(m)) throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `loki push: decompressed body exceeds ${bytesMax} bytes`);
    throw bad(`body is not snappy (block format): ${m}`);
  }
  const r = new ProtoReader(body);
  r.where = 'logproto.PushRequest';
  const out: PushStream[] = [];
  const end = body.length;
  while (r.pos < end) {
    const tag = r.tag(end);
    if (tag !== ((1 << 3) | WT_LEN)) {
      r.skip(tag, end, 1 << 1);
      continue;
    }
    if (out.length >= L.pushStreamsMax) throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `loki push: more than ${L.pushStreamsMax} streams`);
    out.push(readStream(r, r.len(end), out.length));
  }
  return out;
}

function readStream(r: ProtoReader, end: number, i: number): PushStream {
  const where = `streams[${i}]`;
  let labelsText: string | null = null;
  const entries: PushEntry[] = [];
  while (r.pos < end) {
    const tag = r.tag(end);
    if (tag === ((1 << 3) | WT_LEN)) {
      const e = r.len(end);
      labelsText = r.string(r.pos, e);
      r.pos = e;
    } else if (tag === ((2 << 3) | WT_LEN)) {
      entries.push(readEntry(r, r.len(end), `${where}.entries[${entries.length}]`));
    } else {
      r.skip(tag, end, (1 << 1) | (1 << 2) | (1 << 3));
    }
  }
  if (labelsText === null) throw bad(`${where} has no labels`);
  let matchers;
  try {
    matchers = parseSelector(labelsText);
  } catch (err) {
    throw bad(`${where} labels ${JSON.stringify(labelsText.slice(0, 200))}: ${(err as Error).message}`);
  }
  if (matchers.some((m) => m.op !== '=')) throw bad(`${where} labels use an operator other than =`);
  const labels = matchers.map((m) => ({ name: m.name, value: m.value }));
  checkLabels(labels, where);
  return { labels, entries };
}

function readEntry(r: ProtoReader, end: number, where: string): PushEntry {
  let seconds = 0n;
  let nanos = 0;
  let line = '';
  const metadata: { name: string; value: string }[] = [];
  while (r.pos < end) {
    const tag = r.tag(end);
    if (tag === ((1 << 3) | WT_LEN)) {
      const e = r.len(end);
      while (r.pos < e) {
        const t = r.tag(e);
        if (t === ((1 << 3) | WT_VARINT)) seconds = r.int64(e);
        else if (t === ((2 << 3) | WT_VARINT)) nanos = r.int32(e);
        else r.skip(t, e, (1 << 1) | (1 << 2));
      }
    } else if (tag === ((2 << 3) | WT_LEN)) {
      const e = r.len(end);
      line = r.string(r.pos, e);
      r.pos = e;
    } else if (tag === ((3 << 3) | WT_LEN)) {
      const e = r.len(end);
      let name = '';
      let value = '';
      while (r.pos < e) {
        const t = r.tag(e);
        if (t === ((1 << 3) | WT_LEN) || t === ((2 << 3) | WT_LEN)) {
          const f = r.len(e);
          const s = r.string(r.pos, f);
          r.pos = f;
          if (t >>> 3 === 1) name = s;
          else value = s;
        } else {
          r.skip(t, e, (1 << 1) | (1 << 2));
        }
      }
      metadata.push({ name, value });
    } else {
      r.skip(tag, end, (1 << 1) | (1 << 2) | (1 << 3));
    }
  }
  if (seconds < 0n || nanos < 0 || nanos >= 1_000_000_000) throw bad(`${where}: timestamp is negative or its nanos are out of range`);
  const timeNs = seconds * 1_000_000_000n + BigInt(nanos);
  if (timeNs >= 1n << 64n) throw bad(`${where}: timestamp exceeds u64`);
  return { timeNs, line, metadata };
}

/** SEVERITY_OF maps a pushed `level` label (lower-cased) to an OTLP severity number. */
const SEVERITY_OF: Readonly<Record<string, number>> = { trace: 1, debug: 5, info: 9, warn: 13, warning: 13, error: 17, fatal: 21, critical: 21 };

function keyValue(key: string, value: string): Uint8Array {
  const any = new ProtoWriter();
  any.bytesField(1, utf8.encode(value));
  const kv = new ProtoWriter();
  kv.bytesField(1, utf8.encode(key));
  kv.bytesField(2, any.finish());
  return kv.finish();
}

/**
 * pushToOtlp writes pushed streams as one OTLP ExportLogsServiceRequest in
 * protobuf (see the file comment). Pure: equal streams give equal bytes.
 */
export function pushToOtlp(streams: readonly PushStream[]): Uint8Array {
  if (streams.length === 0) throw bad('no streams');
  const req = new ProtoWriter();
  const scope = new ProtoWriter();
  scope.bytesField(1, utf8.encode(LOKI_PUSH_SCOPE));
  const scopeBytes = scope.finish();
  for (const s of streams) {
    const resource = new ProtoWriter();
    for (const l of s.labels) resource.bytesField(1, keyValue(l.name, l.value));
    const level = s.labels.find((l) => l.name === 'level')?.value;
    const severity = level === undefined ? undefined : SEVERITY_OF[level.toLowerCase()];
    const scopeLogs = new ProtoWriter();
    scopeLogs.bytesField(1, scopeBytes);
    for (const e of s.entries) {
      const rec = new ProtoWriter();
      rec.fixed64Field(1, e.timeNs);
      if (severity !== undefined) rec.varintField(2, severity);
      if (level !== undefined) rec.bytesField(3, utf8.encode(level));
      const body = new ProtoWriter();
      body.bytesField(1, utf8.encode(e.line));
      rec.bytesField(5, body.finish());
      for (const m of e.metadata) {
        if (m.name === 'trace_id' && /^[0-9a-fA-F]{32}$/.test(m.value)) rec.bytesField(9, Buffer.from(m.value, 'hex'));
        else if (m.name === 'span_id' && /^[0-9a-fA-F]{16}$/.test(m.value)) rec.bytesField(10, Buffer.from(m.value, 'hex'));
        else rec.bytesField(6, keyValue(m.name, m.value));
      }
      scopeLogs.bytesField(2, rec.finish());
    }
    const rl = new ProtoWriter();
    rl.bytesField(1, resource.finish());
    rl.bytesField(2, scopeLogs.finish());
    req.bytesField(1, rl.finish());
  }
  return req.finish();
}

/** isJsonPush says whether a push's Content-Type is JSON (anything else is protobuf, as Loki reads it). */
export function isJsonPush(contentType: string | undefined): boolean {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() === 'application/json';
}
