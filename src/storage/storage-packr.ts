/**
 * storage-packr.ts — the one msgpackr configuration of stored data (the shard
 * write entry, and the msgpack parts of span and log blocks).
 *
 * STORAGE_PACKR holds fixed options: records and shared structures off (they
 * make bytes depend on encoder history); bigints always as 64-bit integers
 * and decoded as bigints; doubles always float64; byte strings copied out of
 * the input buffer so decoded rows do not pin it. With records off the
 * instance keeps no state between calls, so every module shares it.
 */
import { Packr } from 'msgpackr';

/** STORAGE_PACKR encodes and decodes every msgpack part of stored data. */
export const STORAGE_PACKR = new Packr({
  useRecords: false,
  moreTypes: false,
  structuredClone: false,
  bundleStrings: false,
  mapsAsObjects: true,
  variableMapSize: true,
  copyBuffers: true,
  useFloat32: 0,
  int64AsType: 'bigint',
  largeBigIntToFloat: false,
  useBigIntExtension: false,
});

/**
 * STORAGE_UNPACKR_VIEWS decodes like STORAGE_PACKR but returns byte strings
 * as views of the input instead of copies. Only for decoders that copy every
 * byte string they keep (decodeShardEntry through WireReader.id and
 * WireReader.bytes): it saves an ArrayBuffer per id. Never used to encode.
 */
export const STORAGE_UNPACKR_VIEWS = new Packr({
  useRecords: false,
  moreTypes: false,
  structuredClone: false,
  bundleStrings: false,
  mapsAsObjects: true,
  variableMapSize: true,
  copyBuffers: false,
  useFloat32: 0,
  int64AsType: 'bigint',
  largeBigIntToFloat: false,
  useBigIntExtension: false,
});
