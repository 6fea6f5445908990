/**
 * wal-test-util.ts — what the WAL tests share: a reference model of one
 * group's persisted state (plain arrays, no encoding), a normal form to
 * compare recovered state with, and the seeded crash workload. Only tests
 * import this file.
 */
import { CrashFileSystem, FsCrashedError } from '../../fs/crash-file-system.js';
import type { FileSystem, WritableFile, WriteMode } from '../../fs/file-system.js';
import { SeededRand } from '../../fs/seeded-rand.js';
import type { Entry, EntryType, GroupId, HardState, SnapshotMetadata } from '../types.js';
import type { RecoveredGroup } from './group-replay.js';
import type { WalOptions } from './wal.js';
import { Wal } from './wal.js';

/** ent builds an entry whose data names it, so a mixed-up entry is visible in a diff. */
export function ent(index: number, term: number, data = `e${index}t${term}`, type: EntryType = 0): Entry {
  return { index, term, type, data: new TextEncoder().encode(data) };
}

/** ents builds entries [from, to] with one term. */
export function ents(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(ent(i, term));
  return out;
}

/** meta builds snapshot metadata with a fixed membership. */
export function meta(index: number, term: number): SnapshotMetadata {
  return { index, term, confState: { voters: [1, 2, 3], learners: [4] } };
}

/** Op is one buffered WAL call of the workload. */
export type Op =
  | { readonly kind: 'append'; readonly group: GroupId; readonly entries: Entry[] }
  | { readonly kind: 'hardState'; readonly group: GroupId; readonly hardState: HardState }
  | { readonly kind: 'saveSnapshot' | 'applySnapshot'; readonly group: GroupId; readonly meta: SnapshotMetadata }
  | { readonly kind: 'compact'; readonly group: GroupId; readonly index: number };

/** ModelGroup is the reference for one group's persisted state, applied with the same rules the WAL documents. */
export interface ModelGroup {
  hardState: HardState | null;
  snapshot: SnapshotMetadata | null;
  compactedIndex: number;
  entries: Entry[];
}

/** Model maps group ids to their reference state. */
export type Model = Map<GroupId, ModelGroup>;

function groupOf(m: Model, g: GroupId): ModelGroup {
  let s = m.get(g);
  if (s === undefined) {
    s = { hardState: null, snapshot: null, compactedIndex: 0, entries: [] };
    m.set(g, s);
  }
  return s;
}

/** modelLastIndex is the last index of a model group (compacted index when empty). */
export function modelLastIndex(s: ModelGroup): number {
  return s.entries.length === 0 ? s.compactedIndex : (s.entries[s.entries.length - 1] as Entry).index;
}

/** cloneModel deep-copies the state (entries are immutable and shared). */
export function cloneModel(m: Model): Model {
  const out: Model = new Map();
  for (const [g, s] of m) out.set(g, { ...s, entries: [...s.entries] });
  return out;
}

/** applyOp applies one op to the model in place. */
export function applyOp(m: Model, op: Op): void {
  const s = groupOf(m, op.group);
  switch (op.kind) {
    case 'append': {
      const kept = op.entries.filter((e) => e.index > s.compactedIndex);
      if (kept.length === 0) return;
      const first = (kept[0] as Entry).index;
      s.entries = s.entries.filter((e) => e.index < first).concat(kept);
      return;
    }
    case 'hardState':
      s.hardState = op.hardState;
      return;
    case 'saveSnapshot':
      s.snapshot = op.meta;
      return;
    case 'applySnapshot':
      s.snapshot = op.meta;
      s.compactedIndex = op.meta.index;
      s.entries = [];
      return;
    case 'compact':
      s.compactedIndex = op.index;
      s.entries = s.entries.filter((e) => e.index > op.index);
      return;
  }
}

/** applyToWal issues one op against the WAL. */
export function applyToWal(wal: Wal, op: Op): void {
  switch (op.kind) {
    case 'append':
      return wal.appendEntries(op.group, op.entries);
    case 'hardState':
      return wal.setHardState(op.group, op.hardState);
    case 'saveSnapshot':
      return wal.saveSnapshot(op.group, op.meta);
    case 'applySnapshot':
      return wal.applySnapshot(op.group, op.meta);
    case 'compact':
      return wal.compact(op.group, op.index);
  }
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** normalGroup is a comparable plain form of one group's state (entries as strings). */
export function normalGroup(s: ModelGroup | RecoveredGroup): object {
  return {
    hardState: s.hardState,
    snapshot: s.snapshot,
    compactedIndex: s.compactedIndex,
    entries: s.entries.map((e) => `${e.index}/${e.term}/${e.type}/${hex(e.data)}`),
  };
}

/** normalModel is the comparable form of a whole model; groups with nothing persisted are omitted. */
export function normalModel(m: ReadonlyMap<GroupId, ModelGroup | RecoveredGroup>): string {
  const out: Record<string, object> = {};
  for (const g of [...m.keys()].sort((a, b) => a - b)) {
    const s = m.get(g) as ModelGroup;
    if (s.hardState === null && s.snapshot === null && s.compactedIndex === 0 && s.entries.length === 0) continue;
    out[String(g)] = normalGroup(s);
  }
  return JSON.stringify(out);
}

/** randomOp draws a valid op for the current model (the WAL refuses invalid ones, which is tested elsewhere). */
export function randomOp(rand: SeededRand, m: Model, groups: number): Op {
  const group = rand.intn(groups);
  const s = groupOf(m, group);
  const last = modelLastIndex(s);
  const maxTerm = Math.max(
    s.hardState?.term ?? 1,
    s.snapshot?.term ?? 1,
    s.entries.length > 0 ? (s.entries[s.entries.length - 1] as Entry).term : 1,
  );
  const roll = rand.intn(100);
  if (roll < 55) {
    const conflict = last > s.compactedIndex && rand.intn(5) === 0;
    const first = conflict ? Math.max(s.compactedIndex + 1, last - rand.intn(4)) : last + 1;
    const term = conflict ? maxTerm + 1 : maxTerm;
    const out: Entry[] = [];
    const n = 1 + rand.intn(4);
    for (let k = 0; k < n; k++) {
      const data = new Uint8Array(rand.intn(40));
      for (let b = 0; b < data.length; b++) data[b] = rand.intn(256);
      out.push({ index: first + k, term, type: rand.intn(10) === 0 ? 1 : 0, data });
    }
    return { kind: 'append', group, entries: out };
  }
  if (roll < 80) {
    return { kind: 'hardState', group, hardState: { term: maxTerm + rand.intn(2), vote: rand.intn(4), commit: rand.intn(last + 1) } };
  }
  const snapIndex = s.snapshot?.index ?? 0;
  if (roll < 88 && last > Math.max(snapIndex, s.compactedIndex)) {
    const lo = Math.max(snapIndex + 1, s.compactedIndex);
    const index = lo + rand.intn(last - lo + 1);
    const e = s.entries.find((x) => x.index === index);
    return { kind: 'saveSnapshot', group, meta: { index, term: e?.term ?? maxTerm, confState: { voters: [1, 2, 3], learners: [] } } };
  }
  if (roll < 94 && last > s.compactedIndex) {
    return { kind: 'compact', group, index: s.compactedIndex + 1 + rand.intn(last - s.compactedIndex) };
  }
  if (roll < 97) {
    const index = Math.max(snapIndex, s.compactedIndex, last) + 1 + rand.intn(5);
    return { kind: 'applySnapshot', group, meta: { index, term: maxTerm + 1, confState: { voters: [1, 2], learners: [3] } } };
  }
  return { kind: 'hardState', group, hardState: { term: maxTerm, vote: 0, commit: 0 } };
}

/** FsWrapper builds the file system the WAL sees over the crash file system the test controls (a planted bug goes here). */
export type FsWrapper = (inner: CrashFileSystem) => FileSystem;

/** CrashWorkloadConfig sizes one seeded crash run. */
export interface CrashWorkloadConfig {
  readonly steps: number;
  readonly options: WalOptions;
  readonly wrap?: FsWrapper;
}

const WAL_DIR = '/data/wal';

/**
 * runCrashWorkload runs one seeded workload of buffered ops, syncs, purges
 * and crashes (between calls, and armed to fire inside a sync, a purge or an
 * open), and after every crash checks that the recovered state is exactly
 * the state acknowledged by the last completed sync plus a prefix of the ops
 * that were being synced when the power went (the last of them possibly cut
 * at a record boundary inside its batch). Returns null, or what went
 * wrong (the caller prints the seed).
 */
export async function runCrashWorkload(seed: number, config: CrashWorkloadConfig): Promise<string | null> {
  const rand = new SeededRand(seed);
  const crashFs = new CrashFileSystem(new SeededRand(seed ^ 0x5bd1e995));
  const fs = config.wrap?.(crashFs) ?? crashFs;
  const groups = 1 + rand.intn(4);
  let acked: Model = new Map();
  let pending: Op[] = [];
  let current: Model = new Map();
  let { wal } = await Wal.open(fs, WAL_DIR, config.options);

  const recover = async (step: number, inFlight: boolean): Promise<string | null> => {
    crashFs.reboot();
    // Sometimes cut the power again while recovery itself writes (tail truncation, leftover deletion).
    for (let attempt = 0; ; attempt++) {
      if (attempt < 2 && rand.intn(3) === 0) crashFs.crashAfterOps(1 + rand.intn(4), { tornWrites: rand.intn(2) === 0 });
      try {
        const opened = await Wal.open(fs, WAL_DIR, config.options);
        crashFs.disarm();
        wal = opened.wal;
        const got = normalModel(opened.recovery.groups);
        const candidates: Model[] = [];
        const state = cloneModel(acked);
        candidates.push(cloneModel(state));
        const maxK = inFlight ? pending.length : 0;
        for (let k = 0; k < maxK; k++) {
          const op = pending[k] as Op;
          if (op.kind === 'append') {
            // The WAL splits a large batch into several records, and only a whole record is atomic: any prefix of an
            // unacknowledged batch may survive.
            for (let j = 1; j < op.entries.length; j++) {
              const partial = cloneModel(state);
              applyOp(partial, { ...op, entries: op.entries.slice(0, j) });
              candidates.push(partial);
            }
          }
          applyOp(state, op);
          candidates.push(cloneModel(state));
        }
        const match = candidates.find((c) => normalModel(c) === got);
        if (match === undefined) {
          return (
            `step ${step}: recovered state is not the acknowledged state plus a prefix of the ${maxK} in-flight ops\n` +
            `recovered: ${got}\nacknowledged: ${normalModel(acked)}`
          );
        }
        acked = cloneModel(match);
        current = cloneModel(match);
        pending = [];
        return null;
      } catch (err) {
        if (!(err instanceof FsCrashedError)) return `step ${step}: open after a crash failed: ${String(err)}`;
        crashFs.reboot();
      }
    }
  };

  for (let step = 0; step < config.steps; step++) {
    const roll = rand.intn(100);
    if (roll < 70) {
      const op = randomOp(rand, current, groups);
      applyToWal(wal, op);
      applyOp(current, op);
      pending.push(op);
    } else if (roll < 90) {
      const armed = rand.intn(4) === 0;
      if (armed) crashFs.crashAfterOps(1 + rand.intn(6), { tornWrites: rand.intn(2) === 0 });
      try {
        await wal.sync();
        crashFs.disarm();
        acked = cloneModel(current);
        pending = [];
      } catch (err) {
        if (!(err instanceof FsCrashedError)) return `step ${step}: sync failed: ${String(err)}`;
        const failure = await recover(step, true);
        if (failure !== null) return failure;
      }
    } else if (roll < 95) {
      const armed = rand.intn(3) === 0;
      if (armed) crashFs.crashAfterOps(1 + rand.intn(8), { tornWrites: rand.intn(2) === 0 });
      try {
        await wal.purge();
        crashFs.disarm();
        acked = cloneModel(current);
        pending = [];
      } catch (err) {
        if (!(err instanceof FsCrashedError)) return `step ${step}: purge failed: ${String(err)}`;
        const failure = await recover(step, true);
        if (failure !== null) return failure;
      }
    } else {
      crashFs.crash({ tornWrites: rand.intn(2) === 0 });
      const failure = await recover(step, false);
      if (failure !== null) return failure;
    }
  }
  // A final crash: everything acknowledged must still be there.
  crashFs.crash({ tornWrites: true });
  return recover(config.steps, false);
}

/** noFileFsync is a planted bug: a file system whose file fsync does nothing. */
export const noFileFsync: FsWrapper = (inner) => wrapFs(inner, { skipFileSync: true, skipDirSync: false });

/** noDirFsync is a planted bug: a file system whose directory fsync does nothing. */
export const noDirFsync: FsWrapper = (inner) => wrapFs(inner, { skipFileSync: false, skipDirSync: true });

function wrapFs(inner: FileSystem, bug: { skipFileSync: boolean; skipDirSync: boolean }): FileSystem {
  return {
    async open(path: string, mode: WriteMode): Promise<WritableFile> {
      const f = await inner.open(path, mode);
      return {
        path: f.path,
        append: (data) => f.append(data),
        sync: async () => {
          if (!bug.skipFileSync) await f.sync();
        },
        close: () => f.close(),
      };
    },
    readFile: (p, max) => inner.readFile(p, max),
    readRange: (p, o, l) => inner.readRange(p, o, l),
    sizeBytes: (p) => inner.sizeBytes(p),
    exists: (p) => inner.exists(p),
    readdir: (d) => inner.readdir(d),
    mkdirp: (d) => inner.mkdirp(d),
    rename: (a, b) => inner.rename(a, b),
    unlink: (p) => inner.unlink(p),
    truncate: (p, n) => inner.truncate(p, n),
    fsyncDir: async (d) => {
      if (!bug.skipDirSync) await inner.fsyncDir(d);
    },
  };
}
