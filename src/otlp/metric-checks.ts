/**
 * metric-checks.ts — the per-point rules of metric data both OTLP decoders
 * apply once a point's fields are read (temporality, histogram shape, scale,
 * quantiles, list lengths), so that protobuf and JSON refuse the same points
 * with the same codes.
 */
import { StorageLimits } from '../limits.js';
import type { Temporality } from '../storage/rows.js';
import { EXP_SCALE_MAX, EXP_SCALE_MIN } from '../storage/rows.js';
import type { DecodeContext } from './decode-result.js';
import { COUNT_TOO_LARGE } from './proto-reader.js';

/** checkTemporality records OTLP_BAD_TEMPORALITY unless `t` is delta (1) or cumulative (2). */
export function checkTemporality(ctx: DecodeContext, t: number, what: string): Temporality {
  if (t !== 1 && t !== 2) ctx.reject('OTLP_BAD_TEMPORALITY', `${what} aggregation temporality ${t} is not delta (1) or cumulative (2)`);
  return t as Temporality;
}

/** checkCount records OTLP_COUNT_TOO_LARGE when a count reader returned COUNT_TOO_LARGE (or a JSON count is above 2^53 - 1), and returns a safe count. */
export function checkCount(ctx: DecodeContext, c: number, what: string): number {
  if (c === COUNT_TOO_LARGE || !Number.isSafeInteger(c) || c < 0) {
    ctx.reject('OTLP_COUNT_TOO_LARGE', `${what} is above 2^53 - 1`);
    return 0;
  }
  return c;
}

/** pushBucket appends a checked count to `counts`, recording OTLP_LIMIT_EXCEEDED past StorageLimits.histogramBucketsMax. */
export function pushBucket(ctx: DecodeContext, counts: number[], c: number, what: string): void {
  const v = checkCount(ctx, c, what);
  if (counts.length < StorageLimits.histogramBucketsMax) counts.push(v);
  else ctx.reject('OTLP_LIMIT_EXCEEDED', `${what} has more than ${StorageLimits.histogramBucketsMax} entries`);
}

/** pushBound appends an explicit bound to `bounds`, recording OTLP_LIMIT_EXCEEDED past StorageLimits.histogramBucketsMax. */
export function pushBound(ctx: DecodeContext, bounds: number[], b: number): void {
  if (bounds.length < StorageLimits.histogramBucketsMax) bounds.push(b);
  else ctx.reject('OTLP_LIMIT_EXCEEDED', `explicit bounds have more than ${StorageLimits.histogramBucketsMax} entries`);
}

/**
 * checkHistogramShape records OTLP_BAD_HISTOGRAM unless there is one more
 * bucket count than bounds (or neither) and the bounds strictly increase.
 */
export function checkHistogramShape(ctx: DecodeContext, bounds: readonly number[], counts: readonly number[]): void {
  if (!(counts.length === bounds.length + 1 || (counts.length === 0 && bounds.length === 0))) {
    ctx.reject('OTLP_BAD_HISTOGRAM', `${counts.length} bucket counts for ${bounds.length} explicit bounds`);
    return;
  }
  for (let i = 1; i < bounds.length; i++) {
    if (!((bounds[i - 1] as number) < (bounds[i] as number))) {
      ctx.reject('OTLP_BAD_HISTOGRAM', 'explicit bounds are not strictly increasing');
      return;
    }
  }
  if (bounds.length === 1 && Number.isNaN(bounds[0])) ctx.reject('OTLP_BAD_HISTOGRAM', 'an explicit bound is NaN');
}

/** checkScale records OTLP_BAD_HISTOGRAM unless an exponential histogram's scale is in [EXP_SCALE_MIN, EXP_SCALE_MAX]. */
export function checkScale(ctx: DecodeContext, scale: number): void {
  if (!(scale >= EXP_SCALE_MIN && scale <= EXP_SCALE_MAX)) ctx.reject('OTLP_BAD_HISTOGRAM', `scale ${scale} is outside [${EXP_SCALE_MIN}, ${EXP_SCALE_MAX}]`);
}

/** checkQuantile records OTLP_BAD_SUMMARY unless 0 <= q <= 1. */
export function checkQuantile(ctx: DecodeContext, q: number): void {
  if (!(q >= 0 && q <= 1)) ctx.reject('OTLP_BAD_SUMMARY', `quantile ${q} is outside [0, 1]`);
}

/** checkListMax records OTLP_LIMIT_EXCEEDED when a list of `n` entries is over `max`. */
export function checkListMax(ctx: DecodeContext, n: number, max: number, what: string): void {
  if (n > max) ctx.reject('OTLP_LIMIT_EXCEEDED', `${what} has more than ${max} entries`);
}
