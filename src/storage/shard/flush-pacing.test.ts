/**
 * flush-pacing.test.ts — every signal store leaves the event loop between
 * the blocks of a large flush (FlushContext.pace, flush-pacer.ts), and a
 * paced flush writes exactly what an unpaced one writes.
 *
 * A store that built every block of a large head in one synchronous run held
 * its node's main thread for seconds: Raft ticks, fsync completions and
 * requests waited, and keep-alive sockets the server should have kept were
 * closed under their clients (ECONNRESET in bench/query-logs at 5M lines).
 */
import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { LogStoreLimits, MetricStoreLimits } from '../../limits.js';
import { initHash } from '../../partition/hash.js';
import { LogStore } from '../logs/log-store.js';
import { LogKeySpace } from '../logs/log-store-format.js';
import { realisticLogs } from '../logs/log-test-util.js';
import { MetricStore } from '../metrics/metric-store.js';
import { MetricKeySpace } from '../metrics/store-format.js';
import { gauge, row } from '../metrics/store-test-util.js';
import type { LogRow, MetricPointRow, SpanRow } from '../rows.js';
import { TraceStore } from '../traces/trace-store.js';
import { TraceKeySpace } from '../traces/trace-keys.js';
import { realisticSpans, tempTraceDb } from '../traces/traces-test-util.js';
import { KvWriteBatch } from './shard-db.js';
import type { ShardDb } from './shard-db.js';
import type { FlushContext, FlushReport, SignalStore } from './signal-store.js';

const hasher = await initHash();
const SEED = Number(process.env['PACING_SEED'] ?? 7);

/** Row is a row of any signal. */
type Row = SpanRow | MetricPointRow | LogRow;

/** PacedRun is what one writeFrozen put into its batch, and how many blocks each pace() call found already put. */
interface PacedRun {
  readonly report: FlushReport;
  readonly ops: KvWriteBatch['ops'];
  /** blocksAtPace[i] is the number of block puts in the batch when pace() was called the i-th time. */
  readonly blocksAtPace: readonly number[];
}

async function flushOnce(store: SignalStore<Row>, db: ShardDb, rows: readonly Row[], blockSpace: number, paced: boolean): Promise<PacedRun> {
  store.add('acme', rows, 0);
  store.freeze();
  const batch = new KvWriteBatch();
  const blocksAtPace: number[] = [];
  const pace = async (): Promise<void> => {
    blocksAtPace.push(batch.ops.filter((op) => op.key[0] === blockSpace).length);
    await new Promise<void>((resolve) => setImmediate(resolve));
  };
  const ctx: FlushContext = paced ? { batch, kv: db, flushIndex: 5, pace } : { batch, kv: db, flushIndex: 5 };
  const report = await store.writeFrozen(ctx);
  store.dropFrozen();
  return { report, ops: batch.ops, blocksAtPace };
}

/**
 * pacingProblem flushes the same rows through two fresh stores, one paced
 * and one not, and says what is wrong (null when nothing): the paced flush
 * must call pace at least `stepsMin` times, before its first block and with
 * more blocks put at each later call, and write byte-identical operations.
 */
async function pacingProblem(make: () => SignalStore<Row>, db: ShardDb, rows: readonly Row[], blockSpace: number, stepsMin: number): Promise<string | null> {
  const a = make();
  await a.load(db);
  const b = make();
  await b.load(db);
  const paced = await flushOnce(a, db, rows, blockSpace, true);
  const plain = await flushOnce(b, db, rows, blockSpace, false);
  if (paced.blocksAtPace.length < stepsMin) return `pace called ${paced.blocksAtPace.length} times, want >= ${stepsMin}`;
  if (paced.blocksAtPace[0] !== 0) return `the first pace call came after ${paced.blocksAtPace[0]} blocks`;
  for (let i = 1; i < paced.blocksAtPace.length; i++) {
    if ((paced.blocksAtPace[i] as number) <= (paced.blocksAtPace[i - 1] as number)) return `pace call ${i} found no new block: ${paced.blocksAtPace.join(',')}`;
  }
  if (paced.report.blocks !== plain.report.blocks || paced.report.rows !== plain.report.rows) return 'the paced report differs';
  if (paced.ops.length !== plain.ops.length) return `${paced.ops.length} operations paced, ${plain.ops.length} unpaced`;
  for (let i = 0; i < paced.ops.length; i++) {
    const p = paced.ops[i];
    const q = plain.ops[i];
    if (p === undefined || q === undefined || p.type !== q.type || Buffer.compare(p.key, q.key) !== 0 || Buffer.compare(p.value ?? Buffer.alloc(0), q.value ?? Buffer.alloc(0)) !== 0) {
      return `operation ${i} differs between the paced and the unpaced flush`;
    }
  }
  return null;
}

/** metricRows are `series` gauge series of one sample each, so the flush spans several id pages. */
function metricRows(series: number): MetricPointRow[] {
  const tMs = 1_700_000_000_000;
  return Array.from({ length: series }, (_, i) => row('acme', { name: 'up', host: `h${i}`, tMs, data: gauge(i) }));
}

t.test('each store paces a large flush and writes what an unpaced flush writes', async (t) => {
  const db = await tempTraceDb(t, 'otlpdb-pacing-');
  const logRows = realisticLogs(new SeededRand(SEED), 2 * LogStoreLimits.blockRowsMax + 100, 'acme');
  const cases: { name: string; make: () => SignalStore<Row>; rows: readonly Row[]; space: number; steps: number }[] = [
    // Rows of one bucket are cut into runs of blockRowsMax: at least three runs here (more when they span buckets).
    { name: 'logs', make: () => new LogStore() as SignalStore<Row>, rows: logRows, space: LogKeySpace.block, steps: 3 },
    // One step per id page of chunkBlockSeries series.
    { name: 'metrics', make: () => new MetricStore({ hasher }) as SignalStore<Row>, rows: metricRows(3 * MetricStoreLimits.chunkBlockSeries + 1), space: MetricKeySpace.Chunks, steps: 4 },
    // One step per block; blocks are cut at blockRowsMax spans or StoreLimits.blockBytesTarget estimated bytes.
    { name: 'traces', make: () => new TraceStore() as SignalStore<Row>, rows: realisticSpans(new SeededRand(SEED), 3_000, 'acme'), space: TraceKeySpace.block, steps: 2 },
  ];
  for (const c of cases) {
    t.equal(await pacingProblem(c.make, db, c.rows, c.space, c.steps), null, `${c.name}: paced between blocks, same batch (PACING_SEED=${SEED})`);
  }

  // Planted bug: a logs store that drops ctx.pace builds every block in one synchronous run.
  class UnpacedLogStore extends LogStore {
    override writeFrozen(ctx: FlushContext): Promise<FlushReport> {
      return super.writeFrozen({ batch: ctx.batch, kv: ctx.kv, flushIndex: ctx.flushIndex });
    }
  }
  const planted = await pacingProblem(() => new UnpacedLogStore() as SignalStore<Row>, db, logRows, LogKeySpace.block, 3);
  t.match(planted, /pace called 0 times/, 'planted: a store that ignores pace is caught');
});
