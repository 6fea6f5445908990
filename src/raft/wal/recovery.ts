/**
 * recovery.ts — reads a WAL directory back at open: lists and checks the
 * files, scans every segment, truncates a torn tail on disk, and replays the
 * records into per-group state (steps 1-5 of "Recovery" in wal.ts).
 *
 * Invariant: recovery never drops a record that is followed by a valid one;
 * the only bytes it removes are a torn tail of the last segment (reported),
 * a leftover MANIFEST.tmp, and segments below the manifest's
 * firstSegmentSeq (an interrupted purge had already decided to delete them).
 */
import { posix } from 'node:path';
import { OtlpdbError, assert } from '../../errors.js';
import type { FileSystem } from '../../fs/file-system.js';
import type { GroupId } from '../types.js';
import type { RecoveredGroup } from './group-replay.js';
import { GroupReplay } from './group-replay.js';
import type { Manifest, ManifestGroup, WalPosition } from './manifest.js';
import { MANIFEST_FILE, MANIFEST_TMP_FILE, decodeManifest } from './manifest.js';
import { RecordType } from './record-format.js';
import type { TailTruncation } from './segment-file.js';
import { SEGMENT_SUFFIX, parseSegmentFileName, scanSegment, segmentFileName } from './segment-file.js';

/** RecoveryLimits are the bounds recovery reads under (a subset of WalLimits plus the open's options). */
export interface RecoveryLimits {
  readonly recordBytesMax: number;
  readonly segmentFileBytesMax: number;
  readonly manifestBytesMax: number;
  readonly groupsMax: number;
  readonly dirEntriesMax: number;
}

/** RecoveredSegment is one surviving segment: its size after any tail truncation and, per group, the highest entry index it holds that is not void. */
export interface RecoveredSegment {
  readonly seq: number;
  readonly sizeBytes: number;
  readonly liveMaxIndex: Map<GroupId, number>;
}

/** RecoveryResult is everything Wal.open needs to continue, and what it reports to the node. */
export interface RecoveryResult {
  readonly groups: Map<GroupId, RecoveredGroup>;
  readonly segments: RecoveredSegment[];
  /** firstSegmentSeq is the sequence number the first segment must have (1 when no purge ever ran). */
  readonly firstSegmentSeq: number;
  readonly tailTruncation: TailTruncation | null;
  readonly ignoredFiles: string[];
  readonly recordsScanned: number;
}

function corruption(message: string, details: Record<string, unknown>): OtlpdbError {
  return new OtlpdbError('ERR_CORRUPTION', message, details);
}

/** placeEntries records that segment `seg` holds entries of `group` up to `lastIndex`. */
export function placeEntries(seg: { liveMaxIndex: Map<GroupId, number> }, group: GroupId, lastIndex: number): void {
  const prev = seg.liveMaxIndex.get(group);
  if (prev === undefined || prev < lastIndex) seg.liveMaxIndex.set(group, lastIndex);
}

/** voidEntries records that every entry of `group` written so far is void (a snapshot replaced the log). */
export function voidEntries(segments: readonly { liveMaxIndex: Map<GroupId, number> }[], group: GroupId): void {
  for (const seg of segments) seg.liveMaxIndex.delete(group);
}

/** recoverWal reads the WAL in `dir` (which must exist); see the file comment for what it may change on disk. */
export async function recoverWal(fs: FileSystem, dir: string, limits: RecoveryLimits): Promise<RecoveryResult> {
  const names = await fs.readdir(dir);
  if (names.length > limits.dirEntriesMax) {
    throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `WAL directory ${dir} has ${names.length} entries, more than ${limits.dirEntriesMax}`, {
      dir,
      entries: names.length,
    });
  }
  const seqs: number[] = [];
  const ignoredFiles: string[] = [];
  let hasManifest = false;
  let dirChanged = false;
  for (const name of names) {
    const seq = parseSegmentFileName(name);
    if (seq !== null) seqs.push(seq);
    else if (name === MANIFEST_FILE) hasManifest = true;
    else if (name === MANIFEST_TMP_FILE) {
      // A manifest rewrite that did not reach its rename: the old MANIFEST (or none) is in force.
      await fs.unlink(posix.join(dir, name));
      dirChanged = true;
    } else if (name.endsWith(SEGMENT_SUFFIX)) {
      throw corruption(`WAL directory ${dir} holds ${name}, which ends in ${SEGMENT_SUFFIX} but is not a segment name`, {
        file: posix.join(dir, name),
      });
    } else ignoredFiles.push(name);
  }
  seqs.sort((a, b) => a - b);

  let manifest: Manifest | null = null;
  if (hasManifest) {
    const file = posix.join(dir, MANIFEST_FILE);
    let bytes: Uint8Array;
    try {
      bytes = await fs.readFile(file, limits.manifestBytesMax);
    } catch (err) {
      if (err instanceof OtlpdbError && err.code === 'ERR_LIMIT_EXCEEDED') {
        throw corruption(`WAL ${file} is larger than manifestBytesMax ${limits.manifestBytesMax}`, { file, offsetBytes: 0 });
      }
      throw err;
    }
    manifest = decodeManifest(bytes, file, limits.groupsMax);
  }
  const firstSegmentSeq = manifest?.firstSegmentSeq ?? 1;
  const covered: WalPosition = manifest?.covered ?? { seq: 0, offsetBytes: 0 };

  // Segments below firstSegmentSeq were being deleted by a purge that crashed after its manifest was durable.
  while (seqs.length > 0 && (seqs[0] as number) < firstSegmentSeq) {
    await fs.unlink(posix.join(dir, segmentFileName(seqs.shift() as number)));
    dirChanged = true;
  }
  if (dirChanged) await fs.fsyncDir(dir);
  if (seqs.length > 0 && seqs[0] !== firstSegmentSeq) {
    const missing = posix.join(dir, segmentFileName(firstSegmentSeq));
    throw corruption(`WAL segment ${missing} is missing (the first segment present is ${seqs[0]})`, { file: missing, offsetBytes: 0 });
  }
  for (let k = 1; k < seqs.length; k++) {
    if (seqs[k] !== (seqs[k - 1] as number) + 1) {
      const missing = posix.join(dir, segmentFileName((seqs[k - 1] as number) + 1));
      throw corruption(`WAL segment ${missing} is missing between ${seqs[k - 1]} and ${seqs[k]}`, { file: missing, offsetBytes: 0 });
    }
  }
  if (manifest !== null && (seqs.length === 0 || (seqs[seqs.length - 1] as number) < covered.seq)) {
    const missing = posix.join(dir, segmentFileName(covered.seq));
    throw corruption(`WAL segment ${missing}, named by the manifest, is missing`, { file: missing, offsetBytes: 0 });
  }

  const fromManifest = new Map<GroupId, ManifestGroup>();
  for (const g of manifest?.groups ?? []) fromManifest.set(g.group, g);
  const replays = new Map<GroupId, GroupReplay>();
  const replayFor = (group: GroupId): GroupReplay => {
    let r = replays.get(group);
    if (r === undefined) {
      if (replays.size >= limits.groupsMax) {
        throw corruption(`WAL holds more than groupsMax ${limits.groupsMax} groups`, { groupsMax: limits.groupsMax });
      }
      r = new GroupReplay(group, covered, fromManifest.get(group) ?? null);
      replays.set(group, r);
    }
    return r;
  };
  for (const g of fromManifest.keys()) replayFor(g);

  const segments: RecoveredSegment[] = [];
  let tailTruncation: TailTruncation | null = null;
  let recordsScanned = 0;
  for (let k = 0; k < seqs.length; k++) {
    const seq = seqs[k] as number;
    const file = posix.join(dir, segmentFileName(seq));
    const isLast = k === seqs.length - 1;
    let bytes: Uint8Array;
    try {
      bytes = await fs.readFile(file, limits.segmentFileBytesMax);
    } catch (err) {
      if (err instanceof OtlpdbError && err.code === 'ERR_LIMIT_EXCEEDED') {
        throw corruption(`WAL ${file} is larger than any segment the WAL writes (${limits.segmentFileBytesMax} bytes)`, {
          file,
          offsetBytes: limits.segmentFileBytesMax,
        });
      }
      throw err;
    }
    const scan = scanSegment(bytes, file, seq, isLast, limits.recordBytesMax);
    const seg: RecoveredSegment = { seq, sizeBytes: scan.validBytes, liveMaxIndex: new Map() };
    segments.push(seg);
    for (const { offsetBytes, record } of scan.records) {
      const pos = { seq, offsetBytes };
      const r = replayFor(record.group);
      switch (record.type) {
        case RecordType.Entries:
          r.applyEntries(record.entries);
          placeEntries(seg, record.group, (record.entries[record.entries.length - 1] as { index: number }).index);
          break;
        case RecordType.HardState:
          r.applyHardState(record.hardState, pos);
          break;
        case RecordType.Compact:
          r.applyCompact(record.index);
          break;
        case RecordType.SnapshotSaved:
          r.applySnapshotSaved(record.snapshot, pos);
          break;
        case RecordType.SnapshotApplied:
          r.applySnapshotApplied(record.snapshot, pos);
          voidEntries(segments, record.group);
          break;
        case RecordType.GroupRemoved:
          r.applyGroupRemoved(pos);
          voidEntries(segments, record.group);
          break;
      }
    }
    recordsScanned += scan.records.length;
    if (scan.tail !== null) {
      assert(isLast, 'a torn tail is tolerated only in the last segment');
      await fs.truncate(file, scan.validBytes);
      const f = await fs.open(file, 'append');
      try {
        await f.sync();
      } finally {
        await f.close();
      }
      if (scan.tail.droppedBytes > 0) tailTruncation = scan.tail;
    }
    if (seq === covered.seq && scan.validBytes < covered.offsetBytes) {
      throw corruption(
        `WAL ${file} ends at byte ${scan.validBytes} but the manifest covers it up to byte ${covered.offsetBytes}: synced records were lost`,
        { file, offsetBytes: scan.validBytes },
      );
    }
  }

  const groups = new Map<GroupId, RecoveredGroup>();
  // A group whose last record is GroupRemoved is forgotten: the WAL holds nothing of it.
  for (const [g, r] of replays) if (!r.removed) groups.set(g, r.finish());
  return { groups, segments, firstSegmentSeq, tailTruncation, ignoredFiles, recordsScanned };
}
