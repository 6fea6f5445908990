/**
 * term-pairs-among.test.ts — a lookup that holds candidate rows tests them
 * against the stream pairs' lists (OpenedIndex.pairRowsAmong, s22) instead
 * of decoding a common stream's list whole, and a block index view asked
 * for candidates among a caller's rows (LogBlockIndexView.candidates with
 * `within`) answers exactly within ∩ candidates(nq). Both containers are
 * exercised: a pair holding most rows is a bitmap, a rare one delta coded.
 */
import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { PostingsContainer, encodePostings, intersect } from '../codec/index.js';
import type { LogRow } from '../rows.js';
import { realisticLogs, randomQuery } from './log-test-util.js';
import { entryChunksOf } from './term-entries.js';
import { encodeLogIndex } from './term-index-build.js';
import { normalizeLogQuery, openLogBlockIndex } from './term-index.js';
import { OpenedIndex } from './term-postings.js';

const SEED = Number(process.env.SEED ?? 0x5ea22);

/** rowsWithServices gives each row a service: `common` for about `share` of the rows, else one of a few rare ones. */
function rowsWithServices(rand: SeededRand, n: number, share: number): LogRow[] {
  return realisticLogs(rand, n).map((row) => {
    const service = rand.intn(1000) < share * 1000 ? 'common' : `rare-${rand.intn(5)}`;
    return { ...row, resource: { ...row.resource, attributes: [{ key: 'service.name', value: { type: 'string', value: service } }] } };
  });
}

/** randomAmong is a random increasing subset of [0, rows) (sometimes empty, sometimes every row). */
function randomAmong(rand: SeededRand, rows: number): Uint32Array {
  const keepPerMille = [0, 3, 30, 300, 1000][rand.intn(5)] as number;
  const out: number[] = [];
  for (let r = 0; r < rows; r++) if (rand.intn(1000) < keepPerMille) out.push(r);
  return Uint32Array.from(out);
}

/** PairsReader is what the check below reads of an opened index (a planted wrong reader stands in for it once). */
interface PairsReader {
  readonly pairNames: readonly string[];
  readonly pairValues: readonly string[];
  pairRows(name: string, keep: (value: string) => boolean): Uint32Array;
  pairRowsAmong(name: string, keep: (value: string) => boolean, among: Uint32Array): Uint32Array;
}

/** amongMismatches counts the (pair, among) cases where pairRowsAmong differs from intersect(among, pairRows). */
function amongMismatches(idx: PairsReader, rand: SeededRand, rows: number, draws: number): number {
  let bad = 0;
  const names = [...new Set(idx.pairNames)];
  for (let k = 0; k < draws; k++) {
    const name = names[rand.intn(names.length)] as string;
    const values = idx.pairValues.filter((_, i) => idx.pairNames[i] === name);
    const value = values[rand.intn(values.length)] as string;
    const keep = rand.intn(3) === 0 ? (v: string): boolean => v !== value : (v: string): boolean => v === value;
    const among = randomAmong(rand, rows);
    const want = [...intersect(among, idx.pairRows(name, keep))];
    const got = [...idx.pairRowsAmong(name, keep, among)];
    if (want.length !== got.length || want.some((x, i) => got[i] !== x)) bad++;
  }
  return bad;
}

t.test('pairRowsAmong equals the intersection with the decoded pairs, bitmap and delta lists alike', async (t) => {
  const rand = new SeededRand(SEED);
  const containers = new Set<number>();
  for (const [n, share] of [[40, 0.5], [700, 0.9], [5000, 0.4], [3000, 0.02]] as const) {
    const rows = rowsWithServices(rand, n, share);
    const idx = new OpenedIndex(encodeLogIndex(rows).postings);
    // The container each pair's list is stored in (the writer's encoder picks it the same way).
    idx.pairNames.forEach((name, i) => containers.add(encodePostings(idx.pairRows(name, (v) => v === idx.pairValues[i]))[1] as number));
    t.equal(amongMismatches(idx, rand, n, 200), 0, `${n} rows, ${share} of them one service`);
    t.ok(idx.hasPair('service_name', 'common') || share < 0.05, 'the common service is a pair');
    t.notOk(idx.hasPair('service_name', 'absent'), 'an absent value is no pair');
    t.notOk(idx.hasPair('absent', 'common'), 'an absent name is no pair');
  }
  t.ok(containers.has(PostingsContainer.Bitmap) && containers.has(PostingsContainer.DeltaVarint), 'both containers were read');
});

t.test('a planted wrong bit test is caught', async (t) => {
  const rand = new SeededRand(SEED + 1);
  const rows = rowsWithServices(rand, 3000, 0.6);
  const idx = new OpenedIndex(encodeLogIndex(rows).postings);
  // The plant: a bit test one row off (rows whose neighbour is in the list pass), as a shifted word index would do.
  const planted: PairsReader = {
    pairNames: idx.pairNames,
    pairValues: idx.pairValues,
    pairRows: (name, keep) => idx.pairRows(name, keep),
    pairRowsAmong: (name, keep, among) => {
      const all = idx.pairRows(name, keep);
      const set = new Set(all);
      return among.filter((r) => set.has(r + 1));
    },
  };
  t.ok(amongMismatches(planted, rand, 3000, 100) > 0, 'the check fails on the planted reader');
});

t.test('candidates among a caller\'s rows equal within ∩ candidates, and `within` is not asked when a = matcher names no pair', async (t) => {
  const rand = new SeededRand(SEED + 2);
  for (let b = 0; b < 6; b++) {
    const rows = realisticLogs(rand, 300 + rand.intn(3000));
    const enc = encodeLogIndex(rows);
    const index = openLogBlockIndex(enc.postings, rows.length);
    const opened = index.opened;
    const chunks = opened.chunks === 0 ? null : entryChunksOf(enc.entries, (c, sealed) => opened.openChunk(c, sealed));
    const view = index.view(chunks);
    for (let k = 0; k < 60; k++) {
      const q = randomQuery(rand, rows);
      const nq = normalizeLogQuery({ ...q, minTimeNs: undefined, maxTimeNs: undefined });
      const among = randomAmong(rand, rows.length);
      let asked = 0;
      const got = [...view.candidates(nq, () => {
        asked++;
        return among;
      })];
      const want = [...intersect(among, view.candidates(nq))];
      t.same(got, want, `block ${b} query ${k}`);
      const lacking = nq.matchers.some((m) => m.op === '=' && m.value !== '' && !opened.hasPair(m.name, m.value));
      if (lacking) t.equal(asked, 0, 'not asked: a = matcher names a pair the block lacks');
      t.same([...view.candidates(nq, () => null)], [...view.candidates(nq)], 'a null `within` is every row');
    }
  }
});
