/**
 * prom-json.ts — a range query's matrix written as the JSON text of
 * Prometheus's `data.result` directly, without an array object per point
 * and a `metric` object per series for JSON.stringify to walk (a 24 h
 * query at step 1m is 1,441 points a series).
 *
 * The text is byte for byte what JSON.stringify makes of the object form
 * (prom-routes.ts promResultJson): times as JSON numbers (ms / 1000), values
 * as formatPromFloat's strings (digits, `.`, `-`, `NaN`, `+Inf`, `-Inf`:
 * nothing to escape), label names and values quoted by JSON.stringify.
 * Where the object form would differ from a plain walk of the labels — a
 * label named `__proto__` (an object drops it), an array-index-like name
 * (an object lists those first) or a name twice (an object keeps one) —
 * matrixResultJson and matrixAnswerBytes answer null and the caller writes
 * the object form, so the answer never changes.
 *
 * The answer is written as UTF-8 bytes into one growing buffer
 * (matrixAnswerBytes, what a node sends), not built as a string: a string
 * of a point at a time is a tree of some 57,600 × 3 small strings for 40
 * series × 1,441 points that lives until the answer is flattened, long
 * enough to be promoted, about 10 MB a query into the old generation, then
 * flattened and encoded again for the socket. Now each series' points are
 * one string (about 50 KB for 1,441 points) copied into the buffer at once
 * and dropped: it dies young. JSON.stringify's text is
 * well-formed UTF-16 (it escapes lone surrogates), so the bytes decode back
 * to exactly matrixResultJson's string.
 *
 * Invariant (ByteText): 0 <= #at <= #buf.length <= bytesMax; bytes
 * [0, #at) are the text written so far.
 */
import { OtlpdbError, assert } from '../errors.js';
import { MetricsQueryLimits } from '../limits.js';
import { formatPromFloat } from '../query/metrics-prom-records.js';
import type { FloatSeries } from '../query/promql/source.js';

const INDEX_LIKE = /^(0|[1-9]\d*)$/;

/** POINT_BYTES_GUESS is the bytes a point's text is assumed to take when the buffer is first sized (`[1700000000,"1666.6666666666667"],` is 34). */
const POINT_BYTES_GUESS = 40;
/** SERIES_BYTES_GUESS is the bytes a series' text besides its points is assumed to take when the buffer is first sized. */
const SERIES_BYTES_GUESS = 128;

const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

/**
 * ByteText is JSON text written as UTF-8 into one buffer that doubles when
 * full, up to `bytesMax` (past it ERR_LIMIT_EXCEEDED); see the invariant at
 * the top of this file.
 */
class ByteText {
  #buf: Buffer;
  #at = 0;
  readonly #bytesMax: number;

  constructor(initialBytes: number, bytesMax: number) {
    assert(Number.isSafeInteger(initialBytes) && initialBytes >= 1, 'a buffer of at least one byte');
    assert(Number.isSafeInteger(bytesMax) && bytesMax >= 1, 'a positive bound');
    this.#bytesMax = bytesMax;
    this.#buf = Buffer.allocUnsafe(Math.min(initialBytes, bytesMax));
  }

  /** #room makes room for `n` more bytes. */
  #room(n: number): void {
    const need = this.#at + n;
    if (need <= this.#buf.length) return;
    if (need > this.#bytesMax) throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `the query's answer is larger than ${this.#bytesMax} bytes (MetricsQueryLimits.answerBodyBytesMax); narrow the query`, { max: this.#bytesMax });
    const grown = Buffer.allocUnsafe(Math.min(this.#bytesMax, Math.max(need, 2 * this.#buf.length)));
    this.#buf.copy(grown, 0, 0, this.#at);
    this.#buf = grown;
    assert(this.#at + n <= this.#buf.length, 'room made');
  }

  /** byte writes one ASCII byte. */
  byte(c: number): void {
    this.#room(1);
    this.#buf[this.#at++] = c;
  }

  /**
   * ascii writes a string of ASCII characters only — constant punctuation,
   * numbers' and formatPromFloat's spellings, which are ASCII by
   * construction — a byte each, in one native copy.
   */
  ascii(s: string): void {
    this.#room(s.length);
    const n = this.#buf.write(s, this.#at, 'latin1');
    assert(n === s.length, 'every character written');
    this.#at += n;
  }

  /** text writes any well-formed string as UTF-8. */
  text(s: string): void {
    this.#room(Buffer.byteLength(s, 'utf8'));
    this.#at += this.#buf.write(s, this.#at, 'utf8');
  }

  /** bytes is what was written (a view of the buffer). */
  bytes(): Buffer {
    assert(this.#at <= this.#buf.length, 'written within the buffer');
    return this.#buf.subarray(0, this.#at);
  }
}

/** objectFormDiffers is true where an object would not list the labels as written (see the top of this file). */
function objectFormDiffers(series: readonly FloatSeries[]): boolean {
  for (const s of series) {
    const ls = s.labels;
    for (let j = 0; j < ls.length; j++) {
      const name = (ls[j] as FloatSeries['labels'][number]).name;
      if (name === '__proto__' || INDEX_LIKE.test(name)) return true;
      for (let m = 0; m < j; m++) if ((ls[m] as FloatSeries['labels'][number]).name === name) return true;
    }
  }
  return false;
}

/**
 * matrixAnswerBytes is `head`, a matrix's `result` array as JSON text and
 * `tail`, written as UTF-8 bytes (see the top of this file), or null where
 * the object form must be written. `initialBytes` sizes the buffer first
 * (by default from the point count; tests pass 1 to grow it everywhere);
 * past `bytesMax` ERR_LIMIT_EXCEEDED.
 */
export function matrixAnswerBytes(series: readonly FloatSeries[], head: string, tail: string, initialBytes?: number, bytesMax: number = MetricsQueryLimits.answerBodyBytesMax): Buffer | null {
  if (objectFormDiffers(series)) return null;
  let guess = head.length + tail.length + 2;
  for (const s of series) guess += SERIES_BYTES_GUESS + POINT_BYTES_GUESS * s.values.length;
  const out = new ByteText(initialBytes ?? guess, bytesMax);
  out.text(head);
  out.byte(LBRACKET);
  for (let k = 0; k < series.length; k++) {
    const s = series[k] as FloatSeries;
    if (k > 0) out.byte(COMMA);
    out.ascii('{"metric":{');
    for (let j = 0; j < s.labels.length; j++) {
      const l = s.labels[j] as FloatSeries['labels'][number];
      if (j > 0) out.byte(COMMA);
      out.text(JSON.stringify(l.name));
      out.byte(COLON);
      out.text(JSON.stringify(l.value));
    }
    out.ascii('},"values":[');
    const ts = s.timestampsMs;
    const vs = s.values;
    assert(ts.length === vs.length, 'a time for every value');
    // A series' points are one short-lived string (about 50 KB for 1,441 points), copied once: it dies young, where the whole answer's would not.
    let points = '';
    for (let i = 0; i < ts.length; i++) points += `${i > 0 ? ',' : ''}[${String((ts[i] as number) / 1000)},"${formatPromFloat(vs[i] as number)}"]`;
    out.ascii(points);
    out.ascii(']}');
  }
  out.byte(RBRACKET);
  out.text(tail);
  return out.bytes();
}

/** matrixResultJson is the JSON text of a matrix's `result` array (matrixAnswerBytes's, as a string), or null where the object form must be written (see the top of this file). */
export function matrixResultJson(series: readonly FloatSeries[]): string | null {
  return matrixAnswerBytes(series, '', '')?.toString('utf8') ?? null;
}
