import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { StoreLimits, TraceTagLimits } from '../../limits.js';
import type { AnyValue, KeyValue, Resource, SpanRow } from '../rows.js';
import { KvWriteBatch, ShardDb } from '../shard/shard-db.js';
import type { TagEntry, TagRead, TagTarget } from './tag-read.js';
import { TraceStore } from './trace-store.js';
import { realisticSpans } from './traces-test-util.js';

// The shard's tag read (tag-read.ts through TraceStore.readTags) against a
// naive computation over the raw rows, written here from the routes'
// definition: seeded random spans of two tenants spread over three hour
// buckets, partly flushed into blocks (with high-cardinality keys the
// index skips), partly in the head and the frozen head.
// Reproduce: OTLPDB_TAGS_SEED=<seed> npx tap src/storage/traces/tag-read.test.ts

const SEED = Number(process.env.OTLPDB_TAGS_SEED ?? 4242);
const HOUR = StoreLimits.traceBucketNs;
const KINDS = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];
const STATUSES = ['unset', 'ok', 'error'];
const NEVER = (): boolean => false;

function tempDb(t: Test): () => Promise<ShardDb> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otlpdb-tags-'));
  const dbs: ShardDb[] = [];
  t.teardown(async () => {
    for (const db of dbs) await db.close().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return async () => {
    const db = await ShardDb.open(dir);
    dbs.push(db);
    return db;
  };
}

function randomValue(rand: SeededRand, spread: number): AnyValue {
  switch (rand.intn(5)) {
    case 0:
      return { type: 'int', value: BigInt(rand.intn(spread)) };
    case 1:
      return { type: 'bool', value: rand.intn(2) === 0 };
    case 2:
      return { type: 'double', value: rand.intn(spread) / 2 };
    default:
      return { type: 'string', value: `v${rand.intn(spread)}` };
  }
}

/** randomAttrs draws a few keys of a small pool (shared by both scopes) and, sometimes, a high-cardinality key. */
function randomAttrs(rand: SeededRand, prefix: string): KeyValue[] {
  const out: KeyValue[] = [];
  for (let i = rand.intn(4); i > 0; i--) out.push({ key: `${prefix}${rand.intn(3)}`, value: randomValue(rand, 4) });
  for (let i = rand.intn(3); i > 0; i--) out.push({ key: `both${rand.intn(3)}`, value: randomValue(rand, 4) });
  // A key with distinct values per scope, so a read that loses the scope is seen.
  out.push({ key: 'dual', value: { type: 'string', value: `${prefix}-side` } });
  return out;
}

/** randomSpans are realistic spans of `tenant` moved into three hour buckets, with random typed attributes on spans and resources. */
function randomSpans(rand: SeededRand, tenant: string, traces: number): SpanRow[] {
  const resources: Resource[] = Array.from({ length: 5 }, (_, i) => ({
    attributes: [{ key: 'service.name', value: { type: 'string', value: `svc${i}` } }, ...randomAttrs(rand, 'r')],
    droppedAttributesCount: 0,
    schemaUrl: '',
  }));
  return realisticSpans(rand, traces, tenant).map((s, i) => {
    const shift = BigInt(i % 3) * HOUR;
    return {
      ...s,
      startTimeUnixNano: s.startTimeUnixNano + shift,
      endTimeUnixNano: s.endTimeUnixNano + shift,
      attributes: [
        ...s.attributes.filter((kv) => kv.key !== 'user.id' || rand.intn(2) === 0),
        ...randomAttrs(rand, 's'),
        // Many distinct values in every block: the index skips the key.
        { key: 'hc', value: rand.intn(2) === 0 ? { type: 'int', value: BigInt(rand.intn(10_000)) } : { type: 'string', value: `h${rand.intn(10_000)}` } },
      ],
      resource: resources[rand.intn(resources.length)] as Resource,
    };
  });
}

// ---------------------------------------------------------------- the naive reference, apart from the store code

function naiveText(v: AnyValue): [string, string] | undefined {
  if (v.type === 'string') return ['string', v.value];
  if (v.type === 'int') return ['int', v.value.toString()];
  if (v.type === 'bool') return ['bool', v.value ? 'true' : 'false'];
  return undefined;
}

/** naive is the sorted distinct entries `target` names over `spans` (start in [startNs, endNs)). */
function naive(spans: readonly SpanRow[], tenant: string, target: TagTarget, startNs: bigint, endNs: bigint): TagEntry[] {
  const out = new Map<string, TagEntry>();
  const add = (kind: string, text: string): void => void out.set(`${kind}\u0000${text}`, { kind: kind as TagEntry['kind'], text });
  for (const s of spans) {
    if (s.tenant !== tenant || s.startTimeUnixNano < startNs || s.startTimeUnixNano >= endNs) continue;
    if (target.kind === 'intrinsic') {
      if (target.field === 'name') add('string', s.name);
      if (target.field === 'kind') add('keyword', KINDS[s.kind] as string);
      if (target.field === 'status') add('keyword', STATUSES[s.status.code] as string);
      continue;
    }
    for (const [scope, list] of [['span', s.attributes], ['resource', s.resource.attributes]] as const) {
      for (const kv of list) {
        const v = naiveText(kv.value);
        if (v === undefined) continue;
        if (target.kind === 'names' && target.scopes.includes(scope)) add(scope, kv.key);
        if (target.kind === 'values' && kv.key === target.key && (target.scope === 'any' || target.scope === scope)) add(v[0], v[1]);
      }
    }
  }
  return [...out.values()].sort((a, b) => (a.kind !== b.kind ? (a.kind < b.kind ? -1 : 1) : a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
}

const keyOf = (e: TagEntry): string => `${e.kind}\u0000${e.text}`;
const subset = (a: readonly TagEntry[], b: readonly TagEntry[]): boolean => {
  const bs = new Set(b.map(keyOf));
  return a.every((e) => bs.has(keyOf(e)));
};

function randomTarget(rand: SeededRand): TagTarget {
  switch (rand.intn(4)) {
    case 0:
      return { kind: 'names', scopes: [['span'], ['resource'], ['span', 'resource']][rand.intn(3)] as ('span' | 'resource')[] };
    case 1:
      return { kind: 'intrinsic', field: (['name', 'kind', 'status'] as const)[rand.intn(3)] as 'name' };
    default: {
      const keys = ['s0', 's1', 'r0', 'r2', 'both0', 'both1', 'dual', 'hc', 'user.id', 'http.status_code', 'service.name', 'absent'];
      return { kind: 'values', scope: (['span', 'resource', 'any'] as const)[rand.intn(3)] as 'any', key: keys[rand.intn(keys.length)] as string };
    }
  }
}

/** build writes the spans of both tenants: the first part flushed in two flushes, then a frozen head, then a head. */
async function build(t: Test, rand: SeededRand): Promise<{ store: TraceStore; db: ShardDb; spans: SpanRow[] }> {
  const db = await tempDb(t)();
  const store = new TraceStore();
  await store.load(db);
  const spans = [...randomSpans(rand, 'acme', 40 + rand.intn(40)), ...randomSpans(rand, 'beta', 10)];
  const parts = [0.35, 0.7, 0.85, 1].map((f) => Math.floor(f * spans.length));
  let at = 0;
  let flushIndex = 0;
  for (let p = 0; p < parts.length; p++) {
    const slice = spans.slice(at, parts[p]);
    at = parts[p] as number;
    for (const tenant of ['acme', 'beta']) {
      const rows = slice.filter((s) => s.tenant === tenant);
      if (rows.length > 0) store.add(tenant, rows, 0);
    }
    if (p < 3) {
      store.freeze();
      const batch = new KvWriteBatch();
      await store.writeFrozen({ batch, kv: db, flushIndex: ++flushIndex });
      // The third part stays frozen (written but not dropped): a read sees it through the frozen head.
      if (p < 2) {
        await db.write(batch);
        store.dropFrozen();
      }
    }
  }
  return { store, db, spans };
}

t.test('tag reads equal the naive answer over head, frozen head and blocks (seeded, randomized)', async (t) => {
  const rand = new SeededRand(SEED);
  let checked = 0;
  let partialChecked = 0;
  for (let round = 0; round < 4; round++) {
    const { store, db, spans } = await build(t, rand);
    const base = spans.reduce((m, s) => (s.startTimeUnixNano < m ? s.startTimeUnixNano : m), spans[0]?.startTimeUnixNano as bigint);
    for (let i = 0; i < 40; i++) {
      const target = randomTarget(rand);
      const tenant = rand.intn(5) === 0 ? 'beta' : 'acme';
      const whole = rand.intn(2) === 0;
      const startNs = whole ? 0n : base + BigInt(rand.intn(3)) * HOUR + BigInt(rand.intn(60_000)) * 1_000_000n;
      const endNs = whole ? 1n << 63n : startNs + BigInt(1 + rand.intn(3)) * HOUR;
      const q: TagRead = { startNs, endNs, target, valuesMax: TraceTagLimits.valuesMax };
      const got = await store.readTags(db, tenant, q, NEVER);
      const label = `round ${round} read ${i} ${tenant} ${JSON.stringify(target)} ${whole ? 'all time' : 'a range'}`;
      t.equal(got.partial, false, `${label}: not partial`);
      const exact = naive(spans, tenant, target, startNs, endNs);
      if (whole) {
        t.same(got.entries, exact, `${label}: equals the naive answer`);
      } else {
        // Blocks count whole when their start times meet the range: the answer lies between the exact one and all time's.
        t.ok(subset(exact, got.entries), `${label}: holds every entry of a span in range`);
        t.ok(subset(got.entries, naive(spans, tenant, target, 0n, 1n << 63n)), `${label}: holds only entries of the tenant's spans`);
      }
      checked++;
      // The same read cut at a smaller valuesMax: a sorted subset, partial exactly when entries were left out.
      const full = whole ? exact : got.entries;
      if (full.length > 1) {
        const small = await store.readTags(db, tenant, { ...q, valuesMax: Math.max(1, full.length - 1 - rand.intn(full.length - 1)) }, NEVER);
        t.ok(small.partial, `${label}: a smaller valuesMax is partial`);
        t.ok(small.entries.length < full.length && subset(small.entries, full), `${label}: and a subset`);
        partialChecked++;
      }
    }
  }
  t.ok(checked === 160 && partialChecked > 40, `${checked} reads, ${partialChecked} cut ones`);
});

t.test('skipped keys: named from skippedKeys, values read from the rows; bounds make the answer partial', async (t) => {
  const { store, db, spans } = await build(t, new SeededRand(SEED + 1));
  const all = { startNs: 0n, endNs: 1n << 63n, valuesMax: TraceTagLimits.valuesMax };
  const hc = await store.readTags(db, 'acme', { ...all, target: { kind: 'values', scope: 'any', key: 'hc' } }, NEVER);
  t.ok(hc.entries.length > 64, `the high-cardinality key has ${hc.entries.length} values (more than a block indexes)`);
  t.same(hc.entries, naive(spans, 'acme', { kind: 'values', scope: 'any', key: 'hc' }, 0n, 1n << 63n));
  t.ok(hc.stats.blocksScanned > 0, `its blocks were read ${JSON.stringify(hc.stats)}`);
  const method = await store.readTags(db, 'acme', { ...all, target: { kind: 'values', scope: 'span', key: 'http.method' } }, NEVER);
  t.equal(method.stats.blocksScanned, 0, 'an indexed key is answered from the indexes alone');
  const rows = await store.readTags(db, 'acme', { ...all, target: { kind: 'values', scope: 'any', key: 'hc' } }, NEVER, { ...TraceTagLimits, rowsScannedMax: 10 });
  t.ok(rows.partial, 'rowsScannedMax cuts a read');
  const blocks = await store.readTags(db, 'acme', { ...all, target: { kind: 'names', scopes: ['span'] } }, NEVER, { ...TraceTagLimits, blocksMax: 1 });
  t.ok(blocks.partial, 'blocksMax cuts a read');
  const bytes = await store.readTags(db, 'acme', { ...all, target: { kind: 'values', scope: 'any', key: 'hc' } }, NEVER, { ...TraceTagLimits, valueBytesMax: 20 });
  t.ok(bytes.partial && bytes.entries.reduce((n, e) => n + e.text.length, 0) <= 20, 'valueBytesMax cuts a read and bounds its bytes');
  const stale = await store.readTags(db, 'acme', { ...all, target: { kind: 'intrinsic', field: 'status' }, staleValuesMax: 5 }, NEVER);
  t.ok(stale.partial, 'maxStaleValues stops a read');
  const late = await store.readTags(db, 'acme', { ...all, target: { kind: 'names', scopes: ['span'] } }, () => true);
  t.ok(late.partial, 'a passed deadline cuts a read');
  t.same((await store.readTags(db, 'nobody', { ...all, target: { kind: 'names', scopes: ['span', 'resource'] } }, NEVER)).entries, [], 'an unknown tenant has no tags');
});

t.test('planted bug: a read that ignores the scope is caught by the naive comparison', async (t) => {
  const { store, db, spans } = await build(t, new SeededRand(SEED + 2));
  const all = { startNs: 0n, endNs: 1n << 63n, valuesMax: TraceTagLimits.valuesMax };
  // Ask the store for 'any' where the reference is asked for 'span': the planted bug of a lost scope.
  const wrong = await store.readTags(db, 'acme', { ...all, target: { kind: 'values', scope: 'any', key: 'dual' } }, NEVER);
  t.notSame(wrong.entries, naive(spans, 'acme', { kind: 'values', scope: 'span', key: 'dual' }, 0n, 1n << 63n), 'the comparison sees the extra values');
  const names = await store.readTags(db, 'acme', { ...all, target: { kind: 'names', scopes: ['span', 'resource'] } }, NEVER);
  t.notSame(names.entries, naive(spans, 'acme', { kind: 'names', scopes: ['span'] }, 0n, 1n << 63n), 'and the extra scope');
});
