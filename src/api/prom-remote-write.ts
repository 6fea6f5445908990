/**
 * prom-remote-write.ts — Prometheus remote write 1.0 (`POST /api/v1/write`)
 * turned into an OTLP metrics request, so that it goes through the same
 * write path as OTLP (tenant, admission and rate limits, idempotency key,
 * the split by shard, the answer after every part commits).
 *
 * Body: the snappy block format (not framed) of a protobuf WriteRequest, as
 * prometheus/prompb defines it (only the fields read here):
 *
 *   WriteRequest { repeated TimeSeries timeseries = 1; repeated MetricMetadata metadata = 3; }
 *   TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2;
 *                  repeated Exemplar exemplars = 3; repeated Histogram histograms = 4; }
 *   Label        { string name = 1; string value = 2; }
 *   Sample       { double value = 1; int64 timestamp = 2; }   (timestamp in ms)
 *
 * Storage (so the Prometheus view shows the series unchanged,
 * metrics-prom-view.ts): each series becomes an OTLP gauge named by its
 * `__name__`, every other label a string point attribute, no resource
 * attributes, instrumentation scope REMOTE_WRITE_SCOPE; each sample one
 * data point (time = timestamp ms × 10^6 ns, as_double = value).
 *
 * Refused with ERR_INVALID_ARGUMENT (400): a body that is not snappy or not
 * a WriteRequest, a series without `__name__`, an invalid or repeated label
 * name, an empty label value, more than remoteWriteLabelsMax labels, a
 * negative timestamp, and native histograms (not supported). A decoded body
 * past remoteWriteDecodedBytesMax is ERR_LIMIT_EXCEEDED (413).
 * A Prometheus staleness marker (the NaN with bits 0x7ff0000000000002)
 * becomes a data point flagged FLAG_NO_RECORDED_VALUE (NumberDataPoint
 * field 8), which the store keeps as the marker (storage/metrics/
 * staleness.ts), so a series a Prometheus agent marks stale ends there, as
 * in Prometheus. Other NaNs are stored as NaN.
 * NB: metadata (field 3) and exemplars are ignored.
 */
import snappy from 'snappyjs';
import { checkTenantId } from '../control/tenant.js';
import type { Ingester } from '../otlp/ingest.js';
import { OtlpdbError } from '../errors.js';
import { MetricsQueryLimits as L } from '../limits.js';
import { ProtoReader, WT_I64, WT_LEN, WT_VARINT, fieldMask } from '../otlp/proto-reader.js';
import { REMOTE_WRITE_SCOPE } from '../query/metrics-prom-view.js';
import { POINT_FLAG_NO_RECORDED_VALUE } from '../storage/metrics/staleness.js';
import { LABEL_NAME } from './prom-params.js';

/** STALE_NAN_BITS is Prometheus's staleness marker (value.StaleNaN). */
export const STALE_NAN_BITS = 0x7ff0000000000002n;

/** RemoteSeries is one decoded remote-write series. */
export interface RemoteSeries {
  readonly labels: readonly { readonly name: string; readonly value: string }[];
  readonly samples: readonly { readonly tMs: bigint; readonly value: number; readonly stale: boolean }[];
}

/** DecodedWrite is a decoded WriteRequest: its series, its samples, and how many of them are staleness markers. */
export interface DecodedWrite {
  readonly series: RemoteSeries[];
  readonly samples: number;
  readonly staleMarkers: number;
}

function bad(why: string): OtlpdbError {
  return new OtlpdbError('ERR_INVALID_ARGUMENT', `remote write: ${why}`);
}

/** uncompressSnappy decodes a snappy block, bounded by remoteWriteDecodedBytesMax. */
export function uncompressSnappy(wire: Uint8Array): Uint8Array {
  try {
    return snappy.uncompress(Buffer.from(wire.buffer, wire.byteOffset, wire.byteLength), L.remoteWriteDecodedBytesMax) as Uint8Array;
  } catch (err) {
    const msg = String(err);
    if (/too big/.test(msg)) throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `remote write: the decoded body exceeds ${L.remoteWriteDecodedBytesMax} bytes`);
    throw bad(`the body is not snappy-compressed (${msg.slice(0, 100)})`);
  }
}

const TS_FIELDS = fieldMask(1, 2, 3, 4);
const LABEL_FIELDS = fieldMask(1, 2);
const SAMPLE_FIELDS = fieldMask(1, 2);
const WR_FIELDS = fieldMask(1, 3);

/** decodeWriteRequest decodes and checks a WriteRequest (see the file comment). */
export function decodeWriteRequest(body: Uint8Array): DecodedWrite {
  const r = new ProtoReader(body);
  r.where = 'WriteRequest';
  const series: RemoteSeries[] = [];
  let samples = 0;
  let staleMarkers = 0;
  const end = body.length;
  while (r.pos < end) {
    const tag = r.tag(end);
    if (tag !== ((1 << 3) | WT_LEN)) {
      r.skip(tag, end, tag >>> 3 === 3 ? 0 : WR_FIELDS);
      continue;
    }
    const tsEnd = r.len(end);
    const labels: { name: string; value: string }[] = [];
    const points: { tMs: bigint; value: number; stale: boolean }[] = [];
    r.where = 'TimeSeries';
    while (r.pos < tsEnd) {
      const t = r.tag(tsEnd);
      if (t === ((1 << 3) | WT_LEN)) {
        const lEnd = r.len(tsEnd);
        let name = '';
        let value = '';
        r.where = 'Label';
        while (r.pos < lEnd) {
          const lt = r.tag(lEnd);
          if (lt === ((1 << 3) | WT_LEN)) {
            const e = r.len(lEnd);
            name = r.string(r.pos, e);
            r.pos = e;
          } else if (lt === ((2 << 3) | WT_LEN)) {
            const e = r.len(lEnd);
            value = r.string(r.pos, e);
            r.pos = e;
          } else r.skip(lt, lEnd, LABEL_FIELDS);
        }
        r.where = 'TimeSeries';
        labels.push({ name, value });
        if (labels.length > L.remoteWriteLabelsMax) throw bad(`a series has more than ${L.remoteWriteLabelsMax} labels`);
      } else if (t === ((2 << 3) | WT_LEN)) {
        const sEnd = r.len(tsEnd);
        let bits = 0n;
        let tMs = 0n;
        r.where = 'Sample';
        while (r.pos < sEnd) {
          const st = r.tag(sEnd);
          if (st === ((1 << 3) | WT_I64)) bits = r.fixed64(sEnd);
          else if (st === ((2 << 3) | WT_VARINT)) tMs = r.int64(sEnd);
          else r.skip(st, sEnd, SAMPLE_FIELDS);
        }
        r.where = 'TimeSeries';
        if (tMs < 0n) throw bad(`a sample has a negative timestamp (${tMs})`);
        const stale = bits === STALE_NAN_BITS;
        if (stale) staleMarkers++;
        const dv = new DataView(new ArrayBuffer(8));
        dv.setBigUint64(0, bits, true);
        points.push({ tMs, value: dv.getFloat64(0, true), stale });
      } else if (t >>> 3 === 4) {
        throw bad('native histograms are not supported; send classic histograms');
      } else r.skip(t, tsEnd, t >>> 3 === 3 ? 0 : TS_FIELDS);
    }
    r.where = 'WriteRequest';
    checkLabels(labels);
    labels.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    samples += points.length;
    series.push({ labels, samples: points });
  }
  return { series, samples, staleMarkers };
}

function checkLabels(labels: readonly { name: string; value: string }[]): void {
  const seen = new Set<string>();
  for (const l of labels) {
    if (!LABEL_NAME.test(l.name)) throw bad(`invalid label name ${JSON.stringify(l.name.slice(0, 64))}`);
    if (seen.has(l.name)) throw bad(`duplicate label name ${JSON.stringify(l.name)}`);
    if (l.value === '') throw bad(`label ${JSON.stringify(l.name)} has an empty value`);
    seen.add(l.name);
  }
  const name = labels.find((l) => l.name === '__name__');
  if (name === undefined) throw bad('a series has no __name__ label');
  if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name.value)) throw bad(`invalid metric name ${JSON.stringify(name.value.slice(0, 64))}`);
}

/** ProtoWriter appends protobuf fields to a growing buffer (the few wire types the OTLP request needs). */
class ProtoWriter {
  #buf = new Uint8Array(1024);
  #len = 0;
  #ensure(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }
  varint(v: number): void {
    this.#ensure(10);
    while (v >= 0x80) {
      this.#buf[this.#len++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.#buf[this.#len++] = v;
  }
  tag(field: number, wt: number): void {
    this.varint((field << 3) | wt);
  }
  bytes(field: number, b: Uint8Array): void {
    this.tag(field, WT_LEN);
    this.varint(b.length);
    this.#ensure(b.length);
    this.#buf.set(b, this.#len);
    this.#len += b.length;
  }
  string(field: number, s: string): void {
    this.bytes(field, Buffer.from(s, 'utf8'));
  }
  fixed64(field: number, v: bigint): void {
    this.tag(field, WT_I64);
    this.#ensure(8);
    new DataView(this.#buf.buffer).setBigUint64(this.#len, v, true);
    this.#len += 8;
  }
  flags(field: number, v: number): void {
    this.tag(field, WT_VARINT);
    this.varint(v);
  }
  double(field: number, v: number): void {
    this.tag(field, WT_I64);
    this.#ensure(8);
    new DataView(this.#buf.buffer).setFloat64(this.#len, v, true);
    this.#len += 8;
  }
  finish(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}

/** otlpOfWrite encodes decoded remote-write series as an OTLP ExportMetricsServiceRequest (see the file comment). */
export function otlpOfWrite(w: DecodedWrite): Uint8Array {
  const scope = new ProtoWriter();
  const is = new ProtoWriter();
  is.string(1, REMOTE_WRITE_SCOPE);
  scope.bytes(1, is.finish());
  for (const s of w.series) {
    if (s.samples.length === 0) continue;
    const gauge = new ProtoWriter();
    const attrs: Uint8Array[] = [];
    for (const l of s.labels) {
      if (l.name === '__name__') continue;
      const any = new ProtoWriter();
      any.string(1, l.value);
      const kv = new ProtoWriter();
      kv.string(1, l.name);
      kv.bytes(2, any.finish());
      attrs.push(kv.finish());
    }
    for (const p of s.samples) {
      const dp = new ProtoWriter();
      for (const a of attrs) dp.bytes(7, a);
      dp.fixed64(3, p.tMs * 1_000_000n);
      dp.double(4, p.value);
      if (p.stale) dp.flags(8, POINT_FLAG_NO_RECORDED_VALUE);
      gauge.bytes(1, dp.finish());
    }
    const metric = new ProtoWriter();
    metric.string(1, (s.labels.find((l) => l.name === '__name__') as { value: string }).value);
    metric.bytes(5, gauge.finish());
    scope.bytes(2, metric.finish());
  }
  const rm = new ProtoWriter();
  rm.bytes(1, new Uint8Array(0));
  rm.bytes(2, scope.finish());
  const req = new ProtoWriter();
  req.bytes(1, rm.finish());
  return req.finish();
}

/** RemoteWriteAnswer is the HTTP answer of POST /api/v1/write (plain text bodies, as Prometheus's receiver writes them). */
export interface RemoteWriteAnswer {
  readonly status: number;
  readonly body: string;
  readonly retryAfterSeconds?: number;
}

/**
 * remoteWriteStatus maps an outcome to remote write's statuses: 204 when
 * stored; 400 when any sample was refused (a retry cannot help: out of
 * order, bad data); 413 past a size bound; 429 rate limited and 503 busy or
 * uncommitted (both retryable, and a retry is deduplicated by the
 * idempotency key).
 */
export function remoteWriteStatus(outcome: { rejected: number; message: string } | OtlpdbError): RemoteWriteAnswer {
  if (!(outcome instanceof OtlpdbError)) return outcome.rejected === 0 ? { status: 204, body: '' } : { status: 400, body: outcome.message };
  const e = outcome;
  const retry = Number(e.details['retryAfterMs'] ?? 0);
  const after = retry > 0 ? { retryAfterSeconds: Math.ceil(retry / 1000) } : {};
  switch (e.code) {
    case 'ERR_INVALID_ARGUMENT':
      return { status: 400, body: e.message };
    case 'ERR_LIMIT_EXCEEDED':
      return { status: 413, body: e.message };
    case 'ERR_RATE_LIMITED':
      return { status: 429, body: e.message, ...after };
    default:
      return { status: e.retryable || e.code === 'ERR_TIMEOUT' ? 503 : 500, body: e.message, ...after };
  }
}

/** checkRemoteWriteHeaders refuses a request that is not snappy protobuf (415, as Prometheus's receiver), or answers null. */
export function checkRemoteWriteHeaders(headers: Readonly<Record<string, string | string[] | undefined>>): RemoteWriteAnswer | null {
  const enc = String(headers['content-encoding'] ?? '').toLowerCase();
  if (enc !== 'snappy') return { status: 415, body: `remote write: unsupported Content-Encoding ${JSON.stringify(enc)}; only snappy` };
  const type = String(headers['content-type'] ?? '').toLowerCase();
  if (type !== '' && !type.startsWith('application/x-protobuf')) return { status: 415, body: `remote write: unsupported Content-Type ${JSON.stringify(type)}; application/x-protobuf` };
  const version = headers['x-prometheus-remote-write-version'];
  if (version !== undefined && !String(version).startsWith('0.1')) return { status: 415, body: `remote write: unsupported version ${JSON.stringify(version)}; 0.1.0` };
  return null;
}

/** serveRemoteWrite answers POST /api/v1/write: headers checked, then the node's remote-write path (404 when it has none). */
export async function serveRemoteWrite(
  s: { remoteWrite?(tenant: string, wire: Uint8Array): Promise<{ readonly accepted: number; readonly rejected: number; readonly message: string }> } | undefined,
  headers: Readonly<Record<string, string | string[] | undefined>>,
  body: Uint8Array,
): Promise<RemoteWriteAnswer> {
  const write = s?.remoteWrite;
  if (s === undefined || write === undefined) return { status: 404, body: 'this node accepts no remote write' };
  const refused = checkRemoteWriteHeaders(headers);
  if (refused !== null) return refused;
  const org = headers['x-scope-orgid'];
  const tenant = typeof org === 'string' && org !== '' ? org : 'default';
  const problem = checkTenantId(tenant);
  if (problem !== null) return { status: 400, body: `X-Scope-OrgID: ${problem}` };
  try {
    return remoteWriteStatus(await write.call(s, tenant, body));
  } catch (err) {
    return remoteWriteStatus(err instanceof OtlpdbError ? err : new OtlpdbError('ERR_INTERNAL', String(err)));
  }
}

/**
 * remoteWriteVia stores one remote-write body through a node's OTLP write
 * path: admission on the wire bytes, snappy and protobuf decoded, the OTLP
 * request admitted at its size, ingested (resolving after every part
 * committed), the admission released whatever happens.
 */
export async function remoteWriteVia(ingester: Ingester, tenant: string, wire: Uint8Array): Promise<{ accepted: number; rejected: number; message: string }> {
  const admission = ingester.admit('metrics', tenant, wire.length);
  try {
    const decoded = decodeWriteRequest(uncompressSnappy(wire));
    if (decoded.series.every((s) => s.samples.length === 0)) return { accepted: 0, rejected: 0, message: '' };
    const body = otlpOfWrite(decoded);
    ingester.grow(admission, body.length);
    const out = await ingester.ingest({ signal: 'metrics', tenant, format: 'proto', body, deadlineMs: performance.now() + ingester.settings.requestDeadlineMs });
    return { accepted: out.accepted, rejected: out.rejected, message: out.message };
  } finally {
    ingester.release(admission);
  }
}
