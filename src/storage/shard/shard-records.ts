/**
 * shard-records.ts — the small records of a shard replica outside the
 * signal stores: the meta record (the durable Raft index) in LevelDB, the
 * result of applying one shard entry (what the proposer reads back), the
 * Raft snapshot descriptor, and the pages of a snapshot stream between
 * peers. Every decoder checks what it reads: a stored record that does not
 * decode is ERR_CORRUPTION; a peer's page that does not is ERR_INVALID_ARGUMENT.
 *
 * Meta record at key [KeySpace.Meta], sealed (BlockKind.shardMeta), payload msgpack:
 *   [ version = 1, appliedIndex uint, flushes uint, group uint ]
 * Idempotency window at key [KeySpace.Idempotency], sealed (BlockKind.idempotencyWindow):
 *   the IdempotencyWindow snapshot as of appliedIndex.
 * Snapshot descriptor (the Raft snapshot image of a shard group), msgpack:
 *   [ 'otlpdb-shard', version = 1, group uint, index uint ]
 */
import { OtlpdbError, assert } from '../../errors.js';
import { ShardLimits } from '../../limits.js';
import { BlockKind, openBlock, sealBlock } from '../block.js';
import { STORAGE_PACKR } from '../storage-packr.js';
import { crc32c } from '../../raft/wal/crc32c.js';
import { KeySpace } from './keys.js';
import { APPLY_RESULT_VERSION, decodeApplyResultFast, encodeApplyResultFast } from './apply-result-fast.js';

/** META_KEY and IDEMPOTENCY_KEY are the two shard-level keys. */
export const META_KEY = Uint8Array.of(KeySpace.Meta);
export const IDEMPOTENCY_KEY = Uint8Array.of(KeySpace.Idempotency);

/** SHARD_META_VERSION is the meta record version this code writes and reads. */
export const SHARD_META_VERSION = 1;

/** ShardMeta is what a replica's LevelDB says about itself. */
export interface ShardMeta {
  readonly appliedIndex: number;
  readonly flushes: number;
  readonly group: number;
}

function uint(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** encodeShardMeta seals a meta record. */
export function encodeShardMeta(m: ShardMeta): Uint8Array {
  assert(uint(m.appliedIndex) && uint(m.flushes) && uint(m.group), 'meta fields are non-negative safe integers');
  return sealBlock(BlockKind.shardMeta, STORAGE_PACKR.pack([SHARD_META_VERSION, m.appliedIndex, m.flushes, m.group]));
}

/** decodeShardMeta opens a meta record; anything else is ERR_CORRUPTION. */
export function decodeShardMeta(sealed: Uint8Array): ShardMeta {
  const payload = openBlock(sealed, BlockKind.shardMeta);
  let v: unknown;
  try {
    v = STORAGE_PACKR.unpack(payload);
  } catch {
    throw new OtlpdbError('ERR_CORRUPTION', 'shard meta record is not msgpack');
  }
  if (!Array.isArray(v) || v.length !== 4 || v[0] !== SHARD_META_VERSION || !uint(v[1]) || !uint(v[2]) || !uint(v[3])) {
    throw new OtlpdbError('ERR_CORRUPTION', 'shard meta record is malformed');
  }
  return { appliedIndex: v[1], flushes: v[2], group: v[3] };
}

const DESCRIPTOR_TAG = 'otlpdb-shard';
const DESCRIPTOR_VERSION = 1;

/** encodeSnapshotDescriptor is the Raft snapshot image of a shard group at `index`. */
export function encodeSnapshotDescriptor(group: number, index: number): Uint8Array {
  assert(uint(group) && uint(index), 'descriptor fields are non-negative safe integers');
  return STORAGE_PACKR.pack([DESCRIPTOR_TAG, DESCRIPTOR_VERSION, group, index]);
}

/** decodeSnapshotDescriptor reads a descriptor; null when the bytes are not one (an empty bootstrap image, or damage). */
export function decodeSnapshotDescriptor(bytes: Uint8Array): { readonly group: number; readonly index: number } | null {
  if (bytes.length === 0 || bytes.length > 64) return null;
  let v: unknown;
  try {
    v = STORAGE_PACKR.unpack(bytes);
  } catch {
    return null;
  }
  if (!Array.isArray(v) || v.length !== 4 || v[0] !== DESCRIPTOR_TAG || v[1] !== DESCRIPTOR_VERSION || !uint(v[2]) || !uint(v[3])) return null;
  return { group: v[2], index: v[3] };
}

/** SignalCounts says how many rows of one signal an entry carried and how many were kept. */
export interface SignalCounts {
  readonly accepted: number;
  readonly refused: number;
}

/** ApplyRefusal is one refused row of an entry: its signal, its index among that signal's rows, a stable code and why. */
export interface ApplyRefusal {
  readonly signal: 'traces' | 'metrics' | 'logs';
  readonly row: number;
  readonly code: string;
  readonly reason: string;
}

/**
 * ShardApplyResult is what applying one shard entry did, identical on every
 * replica: `duplicate` when the idempotency window had seen (key, part) (then
 * nothing was stored and the counts are zero), or `invalid` when the entry
 * did not decode (a proposer bug: nothing stored); else per-signal counts
 * and at most ShardLimits.refusalsPerResultMax refusals.
 */
export interface ShardApplyResult {
  readonly duplicate: boolean;
  readonly invalid: string | null;
  readonly spans: SignalCounts;
  readonly points: SignalCounts;
  readonly logs: SignalCounts;
  readonly refusals: readonly ApplyRefusal[];
}

const RESULT_VERSION = 1;
assert(RESULT_VERSION === APPLY_RESULT_VERSION, 'apply-result-fast.ts reads this version');

/** encodeApplyResult encodes a result for the proposer. */
export function encodeApplyResult(r: ShardApplyResult): Uint8Array {
  assert(r.refusals.length <= ShardLimits.refusalsPerResultMax, 'refusals within refusalsPerResultMax');
  // The common result (valid, no refusals) written straight to its bytes, the bytes msgpackr writes; anything else packed below.
  const fast = encodeApplyResultFast(r);
  if (fast !== null) return fast;
  return STORAGE_PACKR.pack([
    RESULT_VERSION,
    r.duplicate,
    r.invalid,
    [r.spans.accepted, r.spans.refused, r.points.accepted, r.points.refused, r.logs.accepted, r.logs.refused],
    r.refusals.map((f) => [f.signal, f.row, f.code, f.reason]),
  ]);
}

const SIGNAL_NAMES = new Set(['traces', 'metrics', 'logs']);

/** decodeApplyResult decodes a result; a malformed one is ERR_INVALID_ARGUMENT. */
export function decodeApplyResult(bytes: Uint8Array): ShardApplyResult {
  // The common result (valid, no refusals) without msgpackr's objects; anything else is decided below.
  const fast = decodeApplyResultFast(bytes);
  if (fast !== null) return fast;
  const bad = (why: string): OtlpdbError => new OtlpdbError('ERR_INVALID_ARGUMENT', `shard apply result: ${why}`);
  let v: unknown;
  try {
    v = STORAGE_PACKR.unpack(bytes);
  } catch {
    throw bad('not msgpack');
  }
  if (!Array.isArray(v) || v.length !== 5 || v[0] !== RESULT_VERSION || typeof v[1] !== 'boolean') throw bad('malformed');
  if (v[2] !== null && typeof v[2] !== 'string') throw bad('invalid is not a string');
  const c = v[3] as unknown;
  if (!Array.isArray(c) || c.length !== 6 || !c.every(uint)) throw bad('counts malformed');
  const fs = v[4] as unknown;
  if (!Array.isArray(fs) || fs.length > ShardLimits.refusalsPerResultMax) throw bad('refusals malformed');
  const refusals: ApplyRefusal[] = fs.map((f: unknown) => {
    if (!Array.isArray(f) || f.length !== 4 || !SIGNAL_NAMES.has(f[0] as string) || !uint(f[1]) || typeof f[2] !== 'string' || typeof f[3] !== 'string') {
      throw bad('refusal malformed');
    }
    return { signal: f[0] as ApplyRefusal['signal'], row: f[1], code: f[2], reason: f[3] };
  });
  const [sa, sr, pa, pr, la, lr] = c as number[];
  return {
    duplicate: v[1],
    invalid: v[2] as string | null,
    spans: { accepted: sa as number, refused: sr as number },
    points: { accepted: pa as number, refused: pr as number },
    logs: { accepted: la as number, refused: lr as number },
    refusals,
  };
}

/** SnapshotPageRequest asks a peer for the next page of its durable state of `group`. */
export interface SnapshotPageRequest {
  readonly group: number;
  /** session is 0 to open a stream, else the session the previous page named. */
  readonly session: number;
  /** minIndex is the Raft snapshot index the state must cover (the sender refuses when its durable index is lower). */
  readonly minIndex: number;
}

/** SnapshotPage is one page of a snapshot stream: key/value pairs in key order, all from one LevelDB snapshot. */
export interface SnapshotPage {
  readonly session: number;
  /** durableIndex is the applied index of the state being streamed. */
  readonly durableIndex: number;
  readonly entries: readonly (readonly [Uint8Array, Uint8Array])[];
  readonly done: boolean;
  /** count and crc cover every entry of the stream so far (CRC-32C chained over each key then value), so a lost or altered page is caught. */
  readonly count: number;
  readonly crc: number;
}

/** streamDigest folds one page's entries into a running (count, crc) of a snapshot stream. */
export function streamDigest(prev: { readonly count: number; readonly crc: number }, entries: readonly (readonly [Uint8Array, Uint8Array])[]): { count: number; crc: number } {
  let crc = prev.crc;
  for (const [k, v] of entries) {
    crc = crc32c(k, 0, k.length, crc);
    crc = crc32c(v, 0, v.length, crc);
  }
  return { count: prev.count + entries.length, crc };
}

/** encodeSnapshotPageRequest / decodeSnapshotPageRequest: msgpack [group, session, minIndex]. */
export function encodeSnapshotPageRequest(r: SnapshotPageRequest): Uint8Array {
  return STORAGE_PACKR.pack([r.group, r.session, r.minIndex]);
}

export function decodeSnapshotPageRequest(bytes: Uint8Array): SnapshotPageRequest {
  let v: unknown;
  try {
    v = STORAGE_PACKR.unpack(bytes);
  } catch {
    v = null;
  }
  if (!Array.isArray(v) || v.length !== 3 || !uint(v[0]) || !uint(v[1]) || !uint(v[2])) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'snapshot page request is malformed');
  }
  return { group: v[0], session: v[1], minIndex: v[2] };
}

/** encodeSnapshotPage / decodeSnapshotPage: msgpack [session, durableIndex, done, [[key, value]...], count, crc]. */
export function encodeSnapshotPage(p: SnapshotPage): Uint8Array {
  return STORAGE_PACKR.pack([p.session, p.durableIndex, p.done, p.entries, p.count, p.crc]);
}

export function decodeSnapshotPage(bytes: Uint8Array): SnapshotPage {
  const bad = (why: string): OtlpdbError => new OtlpdbError('ERR_INVALID_ARGUMENT', `snapshot page: ${why}`);
  let v: unknown;
  try {
    v = STORAGE_PACKR.unpack(bytes);
  } catch {
    throw bad('not msgpack');
  }
  if (!Array.isArray(v) || v.length !== 6 || !uint(v[0]) || !uint(v[1]) || typeof v[2] !== 'boolean' || !Array.isArray(v[3])) throw bad('malformed');
  if (!uint(v[4]) || !uint(v[5]) || v[5] > 0xffff_ffff) throw bad('digest malformed');
  const raw = v[3] as unknown[];
  if (raw.length > ShardLimits.snapshotPageEntriesMax) throw bad(`more than ${ShardLimits.snapshotPageEntriesMax} entries`);
  const entries = raw.map((e) => {
    if (!Array.isArray(e) || e.length !== 2 || !(e[0] instanceof Uint8Array) || !(e[1] instanceof Uint8Array) || e[0].length === 0) {
      throw bad('entry malformed');
    }
    return [e[0], e[1]] as const;
  });
  return { session: v[0], durableIndex: v[1], done: v[2], entries, count: v[4], crc: v[5] };
}
