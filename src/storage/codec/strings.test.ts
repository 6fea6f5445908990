import t from 'tap';
import type { Test } from 'tap';
import { isOtlpdbError } from '../../errors.js';
import { SeededRand } from '../../fs/seeded-rand.js';
import { type StringColumnStats, StringLayout, decodeStringColumn, encodeStringColumn, openStringColumn } from './strings.js';

type Codec = { encode: (rows: readonly string[]) => Uint8Array; decode: (bytes: Uint8Array) => string[] };
const honest: Codec = { encode: (rows) => encodeStringColumn(rows), decode: decodeStringColumn };

/** mismatch is the checker: encode, decode, compare row by row; a description of the first difference or null. */
function mismatch(rows: readonly string[], codec: Codec = honest): string | null {
  let out: string[];
  try {
    out = codec.decode(codec.encode(rows));
  } catch (err) {
    return `threw ${String(err)}`;
  }
  if (out.length !== rows.length) return `${out.length} rows, want ${rows.length}`;
  for (let i = 0; i < rows.length; i++) if (out[i] !== rows[i]) return `row ${i}: ${JSON.stringify(out[i])} vs ${JSON.stringify(rows[i])}`;
  return null;
}

function stats(t: Test, rows: readonly string[]): StringColumnStats {
  const s: StringColumnStats = { layout: 0, plainBytes: 0, dictBytes: 0, rleBytes: 0 };
  const bytes = encodeStringColumn(rows, undefined, s);
  t.equal(bytes.length, Math.min(s.plainBytes, s.dictBytes, s.rleBytes), 'the chosen layout is the smallest');
  return s;
}

t.test('edge cases round-trip and pick the smallest layout', async (t) => {
  const cases: [string, string[]][] = [
    ['empty column', []],
    ['one row', ['a']],
    ['empty strings', ['', '', '']],
    ['all equal', new Array<string>(1000).fill('GET /api/v1/query')],
    ['all distinct', Array.from({ length: 300 }, (_, i) => `id-${i}`)],
    ['unicode and BOM', ['\uFEFFbom', 'héllo', '日本語', '🎉 emoji', '\u0000nul', '\uFEFFbom']],
    ['sorted runs', [...new Array<string>(500).fill('svc-a'), ...new Array<string>(500).fill('svc-b')]],
    ['alternating', Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? 'ok' : 'error'))],
  ];
  for (const [name, rows] of cases) t.equal(mismatch(rows), null, name);
  t.equal(stats(t, new Array<string>(1000).fill('x')).layout, StringLayout.DictRle, 'all equal -> rle');
  t.equal(stats(t, Array.from({ length: 300 }, (_, i) => `id-${i}`)).layout, StringLayout.Plain, 'all distinct -> plain');
  t.equal(stats(t, Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? 'ok' : 'error'))).layout, StringLayout.Dict, 'alternating -> dict');
});

t.test('property: random columns round-trip (seeded)', async (t) => {
  let failures = 0;
  const seeds = 300;
  for (let seed = 1; seed <= seeds; seed++) {
    const rand = new SeededRand(seed);
    const distinct = 1 + rand.intn(50);
    const pool = Array.from({ length: distinct }, () => {
      const len = rand.intn(12);
      let s = '';
      for (let k = 0; k < len; k++) {
        const c = rand.intn(10);
        s += c < 6 ? String.fromCharCode(97 + rand.intn(26)) : c < 8 ? String.fromCharCode(0x80 + rand.intn(0x700)) : c < 9 ? '😀' : '\uFEFF';
      }
      return s;
    });
    const n = rand.intn(500);
    const rows: string[] = [];
    const runny = rand.intn(2) === 0;
    for (let i = 0; i < n; i++) rows.push(runny && i > 0 && rand.intn(10) > 0 ? (rows[i - 1] as string) : (pool[rand.intn(distinct)] as string));
    const m = mismatch(rows);
    if (m !== null) {
      failures++;
      t.fail(`seed ${seed}: ${m}`);
    }
  }
  t.equal(failures, 0, `${seeds} seeds`);
});

t.test('bad input: lone surrogates refused; truncations and corruptions are ERR_CORRUPTION', async (t) => {
  t.throws(() => encodeStringColumn(['ok', '\uD800']), { code: 'ERR_INVALID_ARGUMENT' }, 'lone surrogate');
  const columns = [
    ['a', 'bb', 'ccc'],
    ['x', 'y', 'x', 'y', 'x', 'y', 'x'],
    new Array<string>(40).fill('run'),
  ];
  for (const rows of columns) {
    const bytes = encodeStringColumn(rows);
    for (let len = 0; len < bytes.length; len++) {
      t.throws(() => decodeStringColumn(bytes.subarray(0, len)), { code: 'ERR_CORRUPTION' }, `layout ${bytes[1]} truncated to ${len}`);
    }
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    t.throws(() => decodeStringColumn(longer), { code: 'ERR_CORRUPTION' }, `layout ${bytes[1]} with a trailing byte`);
  }
  t.throws(() => decodeStringColumn(Uint8Array.of(1, 0, 1, 2, 0xc3, 0x28)), { code: 'ERR_CORRUPTION' }, 'invalid UTF-8');
  t.throws(() => decodeStringColumn(Uint8Array.of(1, 1, 2, 1, 1, 0x61, 0, 1)), { code: 'ERR_CORRUPTION' }, 'id past the dictionary');
  t.throws(() => decodeStringColumn(Uint8Array.of(1, 2, 3, 1, 1, 0x61, 1, 0, 2)), { code: 'ERR_CORRUPTION' }, 'runs short of rows');
  t.throws(() => decodeStringColumn(Uint8Array.of(2, 0, 0)), { code: 'ERR_CORRUPTION' }, 'unknown version');
  t.throws(() => decodeStringColumn(Uint8Array.of(1, 7, 0)), { code: 'ERR_CORRUPTION' }, 'unknown layout');
  const rand = new SeededRand(9);
  const base = encodeStringColumn(['alpha', 'beta', 'alpha', 'gamma', 'beta', 'beta']);
  for (let k = 0; k < 2000; k++) {
    const bytes = base.slice();
    const at = rand.intn(bytes.length);
    bytes[at] = (bytes[at] as number) ^ (1 << rand.intn(8));
    try {
      decodeStringColumn(bytes);
    } catch (err) {
      if (!isOtlpdbError(err, 'ERR_CORRUPTION')) t.fail(`seed 9 mutation ${k}: ${String(err)}`);
    }
  }
});

t.test('planted bugs: the checker catches a flipped byte and an off-by-one run decoder', async (t) => {
  const rows = ['service-a', 'service-a', 'service-b', 'service-c', 'service-c'];
  t.equal(mismatch(rows), null, 'the honest codec passes');
  const flipped: Codec = {
    encode: (r) => {
      const bytes = encodeStringColumn(r);
      bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1;
      return bytes;
    },
    decode: decodeStringColumn,
  };
  t.not(mismatch(rows, flipped), null, 'a flipped byte is caught');
  const offByOne: Codec = { encode: (r) => encodeStringColumn(r), decode: (b) => decodeStringColumn(b).slice(1).concat(['service-c']) };
  t.not(mismatch(rows, offByOne), null, 'a shifted decoder is caught');
});

/** openedMismatch is the checker of openStringColumn: every row asked one at a time (in a seeded order), then all(), against the rows; null when equal. */
function openedMismatch(bytes: Uint8Array, rows: readonly string[], rand: SeededRand): string | null {
  const col = openStringColumn(bytes);
  if (col.rows !== rows.length) return `${col.rows} rows, want ${rows.length}`;
  for (let k = 0; k < rows.length; k++) {
    const i = rand.intn(rows.length);
    if (col.at(i) !== rows[i]) return `row ${i}: ${JSON.stringify(col.at(i))} vs ${JSON.stringify(rows[i])}`;
  }
  const all = col.all();
  for (let i = 0; i < rows.length; i++) if (all[i] !== rows[i]) return `all() row ${i}`;
  return null;
}

t.test('openStringColumn: a row at a time equals the whole decode, in every layout; damage is ERR_CORRUPTION', async (t) => {
  for (let seed = 1; seed <= 100; seed++) {
    const rand = new SeededRand(seed);
    const n = 1 + rand.intn(300);
    const distinct = 1 + rand.intn(seed % 2 === 0 ? 5 : n);
    const pool = Array.from({ length: distinct }, (_, d) => `line ${d} ${'é'.repeat(rand.intn(4))}${'x'.repeat(rand.intn(20))}`);
    const rows = Array.from({ length: n }, () => pool[rand.intn(distinct)] as string);
    const m = openedMismatch(encodeStringColumn(rows), rows, rand);
    if (m !== null) t.fail(`seed ${seed}: ${m}`);
  }
  const bytes = encodeStringColumn(['alpha', 'beta', 'gamma']);
  t.equal(bytes[1], StringLayout.Plain, 'a plain column');
  for (let len = 0; len < bytes.length; len++) t.throws(() => openStringColumn(bytes.subarray(0, len)), { code: 'ERR_CORRUPTION' }, `truncated to ${len}`);
  const longer = new Uint8Array(bytes.length + 1);
  longer.set(bytes);
  t.throws(() => openStringColumn(longer), { code: 'ERR_CORRUPTION' }, 'a trailing byte');
  // Row 1 holds invalid UTF-8: rows 0 and 2 read, row 1 (and all()) is ERR_CORRUPTION, never data.
  const bad = Uint8Array.of(1, 0, 3, 1, 0x61, 2, 0xc3, 0x28, 1, 0x62);
  const col = openStringColumn(bad);
  t.equal(col.at(0), 'a');
  t.equal(col.at(2), 'b');
  t.throws(() => col.at(1), { code: 'ERR_CORRUPTION' }, 'invalid UTF-8 in the row asked for');
  t.throws(() => col.all(), { code: 'ERR_CORRUPTION' }, 'invalid UTF-8 in all()');
});

t.test('planted: an opened column whose offsets are off by one byte is caught by its checker', async (t) => {
  const rand = new SeededRand(77);
  const rows = Array.from({ length: 50 }, (_, i) => `row ${i} ${'y'.repeat(rand.intn(9))}`);
  const bytes = encodeStringColumn(rows);
  // The planted column: every length byte read one later (rows shift by a byte).
  const shifted = bytes.slice(1);
  const planted = new Uint8Array(bytes.length);
  planted.set(bytes.subarray(0, 3));
  planted.set(shifted.subarray(3), 3);
  let m: string | null;
  try {
    m = openedMismatch(planted, rows, rand);
  } catch (err) {
    m = `threw ${String(err)}`;
  }
  t.not(m, null, `caught: ${String(m)}`);
});
