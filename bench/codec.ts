/**
 * codec.ts — `node dist/bench/codec.js [--json] [--ms T]`: the storage codecs
 * on seeded synthetic data, each against a baseline measured in the same run.
 *
 * 1. Chunks: bytes/sample of Gorilla XOR only (the baseline), the legacy
 *    per-chunk choice of XOR or decimal (the codec before the compact and
 *    rational encodings, the before/after baseline), and the current
 *    per-chunk choice (encodeSeries: plain or compact XOR, compact decimal,
 *    rational), for four series types
 *    (an integer counter, a gauge with 2 decimals, a random-walk float, a
 *    CPU-percent-like gauge with 1 decimal), 120 samples per chunk, 15 s
 *    scrapes with occasional jitter; encode and decode samples/s of all three.
 * 2. Postings: encoded bytes/id of delta+varint only and of ours (the smaller
 *    of delta+varint and bitmap) against roaring-wasm (portable serialization
 *    after runOptimize) at several densities of a 2^20 universe, and
 *    intersections/s of two lists: decoded merge, decode-then-merge, encoded
 *    (leapfrog or word AND), roaring `and` materialized to ids (the fair
 *    baseline: ours returns ids too) and roaring andCardinality (count only),
 *    plus a skewed pair (galloping).
 *
 * Timing never gates anything; the ratios are the figures to compare.
 */
import { RoaringBitmap32, roaringLibraryInitialize } from 'roaring-wasm';
import { SeededRand } from '../src/fs/seeded-rand.js';
import { BitWriter } from '../src/storage/codec/bits.js';
import { ChunkIterator, SeriesEncoder, encodeSeries } from '../src/storage/codec/chunk.js';
import { ChunkEncoding } from '../src/storage/codec/chunk-format.js';
import { encodeDecimalChunk } from '../src/storage/codec/decimal.js';
import { encodeChunk } from '../src/storage/codec/gorilla.js';
import { PostingsContainer, PostingsCursor, decodePostings, encodePostings, intersect, intersectEncoded } from '../src/storage/codec/postings.js';
import { positiveIntArg } from './cli-args.js';

const SAMPLES_PER_SERIES = 1440;
const SERIES_PER_TYPE = 20;
const CHUNK_SAMPLES = 120;
const UNIVERSE = 1 << 20;

interface Series {
  ts: Float64Array;
  values: Float64Array;
}

const seriesTypes = ['counter', 'gauge2dp', 'randomWalk', 'cpuPercent'] as const;
type SeriesType = (typeof seriesTypes)[number];

function gaussian(rand: SeededRand): number {
  let s = 0;
  for (let k = 0; k < 6; k++) s += rand.nextU32() / 2 ** 32;
  return s - 3;
}

function makeSeries(rand: SeededRand, type: SeriesType): Series {
  const n = SAMPLES_PER_SERIES;
  const ts = new Float64Array(n);
  const values = new Float64Array(n);
  let t = 1_700_000_000_000 + rand.intn(15_000);
  let x = type === 'gauge2dp' ? 1000 + rand.intn(100_000) / 100 : rand.intn(1000);
  const mean = 5 + rand.intn(80);
  for (let i = 0; i < n; i++) {
    ts[i] = t;
    t += 15_000 + (rand.intn(10) === 0 ? rand.intn(101) - 50 : 0);
    switch (type) {
      case 'counter':
        x += rand.intn(20);
        values[i] = x;
        break;
      case 'gauge2dp':
        x = Math.round((x + gaussian(rand) * 3) * 100) / 100;
        values[i] = x;
        break;
      case 'randomWalk':
        x += gaussian(rand) * 0.37;
        values[i] = x;
        break;
      case 'cpuPercent':
        values[i] = Math.min(100, Math.max(0, Math.round((mean + gaussian(rand) * 4) * 10) / 10));
        break;
    }
  }
  return { ts, values };
}

/** timeLoop runs fn until ms have passed and returns runs per second. */
function timeLoop(ms: number, fn: () => void): number {
  fn();
  let runs = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < ms) {
    fn();
    runs++;
    elapsed = performance.now() - start;
  }
  return (runs / elapsed) * 1000;
}

/**
 * legacyChoice is the per-chunk choice as it was before the compact and
 * rational encodings (the smaller of plain XOR and legacy decimal, ties to
 * XOR), kept here as the same-process baseline for the current SeriesEncoder.
 */
function legacyChoice(ts: Float64Array, values: Float64Array, w: BitWriter, dw: BitWriter): Uint8Array {
  const xor = encodeChunk(ts, values, w);
  const dec = encodeDecimalChunk(ts, values, dw);
  return dec !== null && dec.length < xor.length ? dec : xor;
}

function chunkBench(ms: number): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  for (const type of seriesTypes) {
    const rand = new SeededRand(1000 + seriesTypes.indexOf(type));
    const all = Array.from({ length: SERIES_PER_TYPE }, () => makeSeries(rand, type));
    const samples = SERIES_PER_TYPE * SAMPLES_PER_SERIES;
    const w = new BitWriter();
    const dw = new BitWriter();
    const xorChunks: Uint8Array[] = [];
    const legacyChunks: Uint8Array[] = [];
    const bestChunks: Uint8Array[] = [];
    const enc = new SeriesEncoder();
    for (const s of all) {
      for (let start = 0; start < SAMPLES_PER_SERIES; start += CHUNK_SAMPLES) {
        xorChunks.push(encodeChunk(s.ts.subarray(start, start + CHUNK_SAMPLES), s.values.subarray(start, start + CHUNK_SAMPLES), w));
        legacyChunks.push(legacyChoice(s.ts.subarray(start, start + CHUNK_SAMPLES), s.values.subarray(start, start + CHUNK_SAMPLES), w, dw));
      }
      bestChunks.push(...encodeSeries(s.ts, s.values, CHUNK_SAMPLES, enc));
    }
    const legacyBytes = legacyChunks.reduce((a, c) => a + c.length, 0);
    const xorBytes = xorChunks.reduce((a, c) => a + c.length, 0);
    const bestBytes = bestChunks.reduce((a, c) => a + c.length, 0);
    const decimalChunks = bestChunks.filter((c) => c[1] === ChunkEncoding.Decimal || c[1] === ChunkEncoding.DecimalCompact).length;
    const encXor = timeLoop(ms, () => {
      for (const s of all) {
        for (let start = 0; start < SAMPLES_PER_SERIES; start += CHUNK_SAMPLES) {
          encodeChunk(s.ts.subarray(start, start + CHUNK_SAMPLES), s.values.subarray(start, start + CHUNK_SAMPLES), w);
        }
      }
    });
    const encLegacy = timeLoop(ms, () => {
      for (const s of all) {
        for (let start = 0; start < SAMPLES_PER_SERIES; start += CHUNK_SAMPLES) {
          legacyChoice(s.ts.subarray(start, start + CHUNK_SAMPLES), s.values.subarray(start, start + CHUNK_SAMPLES), w, dw);
        }
      }
    });
    const encBest = timeLoop(ms, () => {
      for (const s of all) encodeSeries(s.ts, s.values, CHUNK_SAMPLES, enc);
    });
    const it = new ChunkIterator();
    let sink = 0;
    const decode = (chunks: Uint8Array[]) => () => {
      for (const c of chunks) {
        it.reset(c);
        while (it.next()) sink += it.v;
      }
    };
    const decXor = timeLoop(ms, decode(xorChunks));
    const decLegacy = timeLoop(ms, decode(legacyChunks));
    const decBest = timeLoop(ms, decode(bestChunks));
    if (Number.isNaN(sink)) console.log('');
    rows.push({
      series: type,
      xorBytesPerSample: +(xorBytes / samples).toFixed(3),
      legacyBytesPerSample: +(legacyBytes / samples).toFixed(3),
      bestBytesPerSample: +(bestBytes / samples).toFixed(3),
      bestOverXor: +(bestBytes / xorBytes).toFixed(3),
      decimalChunks: `${decimalChunks}/${bestChunks.length}`,
      encodeXorMSamplesPerSec: +((encXor * samples) / 1e6).toFixed(2),
      encodeLegacyMSamplesPerSec: +((encLegacy * samples) / 1e6).toFixed(2),
      encodeBestMSamplesPerSec: +((encBest * samples) / 1e6).toFixed(2),
      decodeXorMSamplesPerSec: +((decXor * samples) / 1e6).toFixed(2),
      decodeLegacyMSamplesPerSec: +((decLegacy * samples) / 1e6).toFixed(2),
      decodeBestMSamplesPerSec: +((decBest * samples) / 1e6).toFixed(2),
    });
  }
  return rows;
}

function randomList(rand: SeededRand, density: number): Uint32Array {
  const out: number[] = [];
  const threshold = density * 2 ** 32;
  for (let id = 0; id < UNIVERSE; id++) if (rand.nextU32() < threshold) out.push(id);
  return Uint32Array.from(out);
}

function postingsBench(ms: number): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  const rand = new SeededRand(42);
  for (const density of [0.0001, 0.001, 0.01, 0.1, 0.5, 0.9]) {
    const a = randomList(rand, density);
    const b = randomList(rand, density);
    const ea = encodePostings(a);
    const eb = encodePostings(b);
    const deltaOnlyBytes = encodePostings(a, undefined, PostingsContainer.DeltaVarint).length;
    const ra = new RoaringBitmap32(a);
    const rb = new RoaringBitmap32(b);
    ra.runOptimize();
    rb.runOptimize();
    const roaringBytes = ra.getSerializationSizeInBytes('portable');
    const out = new Uint32Array(Math.min(a.length, b.length));
    const ca = new PostingsCursor();
    const cb = new PostingsCursor();
    const want = intersect(a, b, out).length;
    if (intersectEncoded(ea, eb, out, ca, cb).length !== want || ra.andCardinality(rb) !== want) throw new Error('intersections disagree');
    const decoded = timeLoop(ms, () => intersect(a, b, out));
    const decodeThen = timeLoop(ms, () => intersect(decodePostings(ea, ca), decodePostings(eb, cb), out));
    const encoded = timeLoop(ms, () => intersectEncoded(ea, eb, out, ca, cb));
    const roaringCount = timeLoop(ms, () => ra.andCardinality(rb));
    const roaringIds = timeLoop(ms, () => {
      const r = RoaringBitmap32.and(ra, rb);
      r.toUint32Array();
      r.dispose();
    });
    rows.push({
      density,
      ids: a.length,
      container: ea[1] === PostingsContainer.Bitmap ? 'bitmap' : 'delta',
      deltaOnlyBytesPerId: +(deltaOnlyBytes / Math.max(1, a.length)).toFixed(3),
      oursBytesPerId: +(ea.length / Math.max(1, a.length)).toFixed(3),
      roaringBytesPerId: +(roaringBytes / Math.max(1, a.length)).toFixed(3),
      oursOverRoaringBytes: +(ea.length / roaringBytes).toFixed(3),
      andDecodedPerSec: Math.round(decoded),
      andDecodeThenMergePerSec: Math.round(decodeThen),
      andEncodedPerSec: Math.round(encoded),
      roaringAndIdsPerSec: Math.round(roaringIds),
      roaringAndCardinalityPerSec: Math.round(roaringCount),
      encodedOverRoaringIds: +(encoded / roaringIds).toFixed(3),
    });
    ra.dispose();
    rb.dispose();
  }
  // Skewed: 1,000 ids against half the universe (the galloping case).
  const small = randomList(rand, 1000 / UNIVERSE);
  const large = randomList(rand, 0.5);
  const out = new Uint32Array(small.length);
  const rs = new RoaringBitmap32(small);
  const rl = new RoaringBitmap32(large);
  rl.runOptimize();
  const es = encodePostings(small);
  const el = encodePostings(large);
  const encodedSkewed = timeLoop(ms, () => intersectEncoded(es, el, out));
  const roaringSkewed = timeLoop(ms, () => {
    const r = RoaringBitmap32.and(rs, rl);
    r.toUint32Array();
    r.dispose();
  });
  rows.push({
    density: 'skewed 1k vs 0.5',
    ids: `${small.length} / ${large.length}`,
    container: `${es[1] === PostingsContainer.Bitmap ? 'bitmap' : 'delta'} / ${el[1] === PostingsContainer.Bitmap ? 'bitmap' : 'delta'}`,
    andDecodedPerSec: Math.round(timeLoop(ms, () => intersect(small, large, out))),
    andEncodedPerSec: Math.round(encodedSkewed),
    roaringAndIdsPerSec: Math.round(roaringSkewed),
    roaringAndCardinalityPerSec: Math.round(timeLoop(ms, () => rs.andCardinality(rl))),
    encodedOverRoaringIds: +(encodedSkewed / roaringSkewed).toFixed(3),
  });
  rs.dispose();
  rl.dispose();
  return rows;
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const ms = positiveIntArg('ms', 300);
  await roaringLibraryInitialize();
  const chunks = chunkBench(ms);
  const postings = postingsBench(ms);
  if (json) {
    console.log(JSON.stringify({ bench: 'codec', chunkSamples: CHUNK_SAMPLES, chunks, postings }));
    return;
  }
  console.log(`chunks (${SERIES_PER_TYPE} series × ${SAMPLES_PER_SERIES} samples per type, ${CHUNK_SAMPLES} samples per chunk; baseline: Gorilla XOR only)`);
  console.table(chunks);
  console.log(`postings (universe 2^20; baseline: roaring-wasm portable after runOptimize)`);
  console.table(postings);
}

await main();
