/**
 * logs-view.ts — a stored log row as LogQL sees it (query/logql/source.ts
 * LogEntry), the one place that defines it:
 *
 * - stream: storage/logs/log-line.ts streamLabels — the resource attributes
 *   with "." as "_" (service.name -> service_name) plus `level` from the
 *   severity (levelOf: trace, debug, info, warn, error, fatal, else the
 *   lower-cased severity text or "unknown"); a record pushed through Loki's
 *   API (scope LOKI_PUSH_SCOPE) shows its pushed labels exactly, no level
 *   added. The same labels the index, the label routes and series use.
 * - line: log-line.ts logLine — a string body as it is; any other body
 *   rendered: arrays and maps as JSON (kvlist as an object), bytes as
 *   base64, numbers and booleans as their text, empty as "".
 * - metadata (Loki's structured metadata): the log record's attributes,
 *   names made valid label names (sanitizeLabelName: other characters
 *   become "_"), values as rendered for a line; the first attribute wins a
 *   name; then `trace_id` and `span_id` in lower-case hex when the record
 *   has them (they win over an attribute of that name). Sorted by name.
 *
 * Pure code.
 */
import type { LogRow } from '../storage/rows.js';
import { logLine, renderValue, sanitizeLabelName, streamLabels } from '../storage/logs/log-line.js';
import type { LogEntry, LogLabel } from './logql/source.js';

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** metadataOf is a row's structured metadata (see the file comment), sorted by name. */
export function metadataOf(row: LogRow): LogLabel[] {
  const byName = new Map<string, string>();
  for (const kv of row.attributes) {
    const name = sanitizeLabelName(kv.key);
    if (!byName.has(name)) byName.set(name, renderValue(kv.value));
  }
  if (row.traceId.length > 0) byName.set('trace_id', hex(row.traceId));
  if (row.spanId.length > 0) byName.set('span_id', hex(row.spanId));
  const out: LogLabel[] = [];
  for (const [name, value] of byName) out.push({ name, value });
  out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return out;
}

/** logEntryOf is the LogEntry of a stored row (see the file comment). */
export function logEntryOf(row: LogRow): LogEntry {
  return { stream: streamLabels(row), timeNs: row.timeUnixNano, line: logLine(row), metadata: metadataOf(row) };
}
