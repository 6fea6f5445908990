/**
 * The differential test of the OTLP/JSON decoders: the seeded requests of
 * proto-decode.test.ts, rendered as OTLP/JSON by an independent writer
 * (otlp-test-json.ts: camelCase or snake_case, ints as strings or numbers,
 * enums as names or integers, hex ids, base64 bytes), must decode to exactly
 * the rows, refusals and truncations the protobuf decoders give for the same
 * request. A failure prints the seed.
 */
import t from 'tap';
import { SeededRand } from '../fs/seeded-rand.js';
import { decodeLogsJson, decodeLogsProto, decodeMetricsJson, decodeMetricsProto, decodeTracesJson, decodeTracesProto } from './index.js';
import type { OtlpDecodeOptions, OtlpDecodeResult } from './index.js';
import { Gen, TEST_NOW_MS, loadOtlpTypes } from './otlp-test-gen.js';
import { toOtlpJson } from './otlp-test-json.js';
import { firstDifference } from './otlp-test-reference.js';

const SEEDS = Number(process.env.OTLP_DIFF_SEEDS ?? 1500);
const OPTS: OtlpDecodeOptions = { tenant: 'default', nowMs: TEST_NOW_MS };
const types = loadOtlpTypes();

type Decode = (body: Uint8Array, o: OtlpDecodeOptions) => OtlpDecodeResult<unknown>;
const DECODERS: Record<'traces' | 'metrics' | 'logs', [Decode, Decode]> = {
  traces: [decodeTracesProto, decodeTracesJson],
  metrics: [decodeMetricsProto, decodeMetricsJson],
  logs: [decodeLogsProto, decodeLogsJson],
};

/** compareDecodes is the JSON differential check: null when the JSON decode equals the protobuf one. */
function compareDecodes(fromJson: OtlpDecodeResult<unknown>, fromProto: OtlpDecodeResult<unknown>): string | null {
  if (fromJson.rejected !== fromProto.rejected) {
    return `rejected ${fromJson.rejected} vs protobuf ${fromProto.rejected} (${JSON.stringify(fromJson.rejections.map((r) => r.code))} vs ${JSON.stringify(fromProto.rejections.map((r) => r.code))})`;
  }
  if (fromJson.truncatedValues !== fromProto.truncatedValues) return `truncatedValues ${fromJson.truncatedValues} vs protobuf ${fromProto.truncatedValues}`;
  return firstDifference(fromJson.rows, fromProto.rows, 'rows');
}

for (const signal of ['traces', 'metrics', 'logs'] as const) {
  t.test(`OTLP/JSON ${signal}: same rows as protobuf on ${SEEDS} seeded requests`, async (t) => {
    const [proto, json] = DECODERS[signal];
    let rows = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const msg = new Gen(seed * 7919 + signal.length)[signal]();
      const type = types[signal];
      const fromProto = proto(type.encode(type.fromObject(msg)).finish(), OPTS);
      const body = Buffer.from(JSON.stringify(toOtlpJson(new SeededRand(seed), msg)));
      let fromJson: OtlpDecodeResult<unknown>;
      try {
        fromJson = json(body, OPTS);
      } catch (err) {
        t.fail(`${signal} seed ${seed}: the JSON decoder threw ${(err as Error).message}`);
        return;
      }
      const diff = compareDecodes(fromJson, fromProto);
      if (diff !== null) {
        t.fail(`${signal} seed ${seed}: ${diff}`);
        return;
      }
      rows += fromJson.rows.length;
    }
    t.ok(rows > SEEDS, `${rows} rows decoded identically`);
  });
}

t.test('planted bug: the JSON differential check catches a JSON decode that swaps two fields', async (t) => {
  // A JSON decoder with the planted slip: a point's start and end times swapped.
  const planted = (body: Uint8Array, o: OtlpDecodeOptions): OtlpDecodeResult<unknown> => {
    const r = decodeMetricsJson(body, o);
    return { ...r, rows: r.rows.map((row) => ({ ...(row as object), startTimeUnixNano: (row as { timeUnixNano: bigint }).timeUnixNano, timeUnixNano: (row as { startTimeUnixNano: bigint }).startTimeUnixNano })) };
  };
  let caught = 0;
  for (let seed = 1; seed <= 50; seed++) {
    const msg = new Gen(seed, 0).metrics();
    const type = types.metrics;
    const fromProto = decodeMetricsProto(type.encode(type.fromObject(msg)).finish(), OPTS);
    const body = Buffer.from(JSON.stringify(toOtlpJson(new SeededRand(seed), msg)));
    t.equal(compareDecodes(decodeMetricsJson(body, OPTS), fromProto), null, `seed ${seed}: the real decoder agrees`);
    if (compareDecodes(planted(body, OPTS), fromProto) !== null) caught++;
  }
  t.ok(caught > 10, `the planted swap is caught on ${caught} of 50 seeds`);
});
