import t from 'tap';
import { SeededRand } from '../fs/seeded-rand.js';
import { StorageLimits as L } from '../limits.js';
import type { SpanRow } from './rows.js';
import { randomRows, seededEntry } from './rows-test-util.js';
import { resourceToWire, scopeToWire, spanToWire } from './row-wire.js';
import { decodeShardEntry, encodeShardEntry } from './shard-entry.js';
import type { ShardEntry } from './shard-entry.js';
import { SpanEntryColumns, decodeSpanEntry, estimateSpanBytes } from './span-entry.js';
import { STORAGE_PACKR } from './storage-packr.js';
import { codeOf } from './storage-test-util.js';
import { EntrySpanRanges, locateEntrySpans } from './traces/entry-spans.js';
import { realisticSpans } from './traces/traces-test-util.js';

function spansEntry(rand: SeededRand, spans: readonly SpanRow[], tenant = 'default'): ShardEntry {
  return seededEntry(rand, tenant, { spans });
}

/** plain drops the attribute values the fast grammar leaves to readSpan (bytes, arrays, kvlists), everywhere in a span. */
function plain(s: SpanRow): SpanRow {
  const flat = (kvs: SpanRow['attributes']): SpanRow['attributes'] => kvs.filter((kv) => kv.value.type !== 'bytes' && kv.value.type !== 'array' && kv.value.type !== 'kvlist');
  return {
    ...s,
    attributes: flat(s.attributes),
    events: s.events.map((e) => ({ ...e, attributes: flat(e.attributes) })),
    links: s.links.map((l) => ({ ...l, attributes: flat(l.attributes) })),
  };
}

/** randomSpansEntry is a spans-only entry: random spans (about half plain), or realistic ones. */
function randomSpansEntry(rand: SeededRand, n: number): ShardEntry {
  const tenant = rand.intn(2) === 0 ? 'default' : `tenant-${rand.intn(100)}`;
  const spans = rand.intn(4) === 0 ? realisticSpans(rand, 1 + rand.intn(3), tenant).slice(0, n) : randomRows(rand, { spans: n, tenant }).spans.map((s) => (rand.intn(2) === 0 ? s : plain(s)));
  return spansEntry(rand, spans, tenant);
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/**
 * disagreement checks decodeSpanEntry against decodeShardEntry (and
 * locateEntrySpans) on one entry's bytes and names the first difference, or
 * null when they agree: a true return must mean decodeShardEntry accepts the
 * entry, with the same header and, per span, the same byte range, ids, kind,
 * status code, times and estimateSpanBytes; an entry decodeShardEntry refuses
 * must make decodeSpanEntry return false ('not-taken' marks a valid
 * spans-only entry left to the regular path, which the contract allows).
 */
function disagreement(bytes: Uint8Array, decode: (b: Uint8Array, c: SpanEntryColumns) => boolean = decodeSpanEntry): string | null {
  const c = new SpanEntryColumns();
  const took = decode(bytes, c);
  let entry: ShardEntry;
  try {
    entry = decodeShardEntry(bytes);
  } catch {
    return took ? 'took an entry decodeShardEntry refuses' : null;
  }
  if (!took) return entry.points.length === 0 && entry.logs.length === 0 && entry.spans.length > 0 ? 'not-taken' : null;
  if (entry.points.length > 0 || entry.logs.length > 0) return 'took an entry with points or logs';
  const header = [entry.tenant, entry.idempotencyKey, entry.part, entry.parts, entry.leaderTimeMs];
  const got = [c.tenant, c.idempotencyKey, c.part, c.parts, c.leaderTimeMs];
  if (JSON.stringify(header) !== JSON.stringify(got)) return `header ${JSON.stringify(got)} is not ${JSON.stringify(header)}`;
  if (c.count !== entry.spans.length) return `${c.count} spans, not ${entry.spans.length}`;
  const r = new EntrySpanRanges();
  locateEntrySpans(bytes, entry.spans.length, r);
  if (c.contextStart !== r.contextStart || c.scopesStart !== r.scopesStart || c.contextEnd !== r.contextEnd) return 'context ranges differ';
  for (let i = 0; i < c.count; i++) {
    const s = entry.spans[i] as SpanRow;
    if (c.spanStarts[i] !== r.spanStarts[i] || c.spanEnds[i] !== r.spanEnds[i]) return `span ${i} range differs`;
    if (hex(c.traceIds.subarray(16 * i, 16 * i + 16)) !== hex(s.traceId)) return `span ${i} trace id differs`;
    if (hex(c.spanIds.subarray(8 * i, 8 * i + 8)) !== hex(s.spanId)) return `span ${i} span id differs`;
    if (c.kindStatus[i] !== (s.kind | (s.status.code << 4))) return `span ${i} kind/status ${c.kindStatus[i]} is not ${s.kind}/${s.status.code}`;
    if (c.startNs[i] !== s.startTimeUnixNano) return `span ${i} start ${c.startNs[i]} is not ${s.startTimeUnixNano}`;
    if (c.endNs[i] !== s.endTimeUnixNano) return `span ${i} end ${c.endNs[i]} is not ${s.endTimeUnixNano}`;
    if (c.estimates[i] !== estimateSpanBytes(s)) return `span ${i} estimate ${c.estimates[i]} is not ${estimateSpanBytes(s)}`;
  }
  return null;
}

t.test('random spans-only entries: the columns agree with decodeShardEntry span by span', async (t) => {
  const seed = 20261128;
  const rand = new SeededRand(seed);
  let fast = 0;
  let rows = 0;
  for (let i = 0; i < 300; i++) {
    const bytes = encodeShardEntry(randomSpansEntry(rand, 1 + rand.intn(12)));
    const d = disagreement(bytes);
    if (d !== null) t.fail(`entry ${i} (seed ${seed}): ${d}`);
    const c = new SpanEntryColumns();
    if (!decodeSpanEntry(bytes, c)) t.fail(`entry ${i} (seed ${seed}) is not taken`);
    rows += c.rowSpans;
    fast += c.count - c.rowSpans;
  }
  t.ok(fast > 300 && rows > 300, `both kinds of spans seen: ${fast} in the fast grammar, ${rows} read as rows`);
});

t.test('the columns are reusable: a large entry after small ones, a small one after it', async (t) => {
  const rand = new SeededRand(41);
  const c = new SpanEntryColumns();
  for (const n of [1, 3, 700, 2, 1500, 5]) {
    const bytes = encodeShardEntry(spansEntry(rand, realisticSpans(rand, Math.ceil(n / 2) + 5).slice(0, n)));
    t.ok(decodeSpanEntry(bytes, c), `${n} spans taken`);
    t.equal(c.count, n);
    c.release();
    t.equal(c.bytes.length, 0, 'release drops the entry');
    t.equal(disagreement(bytes), null, `${n} spans agree`);
  }
});

t.test('entries with points or logs, and empty entries, are left to decodeShardEntry (the fallback)', async (t) => {
  const rand = new SeededRand(3);
  const rowsOf = randomRows(rand, { spans: 3, points: 2, logs: 2 });
  const base = spansEntry(rand, rowsOf.spans);
  const c = new SpanEntryColumns();
  t.notOk(decodeSpanEntry(encodeShardEntry({ ...base, points: rowsOf.points }), c), 'spans and points');
  t.notOk(decodeSpanEntry(encodeShardEntry({ ...base, logs: rowsOf.logs }), c), 'spans and logs');
  t.notOk(decodeSpanEntry(encodeShardEntry({ ...base, spans: [], points: rowsOf.points }), c), 'points only');
  t.notOk(decodeSpanEntry(encodeShardEntry({ ...base, spans: [] }), c), 'no rows');
  t.ok(decodeSpanEntry(encodeShardEntry(base), c), 'spans only');
});

/** wireEntry packs an entry's wire tuple directly (no encodeShardEntry checks), after `edit` changes it: planted defects. */
function wireEntry(e: ShardEntry, edit: (wire: unknown[], spans: unknown[][]) => void): Uint8Array {
  const resources = [...new Set(e.spans.map((s) => s.resource))];
  const scopes = [...new Set(e.spans.map((s) => s.scope))];
  const spans = e.spans.map((s) => spanToWire(s, resources.indexOf(s.resource), scopes.indexOf(s.scope)));
  const wire: unknown[] = [e.version, e.tenant, e.idempotencyKey, e.part, e.parts, e.leaderTimeMs, resources.map(resourceToWire), scopes.map(scopeToWire), spans, [], []];
  edit(wire, spans);
  return STORAGE_PACKR.pack(wire);
}

/** PLANTED are defects decodeShardEntry refuses; each is planted in the last span of an entry (or in its header). */
const PLANTED: readonly [string, (wire: unknown[], spans: unknown[][]) => void][] = [
  ['a 15-byte trace id', (_w, s) => ((s.at(-1) as unknown[])[2] = new Uint8Array(15))],
  ['a 17-byte trace id', (_w, s) => ((s.at(-1) as unknown[])[2] = new Uint8Array(17))],
  ['a 7-byte span id', (_w, s) => ((s.at(-1) as unknown[])[3] = new Uint8Array(7))],
  ['an empty span id', (_w, s) => ((s.at(-1) as unknown[])[3] = new Uint8Array(0))],
  ['a 4-byte parent span id', (_w, s) => ((s.at(-1) as unknown[])[4] = new Uint8Array(4))],
  ['a trace id as a string', (_w, s) => ((s.at(-1) as unknown[])[2] = 'abcdefghijklmnop')],
  ['a link with a 15-byte trace id', (_w, s) => ((s.at(-1) as unknown[])[17] = [[new Uint8Array(15), new Uint8Array(8), '', [], 0, 0]])],
  ['a link with a 9-byte span id', (_w, s) => ((s.at(-1) as unknown[])[17] = [[new Uint8Array(16), new Uint8Array(9), '', [], 0, 0]])],
  ['kind 6', (_w, s) => ((s.at(-1) as unknown[])[8] = 6)],
  ['status code 3', (_w, s) => ((s.at(-1) as unknown[])[11] = 3)],
  ['a negative start time', (_w, s) => ((s.at(-1) as unknown[])[9] = -1n)],
  ['a start time as a float', (_w, s) => ((s.at(-1) as unknown[])[9] = 1.5)],
  ['negative flags', (_w, s) => ((s.at(-1) as unknown[])[6] = -1)],
  ['a droppedAttributesCount past u32', (_w, s) => ((s.at(-1) as unknown[])[14] = 2 ** 32)],
  ['a resource index past the table', (_w, s) => ((s.at(-1) as unknown[])[0] = 99)],
  ['an odd attribute list', (_w, s) => ((s.at(-1) as unknown[])[13] = ['k'])],
  ['attributes over attributesPerListMax', (_w, s) => ((s.at(-1) as unknown[])[13] = Array.from({ length: 2 * (L.attributesPerListMax + 1) }, (_, i) => (i % 2 === 0 ? `k${i}` : 'v')))],
  ['events over eventsPerSpanMax', (_w, s) => ((s.at(-1) as unknown[])[15] = Array.from({ length: L.eventsPerSpanMax + 1 }, () => [1n, 'e', [], 0]))],
  ['links over linksPerSpanMax', (_w, s) => ((s.at(-1) as unknown[])[17] = Array.from({ length: L.linksPerSpanMax + 1 }, () => [new Uint8Array(16), new Uint8Array(8), '', [], 0, 0]))],
  ['a name over stringBytesMax', (_w, s) => ((s.at(-1) as unknown[])[7] = 'x'.repeat(L.stringBytesMax + 1))],
  ['an AnyValue nested past anyValueDepthMax', (_w, s) => {
    let v: unknown = 'leaf';
    for (let d = 0; d < L.anyValueDepthMax + 1; d++) v = [0, v];
    (s.at(-1) as unknown[])[13] = ['deep', v];
  }],
  ['a bytes attribute over bytesValueBytesMax', (_w, s) => ((s.at(-1) as unknown[])[13] = ['b', new Uint8Array(L.bytesValueBytesMax + 1)])],
  ['a span of 18 fields', (_w, s) => (s.at(-1) as unknown[]).pop()],
  ['an event of 3 fields', (_w, s) => ((s.at(-1) as unknown[])[15] = [[1n, 'e', []]])],
  ['a bad tenant', (w) => (w[1] = 'Not A Tenant!')],
  ['an empty tenant', (w) => (w[1] = '')],
  ['an upper-case idempotency key', (w) => (w[2] = 'ABCDEF0123456789')],
  ['part 1 of 1', (w) => (w[3] = 1)],
  ['version 2', (w) => (w[0] = 2)],
  ['more resources than rows', (w, s) => {
    const r = w[6] as unknown[];
    while (r.length <= s.length) r.push(r[0]);
  }],
];

t.test('planted defects: ERR_CORRUPTION from decodeShardEntry, and decodeSpanEntry never takes them', async (t) => {
  const seed = 515;
  const rand = new SeededRand(seed);
  const spans = realisticSpans(rand, 4).slice(0, 40);
  const base = spansEntry(rand, spans);
  t.equal(disagreement(wireEntry(base, () => undefined)), null, 'the unedited wire entry is taken');
  for (const [what, edit] of PLANTED) {
    const bytes = wireEntry(base, edit);
    t.equal(codeOf(() => decodeShardEntry(bytes)), 'ERR_CORRUPTION', `${what}: decodeShardEntry refuses it`);
    t.notOk(decodeSpanEntry(bytes, new SpanEntryColumns()), `${what}: decodeSpanEntry leaves it to decodeShardEntry`);
  }
  const good = encodeShardEntry(base);
  const trailing = new Uint8Array(good.length + 1);
  trailing.set(good);
  t.notOk(decodeSpanEntry(trailing, new SpanEntryColumns()), 'a trailing byte');
  t.notOk(decodeSpanEntry(good.subarray(0, good.length - 3), new SpanEntryColumns()), 'a truncated entry');
  t.equal(codeOf(() => decodeShardEntry(good.subarray(0, good.length - 3))), 'ERR_CORRUPTION', 'decodeShardEntry refuses the truncated entry');
});

t.test('flipped bytes: whatever decodeSpanEntry takes, decodeShardEntry takes with the same values', async (t) => {
  const seed = 78;
  const rand = new SeededRand(seed);
  let taken = 0;
  let refused = 0;
  let corrupt = 0;
  for (let i = 0; i < 600; i++) {
    const bytes = Uint8Array.from(encodeShardEntry(randomSpansEntry(rand, 1 + rand.intn(6))));
    const flips = 1 + rand.intn(3);
    for (let f = 0; f < flips; f++) {
      const at = rand.intn(bytes.length);
      bytes[at] = rand.intn(3) === 0 ? (bytes[at] as number) ^ (1 << rand.intn(8)) : rand.intn(256);
    }
    const cut = rand.intn(8) === 0 ? bytes.subarray(0, rand.intn(bytes.length)) : bytes;
    if (codeOf(() => decodeShardEntry(cut)) === 'ERR_CORRUPTION') corrupt++;
    const d = disagreement(cut);
    if (d !== null && d !== 'not-taken') t.fail(`entry ${i} (seed ${seed}): ${d}`);
    if (decodeSpanEntry(cut, new SpanEntryColumns())) taken++;
    else refused++;
  }
  t.ok(taken > 20 && refused > 20 && corrupt > 100, `outcomes seen: ${taken} taken, ${refused} left to decodeShardEntry (${corrupt} corrupt)`);
});

t.test('the checker catches planted decoder bugs', async (t) => {
  const rand = new SeededRand(6);
  const base = spansEntry(rand, realisticSpans(rand, 2));
  const bytes = encodeShardEntry(base);
  // A decoder that ignores the trailing logs array.
  const withLogs = encodeShardEntry({ ...base, logs: randomRows(rand, { logs: 1 }).logs });
  const ignoresLogs = (b: Uint8Array, c: SpanEntryColumns): boolean => decodeSpanEntry(encodeShardEntry({ ...decodeShardEntry(b), logs: [] }), c);
  t.equal(disagreement(withLogs, ignoresLogs), 'took an entry with points or logs');
  // A decoder whose estimate forgets the events.
  const withEvent = encodeShardEntry({ ...base, spans: base.spans.map((s) => ({ ...s, events: [{ timeUnixNano: 1n, name: 'e', attributes: [], droppedAttributesCount: 0 }] })) });
  const noEvents = (b: Uint8Array, c: SpanEntryColumns): boolean => {
    const ok = decodeSpanEntry(b, c);
    for (let i = 0; i < c.count; i++) c.estimates[i] = (c.estimates[i] as number) - 96;
    return ok;
  };
  t.match(disagreement(withEvent, noEvents), /estimate/);
  // A decoder that says it took an entry with a corrupted kind.
  const badKind = wireEntry(base, (_w, s) => ((s.at(-1) as unknown[])[8] = 7));
  const lax = (b: Uint8Array, c: SpanEntryColumns): boolean => {
    decodeSpanEntry(b, c);
    return true;
  };
  t.equal(disagreement(badKind, lax), 'took an entry decodeShardEntry refuses');
  t.equal(disagreement(bytes), null, 'the real decoder agrees');
});

t.test('strings: estimates count UTF-16 units of non-ASCII names, trace states and status messages', async (t) => {
  const rand = new SeededRand(17);
  const s = realisticSpans(rand, 1)[0] as SpanRow;
  const names = ['', 'a', 'ünïcødé', '日本語', '🚀🚀', 'x'.repeat(300), 'é'.repeat(40_000)];
  const spans = names.map((name, i) => ({ ...s, spanId: Uint8Array.of(i, 1, 2, 3, 4, 5, 6, 7), name, traceState: name.slice(0, 3), status: { code: 2 as const, message: name } }));
  const bytes = encodeShardEntry(spansEntry(rand, spans));
  const c = new SpanEntryColumns();
  t.ok(decodeSpanEntry(bytes, c));
  t.equal(c.rowSpans, 0, 'every string is in the fast grammar');
  t.equal(disagreement(bytes), null);
});
