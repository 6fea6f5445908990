import t from 'tap';
import { checkSequences } from './seq-checker.js';
import type { SentItems, StreamRead } from './seq-checker.js';

const sent: SentItems[] = [
  { stream: 'c0', seqs: [0, 1, 2], outcome: 'ok', refused: false },
  { stream: 'c0', seqs: [3, 4, 5], outcome: 'unknown', refused: false },
  { stream: 'c0', seqs: [6, 7, 8], outcome: 'fail', refused: true },
  { stream: 'c1', seqs: [0, 1, 2], outcome: 'ok', refused: false },
];

function reads(c0: number[], c1: number[] | null = [0, 1, 2]): Map<string, StreamRead> {
  return new Map<string, StreamRead>([
    ['c0', { ok: true, seqs: c0 }],
    ['c1', c1 === null ? { ok: false, error: 'HTTP 503' } : { ok: true, seqs: c1 }],
  ]);
}

t.test('a history where every acknowledged item is found once is valid, with or without the unknown ones', async (t) => {
  t.equal(checkSequences('line', sent, reads([0, 1, 2])).valid, true);
  t.equal(checkSequences('line', sent, reads([2, 0, 1, 3, 4, 5])).valid, true, 'an unknown request may have committed');
  t.equal(checkSequences('line', sent, reads([0, 1, 2, 4])).valid, true, 'the items of an unknown request are judged one by one');
});

t.test('planted anomalies are each caught and counted', async (t) => {
  const lost = checkSequences('line', sent, reads([0, 2]));
  t.equal(lost.valid, false);
  t.equal(lost.lost, 1, 'an acknowledged item missing');
  t.match(lost.anomalies[0], /acknowledged line c0#1 was not found/);

  const dup = checkSequences('point', sent, reads([0, 1, 1, 2]));
  t.equal(dup.duplicates, 1, 'an item stored twice');
  t.match(dup.anomalies[0], /point c0#1 was found 2 times/);

  const ghost = checkSequences('line', sent, reads([0, 1, 2, 99]));
  t.equal(ghost.unexpected, 1, 'an item never sent');

  const refused = checkSequences('line', sent, reads([0, 1, 2, 7]));
  t.equal(refused.unexpected, 1, 'an item of a refused request');
  t.match(refused.anomalies[0], /refused/);

  const unreadable = checkSequences('line', sent, reads([0, 1, 2], null));
  t.equal(unreadable.unreadable, 1, 'a stream that could not be read');
  t.equal(unreadable.valid, false);

  const unread = checkSequences('line', sent, new Map<string, StreamRead>([['c0', { ok: true, seqs: [0, 1, 2] }]]));
  t.equal(unread.unreadable, 1, 'a stream with acknowledged items that was never read');
});
