/**
 * head-sampling.ts — optional per-tenant head sampling of spans
 * (TenantSettings.traceSampleRatio), decided from the trace id alone exactly
 * as OpenTelemetry's TraceIdRatioBased sampler (the JS SDK's
 * TraceIdRatioBasedSampler) decides it: the four big-endian 32-bit words of
 * the trace id XORed together, kept when below floor(ratio * 0xffffffff)
 * (below 2^32, that is always, at ratio 1).
 * Every node, and every SDK configured with the same ratio, decides the same
 * for a trace, so a trace is kept or dropped whole.
 */
import { assert } from '../errors.js';
import { TRACE_ID_BYTES } from '../storage/rows.js';

/** sampleUpperBound is the bound a trace id's accumulation is compared with, for a ratio in [0, 1] (2^32 at 1: every trace is kept). */
export function sampleUpperBound(ratio: number): number {
  assert(Number.isFinite(ratio) && ratio >= 0 && ratio <= 1, 'a sample ratio is in [0, 1]');
  return ratio === 1 ? 0x1_0000_0000 : Math.floor(ratio * 0xffffffff);
}

/** traceIdAccumulation XORs the trace id's four big-endian 32-bit words. */
export function traceIdAccumulation(traceId: Uint8Array): number {
  assert(traceId.length === TRACE_ID_BYTES, 'a trace id is 16 bytes');
  let acc = 0;
  for (let i = 0; i < TRACE_ID_BYTES; i += 4) {
    const word = (((traceId[i] as number) << 24) | ((traceId[i + 1] as number) << 16) | ((traceId[i + 2] as number) << 8) | (traceId[i + 3] as number)) >>> 0;
    acc = (acc ^ word) >>> 0;
  }
  return acc;
}

/** keepTrace is the TraceIdRatioBased decision for a trace id under `upperBound` (sampleUpperBound). */
export function keepTrace(traceId: Uint8Array, upperBound: number): boolean {
  return traceIdAccumulation(traceId) < upperBound;
}
