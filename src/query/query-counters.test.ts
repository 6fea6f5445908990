import t from 'tap';
import { QueryCounters } from './query-counters.js';

t.test('QueryCounters counts a query in flight until it settles, and as cancelled only when its signal aborted', async (t) => {
  const c = new QueryCounters();
  let release!: () => void;
  const running = c.track(undefined, () => new Promise<string>((resolve) => (release = () => resolve('done'))));
  t.same(c.counts(), { inflight: 1, cancelled: 0 }, 'in flight while it runs');
  release();
  t.equal(await running, 'done', 'the result passes through');
  t.same(c.counts(), { inflight: 0, cancelled: 0 }, 'settled');

  await t.rejects(c.track(undefined, () => Promise.reject(new Error('shard refused'))), /shard refused/, 'a failure passes through');
  t.same(c.counts(), { inflight: 0, cancelled: 0 }, 'a failure without an abort is not a cancellation');

  const ac = new AbortController();
  const cancelled = c.track(ac.signal, () => new Promise<never>((_resolve, reject) => ac.signal.addEventListener('abort', () => reject(new Error('client went away')))));
  ac.abort();
  await t.rejects(cancelled, /client went away/);
  t.same(c.counts(), { inflight: 0, cancelled: 1 }, 'the aborted query is counted as cancelled');
});
