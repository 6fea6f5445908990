import t from 'tap';
import { BLOCK_HEADER_BYTES, BlockKind, sealBlock } from '../block.js';
import { isOtlpdbError } from '../../errors.js';
import { SeededRand } from '../../fs/seeded-rand.js';
import { MetricStoreLimits } from '../../limits.js';
import { ByteReader } from '../codec/index.js';
import { CHUNK_BLOCK_FORMAT, ChunkBlockDecoder, ChunkBlockEncoder, type ChunkBlockSeries } from './chunk-block.js';

const P = MetricStoreLimits.chunkBlockSeries;

/** scrape builds n jittered 1 s times from t0 (seeded). */
function scrape(rand: SeededRand, t0: number, n: number): Float64Array {
  return Float64Array.from({ length: n }, (_, i) => t0 + i * 1000 + rand.intn(5) - 2 + (i === 0 ? 0 : 3 * i));
}

/** block builds one page of series: most share one scrape's times, some have their own (seeded). */
function pageOf(rand: SeededRand, page: number): ChunkBlockSeries[] {
  const n = 1 + rand.intn(300);
  const shared = scrape(rand, 1_795_754_521_622, n);
  const out: ChunkBlockSeries[] = [];
  for (let id = page * P; id < (page + 1) * P; id++) {
    if (rand.intn(3) !== 0) continue;
    const own = rand.intn(5) === 0;
    const ts = own ? scrape(rand, 1_795_754_521_000 + rand.intn(500), 1 + rand.intn(300)) : shared;
    const vs = new Float64Array(ts.length);
    const kind = rand.intn(4);
    let level = rand.intn(1000);
    for (let i = 0; i < ts.length; i++) {
      if (kind === 0) vs[i] = rand.intn(10_000) / 100;
      else if (kind === 1) vs[i] = (level += rand.intn(5));
      else if (kind === 2) vs[i] = rand.intn(1000) / (1 + rand.intn(999));
      else vs[i] = Math.sqrt(rand.intn(2 ** 30));
    }
    out.push({ id, ts, vs });
  }
  if (out.length === 0) out.push({ id: page * P + 3, ts: shared, vs: new Float64Array(shared.length) });
  return out;
}

function sameBits(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length * 2);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length * 2);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

t.test('chunk blocks round-trip every series bit for bit, all or a wanted subset, at any chunk size', async (t) => {
  const rand = new SeededRand(5);
  const enc = new ChunkBlockEncoder();
  const dec = new ChunkBlockDecoder();
  for (let round = 0; round < 60; round++) {
    const page = rand.intn(4);
    const series = pageOf(rand, page);
    const chunkSamples = [1, 7, 120, 480][rand.intn(4)] as number;
    const parts = enc.encode(page, series, chunkSamples);
    t.equal(parts.length, 1, 'a small page is one block');
    const bytes = parts[0] as Uint8Array;
    t.equal(enc.sizes.sealedBytes, bytes.length);
    const all = dec.decode(bytes, page, null);
    t.equal(all.size, series.length);
    for (const s of series) {
      const got = all.get(s.id);
      if (got === undefined || !sameBits(got.ts, s.ts) || !sameBits(got.vs, s.vs)) t.fail(`round ${round}: series ${s.id} differs`);
    }
    const wanted = new Set(series.filter(() => rand.intn(2) === 0).map((s) => s.id));
    t.same([...dec.decode(bytes, page, wanted).keys()].sort((a, b) => a - b), [...wanted].sort((a, b) => a - b));
  }
});

t.test('series with identical times share one column; a block is smaller than the same chunks with their own times', async (t) => {
  const rand = new SeededRand(9);
  const ts = scrape(rand, 1_795_754_521_622, 60);
  const series: ChunkBlockSeries[] = [];
  for (let id = 0; id < 40; id++) series.push({ id, ts, vs: Float64Array.from(ts, (_, i) => id * 1000 + i) });
  series.push({ id: 40, ts: ts.map((x) => x + 1), vs: new Float64Array(60) });
  const enc = new ChunkBlockEncoder();
  enc.encode(0, series, 120);
  t.equal(enc.sizes.columns, 2, 'one column for the 40, one for the odd series');
  t.ok(enc.sizes.columnBytes < 2 * 40, `${enc.sizes.columnBytes} bytes of columns`);
});

t.test('a page past chunkBlockBytesTarget is cut into parts, each with the columns its series use, together holding every sample', async (t) => {
  const rand = new SeededRand(19);
  const n = 1200;
  const ts = scrape(rand, 1_795_754_521_622, n);
  const series: ChunkBlockSeries[] = [];
  for (let id = 0; id < P; id++) series.push({ id, ts, vs: Float64Array.from({ length: n }, () => Math.sqrt(rand.intn(2 ** 30)) * Math.PI) });
  const enc = new ChunkBlockEncoder();
  const parts = enc.encode(0, series, 120);
  t.ok(parts.length >= 2, `${parts.length} parts`);
  t.equal(enc.sizes.columns, parts.length, 'each part carries the one shared column');
  const dec = new ChunkBlockDecoder();
  const seen = new Set<number>();
  let bytes = 0;
  for (const part of parts) {
    t.ok(part.length <= MetricStoreLimits.chunkBlockBytesTarget + 64 * 1024, `a part of ${part.length} bytes`);
    bytes += part.length;
    for (const [id, got] of dec.decode(part, 0, null)) {
      t.notOk(seen.has(id), 'a series is in one part');
      seen.add(id);
      const want = series[id] as ChunkBlockSeries;
      if (!sameBits(got.ts, want.ts) || !sameBits(got.vs, want.vs)) t.fail(`series ${id} differs`);
    }
  }
  t.equal(seen.size, P);
  t.equal(enc.sizes.sealedBytes, bytes);
});

t.test('planted bugs: a flipped bit anywhere (a shared column included) is ERR_CORRUPTION by the checksum', async (t) => {
  const rand = new SeededRand(13);
  const series = pageOf(rand, 1);
  const bytes = new ChunkBlockEncoder().encode(1, series, 120)[0] as Uint8Array;
  const dec = new ChunkBlockDecoder();
  // Byte 0 of the payload is the format, then the column count and the first column's length: the column starts after them.
  const r = new ByteReader(bytes.subarray(BLOCK_HEADER_BYTES));
  r.u8();
  t.ok(r.uvarint() >= 1, 'the block has a shared column');
  const len = r.uvarint();
  const columnStart = bytes.length - r.remaining;
  for (let i = 0; i < bytes.length; i += i >= columnStart && i < columnStart + len ? 1 : 7) {
    const bad = bytes.slice();
    bad[i] = (bad[i] as number) ^ (1 << rand.intn(8));
    t.throws(() => dec.decode(bad, 1, null), { code: 'ERR_CORRUPTION' }, `byte ${i}`);
  }
});

/** reseal rebuilds a block around a payload changed by `edit`, with a valid checksum: the structural checks must catch it. */
function reseal(bytes: Uint8Array, edit: (payload: Uint8Array) => Uint8Array): Uint8Array {
  return sealBlock(BlockKind.metricChunkBlock, edit(bytes.slice(BLOCK_HEADER_BYTES)));
}

t.test('planted bugs behind a valid checksum: wrong format, column refs, counts and ids are ERR_CORRUPTION', async (t) => {
  const ts = Float64Array.from({ length: 10 }, (_, i) => 1_000_000 + i * 1000);
  const vs = Float64Array.from({ length: 10 }, (_, i) => i / 10);
  const series: ChunkBlockSeries[] = [
    { id: 2, ts, vs },
    { id: 5, ts, vs },
  ];
  const good = new ChunkBlockEncoder().encode(0, series, 4)[0] as Uint8Array;
  const dec = new ChunkBlockDecoder();
  t.equal(dec.decode(good, 0, null).size, 2);
  const payload = good.subarray(BLOCK_HEADER_BYTES);
  t.equal(payload[0], CHUNK_BLOCK_FORMAT);
  t.equal(payload[1], 1, 'one column');
  const colLen = payload[2] as number;
  // uvarint S = 2, id runs [2: (2, 1), (2, 1)], ref runs [1: (1, 2)], then the chunks.
  const seriesAt = 3 + colLen;
  t.same([...payload.subarray(seriesAt, seriesAt + 9)], [2, 2, 2, 1, 2, 1, 1, 1, 2], 'the runs as drawn');
  const corruption = { code: 'ERR_CORRUPTION' };
  const cases: [string, (p: Uint8Array) => Uint8Array][] = [
    ['format 3', (p) => ((p[0] = 3), p)],
    ['column count 0 (the series name a missing column)', (p) => ((p[1] = 0), Uint8Array.of(...p.subarray(0, 2), ...p.subarray(3 + colLen)))],
    ['column ref past the columns', (p) => ((p[seriesAt + 7] = 2), p)],
    ['the series take their own times (the column is left unreferenced, their chunks lack times)', (p) => ((p[seriesAt + 7] = 0), p)],
    ['series id outside the page (the first moves to 127, the second past it)', (p) => ((p[seriesAt + 2] = P - 1), p)],
    ['an id run of length 0', (p) => ((p[seriesAt + 5] = 0), p)],
    ['a column ref run covering one series too many', (p) => ((p[seriesAt + 8] = 3), p)],
    ['the column claims one time more than the chunks hold', (p) => ((p[3] = (p[3] as number) + 1), p)],
    ['the column claims one time fewer than the chunks hold', (p) => ((p[3] = (p[3] as number) - 1), p)],
    ['trailing bytes', (p) => Uint8Array.of(...p, 0)],
    ['no series', (p) => Uint8Array.of(...p.subarray(0, seriesAt), 0)],
  ];
  for (const [what, edit] of cases) {
    t.throws(() => dec.decode(reseal(good, edit), 0, null), corruption, what);
  }
  // A value of store format 1 (a per-series chunk run) is refused by name.
  const old = sealBlock(BlockKind.metricChunk, Uint8Array.of(0));
  t.throws(() => dec.decode(old, 0, null), { code: 'ERR_CORRUPTION', message: /store format 1/ });
  t.ok(isOtlpdbError(catchOf(() => dec.decode(old, 0, null)), 'ERR_CORRUPTION'));
});

function catchOf(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  return null;
}

t.test('open then decodeInto fills one column from several blocks at their offsets, bit for bit; open decodes no sample', async (t) => {
  const rand = new SeededRand(77);
  const enc = new ChunkBlockEncoder();
  const dec = new ChunkBlockDecoder();
  let compared = 0;
  for (let round = 0; round < 20; round++) {
    const page = rand.intn(4);
    const blocks = [pageOf(rand, page), pageOf(rand, page)].map((s) => enc.encode(page, s, [7, 120][rand.intn(2)] as number)[0] as Uint8Array);
    const opened = blocks.map((b) => dec.open(b, page, null));
    const want = blocks.map((b) => dec.decode(b, page, null));
    // One column per series, sized from the opened blocks' counts, filled block after block.
    const totals = new Map<number, number>();
    for (const o of opened) for (let k = 0; k < o.ids.length; k++) totals.set(o.ids[k] as number, (totals.get(o.ids[k] as number) ?? 0) + (o.counts[k] as number));
    for (const [id, n] of totals) {
      const ts = new Float64Array(n + 3);
      const vs = new Float64Array(n + 3);
      let at = 3;
      const wantTs: number[] = [];
      const wantVs: number[] = [];
      opened.forEach((o, b) => {
        const k = o.ids.indexOf(id);
        if (k < 0) return;
        dec.decodeInto(o, k, ts, vs, at);
        at += o.counts[k] as number;
        const w = want[b]?.get(id);
        wantTs.push(...(w?.ts ?? []));
        wantVs.push(...(w?.vs ?? []));
      });
      if (!sameBits(ts.subarray(3), Float64Array.from(wantTs)) || !sameBits(vs.subarray(3), Float64Array.from(wantVs))) {
        t.fail(`round ${round} series ${id}: decodeInto differs from decode`);
        return;
      }
      compared++;
    }
  }
  t.ok(compared > 100, `${compared} series filled from two blocks each equal decode's (seed 77)`);
  const page = 0;
  const bytes = enc.encode(page, pageOf(new SeededRand(3), page), 120)[0] as Uint8Array;
  const o = dec.open(bytes, page, null);
  t.ok(o.columns.every((c) => c === null), 'open decodes no timestamp column');
  t.throws(() => dec.decodeInto(o, 0, new Float64Array(0), new Float64Array(0), 0), 'a column too small for the series is a programmer error');
});
