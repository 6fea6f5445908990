/**
 * The differential test of the protobuf decoders: seeded random export
 * requests (every data type, valid and defective items, packed and unpacked
 * repeated scalars, unknown fields) encoded by protobufjs from the .proto
 * files; the fast decoders' rows, refused counts and truncation counts must
 * equal those of the slow reference converter (otlp-test-reference.ts) run on
 * protobufjs's own decoding of the same bytes, and every row must be accepted
 * by the shard entry encoder. A failure prints the seed.
 */
import t from 'tap';
import { StorageLimits } from '../limits.js';
import { encodeShardEntry } from '../storage/shard-entry.js';
import type { LogRow, MetricPointRow, SpanRow } from '../storage/rows.js';
import { decodeLogsProto, decodeMetricsProto, decodeTracesProto } from './index.js';
import type { OtlpDecodeResult } from './index.js';
import { Gen, TEST_NOW_MS, loadExtendedOtlpTypes, loadOtlpTypes, loadUnpackedOtlpTypes } from './otlp-test-gen.js';
import type { Obj, OtlpTypes } from './otlp-test-gen.js';
import { firstDifference, refLogs, refMetrics, refTraces } from './otlp-test-reference.js';
import type { RefOptions, RefResult } from './otlp-test-reference.js';

const SEEDS = Number(process.env.OTLP_DIFF_SEEDS ?? 1500);
const OPTS = { tenant: 'default', nowMs: TEST_NOW_MS };
const plain = loadOtlpTypes();
const unpacked = loadUnpackedOtlpTypes();
const extended = loadExtendedOtlpTypes();

type Signal = 'traces' | 'metrics' | 'logs';

/** encodeWith encodes a generated request with one of the three encodings chosen by the seed. */
export function encodeWith(types: OtlpTypes, signal: Signal, msg: Obj): Uint8Array {
  const type = types[signal];
  return type.encode(type.fromObject(msg)).finish();
}

function pickTypes(seed: number): OtlpTypes {
  return [plain, unpacked, extended][seed % 3] as OtlpTypes;
}

/** decodeRef decodes bytes with protobufjs and converts them with the reference. */
function decodeRef(signal: Signal, bytes: Uint8Array, o: RefOptions): RefResult<unknown> {
  const msg = plain[signal].decode(bytes) as unknown as Record<string, unknown>;
  if (signal === 'traces') return refTraces(msg, o);
  if (signal === 'metrics') return refMetrics(msg, o);
  return refLogs(msg, o);
}

function decodeFast(signal: Signal, bytes: Uint8Array): OtlpDecodeResult<unknown> {
  if (signal === 'traces') return decodeTracesProto(bytes, OPTS);
  if (signal === 'metrics') return decodeMetricsProto(bytes, OPTS);
  return decodeLogsProto(bytes, OPTS);
}

/** compareResults is the differential check: null when the fast result equals the reference. */
export function compareResults(fast: OtlpDecodeResult<unknown>, ref: RefResult<unknown>): string | null {
  if (fast.rejected !== ref.rejected) return `rejected ${fast.rejected} vs reference ${ref.rejected} (${JSON.stringify(fast.rejections.map((r) => r.code))})`;
  if (fast.truncatedValues !== ref.truncatedValues) return `truncatedValues ${fast.truncatedValues} vs reference ${ref.truncatedValues}`;
  return firstDifference(fast.rows, ref.rows, 'rows');
}

function entryAccepts(signal: Signal, rows: unknown[]): string | null {
  if (rows.length === 0) return null;
  try {
    encodeShardEntry({
      version: 1,
      tenant: OPTS.tenant,
      idempotencyKey: '0123456789abcdef',
      part: 0,
      parts: 1,
      leaderTimeMs: TEST_NOW_MS,
      spans: signal === 'traces' ? (rows as SpanRow[]) : [],
      points: signal === 'metrics' ? (rows as MetricPointRow[]) : [],
      logs: signal === 'logs' ? (rows as LogRow[]) : [],
    });
    return null;
  } catch (err) {
    return `encodeShardEntry refused a decoded row: ${(err as Error).message}`;
  }
}

for (const signal of ['traces', 'metrics', 'logs'] as const) {
  t.test(`protobuf ${signal}: fast decoder equals the reference on ${SEEDS} seeded requests`, async (t) => {
    let rows = 0;
    let rejected = 0;
    let truncated = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const gen = new Gen(seed * 7919 + signal.length);
      const msg = gen[signal]();
      const bytes = encodeWith(pickTypes(seed), signal, msg);
      const fast = decodeFast(signal, bytes);
      const ref = decodeRef(signal, bytes, OPTS);
      const diff = compareResults(fast, ref) ?? entryAccepts(signal, fast.rows);
      if (diff !== null) {
        t.fail(`${signal} seed ${seed}: ${diff}`);
        return;
      }
      rows += fast.rows.length;
      rejected += fast.rejected;
      truncated += fast.truncatedValues;
    }
    t.ok(rows > SEEDS, `${rows} rows decoded`);
    t.ok(rejected > 0, `${rejected} items refused`);
    if (signal !== 'metrics') t.ok(truncated > 0, `${truncated} values truncated`);
    t.comment(`${signal}: ${rows} rows, ${rejected} refused, ${truncated} truncated, StorageLimits.anyValueDepthMax ${StorageLimits.anyValueDepthMax}`);
  });
}

t.test('planted bug: the differential check catches a decode that swaps two fields', async (t) => {
  // The planted reference swaps span start and end times (and a log's time and observed time): a plausible slip.
  const plant = (row: unknown): unknown => {
    const r = row as Record<string, unknown>;
    if ('startTimeUnixNano' in r && 'endTimeUnixNano' in r) return { ...r, startTimeUnixNano: r.endTimeUnixNano, endTimeUnixNano: r.startTimeUnixNano };
    if ('observedTimeUnixNano' in r) return { ...r, timeUnixNano: r.observedTimeUnixNano, observedTimeUnixNano: r.timeUnixNano };
    return row;
  };
  for (const signal of ['traces', 'logs'] as const) {
    let caught = 0;
    for (let seed = 1; seed <= 50; seed++) {
      const bytes = encodeWith(plain, signal, new Gen(seed, 0)[signal]());
      const fast = decodeFast(signal, bytes);
      if (compareResults(fast, decodeRef(signal, bytes, { ...OPTS, plant })) !== null) caught++;
      t.equal(compareResults(fast, decodeRef(signal, bytes, OPTS)), null, `unplanted ${signal} seed ${seed} agrees`);
    }
    t.ok(caught > 10, `${signal}: the planted swap is caught on ${caught} of 50 seeds`);
  }
});

t.test('the short-string and value caches: thousands of distinct and repeated short strings and ints decode exactly', async (t) => {
  const rand = new Gen(99, 0).rand;
  const spans: Obj[] = [];
  for (let i = 0; i < 400; i++) {
    const attributes: Obj[] = [];
    for (let k = 0; k < 12; k++) {
      const n = rand.intn(3000);
      attributes.push({ key: `key.${(i * 12 + k) % 700}`, value: rand.intn(2) === 0 ? { stringValue: `v${n}-é` } : { intValue: String(n) } });
    }
    spans.push({
      traceId: Uint8Array.from({ length: 16 }, () => 1 + rand.intn(255)),
      spanId: Uint8Array.from({ length: 8 }, () => 1 + rand.intn(255)),
      name: `op-${rand.intn(500)}`,
      startTimeUnixNano: String(BigInt(TEST_NOW_MS) * 1_000_000n),
      endTimeUnixNano: String(BigInt(TEST_NOW_MS) * 1_000_000n),
      attributes,
    });
  }
  const bytes = encodeWith(plain, 'traces', { resourceSpans: [{ scopeSpans: [{ spans }] }] });
  const fast = decodeFast('traces', bytes);
  t.equal(fast.rows.length, 400);
  t.equal(compareResults(fast, decodeRef('traces', bytes, OPTS)), null);
});
