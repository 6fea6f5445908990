import t from 'tap';
import { SeededRand } from '../fs/seeded-rand.js';
import type { MetricPointRow } from './rows.js';
import { randomRows, seededEntry } from './rows-test-util.js';
import { decodeShardEntry, encodeShardEntry } from './shard-entry.js';
import type { ShardEntry } from './shard-entry.js';
import { KIND_GAUGE, KIND_ROW, KIND_SUM_CUMULATIVE, KIND_SUM_CUMULATIVE_NON_MONOTONIC, KIND_SUM_DELTA, KIND_SUM_DELTA_NON_MONOTONIC, MetricEntryColumns, decodeMetricEntry, wellFormedUtf8 } from './metric-entry.js';
import { numberValue, timestampMs } from './metrics/series-identity.js';
import { isStaleMarker, noRecordedValue } from './metrics/staleness.js';

function pointsEntry(rand: SeededRand, points: MetricPointRow[], tenant = 'default'): ShardEntry {
  return seededEntry(rand, tenant, { points });
}

/** randomPointsEntry is a points-only entry; about half its points are plain (no exemplars, scalar attributes), the columns' case. */
function randomPointsEntry(rand: SeededRand, n: number): ShardEntry {
  const tenant = rand.intn(2) === 0 ? 'default' : `tenant-${rand.intn(100)}`;
  const points = randomRows(rand, { points: n, tenant }).points.map((p) =>
    rand.intn(2) === 0 ? p : { ...p, exemplars: [], attributes: p.attributes.filter((kv) => kv.value.type !== 'bytes' && kv.value.type !== 'array' && kv.value.type !== 'kvlist') },
  );
  return pointsEntry(rand, points, tenant);
}

function kindOf(p: MetricPointRow): number {
  const d = p.data;
  if (d.type === 'gauge') return KIND_GAUGE;
  if (d.type === 'sum' && d.monotonic) return d.temporality === 1 ? KIND_SUM_DELTA : KIND_SUM_CUMULATIVE;
  if (d.type === 'sum') return d.temporality === 1 ? KIND_SUM_DELTA_NON_MONOTONIC : KIND_SUM_CUMULATIVE_NON_MONOTONIC;
  return KIND_ROW;
}

/**
 * disagreement checks decodeMetricEntry against decodeShardEntry on one
 * entry's bytes and names the first difference (null when they agree): a
 * true return must mean decodeShardEntry accepts the entry, with the same
 * header, the same rows (row(i)) and, for column points, the same time,
 * value and kind; a refused entry must make decodeMetricEntry return false.
 */
function disagreement(bytes: Uint8Array, decode: (b: Uint8Array, c: MetricEntryColumns) => boolean = decodeMetricEntry): string | null {
  const c = new MetricEntryColumns();
  const took = decode(bytes, c);
  let entry: ShardEntry;
  try {
    entry = decodeShardEntry(bytes);
  } catch {
    return took ? 'took an entry decodeShardEntry refuses' : null;
  }
  if (!took) return entry.spans.length === 0 && entry.logs.length === 0 && entry.points.length > 0 ? 'not-taken' : null;
  if (entry.spans.length > 0 || entry.logs.length > 0) return 'took an entry with spans or logs';
  const header = [entry.tenant, entry.idempotencyKey, entry.part, entry.parts, entry.leaderTimeMs];
  const got = [c.tenant, c.idempotencyKey, c.part, c.parts, c.leaderTimeMs];
  if (JSON.stringify(header) !== JSON.stringify(got)) return `header ${JSON.stringify(got)} is not ${JSON.stringify(header)}`;
  if (c.n !== entry.points.length) return `${c.n} points, not ${entry.points.length}`;
  for (let i = 0; i < c.n; i++) {
    const p = entry.points[i] as MetricPointRow;
    const r = c.row(i);
    if (JSON.stringify(r, big) !== JSON.stringify(p, big)) return `row ${i} differs`;
    if (c.kind[i] === KIND_ROW) continue;
    if (c.kind[i] !== kindOf(p)) return `point ${i} kind ${c.kind[i]} is not ${kindOf(p)}`;
    if (c.tMs[i] !== timestampMs(p.timeUnixNano)) return `point ${i} time ${c.tMs[i]} is not ${timestampMs(p.timeUnixNano)}`;
    // A point flagged no-recorded-value is stored as the staleness marker, whatever its value (metrics/staleness.ts).
    if (noRecordedValue(p.flags)) {
      if (!isStaleMarker(c.value, i)) return `point ${i} is flagged no-recorded-value but its value ${c.value[i]} is not the staleness marker`;
      continue;
    }
    const v = numberValue((p.data as { value: Parameters<typeof numberValue>[0] }).value);
    if (!Object.is(c.value[i], v)) return `point ${i} value ${c.value[i]} is not ${v}`;
  }
  return null;
}

function big(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return `${v}n`;
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  return v;
}

t.test('random points-only entries: the columns agree with decodeShardEntry point by point', async (t) => {
  const seed = 20261127;
  const rand = new SeededRand(seed);
  let columns = 0;
  let rows = 0;
  for (let i = 0; i < 300; i++) {
    const bytes = encodeShardEntry(randomPointsEntry(rand, 1 + rand.intn(12)));
    t.equal(disagreement(bytes), null, `entry ${i} (seed ${seed})`);
    const c = new MetricEntryColumns();
    t.ok(decodeMetricEntry(bytes, c), `entry ${i} is taken`);
    for (let k = 0; k < c.n; k++) {
      if (c.kind[k] === KIND_ROW) rows++;
      else columns++;
    }
  }
  t.ok(columns > 200 && rows > 200, `both kinds of points seen: ${columns} in columns, ${rows} as rows`);
});

t.test('entries with spans or logs, and empty entries, are left to decodeShardEntry', async (t) => {
  const rand = new SeededRand(3);
  const rowsOf = randomRows(rand, { spans: 2, points: 3, logs: 2 });
  const base = pointsEntry(rand, rowsOf.points);
  const c = new MetricEntryColumns();
  t.notOk(decodeMetricEntry(encodeShardEntry({ ...base, spans: rowsOf.spans }), c), 'spans');
  t.notOk(decodeMetricEntry(encodeShardEntry({ ...base, logs: rowsOf.logs }), c), 'logs');
  t.notOk(decodeMetricEntry(encodeShardEntry({ ...base, points: [] }), c), 'no rows');
  t.ok(decodeMetricEntry(encodeShardEntry(base), c), 'points only');
});

t.test('corrupted entries: whatever decodeMetricEntry takes, decodeShardEntry takes with the same values', async (t) => {
  const seed = 77;
  const rand = new SeededRand(seed);
  let taken = 0;
  let refused = 0;
  for (let i = 0; i < 400; i++) {
    const bytes = Uint8Array.from(encodeShardEntry(randomPointsEntry(rand, 1 + rand.intn(6))));
    const flips = 1 + rand.intn(3);
    for (let f = 0; f < flips; f++) {
      const at = rand.intn(bytes.length);
      bytes[at] = rand.intn(3) === 0 ? (bytes[at] as number) ^ (1 << rand.intn(8)) : rand.intn(256);
    }
    const cut = rand.intn(8) === 0 ? bytes.subarray(0, rand.intn(bytes.length)) : bytes;
    const d = disagreement(cut);
    if (d === 'not-taken') continue; // Allowed: the regular path decodes it.
    t.equal(d, null, `entry ${i} (seed ${seed})`);
    const c = new MetricEntryColumns();
    if (decodeMetricEntry(cut, c)) taken++;
    else refused++;
  }
  t.ok(taken > 20 && refused > 20, `both outcomes seen: ${taken} taken, ${refused} left to decodeShardEntry`);
});

t.test('the corruption checker catches a planted bug: a decoder that ignores the trailing logs array', async (t) => {
  const rand = new SeededRand(5);
  const base = pointsEntry(rand, randomRows(rand, { points: 3 }).points);
  const logs = randomRows(rand, { logs: 1 }).logs;
  const withLogs = encodeShardEntry({ ...base, logs });
  // The planted decoder re-encodes the entry without its logs and decodes that instead.
  const planted = (b: Uint8Array, c: MetricEntryColumns): boolean => {
    const e = decodeShardEntry(b);
    return decodeMetricEntry(encodeShardEntry({ ...e, logs: [] }), c);
  };
  t.equal(disagreement(withLogs, planted), 'took an entry with spans or logs');
  t.equal(disagreement(withLogs), null, 'the real decoder leaves it to decodeShardEntry');
});

t.test('unusual msgpack forms: taken only with the values decodeShardEntry gives', async (t) => {
  const rand = new SeededRand(9);
  const p = randomRows(rand, { points: 1 }).points[0] as MetricPointRow;
  const point: MetricPointRow = { ...p, data: { type: 'gauge', value: { type: 'double', value: 2.5 } }, exemplars: [], attributes: [{ key: 'a', value: { type: 'string', value: 'b' } }] };
  const good = encodeShardEntry(pointsEntry(rand, [point]));
  t.equal(disagreement(good), null);
  const hex = Buffer.from(good).toString('hex');
  const at = hex.indexOf('cb4004000000000000'); // 2.5 as a float64
  t.ok(at >= 0, 'the value is a float64');
  const variants: [string, string][] = [
    ['a float32 value', hex.replace('cb4004000000000000', 'ca40200000')],
    ['an int64 value', hex.replace('cb4004000000000000', 'd30000000000000007')],
    ['a uint64 value past int64', hex.replace('cb4004000000000000', 'cfffffffffffffffff')],
    ['a uint8 value', hex.replace('cb4004000000000000', 'cc07')],
    ['a nil value', hex.replace('cb4004000000000000', 'c0')],
    ['a string value', hex.replace('cb4004000000000000', 'a131')],
    ['a malformed UTF-8 attribute value', hex.replace('92a161a162', '92a161a1ff')],
    ['a surrogate in UTF-8', hex.replace('92a161a162', '92a161a3eda080')],
  ];
  for (const [what, h] of variants) {
    t.not(h, hex, `${what}: the variant applies`);
    const d = disagreement(Buffer.from(h, 'hex'));
    t.ok(d === null || d === 'not-taken', `${what}: ${d}`);
  }
  // Malformed UTF-8 is never taken (msgpackr's replacement characters are its own business).
  t.equal(disagreement(Buffer.from(hex.replace('92a161a162', '92a161a1ff'), 'hex')), 'not-taken');
});

t.test('times: the ms of every u64 is floor(ns / 1e6), exactly', async (t) => {
  const rand = new SeededRand(13);
  const p = randomRows(rand, { points: 1 }).points[0] as MetricPointRow;
  const times = [0n, 1n, 999_999n, 1_000_000n, (1n << 32n) - 1n, 1n << 32n, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 1n];
  for (let i = 0; i < 200; i++) times.push((rand.u64() << 0n) & ((1n << 64n) - 1n));
  for (let k = 0; k < 50; k++) times.push(BigInt(k + 1) * 1_000_000n * 4_294_967_296n - 1n); // just under a ms boundary past 2^32 ms
  const points = times.map((ns) => ({ ...p, data: { type: 'gauge' as const, value: { type: 'double' as const, value: 1 } }, exemplars: [], timeUnixNano: ns }));
  const bytes = encodeShardEntry(pointsEntry(rand, points));
  const c = new MetricEntryColumns();
  t.ok(decodeMetricEntry(bytes, c));
  let wrong = 0;
  for (let i = 0; i < times.length; i++) if (c.tMs[i] !== timestampMs(times[i] as bigint)) wrong++;
  t.equal(wrong, 0, `${times.length} times`);
});

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

/** validUtf8 is the reference for wellFormedUtf8: whether a fatal TextDecoder accepts the bytes. */
function validUtf8(b: Uint8Array): boolean {
  try {
    fatalUtf8.decode(b);
    return true;
  } catch {
    return false;
  }
}

t.test('wellFormedUtf8 agrees with a fatal TextDecoder', async (t) => {
  const rand = new SeededRand(21);
  const valid = validUtf8;
  let ok = 0;
  for (let i = 0; i < 20_000; i++) {
    const n = rand.intn(6);
    const b = new Uint8Array(n);
    for (let k = 0; k < n; k++) b[k] = rand.intn(3) === 0 ? rand.intn(0x80) : 0x80 + rand.intn(0x80);
    if (wellFormedUtf8(b, 0, n) !== valid(b)) t.fail(`bytes ${Buffer.from(b).toString('hex')}`);
    else ok++;
  }
  for (const s of ['', 'abc', 'é', '€', '𝄞', 'host_2e_name']) t.ok(wellFormedUtf8(Buffer.from(s), 0, Buffer.byteLength(s)), s);
  t.equal(ok, 20_000);
});

t.test('wellFormedUtf8 agrees with a fatal TextDecoder on mostly-ASCII strings and on ranges inside a buffer', async (t) => {
  const rand = new SeededRand(22);
  const valid = validUtf8;
  const pieces = ['a', 'host_', '.', 'é', '€', '𝄞'].map((s) => Buffer.from(s));
  const bad = [0x80, 0xbf, 0xc0, 0xc1, 0xe0, 0xed, 0xf0, 0xf4, 0xf5, 0xff];
  let ok = 0;
  let invalid = 0;
  for (let i = 0; i < 20_000; i++) {
    // Mostly ASCII, a multi-byte character or a stray byte now and then, at every offset of the 4-byte words.
    const parts: number[] = [];
    const n = rand.intn(40);
    while (parts.length < n) {
      const r = rand.intn(20);
      if (r < 16) parts.push(0x20 + rand.intn(0x5f));
      else if (r < 19) parts.push(...(pieces[rand.intn(pieces.length)] as Buffer));
      else parts.push(bad[rand.intn(bad.length)] as number);
    }
    const pre = rand.intn(5);
    const post = rand.intn(5);
    const b = new Uint8Array(pre + parts.length + post).fill(0xff);
    b.set(parts, pre);
    const want = valid(b.subarray(pre, pre + parts.length));
    if (!want) invalid++;
    if (wellFormedUtf8(b, pre, pre + parts.length) !== want) t.fail(`bytes ${Buffer.from(parts).toString('hex')}`);
    else ok++;
  }
  t.equal(ok, 20_000);
  t.ok(invalid > 2_000 && invalid < 18_000, `both kinds drawn (${invalid} invalid)`);
});

t.test('an entry with an array16 header where a fixarray fits decodes alike', async (t) => {
  const rand = new SeededRand(31);
  const bytes = encodeShardEntry(pointsEntry(rand, randomRows(rand, { points: 20 }).points));
  t.equal(bytes[0], 0x9b);
  const wide = Buffer.concat([Buffer.from([0xdc, 0x00, 0x0b]), bytes.subarray(1)]);
  t.equal(disagreement(wide), null);
  t.ok(decodeMetricEntry(wide, new MetricEntryColumns()));
});
