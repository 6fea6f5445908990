import t from 'tap';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { collectGarbageNow } from './heap-collect.js';

// collectGarbageNow runs a full (major) collection at once, and the node's
// own global gets no `gc` from it. The check that a major collection ran is
// the gc performance entry V8 reports for it; without one (a collectGarbageNow
// that did nothing, the planted case below) the same check fails.

/** majorsDuring counts the major collections V8 reports while `fn` runs (entries arrive after a turn). */
async function majorsDuring(fn: () => void): Promise<number> {
  let majors = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if ((e.detail as { kind?: number } | undefined)?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) majors++;
  });
  obs.observe({ entryTypes: ['gc'] });
  fn();
  await new Promise((resolve) => setTimeout(resolve, 50));
  obs.disconnect();
  return majors;
}

t.test('collectGarbageNow runs a major collection and leaves no gc on the global', async (t) => {
  t.equal(collectGarbageNow(), true, 'this runtime gives gc()');
  t.ok((await majorsDuring(() => collectGarbageNow())) >= 1, 'a major collection ran');
  t.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined', 'no gc on the global');
});

t.test('planted: a collectGarbageNow that does nothing is seen by the same check', async (t) => {
  t.equal(await majorsDuring(() => undefined), 0, 'no major collection when nothing is collected');
});
