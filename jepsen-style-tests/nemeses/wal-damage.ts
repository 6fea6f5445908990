/**
 * wal-damage.ts — the disk nemesis's damage to the WAL of a killed node
 * (DATA/wal, layout in src/raft/wal/segment-file.ts and record-format.ts),
 * of two kinds whose outcomes differ, as DESIGN.md §3 promises:
 *
 * - torn tail: a record cut short is appended to the last segment, as a
 *   crash in the middle of a write leaves it (a header whose length runs
 *   past the end of the file, then part of a payload). Nothing that was
 *   ever synced is removed, so nothing acknowledged can be lost. Recovery
 *   must truncate it and the node must start; checkTornTailGone says
 *   whether it was cut.
 * - corruption before the tail: one byte of a record that has a valid
 *   record after it is flipped (a CRC mismatch with data behind it). The
 *   node must refuse to start with ERR_CORRUPTION rather than drop what
 *   follows. The damage keeps the original byte so the nemesis can restore
 *   it and restart the node on exactly the log it had.
 *
 * Only whole files of a stopped node are touched; every offset is checked
 * against the file it names before it is written.
 */
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { assert } from '../../src/errors.js';
import { RECORD_HEADER_BYTES } from '../../src/raft/wal/record-format.js';
import { SEGMENT_HEADER_BYTES, parseSegmentFileName } from '../../src/raft/wal/segment-file.js';
import type { Prng } from '../sim/prng.js';

/** TORN_LENGTH_MIN and TORN_LENGTH_MAX bound the payload length a torn record claims (bytes); fewer bytes than that follow it. */
const TORN_LENGTH_MIN = 64;
const TORN_LENGTH_MAX = 4096;

/** WalDamage is what the nemesis did to one WAL, for the report and to undo it. */
export interface WalDamage {
  readonly kind: 'torn-tail' | 'corrupt';
  readonly file: string;
  /** offsetBytes is where the torn record starts, or the flipped byte. */
  readonly offsetBytes: number;
  /** bytes are the torn record's bytes, or the flipped byte's original value (one byte). */
  readonly bytes: Uint8Array;
}

/** walSegments lists the segment files of a WAL directory, oldest first. */
export async function walSegments(walDir: string): Promise<string[]> {
  const names = await readdir(walDir);
  return names
    .map((n) => ({ n, seq: parseSegmentFileName(n) }))
    .filter((x): x is { n: string; seq: number } => x.seq !== null)
    .sort((a, b) => a.seq - b.seq)
    .map((x) => join(walDir, x.n));
}

/** recordStarts walks a segment's records by their length fields and returns where each starts (stops at the first that does not fit). */
export function recordStarts(bytes: Uint8Array): number[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: number[] = [];
  let at = SEGMENT_HEADER_BYTES;
  while (at + RECORD_HEADER_BYTES <= bytes.length) {
    const end = at + RECORD_HEADER_BYTES + v.getUint32(at, true);
    if (end > bytes.length) break;
    out.push(at);
    at = end;
  }
  return out;
}

/** tearTail appends a torn record to the last segment of `walDir`. */
export async function tearTail(walDir: string, rng: Prng): Promise<WalDamage> {
  const segs = await walSegments(walDir);
  const file = segs[segs.length - 1];
  assert(file !== undefined, 'a WAL has a segment');
  const offsetBytes = (await stat(file)).size;
  const claimed = rng.range(TORN_LENGTH_MIN, TORN_LENGTH_MAX);
  const written = rng.range(1, claimed - 1);
  const bytes = new Uint8Array(RECORD_HEADER_BYTES + written);
  const v = new DataView(bytes.buffer);
  v.setUint32(0, claimed, true);
  for (let i = 4; i < bytes.length; i++) bytes[i] = rng.intn(256);
  const f = await open(file, 'a');
  try {
    await f.write(bytes);
    await f.sync();
  } finally {
    await f.close();
  }
  assert((await stat(file)).size === offsetBytes + bytes.length, 'the torn record was appended whole');
  return { kind: 'torn-tail', file, offsetBytes, bytes };
}

/** tornTailGone says whether the torn record of `d` is no longer in its file (recovery truncated it; later writes may fill the space). */
export async function tornTailGone(d: WalDamage): Promise<boolean> {
  assert(d.kind === 'torn-tail', 'only a torn tail is checked this way');
  const now = await readFile(d.file);
  if (now.length < d.offsetBytes + d.bytes.length) return true;
  return !Buffer.from(d.bytes).equals(now.subarray(d.offsetBytes, d.offsetBytes + d.bytes.length));
}

/**
 * corruptBeforeTail flips one byte inside the payload (or, for an empty
 * payload, the group field) of a record that has a whole record after it:
 * the newest segment with two records or more, its second-to-last record
 * (the log the node will need, not an old compacted one). Null when no
 * segment has two records.
 */
export async function corruptBeforeTail(walDir: string, rng: Prng): Promise<WalDamage | null> {
  const segs = await walSegments(walDir);
  for (let i = segs.length - 1; i >= 0; i--) {
    const file = segs[i] as string;
    const bytes = await readFile(file);
    const starts = recordStarts(bytes);
    if (starts.length < 2) continue;
    const at = starts[starts.length - 2] as number;
    const length = bytes.readUInt32LE(at);
    const offsetBytes = length > 0 ? at + RECORD_HEADER_BYTES + rng.intn(length) : at + 8;
    assert(offsetBytes < (starts[starts.length - 1] as number), 'the flipped byte is before the last record');
    const original = bytes.subarray(offsetBytes, offsetBytes + 1);
    const flipped = Buffer.from([(original[0] as number) ^ rng.range(1, 255)]);
    await writeAt(file, offsetBytes, flipped);
    return { kind: 'corrupt', file, offsetBytes, bytes: new Uint8Array(original) };
  }
  return null;
}

/** restoreCorruption writes the flipped byte back. */
export async function restoreCorruption(d: WalDamage): Promise<void> {
  assert(d.kind === 'corrupt' && d.bytes.length === 1, 'only a flipped byte is restored');
  assert(d.offsetBytes < (await stat(d.file)).size, 'the byte is still inside its file');
  await writeAt(d.file, d.offsetBytes, d.bytes);
}

async function writeAt(file: string, offsetBytes: number, bytes: Uint8Array): Promise<void> {
  const f = await open(file, 'r+');
  try {
    await f.write(bytes, 0, bytes.length, offsetBytes);
    await f.sync();
  } finally {
    await f.close();
  }
}

