import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { initHash } from '../../partition/hash.js';
import { randomRows } from '../rows-test-util.js';
import type { MetricPointRow } from '../rows.js';
import type { MetricStore } from '../metrics/metric-store.js';
import { MetricEntryColumns, decodeMetricEntry } from '../metric-entry.js';
import type { AddResult, ExpireReport, FlushContext, FlushReport, RetentionCutoffs, SignalStats, SignalStore } from './signal-store.js';
import type { KvRead } from './shard-db.js';
import { ShardStateMachine } from './shard-state-machine.js';
import type { ShardStores } from './shard-state-machine.js';
import { shardStoresFactory } from './stores.js';
import { entryOf, shardEntry, tempDir } from './shard-test-util.js';

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

function machine(dir: string, makeStores: () => ShardStores): ShardStateMachine {
  return new ShardStateMachine({ group: 1, dir, makeStores, peer: { fetchPage: () => Promise.reject(new Error('no peer')) }, nowMs: () => 1_000_000 });
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
  const a = tempDir('otlpdb-columns-a-');
  const b = tempDir('otlpdb-columns-b-');
  t.teardown(() => {
    a.cleanup();
    b.cleanup();
  });
  const real = shardStoresFactory(hasher);
  const columns = machine(a.dir, real);
  const rows = machine(b.dir, () => {
    const s = real();
    return { ...s, metrics: new RowsOnly(s.metrics as MetricStore) };
  });
  await columns.open({ index: 0, data: new Uint8Array(0) });
  await rows.open({ index: 0, data: new Uint8Array(0) });
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
