/**
 * index.ts — the storage codecs: pure functions and classes over bytes, no
 * I/O. Chunks (Gorilla XOR, decimal, and the compact XOR, compact decimal and
 * rational encodings; design in README.md) for metric samples, string
 * columns, postings lists, and the bit and byte streams under them.
 */
export { BitReader, BitWriter, clz64, corrupt, ctz32, ctz64, float64FromBits, float64Hi, float64Lo } from './bits.js';
export {
  ByteReader,
  ByteWriter,
  ZIGZAG_ABS_MAX,
  readDeltasSigned,
  readDeltasSorted,
  uvarintBytes,
  writeDeltasSigned,
  writeDeltasSorted,
  zigzagDecode,
  zigzagEncode,
} from './varint.js';
export { CHUNK_FORMAT_VERSION, CHUNK_HEADER_BYTES, CHUNK_TIMESTAMPS_EXTERNAL, ChunkEncoding } from './chunk-format.js';
export type { ChunkEncodingValue } from './chunk-format.js';
export { XorValueDecoder, XorValueEncoder, encodeChunk } from './gorilla.js';
export { RICE_ESCAPE_QUOTIENT, RICE_K_MAX, RICE_Z_MAX, bestRiceK, readRice, riceBits, writeRice } from './rice.js';
export { CompactTimestampDecoder, CompactTimestampPlan, TIMESTAMP_K_EXACT, TimestampMode } from './compact-timestamps.js';
export { encodeCompactXorChunk } from './compact-xor.js';
export { CompactDecimalScratch, CompactDecimalValueDecoder, DecimalCoding, DecimalOrder, ULP_FIXUP_MAX, encodeCompactDecimalChunk } from './compact-decimal.js';
export { RATIONAL_Q_MAX, RationalPMode, RationalScratch, RationalValueDecoder, encodeRationalChunk, ratioOf } from './rational.js';
export { DecimalMode, DecimalScratch, DecimalValueDecoder, decimalDigits, encodeDecimalChunk } from './decimal.js';
export { ChunkIterator, SeriesEncoder, decodeChunk, encodeSeries } from './chunk.js';
export { TimestampColumnDecoder, TimestampColumnEncoder, timestampColumnShape } from './timestamp-column.js';
export type { TimestampColumnShape } from './timestamp-column.js';
export type { DecodedChunk } from './chunk.js';
export { MsgpackWalk } from './msgpack-walk.js';
export { STRING_COLUMN_FORMAT_VERSION, StringColumnView, StringLayout, decodeStringColumn, encodeStringColumn, openStringColumn } from './strings.js';
export type { StringColumnStats, StringLayoutValue } from './strings.js';
export {
  GALLOP_RATIO,
  POSTINGS_FORMAT_VERSION,
  PostingsContainer,
  PostingsCursor,
  decodePostings,
  difference,
  encodePostings,
  gallop,
  intersect,
  intersectEncoded,
  union,
} from './postings.js';
