/**
 * decodeApplyResultFast (issue 5, s18) against msgpackr: what a proposer
 * relies on is that every result reads as the msgpackr decode of the same
 * bytes reads, and that the reader declines what it does not take.
 */
import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { ShardLimits, StorageLimits } from '../../limits.js';
import { STORAGE_PACKR } from '../storage-packr.js';
import { decodeApplyResultFast, encodeApplyResultFast } from './apply-result-fast.js';
import { type ApplyRefusal, type ShardApplyResult, decodeApplyResult, encodeApplyResult } from './shard-records.js';

/** referenceDecode reads a result with msgpackr alone (the layout of encodeApplyResult), or null when msgpackr or the layout refuses it. */
function referenceDecode(bytes: Uint8Array): ShardApplyResult | null {
  let v: unknown;
  try {
    v = STORAGE_PACKR.unpack(bytes);
  } catch {
    return null;
  }
  if (!Array.isArray(v) || v.length !== 5 || v[0] !== 1 || typeof v[1] !== 'boolean' || (v[2] !== null && typeof v[2] !== 'string')) return null;
  const c = v[3] as unknown;
  const uint = (x: unknown): boolean => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
  if (!Array.isArray(c) || c.length !== 6 || !c.every(uint) || !Array.isArray(v[4])) return null;
  const [sa, sr, pa, pr, la, lr] = c as number[];
  return {
    duplicate: v[1],
    invalid: v[2] as string | null,
    spans: { accepted: sa as number, refused: sr as number },
    points: { accepted: pa as number, refused: pr as number },
    logs: { accepted: la as number, refused: lr as number },
    refusals: (v[4] as unknown[][]).map((f) => ({ signal: f[0], row: f[1], code: f[2], reason: f[3] }) as ApplyRefusal),
  };
}

/** EDGES are counts at the borders of msgpack's integer forms. */
const EDGES = [0, 1, 127, 128, 255, 256, 65_535, 65_536, StorageLimits.rowsPerEntryMax, 2 ** 32 - 1];

function drawResult(rand: SeededRand): ShardApplyResult {
  const count = (): number => (rand.intn(3) === 0 ? (EDGES[rand.intn(EDGES.length)] as number) : rand.intn(600));
  const refusals: ApplyRefusal[] = [];
  if (rand.intn(6) === 0) {
    const n = 1 + rand.intn(ShardLimits.refusalsPerResultMax);
    for (let i = 0; i < n; i++) refusals.push({ signal: 'metrics', row: rand.intn(512), code: 'ERR_INVALID_ARGUMENT', reason: `out of order sample ${i}` });
  }
  return {
    duplicate: rand.intn(8) === 0,
    invalid: rand.intn(20) === 0 ? 'entry does not decode' : null,
    spans: { accepted: count(), refused: count() },
    points: { accepted: count(), refused: count() },
    logs: { accepted: count(), refused: count() },
    refusals,
  };
}

/** mutate changes bytes as damage or another writer might: a byte changed, cut off or added. */
function mutate(rand: SeededRand, b: Uint8Array): Uint8Array {
  const r = rand.intn(3);
  if (r === 0 && b.length > 0) {
    const out = new Uint8Array(b); // A copy: msgpackr returns a Buffer, whose slice() is a view.
    out[rand.intn(out.length)] = rand.intn(256);
    return out;
  }
  if (r === 1) return new Uint8Array(b.subarray(0, rand.intn(b.length + 1)));
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  out[b.length] = rand.intn(256);
  return out;
}

/** mismatches counts the byte strings on which `decode` answers other than msgpackr: a non-null answer must equal the reference's. */
function mismatches(decode: (b: Uint8Array) => ShardApplyResult | null, cases: readonly Uint8Array[]): { wrong: number; taken: number; first: string } {
  let wrong = 0;
  let taken = 0;
  let first = '';
  for (const b of cases) {
    const got = decode(b);
    if (got === null) continue;
    taken++;
    const want = referenceDecode(b);
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      if (wrong === 0) first = `${Buffer.from(b).toString('hex')}: ${JSON.stringify(got)} against ${JSON.stringify(want)}`;
      wrong++;
    }
  }
  return { wrong, taken, first };
}

function cases(seed: number, n: number): { plain: Uint8Array[]; mutated: Uint8Array[]; common: number } {
  const rand = new SeededRand(seed);
  const plain: Uint8Array[] = [];
  const mutated: Uint8Array[] = [];
  let common = 0;
  for (let i = 0; i < n; i++) {
    const r = drawResult(rand);
    if (r.invalid === null && r.refusals.length === 0) common++;
    const b = encodeApplyResult(r);
    plain.push(b);
    mutated.push(mutate(rand, b));
  }
  return { plain, mutated, common };
}

t.test('every encoded result reads as msgpackr reads it, and the common ones are read by the fast path', async (t) => {
  for (const seed of [1, 2, 3]) {
    const { plain, common } = cases(seed, 4000);
    const m = mismatches(decodeApplyResultFast, plain);
    t.equal(m.wrong, 0, `seed ${seed}: ${m.first === "" ? "none differs" : m.first}`);
    t.equal(m.taken, common, `seed ${seed}: the fast path took each of the ${common} results without refusals or invalid`);
    let same = 0;
    for (const b of plain) if (JSON.stringify(decodeApplyResult(b)) === JSON.stringify(referenceDecode(b))) same++;
    t.equal(same, plain.length, `seed ${seed}: decodeApplyResult (fast path first) answers as msgpackr`);
  }
});

t.test('damaged or extended bytes are declined or read as msgpackr reads them', async (t) => {
  for (const seed of [4, 5]) {
    const { mutated } = cases(seed, 6000);
    const m = mismatches(decodeApplyResultFast, mutated);
    t.equal(m.wrong, 0, `seed ${seed}: ${m.first === "" ? "none differs" : m.first}`);
    t.ok(m.taken > 100, `seed ${seed}: ${m.taken} mutated results still in the fast grammar`);
  }
});

t.test('results share nothing a caller could change', async (t) => {
  const r = decodeApplyResultFast(encodeApplyResult({ duplicate: false, invalid: null, spans: { accepted: 0, refused: 0 }, points: { accepted: 3, refused: 0 }, logs: { accepted: 0, refused: 0 }, refusals: [] }));
  t.ok(r !== null && Object.isFrozen(r.spans) && Object.isFrozen(r.refusals), 'the shared zero counts and empty refusals are frozen');
  t.same(r?.points, { accepted: 3, refused: 0 });
});

t.test('planted bugs: a reader that drops the duplicate flag, or reads two-byte counts little-endian, is caught', async (t) => {
  const { plain, mutated } = cases(6, 4000);
  const all = [...plain, ...mutated];
  const noDup = mismatches((b) => {
    const r = decodeApplyResultFast(b);
    return r === null ? null : { ...r, duplicate: false };
  }, all);
  t.ok(noDup.wrong > 0, `duplicate dropped: caught on ${noDup.wrong} results`);
  const littleEndian = mismatches((b) => {
    const r = decodeApplyResultFast(b);
    if (r === null) return null;
    // Re-read the first count's two bytes little-endian when it is a uint16.
    if (b[5] !== 0xcd) return r;
    return { ...r, spans: { ...r.spans, accepted: (b[6] as number) + 256 * (b[7] as number) } };
  }, all);
  t.ok(littleEndian.wrong > 0, `little-endian uint16: caught on ${littleEndian.wrong} results`);
});

/** packReference is the msgpackr encoding of a result (encodeApplyResult's layout before the fast writer). */
function packReference(r: ShardApplyResult): Uint8Array {
  return STORAGE_PACKR.pack([
    1,
    r.duplicate,
    r.invalid,
    [r.spans.accepted, r.spans.refused, r.points.accepted, r.points.refused, r.logs.accepted, r.logs.refused],
    r.refusals.map((f) => [f.signal, f.row, f.code, f.reason]),
  ]);
}

/** encodeMismatches counts the results whose `encode` bytes differ from msgpackr's; null answers are declines, counted apart. */
function encodeMismatches(encode: (r: ShardApplyResult) => Uint8Array | null, results: readonly ShardApplyResult[]): { wrong: number; taken: number; first: string } {
  let wrong = 0;
  let taken = 0;
  let first = '';
  for (const r of results) {
    const got = encode(r);
    if (got === null) continue;
    taken++;
    const want = packReference(r);
    if (Buffer.compare(Buffer.from(got), Buffer.from(want)) !== 0) {
      if (wrong === 0) first = `${JSON.stringify(r)}: ${Buffer.from(got).toString('hex')} against ${Buffer.from(want).toString('hex')}`;
      wrong++;
    }
  }
  return { wrong, taken, first };
}

function drawResults(seed: number, n: number): { results: ShardApplyResult[]; common: number } {
  const rand = new SeededRand(seed);
  const results: ShardApplyResult[] = [];
  let common = 0;
  for (let i = 0; i < n; i++) {
    const r = drawResult(rand);
    if (r.invalid === null && r.refusals.length === 0) common++;
    results.push(r);
  }
  return { results, common };
}

t.test('the fast writer writes the bytes msgpackr writes for every common result and declines the others', async (t) => {
  for (const seed of [7, 8, 9]) {
    const { results, common } = drawResults(seed, 4000);
    const m = encodeMismatches(encodeApplyResultFast, results);
    t.equal(m.wrong, 0, `seed ${seed}: ${m.first === '' ? 'none differs' : m.first}`);
    t.equal(m.taken, common, `seed ${seed}: the fast writer took each of the ${common} results without refusals or invalid`);
    let same = 0;
    for (const r of results) if (Buffer.compare(Buffer.from(encodeApplyResult(r)), Buffer.from(packReference(r))) === 0) same++;
    t.equal(same, results.length, `seed ${seed}: encodeApplyResult (fast writer first) writes msgpackr's bytes`);
  }
  const big = { duplicate: false, invalid: null, spans: { accepted: 2 ** 32, refused: 0 }, points: { accepted: 0, refused: 0 }, logs: { accepted: 0, refused: 0 }, refusals: [] };
  t.equal(encodeApplyResultFast(big), null, 'a count past 2^32 - 1 is declined');
  t.same(decodeApplyResult(encodeApplyResult(big)), big, 'and still round-trips through msgpackr');
});

t.test('planted bugs: a writer that writes two-byte counts little-endian, or drops the duplicate flag, is caught', async (t) => {
  const { results } = drawResults(10, 4000);
  const littleEndian = encodeMismatches((r) => {
    const b = encodeApplyResultFast(r);
    if (b === null || b[5] !== 0xcd) return b;
    const out = new Uint8Array(b);
    out[6] = b[7] as number;
    out[7] = b[6] as number;
    return out;
  }, results);
  t.ok(littleEndian.wrong > 0, `little-endian uint16: caught on ${littleEndian.wrong} results`);
  const noDup = encodeMismatches((r) => encodeApplyResultFast({ ...r, duplicate: false }), results);
  t.ok(noDup.wrong > 0, `duplicate dropped: caught on ${noDup.wrong} results`);
});
