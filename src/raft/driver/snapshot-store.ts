/**
 * snapshot-store.ts — durable state-machine images (snapshot DATA) of a
 * node's Raft groups. The shared WAL holds only snapshot METADATA; the image
 * lives here, one file per snapshot, beside the WAL.
 *
 * ## Files
 *
 *   <dir>/<group>/<index, 16 hex digits>.snap      a complete snapshot
 *   <dir>/<group>/<index, 16 hex digits>.snap.tmp  a snapshot being written
 *
 * File layout (little-endian):
 *
 *   offset  size  field
 *   0       4     magic 0x50534e4f ("ONSP")
 *   4       4     version (1)
 *   8       4     CRC-32C of bytes [16, end)
 *   12      4     metadata length m
 *   16      m     metadata: UTF-8 JSON {group, index, term, voters, learners}
 *   16+m    n     the image (the state machine's snapshot bytes)
 *
 * ## Protocol
 *
 * save: write `.snap.tmp`, fsync it, rename to `.snap`, fsync the directory.
 * Only then may the WAL record the snapshot's metadata (the caller's order),
 * so a WAL that names a snapshot always finds its file. `prune(keepIndex)`
 * deletes older files once the WAL durably names a newer snapshot; a crash
 * before the prune leaves extra files, never missing ones.
 *
 * Invariants: a `.snap` file is complete and checksummed; load verifies the
 * checksum and the metadata against the index asked for, and answers
 * ERR_CORRUPTION otherwise. Owner: the driver (one per node).
 */
import { posix } from 'node:path';
import { OtlpdbError, assert } from '../../errors.js';
import type { FileSystem } from '../../fs/file-system.js';
import { isNotFoundError } from '../../fs/file-system.js';
import type { GroupId, Snapshot, SnapshotMetadata } from '../types.js';
import { crc32c } from '../wal/crc32c.js';
import { DriverLimits } from '../../limits.js';

/** SNAPSHOT_FILE_MAGIC opens every snapshot file. */
export const SNAPSHOT_FILE_MAGIC = 0x50534e4f;
/** SNAPSHOT_FILE_VERSION is the layout version written. */
export const SNAPSHOT_FILE_VERSION = 1;
/** SNAPSHOT_FILE_HEADER_BYTES is the fixed header before the metadata. */
export const SNAPSHOT_FILE_HEADER_BYTES = 16;

const SUFFIX = '.snap';
const TMP_SUFFIX = '.snap.tmp';

/** SnapshotStore keeps snapshot images durably; the WAL names which one is current. */
export interface SnapshotStore {
  /** save makes `data` durable as group's snapshot at `metadata.index` (write, fsync, rename, fsync dir). */
  save(group: GroupId, metadata: SnapshotMetadata, data: Uint8Array): Promise<void>;
  /** load returns the snapshot of `group` at exactly `index`, or null when no such file exists. */
  load(group: GroupId, index: number): Promise<Snapshot | null>;
  /** latest returns the newest complete snapshot of `group`, or null. */
  latest(group: GroupId): Promise<Snapshot | null>;
  /** prune deletes the group's snapshots older than `keepIndex` and leftover temporary files. */
  prune(group: GroupId, keepIndex: number): Promise<number>;
}

function fileName(index: number): string {
  assert(Number.isSafeInteger(index) && index >= 0, 'snapshot index is a safe integer');
  return index.toString(16).padStart(16, '0') + SUFFIX;
}

function parseIndex(name: string): number | null {
  if (!name.endsWith(SUFFIX) || name.length !== 16 + SUFFIX.length) return null;
  const hex = name.slice(0, 16);
  if (!/^[0-9a-f]{16}$/.test(hex)) return null;
  const n = Number.parseInt(hex, 16);
  return Number.isSafeInteger(n) ? n : null;
}

/** encodeSnapshotFile lays out one snapshot file (see the layout at the top of this file). */
export function encodeSnapshotFile(group: GroupId, md: SnapshotMetadata, data: Uint8Array): Uint8Array {
  const meta = new TextEncoder().encode(
    JSON.stringify({ group, index: md.index, term: md.term, voters: md.confState.voters, learners: md.confState.learners }),
  );
  assert(meta.length <= DriverLimits.snapshotMetaBytesMax, 'snapshot metadata within snapshotMetaBytesMax');
  const out = new Uint8Array(SNAPSHOT_FILE_HEADER_BYTES + meta.length + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, SNAPSHOT_FILE_MAGIC, true);
  dv.setUint32(4, SNAPSHOT_FILE_VERSION, true);
  dv.setUint32(12, meta.length, true);
  out.set(meta, SNAPSHOT_FILE_HEADER_BYTES);
  out.set(data, SNAPSHOT_FILE_HEADER_BYTES + meta.length);
  dv.setUint32(8, crc32c(out.subarray(12)), true);
  return out;
}

function corrupt(path: string, why: string): OtlpdbError {
  return new OtlpdbError('ERR_CORRUPTION', `snapshot file ${path}: ${why}`, { file: path });
}

function isIdList(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x > 0);
}

/** decodeSnapshotFile checks and parses one snapshot file; damage is ERR_CORRUPTION, never data. */
export function decodeSnapshotFile(path: string, bytes: Uint8Array): { group: GroupId; snapshot: Snapshot } {
  if (bytes.length < SNAPSHOT_FILE_HEADER_BYTES) throw corrupt(path, 'shorter than its header');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== SNAPSHOT_FILE_MAGIC) throw corrupt(path, 'bad magic');
  if (dv.getUint32(4, true) !== SNAPSHOT_FILE_VERSION) throw corrupt(path, 'unknown version');
  if (dv.getUint32(8, true) !== crc32c(bytes.subarray(12))) throw corrupt(path, 'checksum mismatch');
  const metaLen = dv.getUint32(12, true);
  if (metaLen > DriverLimits.snapshotMetaBytesMax || SNAPSHOT_FILE_HEADER_BYTES + metaLen > bytes.length) {
    throw corrupt(path, 'metadata length out of range');
  }
  let m: unknown;
  try {
    m = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(SNAPSHOT_FILE_HEADER_BYTES, SNAPSHOT_FILE_HEADER_BYTES + metaLen)));
  } catch {
    throw corrupt(path, 'metadata is not JSON');
  }
  const o = m as { group?: unknown; index?: unknown; term?: unknown; voters?: unknown; learners?: unknown };
  if (typeof o !== 'object' || o === null) throw corrupt(path, 'metadata is not an object');
  if (typeof o.group !== 'number' || !Number.isSafeInteger(o.group) || o.group < 0) throw corrupt(path, 'bad group');
  if (typeof o.index !== 'number' || !Number.isSafeInteger(o.index) || o.index < 1) throw corrupt(path, 'bad index');
  if (typeof o.term !== 'number' || !Number.isSafeInteger(o.term) || o.term < 1) throw corrupt(path, 'bad term');
  if (!isIdList(o.voters) || !isIdList(o.learners)) throw corrupt(path, 'bad membership');
  const data = bytes.slice(SNAPSHOT_FILE_HEADER_BYTES + metaLen);
  return {
    group: o.group,
    snapshot: { metadata: { index: o.index, term: o.term, confState: { voters: o.voters, learners: o.learners } }, data },
  };
}

/** FileSnapshotStore is the SnapshotStore over the FileSystem interface, one directory per group under `dir`. */
export class FileSnapshotStore implements SnapshotStore {
  readonly #fs: FileSystem;
  readonly #dir: string;
  readonly #madeDirs = new Set<string>();

  constructor(fs: FileSystem, dir: string) {
    this.#fs = fs;
    this.#dir = posix.normalize(dir);
  }

  #groupDir(group: GroupId): string {
    assert(Number.isSafeInteger(group) && group >= 0, 'group id is a non-negative integer');
    return posix.join(this.#dir, String(group));
  }

  async #ensureDir(dir: string): Promise<void> {
    if (this.#madeDirs.has(dir)) return;
    // Every directory mkdirp creates is an entry of its parent: fsync each parent, as the WAL does.
    const made: string[] = [];
    for (let d = dir; !(await this.#fs.exists(d)); d = posix.dirname(d)) made.push(d);
    if (made.length > 0) {
      await this.#fs.mkdirp(dir);
      for (const d of made) await this.#fs.fsyncDir(posix.dirname(d));
    }
    this.#madeDirs.add(dir);
  }

  async save(group: GroupId, metadata: SnapshotMetadata, data: Uint8Array): Promise<void> {
    assert(metadata.index >= 1 && metadata.term >= 1, 'a saved snapshot has index and term >= 1');
    assert(data.length <= DriverLimits.snapshotFileBytesMax, 'snapshot image within snapshotFileBytesMax');
    const dir = this.#groupDir(group);
    await this.#ensureDir(dir);
    const path = posix.join(dir, fileName(metadata.index));
    const tmp = path.slice(0, -SUFFIX.length) + TMP_SUFFIX;
    const f = await this.#fs.open(tmp, 'truncate');
    try {
      await f.append(encodeSnapshotFile(group, metadata, data));
      await f.sync();
    } finally {
      await f.close();
    }
    await this.#fs.rename(tmp, path);
    await this.#fs.fsyncDir(dir);
  }

  async load(group: GroupId, index: number): Promise<Snapshot | null> {
    const path = posix.join(this.#groupDir(group), fileName(index));
    let bytes: Uint8Array;
    try {
      bytes = await this.#fs.readFile(path, DriverLimits.snapshotFileBytesMax);
    } catch (err) {
      if (isNotFoundError(err)) return null;
      throw err;
    }
    const got = decodeSnapshotFile(path, bytes);
    if (got.group !== group || got.snapshot.metadata.index !== index) throw corrupt(path, 'metadata names another snapshot');
    return got.snapshot;
  }

  async latest(group: GroupId): Promise<Snapshot | null> {
    const indexes = await this.#indexes(group);
    const last = indexes[indexes.length - 1];
    return last === undefined ? null : this.load(group, last);
  }

  async prune(group: GroupId, keepIndex: number): Promise<number> {
    const dir = this.#groupDir(group);
    if (!(await this.#fs.exists(dir))) return 0;
    let removed = 0;
    for (const name of await this.#fs.readdir(dir)) {
      const idx = parseIndex(name);
      if (name.endsWith(TMP_SUFFIX) || (idx !== null && idx < keepIndex)) {
        await this.#fs.unlink(posix.join(dir, name));
        removed++;
      }
    }
    if (removed > 0) await this.#fs.fsyncDir(dir);
    return removed;
  }

  async #indexes(group: GroupId): Promise<number[]> {
    const dir = this.#groupDir(group);
    if (!(await this.#fs.exists(dir))) return [];
    const out: number[] = [];
    for (const name of await this.#fs.readdir(dir)) {
      const idx = parseIndex(name);
      if (idx !== null) out.push(idx);
    }
    return out.sort((a, b) => a - b);
  }
}
