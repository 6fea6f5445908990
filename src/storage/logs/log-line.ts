/**
 * log-line.ts — what a log row looks like to search: its line (the body's
 * string form) and its stream (Loki-style labels). Both the block writer and
 * the term index derive them here, and a query oracle may too, so they can
 * never disagree. Pure code.
 *
 * Line: a string body is the line as it is. Any other body is rendered:
 *   empty -> ""                 bool -> "true" / "false"
 *   int -> decimal digits       double -> String(v) ("NaN", "Infinity", "1.5")
 *   bytes -> base64             array / kvlist -> JSON (kvlist as an object in
 *                               key order, duplicate keys written as they
 *                               come; ints as bare digits, so
 *                               64-bit values are not rounded; non-finite
 *                               doubles and bytes as JSON strings)
 * and a rendering longer than LogBlockLimits.renderedCharsMax UTF-16 units is
 * cut there (never inside a surrogate pair). The exact body is stored in the
 * block beside the line; only search sees the cut.
 *
 * Stream: every resource attribute whose rendered value is not empty, its key
 * with "." replaced by "_" (service.name -> service_name), its value rendered
 * as a line (above) and, string values too, cut to renderedCharsMax; the
 * first attribute wins when two keys map to one name;
 * plus `level` from the severity (levelOf), which shadows a resource
 * attribute named `level`. Labels are sorted by name (UTF-16 code units).
 * NB: other characters Loki refuses in label names (such as "-" or "/") are
 * kept as they are; the Loki API layer will have to escape or refuse them.
 *
 * Loki push (api/loki-push.ts): a record pushed through Loki's API is stored
 * with its stream labels as resource attributes (names unchanged: Loki label
 * names have no dots) under the instrumentation scope LOKI_PUSH_SCOPE. Such a
 * record's stream is its resource attributes only: no `level` is derived
 * (a pushed `level` label is an ordinary attribute), so the view shows the
 * labels exactly as pushed. An OTLP record that names that scope gets the
 * same treatment; nothing else about it changes.
 */
import { LogBlockLimits } from '../../limits.js';
import type { AnyValue, LogRow, Resource } from '../rows.js';

/** LOKI_PUSH_SCOPE is the instrumentation scope name of records pushed through Loki's API (see the file comment). */
export const LOKI_PUSH_SCOPE = 'otlpdb/loki-push';


/**
 * sanitizeLabelName turns any name into a valid Loki/Prometheus label name
 * ([a-zA-Z_][a-zA-Z0-9_]*): every other character becomes "_", and a name
 * starting with a digit (or empty) gets a leading "_". The view uses it for
 * structured-metadata names (log attribute keys).
 */
export function sanitizeLabelName(name: string): string {
  const s = name.replace(/[^a-zA-Z0-9_]/g, '_');
  return s === '' || (s.charCodeAt(0) >= 0x30 && s.charCodeAt(0) <= 0x39) ? `_${s}` : s;
}

/** StreamLabel is one label of a log stream. */
export interface StreamLabel {
  readonly name: string;
  readonly value: string;
}

/**
 * levelOf is the `level` label of a severity: OTLP SeverityNumber ranges
 * 1-4 trace, 5-8 debug, 9-12 info, 13-16 warn, 17-20 error, 21-24 fatal;
 * number 0 (unspecified) uses the lower-cased severity text, or "unknown".
 */
export function levelOf(severityNumber: number, severityText: string): string {
  if (severityNumber >= 1 && severityNumber <= 24) return LEVELS[Math.floor((severityNumber - 1) / 4)] as string;
  const text = cut(severityText.toLowerCase());
  return text === '' ? 'unknown' : text;
}

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

/** cut shortens s to LogBlockLimits.renderedCharsMax UTF-16 units without splitting a surrogate pair. */
function cut(s: string): string {
  let n = LogBlockLimits.renderedCharsMax;
  if (s.length <= n) return s;
  const last = s.charCodeAt(n - 1);
  if (last >= 0xd800 && last <= 0xdbff) n--;
  return s.slice(0, n);
}

/** renderValue is the line form of an AnyValue (see the file comment). */
export function renderValue(v: AnyValue): string {
  switch (v.type) {
    case 'string':
      return v.value;
    case 'empty':
      return '';
    case 'bool':
      return v.value ? 'true' : 'false';
    case 'int':
      return v.value.toString();
    case 'double':
      return String(v.value);
    case 'bytes':
      return Buffer.from(v.value.buffer, v.value.byteOffset, v.value.byteLength).toString('base64');
    case 'array':
    case 'kvlist':
      return cut(renderJson(v));
  }
}

function renderJson(v: AnyValue): string {
  switch (v.type) {
    case 'string':
      return JSON.stringify(v.value);
    case 'empty':
      return 'null';
    case 'bool':
      return v.value ? 'true' : 'false';
    case 'int':
      return v.value.toString();
    case 'double':
      return Number.isFinite(v.value) ? String(v.value) : JSON.stringify(String(v.value));
    case 'bytes':
      return JSON.stringify(renderValue(v));
    case 'array':
      return `[${v.values.map(renderJson).join(',')}]`;
    case 'kvlist':
      return `{${v.values.map((kv) => `${JSON.stringify(kv.key)}:${renderJson(kv.value)}`).join(',')}}`;
  }
}

/** logLine is the searchable line of a log row: its body's string form. */
export function logLine(row: LogRow): string {
  return row.body.type === 'string' ? row.body.value : renderValue(row.body);
}

/**
 * STREAM_MEMO holds the stream of each (resource, level) seen, per resource
 * object: a flush derives a record's stream several times (block, index,
 * stream table), and the records of one resource share one object (the
 * decoders and decodeShardEntry share it; rows are read-only), so the labels
 * are rendered, sorted and keyed once per resource and level instead of once
 * per record and use. A WeakMap keyed by the resource holds nothing its rows
 * do not; at most LogBlockLimits.streamMemoLevelsPerResourceMax levels are
 * kept per resource (a severity text may be anything). Memoized label lists
 * are frozen: they are shared.
 */
const STREAM_MEMO = new WeakMap<Resource, Map<string, StreamLabel[]>>();
/** PUSH_STREAM_MEMO is STREAM_MEMO for pushed records (LOKI_PUSH_SCOPE), whose streams carry no level. */
const PUSH_STREAM_MEMO = new WeakMap<Resource, Map<string, StreamLabel[]>>();

/** streamLabels is the stream of a log row (see the file comment), sorted by name; the list is shared and frozen. */
export function streamLabels(row: LogRow): StreamLabel[] {
  const pushed = row.scope.name === LOKI_PUSH_SCOPE;
  // A pushed record's stream has no level: its memo is a map of its own, keyed by the empty string.
  const level = pushed ? '' : levelOf(row.severityNumber, row.severityText);
  const memo = pushed ? PUSH_STREAM_MEMO : STREAM_MEMO;
  let byLevel = memo.get(row.resource);
  const known = byLevel?.get(level);
  if (known !== undefined) return known;
  const byName = new Map<string, string>();
  for (const kv of row.resource.attributes) {
    const name = kv.key.replaceAll('.', '_');
    if ((name === 'level' && !pushed) || byName.has(name)) continue;
    const value = cut(renderValue(kv.value));
    if (value !== '') byName.set(name, value);
  }
  if (!pushed) byName.set('level', level);
  const out: StreamLabel[] = [];
  for (const [name, value] of byName) out.push(Object.freeze({ name, value }));
  out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  Object.freeze(out);
  if (byLevel === undefined) {
    byLevel = new Map();
    memo.set(row.resource, byLevel);
  }
  if (byLevel.size < LogBlockLimits.streamMemoLevelsPerResourceMax) byLevel.set(level, out);
  return out;
}
