/**
 * export-response.ts — the Export{Trace,Metrics,Logs}ServiceResponse a
 * receiver answers with: empty when nothing was refused, else partial_success
 * with the refused item count (field 1: rejected_spans, rejected_data_points
 * or rejected_log_records) and a message (field 2: error_message).
 */
import { assert } from '../errors.js';
import type { OtlpSignal } from './decode-result.js';
import { ProtoWriter } from './rpc-status.js';

const REJECTED_JSON_FIELD: Readonly<Record<OtlpSignal, string>> = {
  traces: 'rejectedSpans',
  metrics: 'rejectedDataPoints',
  logs: 'rejectedLogRecords',
};

/**
 * encodeExportResponseProto is the protobuf response for `signal`: empty (no
 * partial_success) when `rejected` is 0 and `message` empty, otherwise
 * partial_success { rejected = 1, error_message = 2 }.
 */
export function encodeExportResponseProto(rejected: number, message: string, signal: OtlpSignal): Uint8Array {
  assert(Number.isSafeInteger(rejected) && rejected >= 0, 'rejected is a count');
  assert(signal in REJECTED_JSON_FIELD, 'known signal');
  if (rejected === 0 && message === '') return new Uint8Array(0);
  const inner = new ProtoWriter();
  if (rejected > 0) inner.varintField(1, rejected);
  if (message !== '') inner.bytesField(2, Buffer.from(message, 'utf8'));
  const out = new ProtoWriter();
  out.bytesField(1, inner.finish());
  return out.finish();
}

/**
 * exportResponseJson is the OTLP/JSON response for `signal`: `{}` when
 * nothing was refused, otherwise `{ partialSuccess: { rejectedSpans (or
 * rejectedDataPoints, rejectedLogRecords): "<count>", errorMessage } }` — the
 * count is a decimal string, as the protobuf JSON mapping writes int64.
 */
export function exportResponseJson(rejected: number, message: string, signal: OtlpSignal): object {
  assert(Number.isSafeInteger(rejected) && rejected >= 0, 'rejected is a count');
  assert(signal in REJECTED_JSON_FIELD, 'known signal');
  if (rejected === 0 && message === '') return {};
  const partialSuccess: Record<string, string> = {};
  if (rejected > 0) partialSuccess[REJECTED_JSON_FIELD[signal]] = String(rejected);
  if (message !== '') partialSuccess.errorMessage = message;
  return { partialSuccess };
}
