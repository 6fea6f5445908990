import t from 'tap';
import { countWindows } from './v8-trace-windows.js';

// The counts the cold-tail figures in bench/README.md (query-traces, s22) were read with: V8's lines fall into
// the window marked around them, compiles are counted once, and a deopt's function and reason are named.
const LOG = [
  '[completed compiling 0x1 <JSFunction warm (sfi = 0x2)> (target TURBOFAN) - took 0.1, 1.0, 0.1 ms]',
  '@@ begin r1.1',
  '[completed compiling 0x3 <JSFunction crc32c (sfi = 0x4)> (target TURBOFAN) - took 0.1, 1.0, 0.1 ms]',
  '[completed optimizing 0x3 <JSFunction crc32c (sfi = 0x4)> (target TURBOFAN)]',
  '[bailout (kind: deopt-eager, reason: wrong map): begin. deoptimizing 0x5 <JSFunction crc32c (sfi = 0x6)>, 0x7 <Code TURBOFAN>, opt id 1, bytecode offset 17]',
  '[bailout (kind: deopt-eager, reason: wrong map): begin. deoptimizing 0x5 <JSFunction crc32c (sfi = 0x6)>, 0x7 <Code TURBOFAN>, opt id 1, bytecode offset 17]',
  '[bailout (kind: deopt-eager, reason: Insufficient type feedback for generic named access): begin. deoptimizing 0x8 <JSFunction uvarint (sfi = 0x9)>, 0xa <Code TURBOFAN>, opt id 2]',
  '[bailout (kind: deopt-lazy, reason: (unknown)): begin. deoptimizing 0xb <JSFunction (sfi = 0xc)>, 0xd <Code TURBOFAN>, opt id 3]',
  '@@ end r1.1',
  '@@ begin r1.2',
  '@@ end r1.2',
  '[bailout (kind: deopt-soft, reason: wrong map): begin. deoptimizing 0xe <JSFunction late (sfi = 0xf)>, 0x10 <Code TURBOFAN>, opt id 4]',
].join('\n');

t.test('V8 lines are counted in the window marked around them', async (t) => {
  const [first, second, outside] = countWindows(LOG);
  t.equal(first?.name, 'r1.1');
  t.equal(first?.optimized, 1, 'one compile: completed compiling and completed optimizing are one job');
  t.equal(first?.deopts, 4);
  t.equal(first?.wrongMap, 2);
  t.same(Object.fromEntries(first?.byFunction ?? []), {
    'crc32c (wrong map)': 2,
    'uvarint (Insufficient type feedback for generic named access)': 1,
    '(anonymous) ((unknown))': 1,
  });
  t.equal(second?.name, 'r1.2');
  t.equal(second?.deopts, 0, 'an empty window counts nothing');
  t.equal(outside?.name, '(outside)');
  t.equal(outside?.optimized, 1, 'a compile before any window is outside');
  t.equal(outside?.deopts, 1, 'a deopt after the last window is outside');
  t.equal(outside?.wrongMap, 1);
});
