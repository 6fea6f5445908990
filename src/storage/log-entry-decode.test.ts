import t from 'tap';
import { isDeepStrictEqual } from 'node:util';
import { SeededRand } from '../fs/seeded-rand.js';
import { peekEntry } from './entry-header.js';
import { decodeLogEntry } from './log-entry-decode.js';
import { checkLogEntry } from './log-entry.js';
import { realisticLogs } from './logs/log-test-util.js';
import type { AnyValue, KeyValue, LogRow, Resource } from './rows.js';
import { randomRows, seededEntry } from './rows-test-util.js';
import { decodeStoredEntry, encodeShardEntry } from './shard-entry.js';
import type { ShardEntry } from './shard-entry.js';
import { codeOf } from './storage-test-util.js';
import { WireReader } from './wire-reader.js';

/** Decode is a decoder under test: decodeLogEntry, or a planted bug around it. */
type Decode = (bytes: Uint8Array, w: WireReader) => ShardEntry | null;

const FAST: Decode = (bytes, w) => {
  const peek = peekEntry(bytes);
  return peek === null ? null : decodeLogEntry(bytes, peek, w);
};

/** SCALAR_STRINGS are string values of every length class and script the fast path builds differently (JavaScript for short ASCII, Buffer otherwise). */
const SCALAR_STRINGS = ['', 'GET', 'a'.repeat(24), 'b'.repeat(25), 'héllo wörld', '日本語のログ', 'emoji 🎉 ok', `${'x'.repeat(23)}é`, 'level=info msg="request served" status=200'];

/** scalarValue is an AnyValue of a scalar kind the fast grammar takes: strings, ints (any magnitude and sign), doubles (NaN, -0, integral ones), bools, empty. */
function scalarValue(rand: SeededRand): AnyValue {
  switch (rand.intn(5)) {
    case 0:
      return { type: 'string', value: SCALAR_STRINGS[rand.intn(SCALAR_STRINGS.length)] as string };
    case 1:
      return { type: 'int', value: [0n, 7n, -1n, 200n, -(1n << 63n), (1n << 63n) - 1n, BigInt(rand.nextU32())][rand.intn(7)] as bigint };
    case 2:
      return { type: 'double', value: [0.5, -0, Number.NaN, 3, -129, 1e300, Infinity, rand.intn(1000) / 7][rand.intn(8)] as number };
    case 3:
      return { type: 'bool', value: rand.intn(2) === 0 };
    default:
      return { type: 'empty' };
  }
}

/** scalarLogs are log records whose bodies and attributes are scalars of every kind (scalarValue), over two resources. */
function scalarLogs(rand: SeededRand, n: number, tenant: string): LogRow[] {
  const attrs = (): KeyValue[] => Array.from({ length: rand.intn(5) }, (_, i) => ({ key: ['k', 'http.status', 'ключ', 'long.attribute.key.name.x'][i % 4] as string, value: scalarValue(rand) }));
  const resources: Resource[] = [0, 1].map(() => ({ attributes: attrs(), droppedAttributesCount: rand.intn(3), schemaUrl: rand.intn(2) === 0 ? '' : 'https://opentelemetry.io/schemas/1.21.0' }));
  const scope = { name: 'lib', version: '1.0', attributes: attrs(), droppedAttributesCount: 0, schemaUrl: '' };
  return Array.from({ length: n }, () => ({
    tenant,
    timeUnixNano: [0n, 1_700_000_000_000_000_000n, (1n << 64n) - 1n, (1n << 63n) + 5n][rand.intn(4)] as bigint,
    observedTimeUnixNano: BigInt(rand.nextU32()) * 1_000_000_000n,
    severityNumber: rand.intn(25),
    severityText: ['', 'INFO', 'Warnung', 'ошибка'][rand.intn(4)] as string,
    body: scalarValue(rand),
    attributes: attrs(),
    droppedAttributesCount: rand.intn(2) * rand.nextU32(),
    traceId: rand.intn(3) === 0 ? new Uint8Array(0) : rand.bytes(16),
    spanId: rand.intn(3) === 0 ? new Uint8Array(0) : rand.bytes(8),
    flags: rand.intn(2),
    eventName: rand.intn(2) === 0 ? '' : 'app.event',
    resource: resources[rand.intn(2)] as Resource,
    scope,
  }));
}

/** randomEntry is an entry of any shape: realistic logs (repeating keys and values), logs of every scalar kind, random rows of every kind (logs-only among them). */
function randomEntry(rand: SeededRand): ShardEntry {
  const tenant = ['default', 'acme', 'globex'][rand.intn(3)] as string;
  const n = 1 + rand.intn(12);
  const shape = rand.intn(5);
  if (shape === 4) return seededEntry(rand, tenant, { spans: [], points: [], logs: scalarLogs(rand, n, tenant) });
  if (shape <= 1) return seededEntry(rand, tenant, { spans: [], points: [], logs: realisticLogs(rand, n, tenant) });
  if (shape === 2) return seededEntry(rand, tenant, randomRows(rand, { spans: 0, points: 0, logs: n, tenant }));
  return seededEntry(rand, tenant, randomRows(rand, { spans: rand.intn(2) * n, points: rand.intn(2) * n, logs: rand.intn(2) * n, tenant }));
}

/** damage flips a few bytes of an encoded entry, or cuts it short. */
function damage(rand: SeededRand, bytes: Uint8Array): Uint8Array {
  if (rand.intn(2) === 0) return bytes.subarray(0, rand.intn(bytes.length));
  const out = Uint8Array.from(bytes);
  for (let f = 0; f < 1 + rand.intn(3); f++) out[rand.intn(out.length)] = rand.intn(256);
  return out;
}

/**
 * disagreement runs `decode` over seeded entries (one in four damaged) with
 * one reader shared by all of them, as the apply path does, and names the
 * first difference from the reference (decodeShardEntry's readers, a fresh
 * one per entry): an entry `decode` takes must be one the reference accepts,
 * with deep-equal rows, right after its decode and again after all later
 * ones; and it must take exactly the entries checkLogEntry says are in the
 * fast grammar. Returns the counts, or the first difference.
 */
function disagreement(seed: number, entries: number, decode: Decode): { taken: number; declined: number } | string {
  const rand = new SeededRand(seed);
  const w = new WireReader('stored');
  const kept: { i: number; decoded: ShardEntry; reference: ShardEntry }[] = [];
  let taken = 0;
  let declined = 0;
  for (let i = 0; i < entries; i++) {
    const good = encodeShardEntry(randomEntry(rand));
    const bytes = rand.intn(4) === 0 ? damage(rand, good) : good;
    const decoded = decode(bytes, w);
    const fastGrammar = checkLogEntry(bytes);
    if ((decoded !== null) !== fastGrammar) return `entry ${i}: ${decoded === null ? 'declined' : 'taken'}, checkLogEntry says ${fastGrammar}`;
    if (decoded === null) {
      declined++;
      continue;
    }
    taken++;
    const code = codeOf(() => decodeStoredEntry(bytes, new WireReader('stored')));
    if (code !== 'ok') return `entry ${i}: taken, the reference refuses it (${code})`;
    const reference = decodeStoredEntry(bytes, new WireReader('stored'));
    if (!isDeepStrictEqual(decoded, reference)) return `entry ${i}: rows differ from the reference's`;
    kept.push({ i, decoded, reference });
  }
  for (const k of kept) if (!isDeepStrictEqual(k.decoded, k.reference)) return `entry ${k.i}: changed by later decodes`;
  return { taken, declined };
}

t.test('decodeLogEntry: the reference rows for every logs-only entry in the fast grammar, and declines the rest', async (t) => {
  for (const seed of [501, 502, 503]) {
    const r = disagreement(seed, 600, FAST);
    if (typeof r === 'string') t.fail(`seed ${seed}: ${r}`);
    else {
      t.ok(r.taken >= 200, `seed ${seed}: ${r.taken} entries taken`);
      t.ok(r.declined >= 150, `seed ${seed}: ${r.declined} declined (other shapes, damaged)`);
    }
  }
});

t.test('decodeLogEntry: interned values, the shared reader and row shapes', async (t) => {
  const rand = new SeededRand(504);
  const w = new WireReader('stored');
  const entries = [0, 1, 2].map(() => FAST(encodeShardEntry(seededEntry(rand, 'acme', { spans: [], points: [], logs: realisticLogs(rand, 16, 'acme') })), w));
  const [a, b] = entries as [ShardEntry, ShardEntry];
  t.ok(a !== null && b !== null, 'realistic logs are in the fast grammar');
  const shared = b.logs.flatMap((row) => row.attributes).filter((kv) => a.logs.some((r) => r.attributes.includes(kv))).length;
  t.ok(shared > 0, `${shared} attributes of the second entry are objects of the first (one reader)`);
  const row = a.logs[0] as LogRow;
  const ref = decodeStoredEntry(encodeShardEntry(a), new WireReader('stored')).logs[0] as LogRow;
  t.same(Object.keys(row), Object.keys(ref), 'a row has the reference fields in the reference order');
});

/** plant wraps FAST and changes what it returns as a bug in it would. */
function plant(change: (logs: LogRow[]) => void): Decode {
  return (bytes, w) => {
    const e = FAST(bytes, w);
    if (e === null) return null;
    const logs = e.logs.map((r) => ({ ...r }));
    change(logs);
    return { ...e, logs };
  };
}

t.test('planted bugs are caught', async (t) => {
  const planted: [string, Decode][] = [
    // A record given the previous record's resource (its stream), as an index read one record late would.
    ['previous resource', plant((logs) => logs.forEach((r, i) => i > 0 && Object.assign(r, { resource: (logs[i - 1] as LogRow).resource })))],
    // An attribute value read one byte late: its first character lost.
    [
      'attribute range off by one',
      plant((logs) =>
        logs.forEach((r) =>
          Object.assign(r, { attributes: r.attributes.map((kv) => (kv.value.type === 'string' && kv.value.value.length > 0 ? { key: kv.key, value: { type: 'string', value: kv.value.value.slice(1) } } : kv)) }),
        ),
      ),
    ],
    // A uint64 attribute value taken as a double.
    ['int as double', plant((logs) => logs.forEach((r) => Object.assign(r, { attributes: r.attributes.map((kv) => (kv.value.type === 'int' ? { key: kv.key, value: { type: 'double', value: Number(kv.value.value) } } : kv)) })))],
    // Times of one record swapped.
    ['observed time for time', plant((logs) => logs.forEach((r) => Object.assign(r, { timeUnixNano: r.observedTimeUnixNano })))],
    // The reader's id slab rewound per entry: later entries overwrite earlier ids.
    [
      'id slab reused',
      (() => {
        const slab = new Uint8Array(16);
        return plant((logs) => logs.forEach((r) => r.traceId.length > 0 && (slab.set(r.traceId), Object.assign(r, { traceId: slab }))));
      })(),
    ],
  ];
  for (const [name, decode] of planted) {
    const r = disagreement(501, 600, decode);
    t.type(r, 'string', `${name}: caught (${typeof r === 'string' ? r : 'not caught'})`);
  }
});

t.test('decodeLogEntry: many short strings that differ only in their first byte (string cache slots shared and replaced)', async (t) => {
  // 30,000 values in 4,096 cache slots: slots are shared and replaced, and strings of one length that differ in one byte meet.
  const rand = new SeededRand(505);
  const w = new WireReader('stored');
  const base = realisticLogs(rand, 1, 'acme')[0] as LogRow;
  let bad = 0;
  let entries = 0;
  for (let p = 0; p < 3000; p += 10) {
    const logs: LogRow[] = [];
    for (let q = p; q < p + 10; q++) {
      for (let d = 0; d < 10; d++) logs.push({ ...base, severityText: `${d}s${q}`, attributes: [{ key: `${d}k${q % 7}`, value: { type: 'string', value: `${d}-v-${q}` } }] });
    }
    const bytes = encodeShardEntry(seededEntry(rand, 'acme', { spans: [], points: [], logs }));
    const decoded = FAST(bytes, w);
    entries++;
    if (decoded === null || !isDeepStrictEqual(decoded, decodeStoredEntry(bytes, new WireReader('stored')))) bad++;
  }
  t.equal(bad, 0, `${entries} entries of 100 records, each equal to the reference`);
});

t.test('decodeLogEntry: consecutive records whose ids differ in one byte anywhere (the last trace id shared, ids copied from the entry)', async (t) => {
  // The reader shares the last trace id with the next record when their bytes are equal: a comparison or copy
  // that skips a byte would give a record its neighbour's id. Every position, first and last bytes of the entry's ids.
  const rand = new SeededRand(508);
  const w = new WireReader('stored');
  const base = realisticLogs(rand, 1, 'acme')[0] as LogRow;
  let bad = 0;
  let entries = 0;
  for (let p = 0; p < 16; p++) {
    const trace = rand.bytes(16);
    const span = rand.bytes(8);
    const logs: LogRow[] = [];
    for (let q = 0; q < 6; q++) {
      const traceId = Uint8Array.from(trace);
      const spanId = Uint8Array.from(span);
      // Records 2k and 2k+1 differ only at byte p of the trace id (and p % 8 of the span id); some repeat exactly.
      if (q % 3 !== 2) traceId[p] = (traceId[p] as number) ^ (q + 1);
      spanId[p % 8] = (spanId[p % 8] as number) ^ q;
      logs.push({ ...base, traceId, spanId });
    }
    const bytes = encodeShardEntry(seededEntry(rand, 'acme', { spans: [], points: [], logs }));
    const decoded = FAST(bytes, w);
    entries++;
    const reference = decodeStoredEntry(bytes, new WireReader('stored'));
    if (decoded === null || !isDeepStrictEqual(decoded, reference)) bad++;
    if (decoded !== null) for (let q = 0; q < 6; q++) if (!isDeepStrictEqual((decoded.logs[q] as LogRow).traceId, (logs[q] as LogRow).traceId)) bad++;
  }
  t.equal(bad, 0, `${entries} entries, each record with its own ids`);
});

t.test('decodeLogEntry: entries with the same resource table share its Resource objects', async (t) => {
  const rand = new SeededRand(506);
  const w = new WireReader('stored');
  // Records in the fast grammar (realistic logs have some nested bodies, which are not), then two entries of them.
  const logs = realisticLogs(rand, 200, 'acme').filter((row) => checkLogEntry(encodeShardEntry(seededEntry(rand, 'acme', { spans: [], points: [], logs: [row] })))).slice(0, 20);
  t.equal(logs.length, 20, '20 records in the fast grammar');
  const a = FAST(encodeShardEntry(seededEntry(rand, 'acme', { spans: [], points: [], logs })), w);
  const b = FAST(encodeShardEntry(seededEntry(rand, 'acme', { spans: [], points: [], logs })), w);
  t.ok(a !== null && b !== null, 'both in the fast grammar');
  const shared = (b as ShardEntry).logs.filter((r) => (a as ShardEntry).logs.some((x) => x.resource === r.resource && x.scope === r.scope)).length;
  t.equal(shared, 20, 'every record of the second entry has a resource and scope object of the first');
  const fresh = decodeStoredEntry(encodeShardEntry(seededEntry(rand, 'acme', { spans: [], points: [], logs })), new WireReader('stored'));
  t.ok(fresh.logs.every((r) => !(a as ShardEntry).logs.some((x) => x.resource === r.resource)), 'the reference decoder shares none');
});

t.test('decodeLogEntry: attribute pairs that differ in one byte anywhere (pair cache slots shared and replaced)', async (t) => {
  // Pairs of every cached form (fixstr and str8 keys; fixstr, str8 and int64 values), of total lengths around
  // logPairCacheBytesMax, that differ from others in the key's last byte, the value's first or last byte or an int's
  // low byte: 20,000 distinct pairs in 4,096 slots, met again after their slot was taken.
  const rand = new SeededRand(507);
  const w = new WireReader('stored');
  const base = realisticLogs(rand, 1, 'acme')[0] as LogRow;
  const pairOf = (q: number): KeyValue => {
    const d = q % 10;
    switch (q % 5) {
      case 0:
        return { key: `k${d}`, value: { type: 'int', value: BigInt(q) } };
      case 1:
        return { key: `key.name.${d}`, value: { type: 'string', value: `v${q}` } };
      case 2:
        return { key: 'k', value: { type: 'string', value: `${q}`.padEnd(6 + (q % 60), 'x') } };
      case 3:
        return { key: `a.long.attribute.key.name.of.str8.${d}`, value: { type: 'int', value: -BigInt(q) } };
      default:
        return { key: `x${'y'.repeat(q % 40)}`, value: { type: 'string', value: `${'z'.repeat(q % 30)}${d}` } };
    }
  };
  let bad = 0;
  let entries = 0;
  for (let round = 0; round < 2; round++) {
    for (let p = 0; p < 20_000; p += 100) {
      const logs: LogRow[] = [];
      for (let q = p; q < p + 100; q += 5) logs.push({ ...base, attributes: [0, 1, 2, 3, 4].map((k) => pairOf(round === 0 ? q + k : 19_999 - q - k)) });
      const bytes = encodeShardEntry(seededEntry(rand, 'acme', { spans: [], points: [], logs }));
      const decoded = FAST(bytes, w);
      entries++;
      if (decoded === null || !isDeepStrictEqual(decoded, decodeStoredEntry(bytes, new WireReader('stored')))) bad++;
    }
  }
  t.equal(bad, 0, `${entries} entries of 20 records with 5 pairs each, each equal to the reference`);
});

t.test('decodeLogEntry: a pair that does not decode is never cached (the same bytes are declined every time)', async (t) => {
  const rand = new SeededRand(508);
  const w = new WireReader('stored');
  const base = realisticLogs(rand, 1, 'acme')[0] as LogRow;
  const logs: LogRow[] = [0, 1, 2].map(() => ({ ...base, attributes: [{ key: 'bad.key', value: { type: 'string', value: 'ab' } }] }));
  const good = encodeShardEntry(seededEntry(rand, 'acme', { spans: [], points: [], logs }));
  // Every record's value "ab" (fixstr 0xa2) made ill-formed UTF-8 (0xff 0xfe): the pair's bytes are measured, then refused.
  const bad = Uint8Array.from(good);
  const pattern = Buffer.from([0xa7, ...Buffer.from('bad.key'), 0xa2, 0x61, 0x62]);
  let patched = 0;
  for (let at = Buffer.from(bad.buffer).indexOf(pattern); at >= 0; at = Buffer.from(bad.buffer).indexOf(pattern, at + 1)) {
    bad[at + pattern.length - 2] = 0xff;
    bad[at + pattern.length - 1] = 0xfe;
    patched++;
  }
  t.equal(patched, 3, 'the value of each of the 3 records made ill-formed');
  t.notOk(checkLogEntry(bad), 'checkLogEntry refuses the entry');
  for (let k = 0; k < 3; k++) t.equal(FAST(bad, w), null, `declined, decode ${k + 1}`);
  t.not(FAST(good, w), null, 'the good entry is taken');
});
