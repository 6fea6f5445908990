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
      const diff =
        fromJson.rejected !== fromProto.rejected
          ? `rejected ${fromJson.rejected} vs protobuf ${fromProto.rejected} (${JSON.stringify(fromJson.rejections.map((r) => r.code))} vs ${JSON.stringify(fromProto.rejections.map((r) => r.code))})`
          : fromJson.truncatedValues !== fromProto.truncatedValues
            ? `truncatedValues ${fromJson.truncatedValues} vs protobuf ${fromProto.truncatedValues}`
            : firstDifference(fromJson.rows, fromProto.rows, 'rows');
      if (diff !== null) {
        t.fail(`${signal} seed ${seed}: ${diff}`);
        return;
      }
      rows += fromJson.rows.length;
    }
    t.ok(rows > SEEDS, `${rows} rows decoded identically`);
  });
}
