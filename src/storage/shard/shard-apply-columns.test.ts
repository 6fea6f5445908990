import t from 'tap';
import { assert } from '../../errors.js';
import { SeededRand } from '../../fs/seeded-rand.js';
import { initHash } from '../../partition/hash.js';
import { randomRows } from '../rows-test-util.js';
import type { MetricPointRow } from '../rows.js';
import { MetricStore } from '../metrics/metric-store.js';
import { MetricEntryColumns, decodeMetricEntry } from '../metric-entry.js';
import type { AddResult, ExpireReport, FlushContext, FlushReport, RetentionCutoffs, SignalStats, SignalStore } from './signal-store.js';
import type { KvRead } from './shard-db.js';
import type { ShardStores } from './shard-state-machine.js';
import { shardStoresFactory } from './stores.js';
import { entryOf, shardEntry, twinReplicas } from './shard-test-util.js';
import { decodeApplyResult } from './shard-records.js';
import { gauge, stringKv, testPointRow } from '../metrics/store-test-util.js';

const hasher = await initHash();

/** RowsOnly is a metrics store seen through the SignalStore interface only: the state machine cannot use its columnar path. */
class RowsOnly implements SignalStore<MetricPointRow> {
  readonly signal = 'metrics' as const;
  constructor(readonly inner: MetricStore) {}
  load(kv: KvRead): Promise<void> {
    return this.inner.load(kv);
  }
  add(tenant: string, rows: readonly MetricPointRow[], entryTimeMs: number): AddResult {
    return this.inner.add(tenant, rows, entryTimeMs);
  }
  headBytes(): number {
    return this.inner.headBytes();
  }
  headRows(): number {
    return this.inner.headRows();
  }
  freeze(): void {
    this.inner.freeze();
  }
  writeFrozen(ctx: FlushContext): Promise<FlushReport> {
    return this.inner.writeFrozen(ctx);
  }
  dropFrozen(): void {
    this.inner.dropFrozen();
  }
  expire(ctx: FlushContext, cutoffs: RetentionCutoffs): Promise<ExpireReport> {
    return this.inner.expire(ctx, cutoffs);
  }
  stats(): SignalStats {
    return this.inner.stats();
  }
}

/** rowsOnlyMetrics is the stores with the metrics store taking only rows (the row path of twinReplicas). */
function rowsOnlyMetrics(s: ShardStores): ShardStores {
  return { ...s, metrics: new RowsOnly(s.metrics as MetricStore) };
}

function hex(i: number): string {
  return i.toString(16).padStart(16, '0');
}

/** workload is a seeded mix of points-only entries (plain and not), mixed entries, retries and corrupted copies. */
function workload(rand: SeededRand, n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const r = rand.intn(10);
    if (r === 0 && out.length > 0) {
      out.push(out[rand.intn(out.length)] as Uint8Array); // a retry: a duplicate when it was applied
      continue;
    }
    const rows = randomRows(rand, { spans: r === 1 ? 2 : 0, points: 1 + rand.intn(30), logs: r === 2 ? 2 : 0 });
    const points = rows.points.map((p) => (rand.intn(3) === 0 ? p : { ...p, exemplars: [], attributes: p.attributes.filter((kv) => kv.value.type === 'string') }));
    const bytes = Uint8Array.from(shardEntry({ tenant: 'default', idempotencyKey: hex(i + 1), part: 0, parts: 1, leaderTimeMs: 1_790_000_000_000 + i, spans: rows.spans, points, logs: rows.logs }));
    if (r === 3) bytes[rand.intn(bytes.length)] = rand.intn(256);
    out.push(bytes);
  }
  return out;
}

t.test('a replica applying points-only entries through the columns answers every entry byte for byte like one applying rows', async (t) => {
  const seed = 606;
  const rand = new SeededRand(seed);
  const entries = workload(rand, 200);
  const { columns, rows } = await twinReplicas(t, 'otlpdb-columns-', shardStoresFactory(hasher), rowsOnlyMetrics);
  let differ = 0;
  for (let i = 0; i < entries.length; i++) {
    const e = entryOf(i + 1, entries[i] as Uint8Array);
    const [x] = columns.apply([e]);
    const [y] = rows.apply([e]);
    if (Buffer.compare(Buffer.from(x as Uint8Array), Buffer.from(y as Uint8Array)) !== 0) {
      differ++;
      t.fail(`entry ${i} (seed ${seed}): results differ`);
    }
    t.equal(columns.headBytes(), rows.headBytes(), `entry ${i}: head bytes`);
    if (i % 50 === 49) {
      await columns.flush();
      await rows.flush();
      t.same(columns.stores.metrics.stats(), rows.stores.metrics.stats(), `flush after entry ${i}: metrics stats`);
    }
  }
  t.equal(differ, 0, `${entries.length} entries`);
  const c = new MetricEntryColumns();
  const taken = entries.filter((e) => decodeMetricEntry(e, c)).length;
  t.ok(taken > 100 && taken < entries.length - 30, `${taken} of ${entries.length} entries took the columns`);
  await columns.close();
  await rows.close();
});

/** patchAll replaces every occurrence of `from` in `bytes` by `to` (same length), and says how many there were. */
function patchAll(bytes: Uint8Array, from: string, to: readonly number[]): number {
  const f = Buffer.from(from, 'latin1');
  assert(f.length === to.length, 'a patch keeps the length');
  let n = 0;
  for (let at = Buffer.from(bytes).indexOf(f); at >= 0; at = Buffer.from(bytes).indexOf(f, at + 1)) {
    bytes.set(to, at);
    n++;
  }
  return n;
}

t.test('a malformed identity string is answered as the rows path answers it, next to series the raw identity memo finds', async (t) => {
  // Each case: the columns replica has the entry's well-formed series in its memo (entry 1), then gets an entry
  // of those series (memo hits, not checked as UTF-8) with one new point whose name, description, unit or attribute
  // key or value holds bytes that are not UTF-8, placed last, so a check made while storing would come too late.
  // The columnar path declines such an entry; decodeShardEntry then takes it (msgpackr stores U+FFFD for the bad
  // bytes), so the rows replica's answer is the reference, compared byte for byte.
  const bad: [string, number[]][] = [
    ['\xff\xfe', [0xff, 0xfe]], // not a lead byte
    ['\xc0\xaf', [0xc0, 0xaf]], // overlong '/'
    ['\xed\xa0', [0xed, 0xa0]], // a surrogate's first two bytes (then an ASCII byte)
  ];
  const where = ['name', 'description', 'unit', 'attribute key', 'attribute value'] as const;
  const { columns, rows } = await twinReplicas(t, 'otlpdb-columns-utf8-', shardStoresFactory(hasher), rowsOnlyMetrics);
  const known = (tMs: number): MetricPointRow[] => Array.from({ length: 12 }, (_, k) => testPointRow(`m${k % 3}`, gauge(k), [stringKv('host', `h${k}`), stringKv('cpu', 'total')], tMs, { unit: 'By', description: 'd' }));
  let index = 0;
  let key = 0;
  const both = (data: Uint8Array, what: string): ReturnType<typeof decodeApplyResult> => {
    index++;
    const [x] = columns.apply([entryOf(index, data)]);
    const [y] = rows.apply([entryOf(index, data)]);
    t.equal(Buffer.compare(Buffer.from(x as Uint8Array), Buffer.from(y as Uint8Array)), 0, `${what}: the same result`);
    t.equal(columns.headBytes(), rows.headBytes(), `${what}: the same head bytes`);
    return decodeApplyResult(y as Uint8Array);
  };
  const entry = (points: MetricPointRow[], k = ++key): Uint8Array => Uint8Array.from(shardEntry({ tenant: 't', idempotencyKey: hex(k), part: 0, parts: 1, leaderTimeMs: 1_790_000_000_000 + index, spans: [], points, logs: [] }));
  const first = both(entry(known(1_000)), 'the well-formed series');
  t.equal(first.points.accepted, 12, 'the well-formed series are stored');
  let tMs = 2_000;
  let taken = 0;
  const c = new MetricEntryColumns();
  for (const [mark, patch] of bad) {
    for (const w of where) {
      tMs += 1_000;
      const odd = testPointRow(w === 'name' ? 'XX' : 'm0', gauge(1), [stringKv(w === 'attribute key' ? 'XX' : 'host', w === 'attribute value' ? 'XX' : 'h0'), stringKv('cpu', 'total')], tMs, {
        unit: w === 'unit' ? 'XX' : 'By',
        description: w === 'description' ? 'XX' : 'd',
      });
      const data = entry([...known(tMs), odd]);
      t.equal(patchAll(data, 'XX', patch), 1, `${w} ${JSON.stringify(mark)}: patched once`);
      t.ok(decodeMetricEntry(data, c, null, true) && c.keysUnchecked, `${w} ${JSON.stringify(mark)}: the deferred decode takes the entry`);
      t.notOk(c.keyUtf8(12), `${w}: the new point's strings are not UTF-8`);
      t.ok(c.keyUtf8(0), `${w}: a known point's strings are`);
      t.notOk(decodeMetricEntry(data, c), `${w}: the checking decode does not take it`);
      const r = both(data, `${w} ${JSON.stringify(mark)}`);
      if (r.invalid === null && r.points.accepted === 13) taken++;
      // The same entry again: a duplicate on both, or the same answer as the rows path.
      both(data, `${w} ${JSON.stringify(mark)}, applied again`);
    }
  }
  t.equal(taken, bad.length * where.length, 'every entry with a malformed string is taken by the rows path, as before');
  // A duplicate of an applied entry whose copy carries a malformed string (the window says duplicate first on the
  // rows path only if decodeShardEntry takes the entry).
  tMs += 1_000;
  const good = entry(known(tMs));
  both(good, 'a well-formed entry');
  const dup = Uint8Array.from(shardEntry({ tenant: 't', idempotencyKey: hex(key), part: 0, parts: 1, leaderTimeMs: 1_790_000_000_000 + index, spans: [], points: [...known(tMs).slice(1), testPointRow('m0', gauge(1), [stringKv('host', 'XX')], tMs)], logs: [] }));
  t.equal(patchAll(dup, 'XX', [0xff, 0xff]), 1, 'the duplicate patched once');
  both(dup, 'its duplicate with a malformed string');
  await columns.close();
  await rows.close();
});

/** CountingColumns counts the UTF-8 checks MetricStore.addColumns asks of the columns. */
class CountingColumns extends MetricEntryColumns {
  checks = 0;
  override keyUtf8(i: number): boolean {
    this.checks++;
    return super.keyUtf8(i);
  }
}

t.test('addColumns of unchecked columns checks the points its memo does not find, and stores nothing when one is malformed', (t) => {
  const store = new MetricStore({ hasher });
  const c = new CountingColumns();
  const known = (tMs: number): MetricPointRow[] => Array.from({ length: 12 }, (_, k) => testPointRow(`m${k % 3}`, gauge(k), [stringKv('host', `h${k}`)], tMs, { description: 'd' }));
  let key = 0;
  const entry = (points: MetricPointRow[]): Uint8Array => Uint8Array.from(shardEntry({ tenant: 't', idempotencyKey: hex(++key), part: 0, parts: 1, leaderTimeMs: 1_790_000_000_000, spans: [], points, logs: [] }));
  const add = (data: Uint8Array): ReturnType<MetricStore['addColumns']> => {
    t.ok(decodeMetricEntry(data, c, null, true) && c.keysUnchecked, 'the deferred decode takes the entry');
    c.checks = 0;
    return store.addColumns(c, 0);
  };
  t.equal(add(entry(known(1_000)))?.accepted, 12, 'new series: stored');
  t.equal(c.checks, 12, 'every new series was checked');
  t.notOk(c.keysUnchecked, 'checked columns say so');
  t.equal(add(entry(known(2_000)))?.accepted, 12, 'known series: stored');
  t.equal(c.checks, 0, 'no point the memo found was checked');
  const odd = (tMs: number, value: string): MetricPointRow => testPointRow('m0', gauge(1), [stringKv('host', value)], tMs, { description: 'd' });
  for (let round = 0; round < 2; round++) {
    const bad = entry([...known(3_000 + round), odd(3_000 + round, 'XX')]);
    t.equal(patchAll(bad, 'XX', [0xc0, 0xaf]), 1, 'patched once');
    const bytes = store.headBytes();
    const rows = store.headRows();
    t.equal(add(bad), null, `round ${round}: a new series with a malformed value: the entry is declined`);
    t.equal(c.checks, 1, `round ${round}: only the new point was checked`);
    t.equal(store.headBytes(), bytes, `round ${round}: nothing stored (head bytes)`);
    t.equal(store.headRows(), rows, `round ${round}: nothing stored (head rows)`);
  }
  // The well-formed twin of the declined point is a new series: checked once, then found.
  t.equal(add(entry([...known(4_000), odd(4_000, 'ok')]))?.accepted, 13, 'its well-formed twin: stored');
  t.equal(c.checks, 1, 'the twin was checked');
  t.equal(add(entry([...known(5_000), odd(5_000, 'ok')]))?.accepted, 13, 'again: stored');
  t.equal(c.checks, 0, 'and then found');
  t.end();
});
