/**
 * staleness.ts — Prometheus's staleness marker (value.StaleNaN, the float64
 * with bits 0x7ff0000000000002) in the metrics store.
 *
 * An OTLP data point flagged FLAG_NO_RECORDED_VALUE (DataPointFlags bit 0:
 * the source had no value at that time, e.g. a scrape target that went away)
 * is stored as this marker, as Prometheus's OTLP translator writes it: a
 * gauge or sum point's sample is the marker whatever value it carries, and a
 * histogram or summary point's flags are kept with the point, so every float
 * series it expands to (`_bucket`, `_sum`, `_count`, quantiles) answers the
 * marker at its time (src/query/metrics-prom-records.ts). PromQL then treats
 * the series as ended there instead of looking back five minutes.
 *
 * The marker is a signalling NaN. It survives Float64Array stores and the
 * codecs (gorilla keeps a NaN's bits), but a JS array quiets it on the way in
 * (it reads back 0x7ff8000000000002, a plain NaN), so it is only ever
 * written into a typed column.
 */

/** POINT_FLAG_NO_RECORDED_VALUE is OTLP's DataPointFlags.FLAG_NO_RECORDED_VALUE_MASK. */
export const POINT_FLAG_NO_RECORDED_VALUE = 1;

/** STALE_NAN_HIGH and STALE_NAN_LOW are the marker's high and low 32-bit words. */
const STALE_NAN_HIGH = 0x7ff00000;
const STALE_NAN_LOW = 0x00000002;

/** STALE_NAN is Prometheus's staleness marker as a number (its payload survives Float64Array stores, not JS arrays). */
export const STALE_NAN: number = (() => {
  const a = new Float64Array(1);
  const w = new Uint32Array(a.buffer);
  w[0] = STALE_NAN_LOW;
  w[1] = STALE_NAN_HIGH;
  return a[0] as number;
})();

/** noRecordedValue says whether a point's OTLP flags mark it as having no recorded value (stored as STALE_NAN). */
export function noRecordedValue(flags: number): boolean {
  return (flags & POINT_FLAG_NO_RECORDED_VALUE) !== 0;
}

/** isStaleMarker says whether sample j of values is the staleness marker (a NaN with a distinct payload; read from the raw bits). */
export function isStaleMarker(values: Float64Array, j: number): boolean {
  if (!Number.isNaN(values[j] as number)) return false;
  const words = new Uint32Array(values.buffer, values.byteOffset + j * 8, 2);
  // Little-endian hosts (every Node target) keep the low word first.
  return words[1] === STALE_NAN_HIGH && words[0] === STALE_NAN_LOW;
}
