import t from 'tap';
import { FIRST_SEARCHES, firstVsRest } from './query-traces-tail.js';
import type { SearchSample } from './query-traces-tail.js';

// firstVsRest: the first FIRST_SEARCHES searches (in run order) against the rest. Pure; no timing.

const sample = (i: number, ms: number): SearchSample => ({ i, path: `/q${i}`, ms, blocksScanned: 1, bytesRead: 1 });

t.test('the first searches against the rest, in run order, not by latency', async (t) => {
  t.equal(FIRST_SEARCHES, 5);
  const ms = [50, 40, 60, 30, 20, 10, 12, 11, 90, 13];
  t.same(firstVsRest(ms.map((x, i) => sample(i, x))), { firstMeanMs: 40, firstMaxMs: 60, restP50Ms: 12, restMaxMs: 90 });
  t.same(firstVsRest([sample(0, 7)]), { firstMeanMs: 7, firstMaxMs: 7, restP50Ms: 0, restMaxMs: 0 }, 'fewer searches than FIRST_SEARCHES: no rest');
  t.same(firstVsRest([]), { firstMeanMs: 0, firstMaxMs: 0, restP50Ms: 0, restMaxMs: 0 }, 'none');
});
