/**
 * prom-write-test-util.ts — a Prometheus remote-write WriteRequest encoder
 * for tests (prompb's TimeSeries, Label, Sample; see prom-remote-write.ts),
 * so they can send what a Prometheus server sends. Test-only.
 */

function varint(out: number[], v: number | bigint): void {
  let x = BigInt.asUintN(64, BigInt(v));
  while (x >= 0x80n) {
    out.push(Number(x & 0x7fn) | 0x80);
    x >>= 7n;
  }
  out.push(Number(x));
}
function lenField(out: number[], field: number, bytes: readonly number[] | Uint8Array): void {
  varint(out, (field << 3) | 2);
  varint(out, bytes.length);
  for (const b of bytes) out.push(b);
}

/** TestSeries is one series to encode: labels as [name, value] pairs (sent in the given order), samples as [value, timestamp ms]. */
export interface TestSeries {
  readonly labels: readonly (readonly [string, string])[];
  readonly samples: readonly (readonly [number, number, boolean?])[];
}

/** encodeWriteRequest encodes a WriteRequest (not compressed); a sample whose third element is true is written as the staleness marker's exact bits. */
export function encodeWriteRequest(series: readonly TestSeries[]): Uint8Array {
  const out: number[] = [];
  for (const s of series) {
    const ts: number[] = [];
    for (const [n, v] of s.labels) {
      const l: number[] = [];
      lenField(l, 1, Buffer.from(n));
      lenField(l, 2, Buffer.from(v));
      lenField(ts, 2 - 1, l);
    }
    for (const [value, tMs, stale] of s.samples) {
      const smp: number[] = [];
      smp.push((1 << 3) | 1);
      const dv = new DataView(new ArrayBuffer(8));
      if (stale === true) dv.setBigUint64(0, 0x7ff0000000000002n, true);
      else dv.setFloat64(0, value, true);
      for (let i = 0; i < 8; i++) smp.push(dv.getUint8(i));
      varint(smp, (2 << 3) | 0);
      varint(smp, tMs);
      lenField(ts, 2, smp);
    }
    lenField(out, 1, ts);
  }
  return Uint8Array.from(out);
}
