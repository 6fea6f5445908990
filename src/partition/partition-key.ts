/**
 * partition-key.ts — the partition key of each kind of row (DESIGN.md §4), as
 * bytes ready for `Hasher.h64ToShard`. Pure functions for the ingest path.
 *
 * - A span is keyed by (tenant, trace id): a whole trace lives in one shard, so
 *   trace-by-id touches one shard and tail sampling sees whole traces.
 * - A metric point is keyed by its series: (tenant, metric name, labels sorted
 *   by name). Labels with an empty value are dropped first, because Prometheus
 *   treats `{a="b", c=""}` and `{a="b"}` as the same series.
 * - A log record with a trace id is keyed exactly like that trace's spans, so a
 *   trace and its logs share a shard. Without one it is keyed by (tenant,
 *   stream labels, request id): one hot stream spreads over the shards request
 *   by request, while the records of one request stay together.
 *
 * Encoding — unambiguous by construction (every field is length-prefixed, and
 * the label count is explicit), so no choice of label names or values can make
 * two different rows' keys collide except through the 64-bit hash itself:
 *
 *   key    = kind (u8) field...
 *   field  = length (unsigned LEB128) bytes
 *   labels = count (unsigned LEB128) (name field, value field)...
 *
 *   kind 0x01 trace:  tenant, trace id (16 bytes)
 *   kind 0x02 series: tenant, metric name, labels
 *   kind 0x03 stream: tenant, stream labels, request id
 *
 * Strings are UTF-8. Labels are sorted by name in UTF-16 code-unit order (what
 * JavaScript's `<` gives; any fixed order works as long as it never changes).
 */
import { OtlpdbError, assert } from '../errors.js';
import { PartitionLimits } from '../limits.js';
import { compareStrings } from './validate.js';

/** PartitionKeyKind tags the first byte of a partition key; the values are part of the stored format. */
export const PartitionKeyKind = {
  trace: 0x01,
  series: 0x02,
  stream: 0x03,
} as const;

/** TRACE_ID_BYTES is the length of an OTLP trace id. */
export const TRACE_ID_BYTES = 16;

const utf8 = new TextEncoder();

function uvarintBytes(n: number): number {
  let bytes = 1;
  for (let v = n; v >= 0x80; v = Math.floor(v / 0x80)) bytes++;
  return bytes;
}

/**
 * KeyWriter collects a key's items (varints and byte fields), then writes them
 * into one exactly-sized buffer: one allocation per key besides UTF-8 encoding.
 */
class KeyWriter {
  readonly #items: (number | Uint8Array)[] = [];
  #bytes = 1;

  constructor(readonly kind: number) {}

  field(bytes: Uint8Array): void {
    this.uvarint(bytes.length);
    this.#items.push(bytes);
    this.#bytes += bytes.length;
  }

  text(s: string): void {
    this.field(utf8.encode(s));
  }

  uvarint(n: number): void {
    assert(Number.isSafeInteger(n) && n >= 0, 'uvarint takes a non-negative safe integer');
    this.#items.push(n);
    this.#bytes += uvarintBytes(n);
  }

  labels(what: string, labels: Readonly<Record<string, string>>): void {
    const names = Object.keys(labels)
      .filter((name) => labels[name] !== '')
      .sort(compareStrings);
    this.uvarint(names.length);
    for (const name of names) {
      const value = labels[name];
      if (name === '') invalid(`${what} has an empty label name: label names must be non-empty`);
      if (typeof value !== 'string') invalid(`${what} label ${JSON.stringify(name)} has a non-string value`);
      this.text(name);
      this.text(value);
    }
  }

  finish(): Uint8Array {
    if (this.#bytes > PartitionLimits.partitionKeyBytesMax) {
      throw new OtlpdbError(
        'ERR_LIMIT_EXCEEDED',
        `partition key is ${this.#bytes} bytes: the limit is ${PartitionLimits.partitionKeyBytesMax} bytes ` +
          '(tenant, metric name and labels together)',
        { bytes: this.#bytes, max: PartitionLimits.partitionKeyBytesMax },
      );
    }
    const out = new Uint8Array(this.#bytes);
    out[0] = this.kind;
    let at = 1;
    for (const item of this.#items) {
      if (typeof item === 'number') {
        let v = item;
        while (v >= 0x80) {
          out[at++] = (v % 0x80) | 0x80;
          v = Math.floor(v / 0x80);
        }
        out[at++] = v;
      } else {
        out.set(item, at);
        at += item.length;
      }
    }
    assert(at === out.length, 'partition key size computed exactly');
    return out;
  }
}

function invalid(message: string): never {
  throw new OtlpdbError('ERR_INVALID_ARGUMENT', message);
}

function checkTenant(tenant: string): void {
  if (typeof tenant !== 'string' || tenant.length === 0) invalid('tenant is empty: expected a non-empty tenant id');
}

function isAllZero(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b !== 0) return false;
  return true;
}

function traceKey(tenant: string, traceId: Uint8Array): Uint8Array {
  const w = new KeyWriter(PartitionKeyKind.trace);
  w.text(tenant);
  w.field(traceId);
  return w.finish();
}

/**
 * spanPartitionKey is the partition key of a span: its tenant and trace id.
 * The trace id must be 16 bytes and not all zero (the OTLP rule for a valid
 * trace id).
 */
export function spanPartitionKey(tenant: string, traceId: Uint8Array): Uint8Array {
  checkTenant(tenant);
  if (traceId.length !== TRACE_ID_BYTES || isAllZero(traceId)) {
    invalid(`span trace id has ${traceId.length} bytes${traceId.length === TRACE_ID_BYTES ? ', all zero' : ''}: ` +
      `expected ${TRACE_ID_BYTES} bytes, not all zero`);
  }
  return traceKey(tenant, traceId);
}

/**
 * seriesPartitionKey is the partition key of a metric point: tenant, metric
 * name and labels sorted by name (empty-valued labels dropped).
 */
export function seriesPartitionKey(
  tenant: string,
  metricName: string,
  labels: Readonly<Record<string, string>>,
): Uint8Array {
  checkTenant(tenant);
  if (typeof metricName !== 'string' || metricName.length === 0) invalid('metric name is empty: expected a non-empty name');
  const w = new KeyWriter(PartitionKeyKind.series);
  w.text(tenant);
  w.text(metricName);
  w.labels(`series ${JSON.stringify(metricName)}`, labels);
  return w.finish();
}

/**
 * logPartitionKey is the partition key of a log record. With a trace id (16
 * bytes, not all zero) it equals `spanPartitionKey(tenant, traceId)`. A null,
 * empty or all-zero trace id means "none" (OTLP logs leave it empty), and the
 * key is (tenant, stream labels, requestId); `requestId` identifies the ingest
 * request (the receiver passes the request's idempotency key).
 */
export function logPartitionKey(
  tenant: string,
  traceId: Uint8Array | null,
  streamLabels: Readonly<Record<string, string>>,
  requestId: Uint8Array | string,
): Uint8Array {
  checkTenant(tenant);
  if (traceId !== null && traceId.length > 0 && !isAllZero(traceId)) {
    if (traceId.length !== TRACE_ID_BYTES) {
      invalid(`log trace id has ${traceId.length} bytes: expected ${TRACE_ID_BYTES} bytes, or none`);
    }
    return traceKey(tenant, traceId);
  }
  const w = new KeyWriter(PartitionKeyKind.stream);
  w.text(tenant);
  w.labels('log stream', streamLabels);
  if (typeof requestId === 'string') w.text(requestId);
  else w.field(requestId);
  return w.finish();
}
