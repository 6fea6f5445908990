/**
 * The protobuf trace writer says what the JSON writer says: random export
 * requests (seeded) are decoded to rows, written by both writers, and the
 * protobuf bytes — decoded by protobufjs from the .proto files, as OTLP
 * TracesData (wire-identical to Tempo's tempopb.Trace) — equal the JSON
 * once ids are hex and default values dropped on both sides.
 */
import t from 'tap';
import { decodeTracesProto } from './index.js';
import { resourceSpansJson } from './otlp-json-writer.js';
import { traceByIdResponseProto, traceProto } from './otlp-proto-writer.js';
import { Gen, TEST_NOW_MS, loadOtlpTypes } from './otlp-test-gen.js';
import { canonical, loadTempoTypes, toObject } from './tempo-proto-test-util.js';
import type { SpanRow } from '../storage/rows.js';

const SEEDS = 40;

function decodedRows(seed: number): SpanRow[] {
  const types = loadOtlpTypes();
  const gen = new Gen(seed, 0);
  const rows: SpanRow[] = [];
  for (let i = 0; i < 3; i++) {
    const bytes = types.traces.encode(types.traces.fromObject(gen.traces())).finish();
    rows.push(...decodeTracesProto(bytes, { tenant: 'default', nowMs: TEST_NOW_MS }).rows);
  }
  return rows;
}

t.test('tempopb.Trace bytes decode to what the JSON writer writes (random traces)', async (t) => {
  const { trace } = loadTempoTypes();
  let spans = 0;
  for (let seed = 1; seed <= SEEDS; seed++) {
    const rows = decodedRows(seed);
    spans += rows.length;
    const fromProto = canonical(toObject(trace, traceProto(rows)).resourceSpans);
    const fromJson = canonical(JSON.parse(JSON.stringify(resourceSpansJson(rows))));
    t.same(fromProto, fromJson, `seed ${seed}: ${rows.length} spans`);
  }
  t.ok(spans > 100, `the seeds produced spans to compare (${spans})`);
  t.equal(traceProto([]).length, 0, 'no spans: an empty Trace');
});

t.test('TraceByIDResponse: the trace in field 1; PARTIAL and the message only when cut', async (t) => {
  const { trace, byId } = loadTempoTypes();
  const rows = decodedRows(7);
  const whole = toObject(byId, traceByIdResponseProto(rows, null));
  t.same(Object.keys(whole).sort(), ['trace'], 'a complete answer has no status (COMPLETE is the default)');
  t.same(canonical(whole.trace), canonical(toObject(trace, traceProto(rows))), 'the same Trace as v1');
  const cut = toObject(byId, traceByIdResponseProto(rows, 'cut at a limit'));
  t.equal(cut.status, 1, 'PARTIAL');
  t.equal(cut.message, 'cut at a limit');
});

t.test('canonical catches a difference (the comparison can fail)', async (t) => {
  const { trace } = loadTempoTypes();
  const rows = decodedRows(3);
  const first = rows[0];
  if (first === undefined) throw new Error('seed 3 gives spans');
  const renamed = [{ ...first, name: `${first.name}-changed` }, ...rows.slice(1)];
  t.not(JSON.stringify(canonical(toObject(trace, traceProto(renamed)).resourceSpans)), JSON.stringify(canonical(JSON.parse(JSON.stringify(resourceSpansJson(rows))))));
});
