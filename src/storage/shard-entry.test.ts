import t from 'tap';
import { Packr } from 'msgpackr';
import { OtlpdbError } from '../errors.js';
import { codeOf } from './storage-test-util.js';
import { SeededRand } from '../fs/seeded-rand.js';
import { StorageLimits } from '../limits.js';
import type { AnyValue, SpanRow } from './rows.js';
import { randomRows } from './rows-test-util.js';
import { SHARD_ENTRY_VERSION, decodeShardEntry, encodeShardEntry } from './shard-entry.js';
import type { ShardEntry } from './shard-entry.js';

function randomEntry(rand: SeededRand, rowsMax = 8): ShardEntry {
  const tenant = rand.intn(2) === 0 ? 'default' : `tenant-${rand.intn(100)}`;
  const rows = randomRows(rand, { spans: rand.intn(rowsMax), points: rand.intn(rowsMax), logs: rand.intn(rowsMax), tenant });
  const parts = 1 + rand.intn(16);
  return {
    version: SHARD_ENTRY_VERSION,
    tenant,
    idempotencyKey: rand.u64().toString(16).padStart(16, '0'),
    part: rand.intn(parts),
    parts,
    leaderTimeMs: 1_790_000_000_000 + rand.intn(1_000_000),
    ...rows,
  };
}

/** codeOf runs fn and returns the OtlpdbError code it threw, 'ok' if none; any other exception fails the test. */

t.test('random entries round-trip exactly, and re-encode to the same bytes', async (t) => {
  const seed = 20261127;
  const rand = new SeededRand(seed);
  let rows = 0;
  let failures = 0;
  for (let i = 0; i < 300; i++) {
    const entry = randomEntry(rand);
    const bytes = encodeShardEntry(entry);
    const back = decodeShardEntry(bytes);
    rows += back.spans.length + back.points.length + back.logs.length;
    const again = encodeShardEntry(back);
    if (Buffer.compare(Buffer.from(bytes), Buffer.from(again)) !== 0) failures++;
    t.same(back, entry, `entry ${i} (seed ${seed})`);
  }
  t.equal(failures, 0, `every re-encoding is byte-identical (seed ${seed})`);
  t.ok(rows > 1000, `checked ${rows} rows`);
});

t.test('an encoded entry is not overwritten by a later encode (no shared output buffer)', async (t) => {
  const rand = new SeededRand(5);
  const a = encodeShardEntry(randomEntry(rand));
  const copy = Uint8Array.from(a);
  for (let i = 0; i < 20; i++) encodeShardEntry(randomEntry(rand));
  t.same(Uint8Array.from(a), copy);
});

t.test('decoded rows own their bytes: overwriting the entry bytes afterwards changes no id or bytes value', async (t) => {
  const rand = new SeededRand(11);
  let checked = 0;
  for (let i = 0; i < 100; i++) {
    const bytes = encodeShardEntry(randomEntry(rand, 16));
    // A Buffer (what LevelDB and the network give) and a plain Uint8Array take different decoder paths.
    const input = i % 2 === 0 ? Buffer.from(bytes) : Uint8Array.from(bytes);
    const back = decodeShardEntry(input);
    input.fill(0);
    const again = encodeShardEntry(back);
    if (Buffer.compare(Buffer.from(bytes), Buffer.from(again)) === 0) checked++;
  }
  t.equal(checked, 100, 'every decoded entry re-encodes to its original bytes after its input was zeroed');
});

t.test('resources and scopes are stored once per entry', async (t) => {
  const rand = new SeededRand(9);
  const base = randomRows(rand, { spans: 1 }).spans[0] as SpanRow;
  const one = encodeShardEntry({ version: 1, tenant: 'default', idempotencyKey: '0123456789abcdef', part: 0, parts: 1, leaderTimeMs: 0, spans: [base], points: [], logs: [] });
  const many: SpanRow[] = Array.from({ length: 100 }, () => ({ ...base, resource: { ...base.resource }, scope: { ...base.scope } }));
  const hundred = encodeShardEntry({ version: 1, tenant: 'default', idempotencyKey: '0123456789abcdef', part: 0, parts: 1, leaderTimeMs: 0, spans: many, points: [], logs: [] });
  const decoded = decodeShardEntry(hundred);
  t.ok(decoded.spans.every((s) => s.resource === decoded.spans[0]?.resource && s.scope === decoded.spans[0]?.scope), 'rows share one decoded resource and scope');
  const resourceBytes = encodeShardEntry({ version: 1, tenant: 'default', idempotencyKey: '0123456789abcdef', part: 0, parts: 1, leaderTimeMs: 0, spans: [], points: [], logs: [] }).length;
  t.ok(hundred.length - resourceBytes < 100 * (one.length - resourceBytes), `100 spans take ${hundred.length} bytes, one takes ${one.length}`);
});

t.test('encode refuses invalid and over-limit input with the caller-facing codes', async (t) => {
  const rand = new SeededRand(11);
  const entry = randomEntry(rand);
  const span = randomRows(rand, { spans: 1 }).spans[0] as SpanRow;
  const withSpan = (s: SpanRow): ShardEntry => ({ ...entry, tenant: 'default', spans: [s], points: [], logs: [] });
  t.equal(codeOf(() => encodeShardEntry(withSpan({ ...span, tenant: 'other' }))), 'ERR_INVALID_ARGUMENT', 'row of another tenant');
  t.equal(codeOf(() => encodeShardEntry(withSpan({ ...span, traceId: new Uint8Array(15) }))), 'ERR_INVALID_ARGUMENT', 'short trace id');
  t.equal(codeOf(() => encodeShardEntry(withSpan({ ...span, parentSpanId: new Uint8Array(4) }))), 'ERR_INVALID_ARGUMENT', 'bad parent id');
  t.equal(codeOf(() => encodeShardEntry(withSpan({ ...span, kind: 6 as never }))), 'ERR_INVALID_ARGUMENT', 'kind out of range');
  t.equal(codeOf(() => encodeShardEntry(withSpan({ ...span, startTimeUnixNano: -1n }))), 'ERR_INVALID_ARGUMENT', 'negative time');
  t.equal(codeOf(() => encodeShardEntry(withSpan({ ...span, startTimeUnixNano: 1n << 64n }))), 'ERR_INVALID_ARGUMENT', 'time past 64 bits');
  t.equal(codeOf(() => encodeShardEntry({ ...withSpan(span), idempotencyKey: 'XYZ' })), 'ERR_INVALID_ARGUMENT', 'bad idempotency key');
  t.equal(codeOf(() => encodeShardEntry({ ...withSpan(span), part: 3, parts: 3 })), 'ERR_INVALID_ARGUMENT', 'part >= parts');
  const attrs = Array.from({ length: StorageLimits.attributesPerListMax + 1 }, (_, i) => ({ key: `k${i}`, value: { type: 'empty' } as AnyValue }));
  t.equal(codeOf(() => encodeShardEntry(withSpan({ ...span, attributes: attrs }))), 'ERR_LIMIT_EXCEEDED', 'too many attributes');
  let deep: AnyValue = { type: 'string', value: 'x' };
  for (let i = 0; i < StorageLimits.anyValueDepthMax; i++) deep = { type: 'array', values: [deep] };
  t.equal(codeOf(() => encodeShardEntry(withSpan({ ...span, attributes: [{ key: 'd', value: deep }] }))), 'ERR_LIMIT_EXCEEDED', 'nesting too deep');
  let ok: AnyValue = { type: 'string', value: 'x' };
  for (let i = 0; i < StorageLimits.anyValueDepthMax - 1; i++) ok = { type: 'kvlist', values: [{ key: 'k', value: ok }] };
  t.equal(codeOf(() => encodeShardEntry(withSpan({ ...span, attributes: [{ key: 'd', value: ok }] }))), 'ok', 'nesting at the limit');
  t.equal(
    codeOf(() => encodeShardEntry(withSpan({ ...span, name: 'x'.repeat(StorageLimits.stringBytesMax + 1) }))),
    'ERR_LIMIT_EXCEEDED',
    'string too long',
  );
});

t.test('hand-made malformed entries are ERR_CORRUPTION', async (t) => {
  const packr = new Packr({ useRecords: false, int64AsType: 'bigint', useFloat32: 0 });
  const good = decodeShardEntry(encodeShardEntry(randomEntry(new SeededRand(3))));
  t.ok(good);
  const cases: [string, unknown][] = [
    ['a map', { version: 1 }],
    ['nil', null],
    ['version 2', [2, 't', '0123456789abcdef', 0, 1, 0, [], [], [], [], []]],
    ['extra field', [1, 't', '0123456789abcdef', 0, 1, 0, [], [], [], [], [], 0]],
    ['empty tenant', [1, '', '0123456789abcdef', 0, 1, 0, [], [], [], [], []]],
    ['tenant with a slash', [1, 'a/b', '0123456789abcdef', 0, 1, 0, [], [], [], [], []]],
    ['a Date leaderTimeMs', [1, 't', '0123456789abcdef', 0, 1, new Date(0), [], [], [], [], []]],
    ['span referring to a missing resource', [1, 't', '0123456789abcdef', 0, 1, 0, [], [], [[0, 0]], [], []]],
  ];
  for (const [what, value] of cases) t.equal(codeOf(() => decodeShardEntry(packr.pack(value))), 'ERR_CORRUPTION', what);
  t.equal(codeOf(() => decodeShardEntry(new Uint8Array(0))), 'ERR_CORRUPTION', 'empty bytes');
  t.equal(codeOf(() => decodeShardEntry(new Uint8Array([0xc1]))), 'ERR_CORRUPTION', 'never-used byte 0xc1');
  t.equal(codeOf(() => decodeShardEntry(new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff]))), 'ERR_CORRUPTION', 'array of 2^32-1 elements');
  const nested = new Uint8Array(200_000).fill(0x91); // 200,000 nested one-element arrays
  t.equal(codeOf(() => decodeShardEntry(nested)), 'ERR_CORRUPTION', 'pathological nesting');
});

t.test('fuzz: random bytes, truncations and bit flips give ERR_CORRUPTION or a valid re-encodable entry', async (t) => {
  const seed = 424242;
  const rand = new SeededRand(seed);
  const outcomes = { corruption: 0, valid: 0 };
  const check = (bytes: Uint8Array): void => {
    let entry: ShardEntry;
    try {
      entry = decodeShardEntry(bytes);
    } catch (err) {
      if (err instanceof OtlpdbError && err.code === 'ERR_CORRUPTION') {
        outcomes.corruption++;
        return;
      }
      throw new Error(`seed ${seed}: decode threw ${String(err)} for ${Buffer.from(bytes).toString('hex').slice(0, 200)}`, { cause: err });
    }
    // A decoded entry must satisfy the encoder's own checks.
    encodeShardEntry(entry);
    outcomes.valid++;
  };
  for (let i = 0; i < 2000; i++) check(rand.bytes(rand.intn(64)));
  for (let i = 0; i < 40; i++) {
    const bytes = encodeShardEntry(randomEntry(rand, 3));
    for (let k = 0; k < 20; k++) check(bytes.subarray(0, rand.intn(bytes.length)));
    for (let k = 0; k < 100; k++) {
      const flipped = Uint8Array.from(bytes);
      const bit = rand.intn(bytes.length * 8);
      flipped[bit >> 3] = (flipped[bit >> 3] as number) ^ (1 << (bit & 7));
      check(flipped);
    }
    for (let k = 0; k < 20; k++) {
      const b = Uint8Array.from(bytes);
      b[rand.intn(b.length)] = rand.intn(256);
      check(b);
    }
  }
  t.ok(outcomes.corruption > 0 && outcomes.valid > 0, `outcomes ${JSON.stringify(outcomes)} (seed ${seed})`);
});

t.test('structural fuzz: any field replaced by a value of another shape gives ERR_CORRUPTION or a valid entry', async (t) => {
  const seed = 8080;
  const rand = new SeededRand(seed);
  const raw = new Packr({ useRecords: false, int64AsType: 'bigint', useFloat32: 0, copyBuffers: true });
  const replacements: (() => unknown)[] = [
    () => null,
    () => -1,
    () => 2 ** 40,
    () => 1.5,
    () => NaN,
    () => '',
    () => 'x'.repeat(rand.intn(40)),
    () => true,
    () => 5n,
    () => -(1n << 63n),
    () => (1n << 64n) - 1n,
    () => rand.bytes(rand.intn(20)),
    () => [],
    () => [0],
    () => [1, 'k'],
    () => [0, [0, [0, [0, [0, [0, [0, [0, [0, 'deep']]]]]]]]],
    () => ({ a: 1 }),
    () => new Date(0),
  ];
  const outcomes = { corruption: 0, valid: 0 };
  for (let i = 0; i < 3000; i++) {
    const wire = raw.unpack(encodeShardEntry(randomEntry(rand, 3))) as unknown[];
    const slots: [unknown[], number][] = [];
    const walk = (a: unknown[]): void => {
      for (let k = 0; k < a.length; k++) {
        slots.push([a, k]);
        const v = a[k];
        if (Array.isArray(v)) walk(v);
      }
    };
    walk(wire);
    const [parent, index] = slots[rand.intn(slots.length)] as [unknown[], number];
    parent[index] = (replacements[rand.intn(replacements.length)] as () => unknown)();
    let entry: ShardEntry;
    try {
      entry = decodeShardEntry(raw.pack(wire));
    } catch (err) {
      if (err instanceof OtlpdbError && err.code === 'ERR_CORRUPTION') {
        outcomes.corruption++;
        continue;
      }
      throw new Error(`seed ${seed} iteration ${i}: decode threw ${String(err)}`, { cause: err });
    }
    encodeShardEntry(entry);
    outcomes.valid++;
  }
  t.ok(outcomes.corruption > 1000 && outcomes.valid > 0, `outcomes ${JSON.stringify(outcomes)} (seed ${seed})`);
});

t.test("the fast self-check gives the full one's verdict: seeded entries with a planted defect in any row field", async (t) => {
  const seed = 4242;
  const rand = new SeededRand(seed);
  const replacements: (() => unknown)[] = [
    () => null,
    () => undefined,
    () => -1,
    () => 2 ** 32,
    () => 2 ** 40,
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
    () => new Date(0),
    () => new Map([['a', 1]]),
    () => new Set([1]),
  ];
  const FOREIGN = new Set([18, 25, 26, 27, 28]);
  const verdicts = new Map<string, number>();
  for (let i = 0; i < 4000; i++) {
    const base = randomEntry(rand, 4);
    // A third of the entries are points only: the fast check reads them with decodeMetricEntry.
    const entry = structuredClone(i % 3 === 0 ? { ...base, spans: [], logs: [], points: base.points.length > 0 ? base.points : randomRows(rand, { points: 2, tenant: base.tenant }).points } : base) as ShardEntry;
    const slots: [Record<string | number, unknown>, string | number][] = [];
    const walk = (o: Record<string | number, unknown>, depth: number): void => {
      for (const k of Object.keys(o)) {
        const v = o[k];
        if (depth > 0) slots.push([o, k]);
        if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array)) walk(v as Record<string, unknown>, depth + 1);
      }
    };
    walk(entry as unknown as Record<string, unknown>, 0);
    if (slots.length === 0) continue;
    const [parent, key] = slots[rand.intn(slots.length)] as [Record<string | number, unknown>, string | number];
    const planted = rand.intn(replacements.length);
    parent[key] = (replacements[planted] as () => unknown)();
    const full = codeOfAny(() => encodeShardEntry(entry, 'full'));
    const fast = codeOfAny(() => encodeShardEntry(entry, 'fast'));
    // The one allowed difference is the safe one: a value of a foreign type that msgpackr would turn into an
    // accepted one (an Int8Array into a byte string) is refused before packing.
    const stricter = full === 'ok' && fast === 'ERR_INVALID_ARGUMENT' && FOREIGN.has(planted);
    if (fast !== full && !stricter) {
      t.fail(`seed ${seed} iteration ${i}: fast check ${fast}, full check ${full} (field ${String(key)}, replacement ${planted}: ${String(replacements[planted])})`);
      break;
    }
    verdicts.set(full, (verdicts.get(full) ?? 0) + 1);
  }
  t.ok((verdicts.get('ok') ?? 0) > 100 && (verdicts.get('ERR_INVALID_ARGUMENT') ?? 0) > 500 && (verdicts.get('ERR_LIMIT_EXCEEDED') ?? 0) > 30, `verdicts ${JSON.stringify([...verdicts])}`);
});

/** codeOfAny is codeOf that also names a non-OtlpdbError (a defect may make the row code itself throw a TypeError). */
function codeOfAny(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    return err instanceof OtlpdbError ? err.code : `thrown ${(err as Error).name}`;
  }
}
