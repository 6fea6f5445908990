import t from 'tap';
import { parseIntegerFlag, parseLogTermIndex } from './flags.js';

t.test('parseIntegerFlag accepts integers in range and refuses everything else', async (t) => {
  t.equal(parseIntegerFlag('--n', '0', 0, 10), 0);
  t.equal(parseIntegerFlag('--n', '10', 0, 10), 10);
  for (const raw of ['', ' 1', '1.5', '1e3', '-1', '0x10', '11', 'NaN', '9'.repeat(30)]) {
    t.throws(() => parseIntegerFlag('--n', raw, 0, 10), { code: 'ERR_INVALID_ARGUMENT', message: /--n/ }, `refuses ${JSON.stringify(raw)}`);
  }
});

t.test('parseLogTermIndex: on, off, absent; anything else is ERR_INVALID_ARGUMENT naming the flag', async (t) => {
  t.equal(parseLogTermIndex('on'), true);
  t.equal(parseLogTermIndex('off'), false);
  t.equal(parseLogTermIndex(undefined), undefined, 'absent: the node default');
  for (const bad of ['', 'OFF', 'false', '0']) t.throws(() => parseLogTermIndex(bad), { code: 'ERR_INVALID_ARGUMENT', message: /--log-term-index/ }, JSON.stringify(bad));
});
