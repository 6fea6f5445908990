import t from 'tap';
import { OtlpdbError } from '../errors.js';
import { SeededRand } from '../fs/seeded-rand.js';
import { StorageLimits } from '../limits.js';
import { EntryWriter } from './entry-writer.js';
import { checkLogEntry } from './log-entry.js';
import { logToWire, resourceToWire, scopeToWire } from './row-wire.js';
import { STORAGE_PACKR } from './storage-packr.js';
import { codeOf } from './storage-test-util.js';
import type { AnyValue, KeyValue, LogRow, MetricPointRow, Resource, Scope, SpanRow } from './rows.js';
import { randomRows } from './rows-test-util.js';
import { SHARD_ENTRY_VERSION, decodeShardEntry, encodeShardEntry } from './shard-entry.js';
import type { ShardEntry } from './shard-entry.js';

const KEY = '00112233445566aa';

function entryOf(tenant: string, spans: readonly SpanRow[], points: readonly MetricPointRow[], leaderTimeMs = 1_790_000_000_123, logs: readonly LogRow[] = []): ShardEntry {
  return { version: SHARD_ENTRY_VERSION, tenant, idempotencyKey: KEY, part: 2, parts: 3, leaderTimeMs, spans, points, logs };
}

function write(w: EntryWriter, e: ShardEntry): Uint8Array | null {
  return w.writeEntry(e.version, e.tenant, e.idempotencyKey, e.part, e.parts, e.leaderTimeMs, e.spans, e.points, e.logs);
}

/** firstDifference is the first offset where a and b differ, or -1 when they are equal. */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

function codeOfAny(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    return err instanceof OtlpdbError ? err.code : `thrown ${(err as Error).name}`;
  }
}

t.test('firstDifference finds a planted one-byte change, a truncation, and nothing in equal bytes', async (t) => {
  const a = new Uint8Array([1, 2, 3, 4]);
  t.equal(firstDifference(a, new Uint8Array([1, 2, 3, 4])), -1);
  t.equal(firstDifference(a, new Uint8Array([1, 2, 9, 4])), 2);
  t.equal(firstDifference(a, new Uint8Array([1, 2, 3])), 3);
});

t.test('seeded spans-only, points-only and logs-only entries: the writer writes exactly msgpackr\'s bytes', async (t) => {
  const seed = 20261128;
  const rand = new SeededRand(seed);
  const w = new EntryWriter();
  let written = 0;
  let declined = 0;
  let logsChecked = 0;
  for (let i = 0; i < 900; i++) {
    const tenant = i % 2 === 0 ? 'default' : `tenant-${i % 7}`;
    const kind = i % 3;
    const count = 1 + rand.intn(12);
    const rows = randomRows(rand, kind === 0 ? { spans: count, tenant } : kind === 1 ? { points: count, tenant } : { logs: count, tenant });
    // Most points entries keep only what the writer takes (gauges and sums without exemplars); the rest are mostly declined.
    const points = i % 4 === 1 ? rows.points : rows.points.filter((p) => p.data.type === 'gauge' || p.data.type === 'sum').map((p) => ({ ...p, exemplars: [] }));
    if (kind === 1 && points.length === 0) continue;
    // Half the log entries keep only scalar bodies and attributes (what checkLogEntry takes; random resources may still nest); random ones mostly nest.
    const scalar = (v: AnyValue): boolean => v.type !== 'array' && v.type !== 'kvlist' && v.type !== 'bytes';
    const logs = i % 2 === 0 ? rows.logs : rows.logs.map((r) => ({ ...r, body: scalar(r.body) ? r.body : { type: 'string' as const, value: 'plain' }, attributes: r.attributes.filter((kv) => scalar(kv.value)) }));
    const e = entryOf(tenant, rows.spans, points, 1_790_000_000_000 + rand.intn(1_000_000), logs);
    const packed = encodeShardEntry(e, 'packed');
    const direct = write(w, e);
    if (direct === null) {
      declined++;
      continue;
    }
    written++;
    const at = firstDifference(direct, packed);
    if (at !== -1) {
      t.fail(`seed ${seed} entry ${i}: first difference at byte ${at} of ${packed.length}`);
      break;
    }
    // And encodeShardEntry's default path returns those bytes.
    t.equal(firstDifference(encodeShardEntry(e), packed), -1);
    // Log entries: the byte check accepts exactly what decodeShardEntry accepts (here: valid entries; nested bodies are left to it).
    if (kind === 2 && checkLogEntry(direct)) {
      logsChecked++;
      t.equal(decodeShardEntry(direct).logs.length, e.logs.length);
    }
  }
  // Points with histograms, summaries or exemplars are declined; spans and logs never are here.
  t.ok(written >= 650 && declined > 0 && logsChecked >= 25, `written ${written}, declined ${declined}, log entries taken by checkLogEntry ${logsChecked}`);
});

/** row builders for the boundary test */
const RES: Resource = { attributes: [{ key: 'service.name', value: { type: 'string', value: 'svc' } }], droppedAttributesCount: 0, schemaUrl: '' };
const SCOPE: Scope = { name: 'scope', version: '1', attributes: [], droppedAttributesCount: 0, schemaUrl: '' };

function span(over: Partial<SpanRow>): SpanRow {
  return {
    tenant: 'default',
    traceId: new Uint8Array(16).fill(1),
    spanId: new Uint8Array(8).fill(2),
    parentSpanId: new Uint8Array(0),
    traceState: '',
    flags: 0,
    name: 'n',
    kind: 1,
    startTimeUnixNano: 1n,
    endTimeUnixNano: 2n,
    status: { code: 0, message: '' },
    attributes: [],
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    resource: RES,
    scope: SCOPE,
    ...over,
  };
}

function gauge(value: number, attributes: readonly KeyValue[] = []): MetricPointRow {
  return {
    tenant: 'default',
    name: 'm',
    description: '',
    unit: '',
    data: { type: 'gauge', value: { type: 'double', value } },
    attributes,
    startTimeUnixNano: 0n,
    timeUnixNano: 5n,
    flags: 0,
    exemplars: [],
    resource: RES,
    scope: SCOPE,
  };
}

t.test('boundary values of every msgpack form are written as msgpackr writes them', async (t) => {
  const w = new EntryWriter();
  const numbers = [0, -0, 1, 0x1f, 0x20, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 2 ** 32 - 1, 2 ** 32, 2 ** 53, -1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1, 0.5, -2.25, NaN, Infinity, -Infinity, Number.MAX_VALUE, Number.MIN_VALUE];
  const bigints = [0n, 1n, 127n, -1n, -(2n ** 63n), 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n];
  const strings = [
    '',
    'a'.repeat(31),
    'a'.repeat(32),
    'a'.repeat(63),
    'a'.repeat(64),
    'a'.repeat(255),
    'a'.repeat(256),
    'a'.repeat(65_535),
    'a'.repeat(65_536),
    'é'.repeat(16),
    'é'.repeat(40),
    '€'.repeat(11),
    '€'.repeat(100),
    '😀'.repeat(7),
    '😀'.repeat(40),
    '\ud800',
    'x\udc00y',
    '\ud800'.repeat(70),
    'ab\ud83d',
  ];
  const values: AnyValue[] = [
    { type: 'empty' },
    { type: 'bool', value: true },
    { type: 'bool', value: false },
    ...numbers.map((value): AnyValue => ({ type: 'double', value })),
    ...bigints.filter((v) => v < 2n ** 63n).map((value): AnyValue => ({ type: 'int', value })),
    ...strings.map((value): AnyValue => ({ type: 'string', value })),
    ...[0, 1, 255, 256, 70_000].map((n): AnyValue => ({ type: 'bytes', value: new Uint8Array(n).fill(7) })),
    { type: 'bytes', value: Buffer.from('abc') },
    { type: 'array', values: Array.from({ length: 14 }, (_, i): AnyValue => ({ type: 'double', value: i })) },
    { type: 'array', values: Array.from({ length: 15 }, (_, i): AnyValue => ({ type: 'double', value: i })) },
    { type: 'kvlist', values: [{ key: 'k', value: { type: 'array', values: [{ type: 'kvlist', values: [] }] } }] },
  ];
  const attrs: KeyValue[] = values.map((value, i) => ({ key: `k${i}`, value }));
  const cases: [string, ShardEntry][] = [];
  for (let i = 0; i < attrs.length; i += 7) cases.push([`attributes ${i}`, entryOf('default', [span({ attributes: attrs.slice(i, i + 7) })], [])]);
  for (const n of numbers.filter((x) => Number.isSafeInteger(x) && x >= 0 && x < 2 ** 32)) cases.push([`flags ${n}`, entryOf('default', [span({ flags: n, droppedAttributesCount: n })], [])]);
  for (const v of bigints.filter((x) => x >= 0n)) cases.push([`start ${v}`, entryOf('default', [span({ startTimeUnixNano: v, endTimeUnixNano: v })], [])]);
  for (const n of numbers) cases.push([`gauge ${n}`, entryOf('default', [], [gauge(n)])]);
  for (const n of [15, 16, 17, 300]) cases.push([`${n} spans`, entryOf('default', Array.from({ length: n }, () => span({})), [])]);
  cases.push(['leader time below 2^32', entryOf('default', [span({})], [], 12345)]);
  let compared = 0;
  for (const [name, e] of cases) {
    const packed = encodeShardEntry(e, 'packed');
    const direct = write(w, e);
    if (direct === null) {
      t.fail(`${name}: declined`);
      continue;
    }
    t.equal(firstDifference(direct, packed), -1, name);
    compared++;
  }
  t.equal(compared, cases.length);
});

t.test('the writer declines what it leaves to msgpackr, and encodeShardEntry then encodes or refuses as before', async (t) => {
  const w = new EntryWriter();
  const hist: MetricPointRow = { ...gauge(1), data: { type: 'histogram', temporality: 2, count: 1, sum: 1, min: null, max: null, bounds: [1], bucketCounts: [0, 1] } };
  const exemplar: MetricPointRow = { ...gauge(1), exemplars: [{ timeUnixNano: 1n, value: { type: 'double', value: 1 }, traceId: new Uint8Array(0), spanId: new Uint8Array(0), filteredAttributes: [] }] };
  const deep = (d: number): AnyValue => (d === 0 ? { type: 'empty' } : { type: 'array', values: [deep(d - 1)] });
  const declined: [string, ShardEntry, string][] = [
    ['a histogram point', entryOf('default', [], [hist]), 'ok'],
    ['an exemplar', entryOf('default', [], [exemplar]), 'ok'],
    ['an Int8Array id', entryOf('default', [span({ traceId: new Int8Array(16) as unknown as Uint8Array })], []), 'ERR_INVALID_ARGUMENT'],
    ['a bigint past 64 bits', entryOf('default', [span({ startTimeUnixNano: 2n ** 64n })], []), 'ERR_INVALID_ARGUMENT'],
    ['a negative bigint past int64', entryOf('default', [span({ attributes: [{ key: 'k', value: { type: 'int', value: -(2n ** 63n) - 1n } }] })], []), 'ERR_INVALID_ARGUMENT'],
    ['nesting at the limit', entryOf('default', [span({ attributes: [{ key: 'k', value: deep(StorageLimits.anyValueDepthMax) }] })], []), 'ERR_LIMIT_EXCEEDED'],
    ['a string where a number goes', entryOf('default', [span({ flags: '1' as unknown as number })], []), 'ERR_INVALID_ARGUMENT'],
  ];
  for (const [name, e, code] of declined) {
    t.equal(write(w, e), null, `${name}: declined`);
    t.equal(codeOfAny(() => encodeShardEntry(e)), code, `${name}: encodeShardEntry says ${code}`);
    t.equal(codeOfAny(() => encodeShardEntry(e, 'packed')), code, `${name}: as the msgpackr path`);
  }
  // Over entryBytesMax: declined, then refused with ERR_LIMIT_EXCEEDED (encodeParts halves such parts).
  const big = 'b'.repeat(200_000);
  const many = Array.from({ length: Math.ceil(StorageLimits.entryBytesMax / 200_000) + 1 }, () => span({ name: big }));
  t.equal(write(w, entryOf('default', many, [])), null, 'over entryBytesMax: declined');
  t.equal(codeOfAny(() => encodeShardEntry(entryOf('default', many, []))), 'ERR_LIMIT_EXCEEDED');
  // The writer is usable again after a decline, and its output is a copy, not a view of its scratch.
  const one = write(w, entryOf('default', [span({ name: 'first' })], []));
  t.ok(one !== null);
  const copy = Uint8Array.from(one ?? []);
  write(w, entryOf('default', [span({ name: 'second' })], []));
  t.equal(firstDifference(one ?? new Uint8Array(0), copy), -1, 'a later write leaves an earlier entry alone');
  t.equal(decodeShardEntry(one ?? new Uint8Array(0)).spans[0]?.name, 'first');
});

t.test("planted defects in spans-only, points-only and logs-only entries: the direct path gives the msgpackr path's verdict and bytes", async (t) => {
  const seed = 5151;
  const rand = new SeededRand(seed);
  const replacements: (() => unknown)[] = [
    () => null,
    () => undefined,
    () => -1,
    () => 2 ** 32,
    () => 1.5,
    () => -0,
    () => NaN,
    () => '',
    () => 'x'.repeat(StorageLimits.stringBytesMax + 1),
    () => '\ud800',
    () => true,
    () => 5n,
    () => -5n,
    () => 1n << 63n,
    () => 1n << 64n,
    () => rand.bytes(rand.intn(20)),
    () => new Uint8Array(StorageLimits.bytesValueBytesMax + 1),
    () => new Int8Array(16),
    () => [],
    () => [1],
    () => Array.from({ length: StorageLimits.attributesPerListMax + 1 }, (_, i) => ({ key: `k${i}`, value: { type: 'empty' } })),
    () => ({ type: 'string', value: 7 }),
    () => ({ type: 'int', value: 1n << 63n }),
    () => ({ type: 'array', values: [{ type: 'bogus' }] }),
    () => ({ a: 1 }),
    () => new Map([['a', 1]]),
  ];
  const verdicts = new Map<string, number>();
  for (let i = 0; i < 3000; i++) {
    const tenant = i % 3 === 0 ? 'default' : 'tenant-a';
    const kind = i % 3;
    const rows = randomRows(rand, kind === 0 ? { spans: 1 + rand.intn(4), tenant } : kind === 1 ? { points: 1 + rand.intn(4), tenant } : { logs: 1 + rand.intn(4), tenant });
    const entry = structuredClone(entryOf(tenant, rows.spans, rows.points, 1_790_000_000_123, rows.logs));
    const slots: [Record<string | number, unknown>, string | number][] = [];
    const walk = (o: Record<string | number, unknown>, depth: number): void => {
      for (const k of Object.keys(o)) {
        const v = o[k];
        if (depth > 0) slots.push([o, k]);
        if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array)) walk(v as Record<string, unknown>, depth + 1);
      }
    };
    walk(entry as unknown as Record<string, unknown>, 0);
    const [parent, key] = slots[rand.intn(slots.length)] as [Record<string | number, unknown>, string | number];
    const planted = rand.intn(replacements.length);
    parent[key] = (replacements[planted] as () => unknown)();
    let packedBytes: Uint8Array | null = null;
    let fastBytes: Uint8Array | null = null;
    const packed = codeOfAny(() => (packedBytes = encodeShardEntry(entry, 'packed')));
    const fast = codeOfAny(() => (fastBytes = encodeShardEntry(entry, 'fast')));
    if (fast !== packed) {
      t.fail(`seed ${seed} iteration ${i}: fast ${fast}, packed ${packed} (field ${String(key)}, replacement ${planted}: ${String(replacements[planted])})`);
      break;
    }
    if (fastBytes !== null && packedBytes !== null && firstDifference(fastBytes, packedBytes) !== -1) {
      t.fail(`seed ${seed} iteration ${i}: same verdict, different bytes (field ${String(key)}, replacement ${planted})`);
      break;
    }
    verdicts.set(packed, (verdicts.get(packed) ?? 0) + 1);
  }
  t.ok((verdicts.get('ok') ?? 0) > 100 && (verdicts.get('ERR_INVALID_ARGUMENT') ?? 0) > 300, `verdicts ${JSON.stringify([...verdicts])}`);
});

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

t.test('checkLogEntry: planted defects in the bytes are refused, and nothing it accepts fails decodeShardEntry (seeded mutations)', async (t) => {
  const w = new EntryWriter();
  const good = write(w, entryOf('default', [], [], 1_790_000_000_123, [logRow({}), logRow({ traceId: new Uint8Array(0), spanId: new Uint8Array(0), body: { type: 'empty' } })]));
  t.ok(good !== null && checkLogEntry(good), 'a valid entry is accepted');
  if (good === null) return;
  // Planted: rows the regular reader refuses, packed by msgpackr straight from hand-made wire tuples (encode would refuse them).
  const raw = (rows: unknown[][]): Uint8Array => STORAGE_PACKR.pack([SHARD_ENTRY_VERSION, 'default', KEY, 0, 1, 1_790_000_000_123, [resourceToWire(RES)], [scopeToWire(SCOPE)], [], [], rows]);
  const wire = (over: Partial<LogRow>): unknown[] => logToWire(logRow(over), 0, 0);
  t.ok(checkLogEntry(raw([wire({})])), 'the hand-made valid entry is accepted');
  const bad: [string, unknown[]][] = [
    ['severity 25', wire({ severityNumber: 25 })],
    ['a 5-byte trace id', wire({ traceId: new Uint8Array(5) })],
    ['a 16-byte span id', wire({ spanId: new Uint8Array(16) })],
    ['too many attributes', wire({ attributes: Array.from({ length: StorageLimits.attributesPerListMax + 1 }, (_, i) => ({ key: `k${i}`, value: { type: 'empty' as const } })) })],
    ['a resource index past the table', [1, ...wire({}).slice(1)]],
    ['a negative time', [0, 0, -1n, ...wire({}).slice(3)]],
    ['12 fields', wire({}).slice(0, 12)],
  ];
  for (const [name, tuple] of bad) {
    const bytes = raw([tuple]);
    t.equal(checkLogEntry(bytes), false, `${name}: refused`);
    t.equal(codeOf(() => decodeShardEntry(bytes)), 'ERR_CORRUPTION', `${name}: decodeShardEntry refuses it too`);
  }
  // Seeded mutations of a valid entry: whatever the check accepts decodes.
  const seed = 777;
  const rand = new SeededRand(seed);
  let accepted = 0;
  let refused = 0;
  for (let i = 0; i < 3000; i++) {
    const m = Uint8Array.from(good);
    const op = rand.intn(3);
    const at = rand.intn(m.length);
    if (op === 0) m[at] = (m[at] as number) ^ (1 << rand.intn(8));
    else if (op === 1) m[at] = rand.intn(256);
    const bytes = op === 2 ? m.subarray(0, at) : m;
    if (!checkLogEntry(bytes)) {
      refused++;
      continue;
    }
    accepted++;
    const code = codeOf(() => decodeShardEntry(bytes));
    if (code !== 'ok') {
      t.fail(`seed ${seed} mutation ${i}: checkLogEntry accepted bytes decodeShardEntry refuses (${code})`);
      break;
    }
  }
  t.ok(accepted > 100 && refused > 100, `accepted ${accepted}, refused ${refused}`);
});
