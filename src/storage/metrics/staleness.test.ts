import t from 'tap';
import { initHash } from '../../partition/hash.js';
import type { MetricData, MetricPointRow } from '../rows.js';
import { SHARD_ENTRY_VERSION, encodeShardEntry } from '../shard-entry.js';
import { MetricEntryColumns, decodeMetricEntry } from '../metric-entry.js';
import type { Matcher } from './label-index.js';
import { MetricStore } from './metric-store.js';
import { newScanStats } from '../shard/signal-store.js';
import { POINT_FLAG_NO_RECORDED_VALUE, STALE_NAN, isStaleMarker, noRecordedValue } from './staleness.js';
import { Flusher, openTempDb, readRecords, removeTempDb, stringKv, testPointRow } from './store-test-util.js';

// An OTLP point flagged no-recorded-value is stored as Prometheus's
// staleness marker (staleness.ts): on both apply paths (rows, and the entry
// columns a node applies), whatever value the point carries, in the head and
// after a flush (the chunk codecs keep the NaN's bits); a histogram point
// keeps its flags for the expansion to mark every series it becomes
// (metrics-prom-records.test.ts). Planted: the store ignoring the flag (as
// it did before) is caught by the marker count.

const hasher = await initHash();
const ALL: Matcher[] = [{ name: '__name__', op: '=~', value: '.+' }];
const T0 = 1_700_000_000_000;
const STEP = 15_000;
const POINTS = 40;
/** STALE_EVERY: every seventh point of each series is flagged. */
const STALE_EVERY = 7;

function flagged(r: MetricPointRow, flags: number): MetricPointRow {
  return { ...r, tenant: 't', flags };
}

/** rowsAt are one entry's points at step k: a gauge, a cumulative counter and a histogram, the k-th flagged when k % STALE_EVERY is 3. */
function rowsAt(k: number): MetricPointRow[] {
  const tMs = T0 + k * STEP;
  const flags = k % STALE_EVERY === 3 ? POINT_FLAG_NO_RECORDED_VALUE : 0;
  const sum: MetricData = { type: 'sum', temporality: 2, monotonic: true, value: { type: 'int', value: BigInt(10 * k) } };
  const hist: MetricData = { type: 'histogram', temporality: 2, count: k, sum: k * 0.5, min: null, max: null, bounds: [1], bucketCounts: [k >> 1, k - (k >> 1)] };
  return [
    // A flagged gauge keeps its value 42 on the wire: the flag, not the value, makes the marker.
    flagged(testPointRow('g', { type: 'gauge', value: { type: 'double', value: flags === 0 ? k : 42 } }, [stringKv('pod', 'a')], tMs), flags),
    flagged(testPointRow('c', sum, [stringKv('pod', 'a')], tMs), flags),
    flagged(testPointRow('h', hist, [stringKv('pod', 'a')], tMs), flags),
  ];
}

/** markersOf reads every float series and names, per series, the indexes of its markers and of its other NaNs. */
async function markersOf(store: MetricStore, db: Parameters<MetricStore['select']>[0]): Promise<Map<string, { markers: number[]; nans: number[]; n: number }>> {
  const out = new Map<string, { markers: number[]; nans: number[]; n: number }>();
  for await (const batch of store.select(db, 't', ALL, 0, 2 ** 50, { resolution: 'raw' }, newScanStats())) {
    for (const s of batch) {
      if (s.kind !== 'samples') continue;
      const e = out.get(s.name) ?? { markers: [], nans: [], n: 0 };
      for (let j = 0; j < s.values.length; j++) {
        const k = Math.round(((s.timestamps[j] as number) - T0) / STEP);
        if (isStaleMarker(s.values, j)) e.markers.push(k);
        else if (Number.isNaN(s.values[j] as number)) e.nans.push(k);
      }
      e.n += s.values.length;
      out.set(s.name, e);
    }
  }
  return out;
}

const WANT = Array.from({ length: POINTS }, (_, k) => k).filter((k) => k % STALE_EVERY === 3);

t.test('the marker constants', async (t) => {
  const a = Float64Array.of(STALE_NAN, NaN, 1);
  t.ok(isStaleMarker(a, 0), 'STALE_NAN in a typed column is the marker');
  t.notOk(isStaleMarker(a, 1), 'a plain NaN is not');
  t.notOk(isStaleMarker(a, 2));
  t.ok(noRecordedValue(1) && noRecordedValue(3) && !noRecordedValue(0) && !noRecordedValue(2), 'bit 0 of the flags');
});

for (const path of ['rows', 'entry columns'] as const) {
  t.test(`a point flagged no-recorded-value is the staleness marker (${path}), in the head and after a flush`, async (t) => {
    const tmp = await openTempDb();
    t.teardown(() => removeTempDb(tmp));
    const store = new MetricStore({ hasher });
    const c = new MetricEntryColumns();
    for (let k = 0; k < POINTS; k++) {
      const points = rowsAt(k);
      if (path === 'rows') {
        t.equal(store.add('t', points, T0).refused, 0);
      } else {
        const bytes = encodeShardEntry({ version: SHARD_ENTRY_VERSION, tenant: 't', idempotencyKey: (k + 1).toString(16).padStart(16, '0'), part: 0, parts: 1, leaderTimeMs: T0, spans: [], points, logs: [] });
        t.ok(decodeMetricEntry(bytes, c), `entry ${k} taken by the columns`);
        t.equal(store.addColumns(c, T0)?.refused, 0, `entry ${k} applied from its columns`);
      }
    }
    const check = async (when: string): Promise<void> => {
      const m = await markersOf(store, tmp.db);
      for (const name of ['g', 'c']) {
        t.same(m.get(name)?.markers, WANT, `${when}: ${name}'s flagged points are markers`);
        t.same(m.get(name)?.nans, [], `${when}: ${name} has no other NaN`);
        t.equal(m.get(name)?.n, POINTS, `${when}: ${name} keeps every point`);
      }
      const recs = await readRecords(store, tmp.db, 't', ALL, 0, 2 ** 50);
      const flaggedAt = [...recs.values()].flat().filter((p) => noRecordedValue(p.flags)).map((p) => Math.round((p.t - T0) / STEP));
      t.same(flaggedAt, WANT, `${when}: the histogram keeps its points' flags`);
    };
    await check('head');
    await new Flusher(store, tmp.db).flush();
    await check('flushed');
  });
}
