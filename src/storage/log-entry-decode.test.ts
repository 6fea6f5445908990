import t from 'tap';
import { SeededRand } from '../fs/seeded-rand.js';
import { StorageLimits } from '../limits.js';
import { decodeLogEntry } from './log-entry-decode.js';
import { realisticLogs } from './logs/log-test-util.js';
import { logToWire, resourceToWire, scopeToWire } from './row-wire.js';
import type { AnyValue, LogRow, Resource, Scope } from './rows.js';
import { randomRows } from './rows-test-util.js';
import { SHARD_ENTRY_VERSION, decodeShardEntry, encodeShardEntry } from './shard-entry.js';
import type { ShardEntry } from './shard-entry.js';
import { STORAGE_PACKR } from './storage-packr.js';

/** canon is a value as a string that tells every field apart: bigints, byte strings and AnyValue types included. */
function canon(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (typeof x === 'bigint') return `${x}n`;
    if (x instanceof Uint8Array) return `bytes:${Buffer.from(x).toString('hex')}`;
    if (typeof x === 'number' && !Number.isFinite(x)) return `num:${String(x)}`;
    if (typeof x === 'number' && Object.is(x, -0)) return 'num:-0';
    return x;
  });
}

/**
 * disagreement compares decode (decodeLogEntry unless a test plants another)
 * with decodeShardEntry on one entry's bytes: a non-null result must be an
 * entry decodeShardEntry accepts, equal field by field; 'not-taken' marks a
 * null result (allowed: the caller falls back), null means they agree.
 */
function disagreement(bytes: Uint8Array, decode: (b: Uint8Array) => ShardEntry | null = decodeLogEntry): string | null {
  const fast = decode(bytes);
  if (fast === null) return 'not-taken';
  let ref: ShardEntry;
  try {
    ref = decodeShardEntry(bytes);
  } catch (err) {
    return `decodeLogEntry took bytes decodeShardEntry refuses: ${(err as Error).message}`;
  }
  const a = canon({ ...fast, logs: [] });
  const b = canon({ ...ref, logs: [] });
  if (a !== b) return `headers differ: ${a} vs ${b}`;
  if (fast.logs.length !== ref.logs.length) return `row counts differ: ${fast.logs.length} vs ${ref.logs.length}`;
  for (let i = 0; i < ref.logs.length; i++) {
    const x = canon(fast.logs[i]);
    const y = canon(ref.logs[i]);
    if (x !== y) return `row ${i} differs: ${x} vs ${y}`;
  }
  return null;
}

function entryOf(rand: SeededRand, tenant: string, logs: readonly LogRow[]): ShardEntry {
  return {
    version: SHARD_ENTRY_VERSION,
    tenant,
    idempotencyKey: rand.u64().toString(16).padStart(16, '0'),
    part: 0,
    parts: 1,
    leaderTimeMs: 1_790_000_000_000 + rand.intn(1_000_000),
    spans: [],
    points: [],
    logs,
  };
}

const scalar = (v: AnyValue): boolean => v.type !== 'array' && v.type !== 'kvlist' && v.type !== 'bytes';

/** flat keeps a row's body and attributes in the fast grammar (scalars), half of the time in randomEntry. */
function flat(r: LogRow): LogRow {
  return { ...r, body: scalar(r.body) ? r.body : { type: 'string', value: 'plain' }, attributes: r.attributes.filter((kv) => scalar(kv.value)) };
}

t.test('decodeLogEntry returns what decodeShardEntry returns, row for row, or null (seeded entries)', async (t) => {
  const seed = 4242;
  const rand = new SeededRand(seed);
  let taken = 0;
  let notTaken = 0;
  for (let i = 0; i < 400; i++) {
    const tenant = rand.intn(2) === 0 ? 'default' : `tenant-${rand.intn(100)}`;
    const n = 1 + rand.intn(40);
    const logs = i % 3 === 0 ? realisticLogs(rand, n, tenant) : randomRows(rand, { logs: n, tenant }).logs.map((r) => (i % 3 === 1 ? flat(r) : r));
    if (logs.length === 0) continue;
    const e = entryOf(rand, tenant, logs);
    for (const bytes of [encodeShardEntry(e), encodeShardEntry(e, 'packed')]) {
      const d = disagreement(bytes);
      if (d === 'not-taken') notTaken++;
      else if (d === null) taken++;
      else {
        t.fail(`seed ${seed} entry ${i}: ${d}`);
        return;
      }
    }
  }
  t.ok(taken >= 700, `taken ${taken}, not taken ${notTaken}`);
});

t.test('decodeLogEntry takes every realistic entry (the bench and the apply bench shapes)', async (t) => {
  const rand = new SeededRand(7);
  for (let i = 0; i < 20; i++) {
    const bytes = encodeShardEntry(entryOf(rand, 'bench', realisticLogs(rand, 500, 'bench')));
    t.equal(disagreement(bytes), null, `entry ${i}`);
  }
});

const RES: Resource = { attributes: [{ key: 'service.name', value: { type: 'string', value: 'svc' } }], droppedAttributesCount: 0, schemaUrl: '' };
const SCOPE: Scope = { name: 'scope', version: '1', attributes: [], droppedAttributesCount: 0, schemaUrl: '' };

function logRow(over: Partial<LogRow>): LogRow {
  return {
    tenant: 'default',
    timeUnixNano: 1_790_000_000_000_000_000n,
    observedTimeUnixNano: 1_790_000_000_000_000_001n,
    severityNumber: 9,
    severityText: 'INFO',
    body: { type: 'string', value: 'GET /api/v1/users 200 12ms' },
    attributes: [{ key: 'http.status_code', value: { type: 'int', value: 200n } }],
    droppedAttributesCount: 0,
    traceId: new Uint8Array(16).fill(3),
    spanId: new Uint8Array(8).fill(4),
    flags: 1,
    eventName: '',
    resource: RES,
    scope: SCOPE,
    ...over,
  };
}

const KEY = '00112233445566aa';
const raw = (rows: unknown[][]): Uint8Array => STORAGE_PACKR.pack([SHARD_ENTRY_VERSION, 'default', KEY, 0, 1, 1_790_000_000_123, [resourceToWire(RES)], [scopeToWire(SCOPE)], [], [], rows]);
const wire = (over: Partial<LogRow>): unknown[] => logToWire(logRow(over), 0, 0);

t.test('decodeLogEntry: number forms keep their AnyValue types; rows the reader refuses are not taken', async (t) => {
  const values: AnyValue[] = [
    { type: 'int', value: -(2n ** 63n) },
    { type: 'int', value: 2n ** 63n - 1n },
    { type: 'int', value: 0n },
    { type: 'double', value: 0.5 },
    { type: 'double', value: -0 },
    { type: 'double', value: Number.NaN },
    { type: 'double', value: 7 },
    { type: 'bool', value: false },
    { type: 'empty' },
    { type: 'string', value: 'h\u00e9llo \u{1F600} w\u00f6rld, longer than thirty-two bytes' },
    { type: 'bytes', value: new Uint8Array([1, 2, 3]) },
    { type: 'bytes', value: new Uint8Array(300).fill(9) },
    { type: 'array', values: [] },
    { type: 'kvlist', values: [] },
    { type: 'array', values: [{ type: 'int', value: 1n }, { type: 'kvlist', values: [{ key: 'a', value: { type: 'string', value: 'b' } }, { key: 'n', value: { type: 'double', value: 1.5 } }] }] },
  ];
  for (const v of values) {
    const bytes = raw([wire({ body: v, attributes: [{ key: 'k', value: v }, { key: 'k2', value: v }] })]);
    t.equal(disagreement(bytes), null, `${canon(v)} as body and attribute`);
  }
  // Hand-made wire forms: an integer that is not a 64-bit form is a double; a uint64 past 2^63 is refused by the reader.
  t.equal(decodeLogEntry(raw([[...wire({}).slice(0, 6), 5, ...wire({}).slice(7)]]))?.logs[0]?.body.type, 'double');
  // Nesting: at the reader's depth bound both agree; one level past it neither takes it.
  const deep = (levels: number): AnyValue => (levels === 0 ? { type: 'string', value: 'leaf' } : { type: 'array', values: [deep(levels - 1)] });
  const atBound = raw([wire({ body: deep(StorageLimits.anyValueDepthMax - 1) })]);
  t.equal(disagreement(atBound), null, 'a body nested to the depth bound');
  const pastBound = raw([wire({ body: deep(StorageLimits.anyValueDepthMax) })]);
  t.equal(disagreement(pastBound), 'not-taken', 'a body nested past the depth bound is not taken');
  t.throws(() => decodeShardEntry(pastBound), 'and decodeShardEntry refuses it');
  const past = raw([[...wire({}).slice(0, 6), 2n ** 63n, ...wire({}).slice(7)]]);
  t.equal(disagreement(past), 'not-taken', 'a uint64 past the int64 range is left to decodeShardEntry');
  t.throws(() => decodeShardEntry(past), 'which refuses it');
  // Ill-formed UTF-8 in a string (msgpackr would decode it to something): never taken, whatever the reference makes of it.
  const body = 'BODY-MARKER-0123456789abcdef-long-enough';
  const good = raw([wire({ body: { type: 'string', value: body } })]);
  const at = Buffer.from(good).indexOf(body);
  for (const [name, bad] of [['an overlong form', [0xc0, 0x80]], ['a surrogate', [0xed, 0xa0, 0x80]], ['a lone continuation byte', [0x80]], ['a truncated sequence', [0xe2, 0x82]]] as const) {
    const m = Uint8Array.from(good);
    m.set(bad, at + 4);
    t.equal(decodeLogEntry(m), null, `a body with ${name} is not taken`);
  }
  t.equal(disagreement(good), null, 'the well-formed one is');
  t.equal(disagreement(raw([wire({ body: { type: 'string', value: 'a \uFFFD in a well-formed string' } })])), 'not-taken', 'a well-formed U+FFFD is left to decodeShardEntry');
  for (const [name, tuple] of [
    ['severity 25', wire({ severityNumber: 25 })],
    ['a 5-byte trace id', wire({ traceId: new Uint8Array(5) })],
    ['a resource index past the table', [1, ...wire({}).slice(1)]],
    ['12 fields', wire({}).slice(0, 12)],
  ] as const) {
    t.equal(decodeLogEntry(raw([tuple as unknown[]])), null, `${name}: not taken`);
  }
});

t.test('decodeLogEntry: seeded byte mutations never yield an entry decodeShardEntry refuses or decodes differently', async (t) => {
  const bytes0 = encodeShardEntry(entryOf(new SeededRand(1), 'default', [logRow({}), logRow({ traceId: new Uint8Array(0), spanId: new Uint8Array(0), body: { type: 'empty' } }), logRow({ body: { type: 'int', value: -5n } }), logRow({ body: { type: 'kvlist', values: [{ key: 'k', value: { type: 'array', values: [{ type: 'bool', value: true }, { type: 'bytes', value: new Uint8Array([7, 7]) }] } }] } })]));
  t.equal(disagreement(bytes0), null, 'the valid entry is taken');
  const seed = 778;
  const rand = new SeededRand(seed);
  let taken = 0;
  let notTaken = 0;
  for (let i = 0; i < 3000; i++) {
    const m = Uint8Array.from(bytes0);
    const op = rand.intn(3);
    const at = rand.intn(m.length);
    if (op === 0) m[at] = (m[at] as number) ^ (1 << rand.intn(8));
    else if (op === 1) m[at] = rand.intn(256);
    const d = disagreement(op === 2 ? m.subarray(0, at) : m);
    if (d === 'not-taken') notTaken++;
    else if (d === null) taken++;
    else {
      t.fail(`seed ${seed} mutation ${i}: ${d}`);
      return;
    }
  }
  t.ok(taken > 100 && notTaken > 100, `taken ${taken}, not taken ${notTaken}`);
});

t.test('the comparison catches planted decoder bugs', async (t) => {
  const rand = new SeededRand(99);
  const bytes = encodeShardEntry(entryOf(rand, 'default', [logRow({}), logRow({ body: { type: 'int', value: 3n } })]));
  // Planted: a 64-bit integer read as a double (the type confusion the number forms invite).
  const asDouble = (b: Uint8Array): ShardEntry | null => {
    const e = decodeLogEntry(b);
    return e && { ...e, logs: e.logs.map((r) => (r.body.type === 'int' ? { ...r, body: { type: 'double' as const, value: Number(r.body.value) } } : r)) };
  };
  t.match(disagreement(bytes, asDouble), /row 1 differs/);
  // Planted: times swapped.
  const swapped = (b: Uint8Array): ShardEntry | null => {
    const e = decodeLogEntry(b);
    return e && { ...e, logs: e.logs.map((r) => ({ ...r, timeUnixNano: r.observedTimeUnixNano, observedTimeUnixNano: r.timeUnixNano })) };
  };
  t.match(disagreement(bytes, swapped), /row 0 differs/);
  // Planted: an entry decodeShardEntry refuses, taken anyway.
  const refused = raw([wire({ severityNumber: 25 })]);
  t.match(disagreement(refused, () => decodeShardEntry(bytes)), /refuses/);
});
