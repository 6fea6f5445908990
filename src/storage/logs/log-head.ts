/**
 * log-head.ts — pure helpers of the logs store's head (log-store.ts): the
 * byte accounting of a record and the reference filter the head is read
 * with. Pure code.
 *
 * Head accounting (headBytes): per record LogStoreLimits.headRowOverheadBytes,
 * plus 2 bytes per UTF-16 unit of its strings (body, severity text, event
 * name, attribute keys and values, nested values at 16 bytes per scalar),
 * plus its ids; the store counts a resource or scope object once per add()
 * call that brings it (decodeShardEntry shares them between the rows of an
 * entry). It is an estimate of V8's retained size, within a small factor,
 * not a measurement.
 */
import { LogStoreLimits } from '../../limits.js';
import type { AnyValue, KeyValue, LogRow } from '../rows.js';
import { tokenize } from '../tokenizer.js';
import type { StreamLabel } from './log-line.js';
import { logLine, streamLabels } from './log-line.js';
import type { NormalizedLogQuery, StreamMatcher } from './term-index.js';

/** valueBytes is the head accounting of one AnyValue. */
function valueBytes(v: AnyValue): number {
  switch (v.type) {
    case 'string':
      return 16 + 2 * v.value.length;
    case 'bytes':
      return 16 + v.value.length;
    case 'array':
      return 16 + v.values.reduce((s, x) => s + valueBytes(x), 0);
    case 'kvlist':
      return 16 + attributesBytes(v.values);
    default:
      return 16;
  }
}

/** attributesBytes is the head accounting of an attribute list (a resource's or scope's too). */
export function attributesBytes(kvs: readonly KeyValue[]): number {
  let n = 0;
  for (const kv of kvs) n += LogStoreLimits.headAttributeOverheadBytes + 2 * kv.key.length + valueBytes(kv.value);
  return n;
}

/** logRowBytes is the head accounting of one record without its resource and scope (see the file comment). */
export function logRowBytes(row: LogRow): number {
  return (
    LogStoreLimits.headRowOverheadBytes +
    valueBytes(row.body) +
    2 * (row.severityText.length + row.eventName.length) +
    attributesBytes(row.attributes) +
    row.traceId.length +
    row.spanId.length
  );
}

/**
 * logRowMatches is the reference filter the head is read with: the semantics
 * of queryLogBlock (term-index.ts) checked directly on one record — time in
 * [minTimeNs, maxTimeNs], every stream matcher (a missing label equals ""),
 * every term among the line's terms, every phrase at consecutive positions.
 * `q` comes from normalizeLogQuery, so terms are normalized alike.
 */
export function logRowMatches(row: LogRow, q: NormalizedLogQuery, minTimeNs: bigint, maxTimeNs: bigint): boolean {
  if (row.timeUnixNano < minTimeNs || row.timeUnixNano > maxTimeNs) return false;
  if (q.matchers.length > 0) {
    const labels = streamLabels(row);
    for (const m of q.matchers) {
      const v = labels.find((l) => l.name === m.name)?.value ?? '';
      if ((m.op === '=') !== (v === m.value)) return false;
    }
  }
  if (q.terms.length === 0 && q.phrases.length === 0) return true;
  const terms = tokenize(logLine(row)).terms;
  if (q.terms.length > 0) {
    const set = new Set(terms);
    for (const t of q.terms) if (!set.has(t)) return false;
  }
  for (const phrase of q.phrases) {
    let found = false;
    for (let p = 0; !found && p + phrase.length <= terms.length; p++) {
      let k = 0;
      while (k < phrase.length && terms[p + k] === phrase[k]) k++;
      found = k === phrase.length;
    }
    if (!found) return false;
  }
  return true;
}

/** matchesStream says whether a label set satisfies every matcher (a missing label equals ""). */
export function matchesStream(labels: readonly StreamLabel[], matchers: readonly StreamMatcher[]): boolean {
  for (const m of matchers) {
    const v = labels.find((l) => l.name === m.name)?.value ?? '';
    if ((m.op === '=') !== (v === m.value)) return false;
  }
  return true;
}
