import t from 'tap';
import { LatencyHistogram, WAL_SYNC_BUCKETS_MS } from './latency-histogram.js';

t.test('observations land in the bucket of their upper bound; the last bucket is +Inf', async (t) => {
  const h = new LatencyHistogram([1, 5, 10]);
  for (const ms of [0, 1, 1.5, 5, 7, 10, 11, 5000, -3]) h.observe(ms);
  const s = h.snapshot();
  t.same(s.bucketsMs, [1, 5, 10]);
  t.same(s.counts, [3, 2, 2, 2], '<=1: 0,1,-3 | <=5: 1.5,5 | <=10: 7,10 | +Inf: 11,5000');
  t.equal(s.count, 9);
  t.equal(s.sumMs, 0 + 1 + 1.5 + 5 + 7 + 10 + 11 + 5000 + 0);
});

t.test('the WAL sync buckets are increasing and a snapshot is a copy', async (t) => {
  const h = new LatencyHistogram(WAL_SYNC_BUCKETS_MS);
  const before = h.snapshot();
  h.observe(3);
  t.equal(before.counts.length, WAL_SYNC_BUCKETS_MS.length + 1, 'one extra +Inf bucket');
  t.equal(before.count, 0, 'an earlier snapshot does not change');
  t.equal(h.snapshot().counts[WAL_SYNC_BUCKETS_MS.indexOf(5)], 1, '3 ms lands in the 5 ms bucket');
  t.throws(() => new LatencyHistogram([2, 1]), 'decreasing bounds are refused');
});
