/**
 * group-registry.ts — the durable list of a driver's runtime group changes:
 * groups added with `addGroup` (with their founding membership) and
 * tombstones of groups removed with `removeGroup`. At open the driver hosts
 * (configured groups not tombstoned) ∪ (registry groups marked hosted).
 *
 * File `GROUPS` in the driver directory (all integers little-endian, u64 as
 * in ../wal/record-format.ts), rewritten whole: write GROUPS.tmp, fsync it,
 * rename it over GROUPS, fsync the directory, so a crash leaves the old or
 * the new file, never a torn one:
 *
 *   0        4         8        12          16
 *   +--------+---------+--------+-----------+------ ... ------+
 *   | magic  | version | crc32c | bodyBytes | body            |
 *   |  u32   |   u32   |  u32   |    u32    | bodyBytes bytes |
 *   +--------+---------+--------+-----------+------ ... ------+
 *                                           |<- crc covers ->|
 *
 *   body:  count u32 | count x entry      (entries sorted by group id, each id once)
 *   entry: group u32 | state u8 (1 = hosted, 2 = removed)
 *          | voterCount u32 | voterCount x u64 | learnerCount u32 | learnerCount x u64
 *          | term u64 | vote u64 | floorIndex u64 | floorTerm u64     (version 2 only)
 *
 * A hosted entry's membership is what `addGroup` was given: it bootstraps
 * the group when the WAL holds nothing of it (empty for a joining replica).
 * A removed entry has no members. A missing file is an empty registry.
 *
 * The last four fields are the entry's replica tombstone (../tombstone.ts):
 * on a removed entry, what the removed replica left (its term, vote and
 * vote floor); on a hosted entry, the tombstone its incarnation started
 * from, so its vote floor survives restarts. Version 1 files (no tombstone)
 * still read, as NO_TOMBSTONE; every write is version 2.
 *
 * Invariants: the file holds at most DriverLimits.registryEntriesMax
 * entries of at most registryMembersPerGroupMax members each; `entries` in
 * memory equals the file last written (callers write before they act).
 * Owner: the driver, inside its iteration chain; nothing else writes GROUPS.
 */
import { posix } from 'node:path';
import { OtlpdbError, assert } from '../../errors.js';
import type { FileSystem } from '../../fs/file-system.js';
import { isNotFoundError } from '../../fs/file-system.js';
import { DriverLimits } from '../../limits.js';
import { NO_TOMBSTONE } from '../tombstone.js';
import type { ReplicaTombstone } from '../tombstone.js';
import type { GroupId, NodeId } from '../types.js';
import { crc32c } from '../wal/crc32c.js';
import { ByteReader, ByteWriter, GROUP_ID_MAX, PayloadError } from '../wal/record-format.js';

/** GROUP_REGISTRY_FILE is the registry's name in the driver directory. */
export const GROUP_REGISTRY_FILE = 'GROUPS';
/** GROUP_REGISTRY_TMP_FILE is the name the next registry is written under before its rename. */
export const GROUP_REGISTRY_TMP_FILE = 'GROUPS.tmp';
/** GROUP_REGISTRY_MAGIC is "OGRG" read as a little-endian u32. */
export const GROUP_REGISTRY_MAGIC = 0x4752474f;
/** GROUP_REGISTRY_VERSION is the format version written; GROUP_REGISTRY_VERSION_V1 (no tombstones) still reads. */
export const GROUP_REGISTRY_VERSION = 2;
/** GROUP_REGISTRY_VERSION_V1 is the first format: entries without a tombstone. */
export const GROUP_REGISTRY_VERSION_V1 = 1;
/** GROUP_REGISTRY_HEADER_BYTES is the fixed part before the body. */
export const GROUP_REGISTRY_HEADER_BYTES = 16;

/** RegistryState is the on-disk state byte of one entry. */
export const RegistryState = { Hosted: 1, Removed: 2 } as const;
export type RegistryState = (typeof RegistryState)[keyof typeof RegistryState];

/** RegistryEntry is one group's runtime change: added (with founding membership) or removed. */
export interface RegistryEntry {
  readonly group: GroupId;
  readonly state: RegistryState;
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  /** tombstone is what a removed replica left, or what a hosted incarnation started from (NO_TOMBSTONE: nothing). */
  readonly tombstone: ReplicaTombstone;
}

/** encodeGroupRegistry returns the bytes of a registry file holding `entries`. */
export function encodeGroupRegistry(entries: ReadonlyMap<GroupId, RegistryEntry>): Uint8Array {
  assert(entries.size <= DriverLimits.registryEntriesMax, 'registry within registryEntriesMax');
  const w = new ByteWriter(256, DriverLimits.registryFileBytesMax);
  w.u32(GROUP_REGISTRY_MAGIC);
  w.u32(GROUP_REGISTRY_VERSION);
  w.u32(0); // crc
  w.u32(0); // body length
  w.u32(entries.size);
  for (const e of [...entries.values()].sort((a, b) => a.group - b.group)) {
    assert(Number.isInteger(e.group) && e.group >= 0 && e.group <= GROUP_ID_MAX, 'registry group id fits in u32');
    assert(e.voters.length + e.learners.length <= DriverLimits.registryMembersPerGroupMax, 'registry members within bound');
    w.u32(e.group);
    w.u8(e.state);
    w.u32(e.voters.length);
    for (const v of e.voters) w.u64(v);
    w.u32(e.learners.length);
    for (const l of e.learners) w.u64(l);
    w.u64(e.tombstone.term);
    w.u64(e.tombstone.vote);
    w.u64(e.tombstone.floor.index);
    w.u64(e.tombstone.floor.term);
  }
  w.setU32At(12, w.length - GROUP_REGISTRY_HEADER_BYTES);
  w.setU32At(8, crc32c(w.bytes, GROUP_REGISTRY_HEADER_BYTES, w.length));
  return w.bytes.slice(0, w.length);
}

function corrupt(file: string, offsetBytes: number, reason: string): OtlpdbError {
  return new OtlpdbError('ERR_CORRUPTION', `group registry ${file} is corrupt at byte ${offsetBytes}: ${reason}`, { file, offsetBytes, reason });
}

function decodeIds(r: ByteReader, what: string): NodeId[] {
  const n = r.u32(`${what} count`);
  if (n > DriverLimits.registryMembersPerGroupMax) throw new PayloadError(`${what} count ${n} exceeds registryMembersPerGroupMax`);
  const out: NodeId[] = [];
  for (let k = 0; k < n; k++) out.push(r.u64(what));
  return out;
}

function decodeTombstone(r: ByteReader): ReplicaTombstone {
  const term = r.u64('tombstone term');
  const vote = r.u64('tombstone vote');
  const floor = { index: r.u64('vote floor index'), term: r.u64('vote floor term') };
  if (floor.term > term) throw new PayloadError(`vote floor term ${floor.term} is past the tombstone's term ${term}`);
  return { term, vote, floor };
}

/** decodeGroupRegistry parses registry bytes; any damage is ERR_CORRUPTION (the file is only ever renamed into place whole). */
export function decodeGroupRegistry(bytes: Uint8Array, file: string): Map<GroupId, RegistryEntry> {
  if (bytes.length < GROUP_REGISTRY_HEADER_BYTES) throw corrupt(file, 0, `${bytes.length} bytes is shorter than the header`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (v.getUint32(0, true) !== GROUP_REGISTRY_MAGIC) throw corrupt(file, 0, 'bad magic');
  const version = v.getUint32(4, true);
  if (version !== GROUP_REGISTRY_VERSION && version !== GROUP_REGISTRY_VERSION_V1) throw corrupt(file, 4, `unsupported version ${version}`);
  const bodyBytes = v.getUint32(12, true);
  if (GROUP_REGISTRY_HEADER_BYTES + bodyBytes !== bytes.length) throw corrupt(file, 12, `body length ${bodyBytes} does not match the file size`);
  const want = v.getUint32(8, true);
  const got = crc32c(bytes, GROUP_REGISTRY_HEADER_BYTES, bytes.length);
  if (want !== got) throw corrupt(file, 8, `CRC mismatch (stored 0x${want.toString(16)}, computed 0x${got.toString(16)})`);
  const r = new ByteReader(bytes, GROUP_REGISTRY_HEADER_BYTES, bytes.length);
  const out = new Map<GroupId, RegistryEntry>();
  try {
    const count = r.u32('entry count');
    if (count > DriverLimits.registryEntriesMax) throw new PayloadError(`entry count ${count} exceeds registryEntriesMax`);
    for (let k = 0; k < count; k++) {
      const group = r.u32('group id');
      if (out.has(group)) throw new PayloadError(`group ${group} listed twice`);
      const state = r.u8('state');
      if (state !== RegistryState.Hosted && state !== RegistryState.Removed) throw new PayloadError(`unknown state ${state}`);
      const voters = decodeIds(r, 'voter');
      const learners = decodeIds(r, 'learner');
      const tombstone = version === GROUP_REGISTRY_VERSION_V1 ? NO_TOMBSTONE : decodeTombstone(r);
      out.set(group, { group, state, voters, learners, tombstone });
    }
    if (r.remaining() !== 0) throw new PayloadError(`${r.remaining()} bytes after the last entry`);
  } catch (err) {
    if (err instanceof PayloadError) throw corrupt(file, r.pos, err.message);
    throw err;
  }
  return out;
}

/** GroupRegistry is the driver's durable record of runtime group changes; see the top of this file. */
export class GroupRegistry {
  readonly #fs: FileSystem;
  readonly #dir: string;
  readonly #entries: Map<GroupId, RegistryEntry>;

  private constructor(fs: FileSystem, dir: string, entries: Map<GroupId, RegistryEntry>) {
    this.#fs = fs;
    this.#dir = dir;
    this.#entries = entries;
  }

  /** load reads the registry of `dir` (which must exist), removing a leftover GROUPS.tmp; a missing file is empty. */
  static async load(fs: FileSystem, dir: string): Promise<GroupRegistry> {
    const tmp = posix.join(dir, GROUP_REGISTRY_TMP_FILE);
    if (await fs.exists(tmp)) {
      // A rewrite that did not reach its rename: the old GROUPS (or none) is in force.
      await fs.unlink(tmp);
      await fs.fsyncDir(dir);
    }
    const file = posix.join(dir, GROUP_REGISTRY_FILE);
    let bytes: Uint8Array;
    try {
      bytes = await fs.readFile(file, DriverLimits.registryFileBytesMax);
    } catch (err) {
      if (isNotFoundError(err)) return new GroupRegistry(fs, dir, new Map());
      if (err instanceof OtlpdbError && err.code === 'ERR_LIMIT_EXCEEDED') throw corrupt(file, 0, 'larger than registryFileBytesMax');
      throw err;
    }
    return new GroupRegistry(fs, dir, decodeGroupRegistry(bytes, file));
  }

  /** get returns the entry of `group`, or undefined. */
  get(group: GroupId): RegistryEntry | undefined {
    return this.#entries.get(group);
  }

  /** entries lists every entry. */
  entries(): RegistryEntry[] {
    return [...this.#entries.values()];
  }

  /** hasRoomFor says whether writing an entry for `group` stays within registryEntriesMax. */
  hasRoomFor(group: GroupId): boolean {
    return this.#entries.has(group) || this.#entries.size < DriverLimits.registryEntriesMax;
  }

  /** put makes `entry` durable (replacing the group's previous entry): write tmp, fsync, rename, fsync dir. */
  async put(entry: RegistryEntry): Promise<void> {
    assert(this.hasRoomFor(entry.group), 'the caller checked hasRoomFor');
    const next = new Map(this.#entries);
    next.set(entry.group, entry);
    const bytes = encodeGroupRegistry(next);
    const tmp = posix.join(this.#dir, GROUP_REGISTRY_TMP_FILE);
    const f = await this.#fs.open(tmp, 'truncate');
    try {
      await f.append(bytes);
      await f.sync();
    } finally {
      await f.close();
    }
    await this.#fs.rename(tmp, posix.join(this.#dir, GROUP_REGISTRY_FILE));
    await this.#fs.fsyncDir(this.#dir);
    this.#entries.set(entry.group, entry);
    assert(this.#entries.size <= DriverLimits.registryEntriesMax, 'registry within registryEntriesMax');
  }
}
