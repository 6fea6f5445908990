/**
 * manifest.ts — the WAL's checkpoint file: for every group, the hard state,
 * the latest snapshot metadata and the compaction index as of one WAL
 * position, so segments holding older records can be deleted without losing
 * them. Rewritten whole: write MANIFEST.tmp, fsync it, rename it over
 * MANIFEST, fsync the directory.
 *
 * MANIFEST (all integers little-endian, u64 as in record-format.ts):
 *
 *   0        4         8        12          16
 *   +--------+---------+--------+-----------+------ ... ------+
 *   | magic  | version | crc32c | bodyBytes | body            |
 *   |  u32   |   u32   |  u32   |    u32    | bodyBytes bytes |
 *   +--------+---------+--------+-----------+------ ... ------+
 *                                           |<- crc covers ->|
 *
 *   body:  firstSegmentSeq u64 | coveredSeq u64 | coveredOffset u64 | groupCount u32 | groupCount x group
 *   group: id u32 | flags u8 (1 = has hard state, 2 = has snapshot) | compactedIndex u64
 *          | hard state (24 bytes, if flag 1) | snapshot metadata (if flag 2)
 *
 * firstSegmentSeq: every segment below it has been (or is being) deleted;
 * a missing segment at or above it is corruption. (coveredSeq,
 * coveredOffset): the WAL position the group states are current as of; a
 * HardState or snapshot record before it is older than the manifest's copy.
 */
import { OtlpdbError, assert } from '../../errors.js';
import type { FileSystem } from '../../fs/file-system.js';
import type { HardState, SnapshotMetadata } from '../types.js';
import {
  ByteReader,
  ByteWriter,
  GROUP_ID_MAX,
  PayloadError,
  decodeHardState,
  decodeSnapshotMetadata,
  encodeHardState,
  encodeSnapshotMetadata,
} from './record-format.js';
import { crc32c } from './crc32c.js';

/** MANIFEST_FILE is the name of the checkpoint file in the WAL directory. */
export const MANIFEST_FILE = 'MANIFEST';
/** MANIFEST_TMP_FILE is the name the next manifest is written under before its rename. */
export const MANIFEST_TMP_FILE = 'MANIFEST.tmp';
/** MANIFEST_MAGIC is "OWMF" read as a little-endian u32. */
export const MANIFEST_MAGIC = 0x464d574f;
/** MANIFEST_VERSION is the format version of the manifest. */
export const MANIFEST_VERSION = 1;
/** MANIFEST_HEADER_BYTES is the fixed part before the body. */
export const MANIFEST_HEADER_BYTES = 16;

const FLAG_HARD_STATE = 1;
const FLAG_SNAPSHOT = 2;

/** WalPosition is a byte position in the WAL: a segment and an offset in it; ordered lexicographically. */
export interface WalPosition {
  readonly seq: number;
  readonly offsetBytes: number;
}

/** comparePositions orders two WAL positions. */
export function comparePositions(a: WalPosition, b: WalPosition): number {
  return a.seq !== b.seq ? a.seq - b.seq : a.offsetBytes - b.offsetBytes;
}

/** ManifestGroup is one group's checkpointed state. */
export interface ManifestGroup {
  readonly group: number;
  readonly hardState: HardState | null;
  readonly snapshot: SnapshotMetadata | null;
  readonly compactedIndex: number;
}

/** Manifest is the decoded checkpoint file. */
export interface Manifest {
  readonly firstSegmentSeq: number;
  readonly covered: WalPosition;
  readonly groups: readonly ManifestGroup[];
}

/** encodeManifest returns the bytes of a manifest file. */
export function encodeManifest(m: Manifest, bytesMax: number): Uint8Array {
  const w = new ByteWriter(4096, bytesMax);
  w.u32(MANIFEST_MAGIC);
  w.u32(MANIFEST_VERSION);
  w.u32(0); // crc
  w.u32(0); // body length
  w.u64(m.firstSegmentSeq);
  w.u64(m.covered.seq);
  w.u64(m.covered.offsetBytes);
  w.u32(m.groups.length);
  for (const g of m.groups) {
    assert(g.group >= 0 && g.group <= GROUP_ID_MAX, 'manifest group id fits in u32');
    w.u32(g.group);
    w.u8((g.hardState !== null ? FLAG_HARD_STATE : 0) | (g.snapshot !== null ? FLAG_SNAPSHOT : 0));
    w.u64(g.compactedIndex);
    if (g.hardState !== null) encodeHardState(w, g.hardState);
    if (g.snapshot !== null) encodeSnapshotMetadata(w, g.snapshot);
  }
  const bodyBytes = w.length - MANIFEST_HEADER_BYTES;
  w.setU32At(12, bodyBytes);
  w.setU32At(8, crc32c(w.bytes, MANIFEST_HEADER_BYTES, w.length));
  return w.bytes.slice(0, w.length);
}

function corrupt(file: string, offsetBytes: number, reason: string): OtlpdbError {
  return new OtlpdbError('ERR_CORRUPTION', `WAL ${file} is corrupt at byte ${offsetBytes}: ${reason}`, { file, offsetBytes, reason });
}

/** decodeManifest parses manifest bytes; any damage is ERR_CORRUPTION (a manifest is only ever renamed into place whole). */
export function decodeManifest(bytes: Uint8Array, file: string, groupsMax: number): Manifest {
  if (bytes.length < MANIFEST_HEADER_BYTES) throw corrupt(file, 0, `manifest of ${bytes.length} bytes is shorter than its header`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (v.getUint32(0, true) !== MANIFEST_MAGIC) throw corrupt(file, 0, 'bad manifest magic');
  if (v.getUint32(4, true) !== MANIFEST_VERSION) throw corrupt(file, 4, `unsupported manifest version ${v.getUint32(4, true)}`);
  const bodyBytes = v.getUint32(12, true);
  if (MANIFEST_HEADER_BYTES + bodyBytes !== bytes.length) {
    throw corrupt(file, 12, `body length ${bodyBytes} does not match the file size ${bytes.length}`);
  }
  const want = v.getUint32(8, true);
  const got = crc32c(bytes, MANIFEST_HEADER_BYTES, bytes.length);
  if (want !== got) throw corrupt(file, 8, `CRC mismatch (stored 0x${want.toString(16)}, computed 0x${got.toString(16)})`);
  const r = new ByteReader(bytes, MANIFEST_HEADER_BYTES, bytes.length);
  try {
    const firstSegmentSeq = r.u64('first segment');
    const covered = { seq: r.u64('covered segment'), offsetBytes: r.u64('covered offset') };
    const count = r.u32('group count');
    if (count > groupsMax) throw new PayloadError(`group count ${count} exceeds groupsMax ${groupsMax}`);
    const groups: ManifestGroup[] = [];
    const seen = new Set<number>();
    for (let k = 0; k < count; k++) {
      const group = r.u32('group id');
      if (seen.has(group)) throw new PayloadError(`group ${group} listed twice`);
      seen.add(group);
      const flags = r.u8('group flags');
      if ((flags & ~(FLAG_HARD_STATE | FLAG_SNAPSHOT)) !== 0) throw new PayloadError(`unknown group flags ${flags}`);
      const compactedIndex = r.u64('compacted index');
      const hardState = flags & FLAG_HARD_STATE ? decodeHardState(r) : null;
      const snapshot = flags & FLAG_SNAPSHOT ? decodeSnapshotMetadata(r) : null;
      groups.push({ group, hardState, snapshot, compactedIndex });
    }
    if (r.remaining() !== 0) throw new PayloadError(`${r.remaining()} bytes after the last group`);
    if (firstSegmentSeq < 1 || covered.seq < firstSegmentSeq) {
      throw new PayloadError(`covered segment ${covered.seq} is below the first segment ${firstSegmentSeq}`);
    }
    return { firstSegmentSeq, covered, groups };
  } catch (err) {
    if (err instanceof PayloadError) throw corrupt(file, r.pos, err.message);
    throw err;
  }
}

/**
 * writeManifest makes `m` the durable manifest of `dir`: write MANIFEST.tmp,
 * fsync it, rename it over MANIFEST, fsync the directory. A crash at any
 * step leaves either the old or the new manifest in place, never a torn one.
 */
export async function writeManifest(fs: FileSystem, dir: string, m: Manifest, bytesMax: number): Promise<void> {
  const bytes = encodeManifest(m, bytesMax);
  const tmp = `${dir}/${MANIFEST_TMP_FILE}`;
  const f = await fs.open(tmp, 'truncate');
  try {
    await f.append(bytes);
    await f.sync();
  } finally {
    await f.close();
  }
  await fs.rename(tmp, `${dir}/${MANIFEST_FILE}`);
  await fs.fsyncDir(dir);
}
