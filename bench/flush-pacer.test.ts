import t from 'tap';
import { runFlushPacer } from './flush-pacer.js';

// A tiny run of bench/flush-pacer.ts: every mode flushes idle and busy, the
// unpaced mode never pauses and the always-pausing one does. No timing.
t.test('a tiny run: six figures, pauses only where a pacer is', async (t) => {
  const figures = await runFlushPacer(40_000, 2, 1);
  t.equal(figures.length, 6, 'three modes, idle and busy');
  for (const f of figures) {
    t.ok(f.wallMs > 0, `${f.mode} ${f.busy ? 'busy' : 'idle'}: measured`);
    if (f.mode === 'unpaced') t.equal(f.pausedShare, 0, 'unpaced: no pause');
    if (f.mode === 'always') t.ok(f.pausedShare > 0, `always: ${f.pausedShare} of turns paused`);
    if (f.busy) t.ok(f.competitorShare > 0, `the competitor ran during a ${f.mode} flush`);
    else t.equal(f.competitorShare, 0, 'idle: no competitor');
  }
});
