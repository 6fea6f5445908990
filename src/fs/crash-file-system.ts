/**
 * crash-file-system.ts — an in-memory FileSystem that models the page cache,
 * so tests can cut the power at any point and see only what was made
 * durable.
 *
 * Model (the strict POSIX reading of file-system.ts):
 * - A file is an inode with `bytes` (what reads see: the page cache) and
 *   `durable` (what survives a crash). `WritableFile.sync()` copies bytes to
 *   durable. `truncate` changes bytes only.
 * - The namespace exists twice: `#current` (what calls see) and `#durable`
 *   (what survives). `fsyncDir(d)` copies the current entries whose parent is
 *   `d` (additions, replacements, removals) into `#durable`. Directories made
 *   by `mkdirp` are entries of their parent like files; `/` always exists.
 * - `crash()` keeps only durable entries whose every ancestor is a durable
 *   directory, resets every surviving inode to its durable bytes (with
 *   `tornWrites`, plus a random prefix of the unsynced tail when the unsynced
 *   part is a pure append), invalidates every open handle, and the file
 *   system then works as after a reboot.
 * - `crashAfterOps(n)` arms a crash: the n-th mutating call from now on
 *   crashes instead of running, and every call fails with FsCrashedError
 *   until `reboot()`. This is how a test cuts the power in the middle of a
 *   multi-step operation (a sync, a manifest rewrite).
 *
 * Invariants:
 * - `#current` and `#durable` always contain `/` as a directory.
 * - Every entry of `#current` has its parent directory in `#current`.
 * - A handle is usable only while its `epoch` equals the file system's
 *   `#epoch` (bumped by every crash).
 * Randomness comes only from the injected `IntnRand` (seeded in tests).
 */
import { posix } from 'node:path';
import { OtlpdbError, assert } from '../errors.js';
import type { FileSystem, WritableFile, WriteMode } from './file-system.js';
import type { IntnRand } from './seeded-rand.js';

/** CrashFsLimits bound the in-memory file system (tests only). */
export const CrashFsLimits = {
  /** fileBytesMax refuses a file larger than this; a test that needs more is doing something else. */
  fileBytesMax: 1024 * 1024 * 1024,
  /** entriesMax bounds the number of files and directories. */
  entriesMax: 1_000_000,
} as const;

/** FsCrashedError is what every call returns between an armed crash firing and `reboot()`: the process is gone. */
export class FsCrashedError extends Error {
  constructor(op: string) {
    super(`file system crashed (power cut) during ${op}`);
    this.name = 'FsCrashedError';
  }
}

/** CrashOptions says how `crash()` treats writes that were not synced. */
export interface CrashOptions {
  /** tornWrites keeps a random prefix of each file's unsynced appended tail instead of dropping all of it. */
  readonly tornWrites?: boolean;
}

/** CrashFsStats counts what the workload asked of the file system (for tests that assert fsync counts). */
export interface CrashFsStats {
  /** mutatingOps counts every call that `crashAfterOps` counts (opens, appends, syncs, renames, unlinks, truncates, mkdirs). */
  mutatingOps: number;
  fileSyncs: number;
  dirSyncs: number;
  appends: number;
  crashes: number;
}

class Inode {
  bytes: Uint8Array = new Uint8Array(64);
  length = 0;
  durable: Uint8Array = new Uint8Array(0);

  view(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }

  setLength(n: number): void {
    assert(n >= 0 && n <= CrashFsLimits.fileBytesMax, 'file length within CrashFsLimits.fileBytesMax');
    if (n > this.bytes.length) {
      let cap = this.bytes.length;
      while (cap < n) cap *= 2;
      const grown = new Uint8Array(cap);
      grown.set(this.view());
      this.bytes = grown;
    }
    if (n > this.length) this.bytes.fill(0, this.length, n);
    this.length = n;
  }

  append(data: Uint8Array): void {
    const at = this.length;
    this.setLength(at + data.length);
    this.bytes.set(data, at);
  }

  /** unsyncedIsAppend says whether the current bytes are the durable bytes followed by more. */
  unsyncedIsAppend(): boolean {
    if (this.length < this.durable.length) return false;
    const cur = this.bytes;
    const dur = this.durable;
    for (let i = 0; i < dur.length; i++) if (cur[i] !== dur[i]) return false;
    return true;
  }
}

type Node = { readonly kind: 'dir' } | { readonly kind: 'file'; readonly inode: Inode };

const DIR: Node = { kind: 'dir' };

function fsError(code: string, syscall: string, path: string): Error {
  const err = new Error(`${code}: ${syscall} '${path}'`) as Error & { code: string; syscall: string; path: string };
  err.code = code;
  err.syscall = syscall;
  err.path = path;
  return err;
}

function norm(path: string): string {
  return posix.resolve('/', path);
}

class CrashWritableFile implements WritableFile {
  readonly path: string;
  readonly #fs: CrashFileSystem;
  readonly #inode: Inode;
  readonly #epoch: number;
  #closed = false;

  constructor(fs: CrashFileSystem, path: string, inode: Inode, epoch: number) {
    this.#fs = fs;
    this.path = path;
    this.#inode = inode;
    this.#epoch = epoch;
  }

  async append(data: Uint8Array): Promise<void> {
    this.#check('append');
    this.#fs.mutate('append', this.#epoch);
    this.#fs.stats.appends++;
    this.#inode.append(data);
  }

  async sync(): Promise<void> {
    this.#check('sync');
    this.#fs.mutate('fsync', this.#epoch);
    this.#fs.stats.fileSyncs++;
    this.#inode.durable = this.#inode.view().slice();
  }

  async close(): Promise<void> {
    assert(!this.#closed, 'close on an open file');
    this.#closed = true;
  }

  #check(op: string): void {
    assert(!this.#closed, `${op} on an open file`);
  }
}

/** CrashFileSystem is the in-memory, crash-simulating FileSystem for tests; see the model at the top of this file. */
export class CrashFileSystem implements FileSystem {
  /** stats counts appends, fsyncs and crashes since construction. */
  readonly stats: CrashFsStats = { mutatingOps: 0, fileSyncs: 0, dirSyncs: 0, appends: 0, crashes: 0 };
  readonly #rand: IntnRand;
  #current = new Map<string, Node>([['/', DIR]]);
  #durable = new Map<string, Node>([['/', DIR]]);
  #epoch = 0;
  #down = false;
  #opsUntilCrash = -1;
  #armedOptions: CrashOptions = {};

  constructor(rand: IntnRand) {
    this.#rand = rand;
  }

  /** isDown says whether an armed crash has fired and `reboot()` has not been called yet. */
  get isDown(): boolean {
    return this.#down;
  }

  /** crash cuts the power now and reboots: everything not durable is lost (see the model above). */
  crash(options: CrashOptions = {}): void {
    this.#discardVolatile(options);
    this.#down = false;
  }

  /** crashAfterOps arms a crash on the n-th mutating call from now (n >= 1); the file system stays down until `reboot()`. */
  crashAfterOps(n: number, options: CrashOptions = {}): void {
    assert(Number.isSafeInteger(n) && n >= 1, 'crashAfterOps n >= 1');
    this.#opsUntilCrash = n;
    this.#armedOptions = options;
  }

  /** disarm cancels an armed crash that has not fired. */
  disarm(): void {
    this.#opsUntilCrash = -1;
  }

  /** reboot brings the file system back after an armed crash fired. */
  reboot(): void {
    this.#down = false;
  }

  /** mutate is called by every mutating operation: it fails when down, and fires an armed crash. Internal to this file. */
  mutate(op: string, epoch: number = this.#epoch): void {
    if (this.#down) throw new FsCrashedError(op);
    if (epoch !== this.#epoch) throw new FsCrashedError(`${op} on a handle opened before a crash`);
    this.stats.mutatingOps++;
    if (this.#opsUntilCrash > 0) {
      this.#opsUntilCrash--;
      if (this.#opsUntilCrash === 0) {
        this.#opsUntilCrash = -1;
        this.#discardVolatile(this.#armedOptions);
        this.#down = true;
        throw new FsCrashedError(op);
      }
    }
  }

  #read(op: string): void {
    if (this.#down) throw new FsCrashedError(op);
  }

  #discardVolatile(options: CrashOptions): void {
    this.stats.crashes++;
    this.#epoch++;
    const survivors = new Map<string, Node>([['/', DIR]]);
    // Shortest paths first, so a parent is decided before its children.
    const paths = [...this.#durable.keys()].sort((a, b) => a.length - b.length);
    for (const path of paths) {
      if (path === '/') continue;
      const parent = survivors.get(posix.dirname(path));
      if (parent === undefined || parent.kind !== 'dir') continue;
      survivors.set(path, this.#durable.get(path) as Node);
    }
    const seen = new Set<Inode>();
    for (const node of survivors.values()) {
      if (node.kind !== 'file' || seen.has(node.inode)) continue;
      seen.add(node.inode);
      const inode = node.inode;
      let keep = inode.durable;
      if (options.tornWrites === true && inode.unsyncedIsAppend() && inode.length > inode.durable.length) {
        const extra = this.#rand.intn(inode.length - inode.durable.length + 1);
        keep = inode.bytes.slice(0, inode.durable.length + extra);
      }
      inode.length = 0;
      inode.append(keep);
      inode.durable = keep.slice();
    }
    this.#current = survivors;
    this.#durable = new Map(survivors);
    assert(this.#current.get('/')?.kind === 'dir', 'root survives a crash');
  }

  #file(path: string, syscall: string): Inode {
    const node = this.#current.get(path);
    if (node === undefined) throw fsError('ENOENT', syscall, path);
    if (node.kind !== 'file') throw fsError('EISDIR', syscall, path);
    return node.inode;
  }

  #requireParentDir(path: string, syscall: string): void {
    const parent = this.#current.get(posix.dirname(path));
    if (parent === undefined) throw fsError('ENOENT', syscall, path);
    if (parent.kind !== 'dir') throw fsError('ENOTDIR', syscall, path);
  }

  #setEntry(path: string, node: Node): void {
    assert(this.#current.size < CrashFsLimits.entriesMax || this.#current.has(path), 'entries within CrashFsLimits.entriesMax');
    this.#current.set(path, node);
  }

  async open(path: string, mode: WriteMode): Promise<WritableFile> {
    const p = norm(path);
    this.mutate('open');
    const node = this.#current.get(p);
    let inode: Inode;
    if (node === undefined) {
      this.#requireParentDir(p, 'open');
      inode = new Inode();
      this.#setEntry(p, { kind: 'file', inode });
    } else {
      if (node.kind !== 'file') throw fsError('EISDIR', 'open', p);
      inode = node.inode;
      if (mode === 'truncate') inode.setLength(0);
    }
    return new CrashWritableFile(this, path, inode, this.#epoch);
  }

  async readFile(path: string, bytesMax: number): Promise<Uint8Array> {
    this.#read('readFile');
    const p = norm(path);
    const inode = this.#file(p, 'open');
    if (inode.length > bytesMax) {
      throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `${path} is ${inode.length} bytes, more than the ${bytesMax} this read allows`, {
        path,
        sizeBytes: inode.length,
        bytesMax,
      });
    }
    return inode.view().slice();
  }

  async readRange(path: string, offset: number, length: number): Promise<Uint8Array> {
    this.#read('readRange');
    assert(Number.isSafeInteger(offset) && offset >= 0, 'readRange offset >= 0');
    assert(Number.isSafeInteger(length) && length >= 0, 'readRange length >= 0');
    const inode = this.#file(norm(path), 'open');
    const end = Math.min(inode.length, offset + length);
    return offset >= end ? new Uint8Array(0) : inode.bytes.slice(offset, end);
  }

  async sizeBytes(path: string): Promise<number> {
    this.#read('stat');
    return this.#file(norm(path), 'stat').length;
  }

  async exists(path: string): Promise<boolean> {
    this.#read('stat');
    return this.#current.has(norm(path));
  }

  async readdir(dir: string): Promise<string[]> {
    this.#read('readdir');
    const d = norm(dir);
    const node = this.#current.get(d);
    if (node === undefined) throw fsError('ENOENT', 'scandir', d);
    if (node.kind !== 'dir') throw fsError('ENOTDIR', 'scandir', d);
    const names: string[] = [];
    for (const path of this.#current.keys()) {
      if (path !== '/' && posix.dirname(path) === d) names.push(posix.basename(path));
    }
    return names.sort();
  }

  async mkdirp(dir: string): Promise<void> {
    const d = norm(dir);
    this.mutate('mkdir');
    const missing: string[] = [];
    for (let p = d; ; p = posix.dirname(p)) {
      const node = this.#current.get(p);
      if (node !== undefined) {
        if (node.kind !== 'dir') throw fsError('ENOTDIR', 'mkdir', p);
        break;
      }
      missing.push(p);
      assert(p !== '/', 'root always exists');
    }
    for (const p of missing.reverse()) this.#setEntry(p, DIR);
  }

  async rename(from: string, to: string): Promise<void> {
    const f = norm(from);
    const t = norm(to);
    this.mutate('rename');
    const inode = this.#file(f, 'rename');
    this.#requireParentDir(t, 'rename');
    const target = this.#current.get(t);
    if (target !== undefined && target.kind === 'dir') throw fsError('EISDIR', 'rename', t);
    if (f === t) return;
    this.#current.delete(f);
    this.#setEntry(t, { kind: 'file', inode });
  }

  async unlink(path: string): Promise<void> {
    const p = norm(path);
    this.mutate('unlink');
    this.#file(p, 'unlink');
    this.#current.delete(p);
  }

  async truncate(path: string, sizeBytes: number): Promise<void> {
    assert(Number.isSafeInteger(sizeBytes) && sizeBytes >= 0, 'truncate size >= 0');
    const p = norm(path);
    this.mutate('truncate');
    this.#file(p, 'truncate').setLength(sizeBytes);
  }

  async fsyncDir(dir: string): Promise<void> {
    const d = norm(dir);
    this.mutate('fsyncDir');
    const node = this.#current.get(d);
    if (node === undefined) throw fsError('ENOENT', 'open', d);
    if (node.kind !== 'dir') throw fsError('ENOTDIR', 'open', d);
    this.stats.dirSyncs++;
    for (const path of [...this.#durable.keys()]) {
      if (path !== '/' && posix.dirname(path) === d && !this.#current.has(path)) this.#durable.delete(path);
    }
    for (const [path, n] of this.#current) {
      if (path !== '/' && posix.dirname(path) === d) this.#durable.set(path, n);
    }
  }
}
