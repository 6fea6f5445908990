/**
 * export-response.ts — the success answer of an OTLP export:
 * Export{Trace,Metrics,Logs}ServiceResponse, whose only field is
 * partial_success, left unset when every item was accepted (the OTLP
 * specification's rule) and set with the rejected count and a message
 * otherwise.
 *
 *   Export*ServiceResponse { Export*PartialSuccess partial_success = 1; }
 *   Export*PartialSuccess  { int64 rejected_{spans,data_points,log_records} = 1; string error_message = 2; }
 */
import { assert } from '../errors.js';
import type { OtlpSignal } from './ingest.js';
import { ProtoWriter } from './rpc-status.js';

const REJECTED_JSON: Readonly<Record<OtlpSignal, string>> = { traces: 'rejectedSpans', metrics: 'rejectedDataPoints', logs: 'rejectedLogRecords' };

/** exportResponseProto encodes the response for protobuf clients (gRPC and http/protobuf). */
export function exportResponseProto(rejected: number, message: string): Uint8Array {
  assert(Number.isSafeInteger(rejected) && rejected >= 0, 'rejected is a count');
  if (rejected === 0 && message === '') return new Uint8Array(0);
  const ps = new ProtoWriter();
  if (rejected !== 0) ps.varintField(1, rejected);
  if (message !== '') ps.bytesField(2, new TextEncoder().encode(message));
  const w = new ProtoWriter();
  w.bytesField(1, ps.finish());
  return w.finish();
}

/** exportResponseJson is the response in the OTLP JSON mapping (int64 as a decimal string). */
export function exportResponseJson(signal: OtlpSignal, rejected: number, message: string): Record<string, unknown> {
  assert(Number.isSafeInteger(rejected) && rejected >= 0, 'rejected is a count');
  if (rejected === 0 && message === '') return {};
  const ps: Record<string, unknown> = {};
  if (rejected !== 0) ps[REJECTED_JSON[signal]] = String(rejected);
  if (message !== '') ps['errorMessage'] = message;
  return { partialSuccess: ps };
}
