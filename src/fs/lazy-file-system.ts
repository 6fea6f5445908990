/**
 * lazy-file-system.ts — a FileSystem over a real one that keeps every
 * appended byte in the process's memory until its file is synced, so that
 * kill -9 of a real node process loses exactly what a power cut would lose
 * (the idea of Jepsen's LazyFS, as a wrapper instead of a FUSE mount).
 *
 * Why: on a real machine kill -9 cannot tell a WAL that fsyncs from one that
 * does not — unsynced bytes sit in the kernel's page cache and outlive the
 * process. The jepsen suite's planted "WAL that skips fsync" (node.ts
 * TEST_PLANTS `wal-skip-fsync`) is only caught when unsynced bytes die with
 * the process; a node runs on this file system only under the test fixture
 * `wal-lazy-fs`, never in production.
 *
 * Model:
 * - `open` creates or truncates the real file at once; appends go to the
 *   file's pending bytes (memory), `WritableFile.sync()` writes the pending
 *   bytes through the handle's real file and fsyncs it.
 * - Reads (`readFile`, `readRange`, `sizeBytes`) see the real bytes followed
 *   by the pending ones, as reads see the page cache.
 * - `rename` moves a file's pending bytes with it; `unlink` and `open(...,
 *   'truncate')` drop them; `truncate` cuts the pending bytes first, then the
 *   real file.
 * - Directory entries are not modelled: a created, renamed or removed name
 *   is durable at once (the real call is made at once). So the model is
 *   lenient on missing directory fsyncs; it is strict on file data only,
 *   which is what the WAL's record path depends on.
 *
 * Invariant: a path has pending bytes only while its real file exists; the
 * pending bytes of all files together stay within
 * LazyFsLimits.pendingBytesMax (an append past it is refused with
 * ERR_LIMIT_EXCEEDED: a test fixture must not grow without bound).
 */
import { OtlpdbError, assert } from '../errors.js';
import type { FileSystem, WritableFile, WriteMode } from './file-system.js';

/** LazyFsLimits bound the memory the lazy file system holds. */
export const LazyFsLimits = {
  /** pendingBytesMax bounds the unsynced bytes of all files together (a node syncs every driver iteration; a planted WAL that never syncs reaches it in a long run). */
  pendingBytesMax: 256 * 1024 * 1024,
} as const;

/** Pending is one file's unsynced appended bytes, in order. */
class Pending {
  chunks: Uint8Array[] = [];
  bytes = 0;

  joined(): Uint8Array {
    const out = new Uint8Array(this.bytes);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    assert(at === this.bytes, 'pending chunks add up to their byte count');
    return out;
  }
}

class LazyWritableFile implements WritableFile {
  readonly path: string;
  readonly #fs: LazyFileSystem;
  readonly #inner: WritableFile;
  #closed = false;

  constructor(fs: LazyFileSystem, path: string, inner: WritableFile) {
    this.path = path;
    this.#fs = fs;
    this.#inner = inner;
  }

  append(data: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(new OtlpdbError('ERR_INTERNAL', `invariant violated: append to ${this.path} after close`));
    this.#fs.hold(this.path, data);
    return Promise.resolve();
  }

  async sync(): Promise<void> {
    // NB: pending bytes are keyed by path; a file renamed while this handle is open would sync nothing here (no caller does that: the WAL, manifest, registry and snapshots sync before they rename).
    const p = this.#fs.take(this.path);
    if (p !== null && p.bytes > 0) await this.#inner.append(p.joined());
    await this.#inner.sync();
  }

  close(): Promise<void> {
    this.#closed = true;
    // Closing does not sync: pending bytes stay in "the page cache" until a sync or the process dies.
    return this.#inner.close();
  }
}

/** LazyFileSystem wraps `inner` and holds appended bytes in memory until their file is synced (see the model above). */
export class LazyFileSystem implements FileSystem {
  readonly #inner: FileSystem;
  readonly #pending = new Map<string, Pending>();
  #pendingBytes = 0;

  constructor(inner: FileSystem) {
    this.#inner = inner;
  }

  /** pendingBytes is how many appended bytes no sync has written through yet (what a power cut now would lose). */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** hold keeps a copy of `data` as the next pending bytes of `path` (called by the file's handle). */
  hold(path: string, data: Uint8Array): void {
    if (this.#pendingBytes + data.length > LazyFsLimits.pendingBytesMax) {
      throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `lazy file system: more than ${LazyFsLimits.pendingBytesMax} unsynced bytes (LazyFsLimits.pendingBytesMax)`);
    }
    let p = this.#pending.get(path);
    if (p === undefined) {
      p = new Pending();
      this.#pending.set(path, p);
    }
    p.chunks.push(data.slice());
    p.bytes += data.length;
    this.#pendingBytes += data.length;
  }

  /** take removes and returns the pending bytes of `path` (null when there are none). */
  take(path: string): Pending | null {
    const p = this.#pending.get(path) ?? null;
    if (p !== null) {
      this.#pending.delete(path);
      this.#pendingBytes -= p.bytes;
      assert(this.#pendingBytes >= 0, 'pending byte count never goes negative');
    }
    return p;
  }

  async open(path: string, mode: WriteMode): Promise<WritableFile> {
    const inner = await this.#inner.open(path, mode);
    if (mode === 'truncate') this.take(path);
    return new LazyWritableFile(this, path, inner);
  }

  async readFile(path: string, bytesMax: number): Promise<Uint8Array> {
    const p = this.#pending.get(path);
    const pendingBytes = p?.bytes ?? 0;
    if (pendingBytes > bytesMax) throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `${path}: more than ${bytesMax} bytes`);
    const real = await this.#inner.readFile(path, bytesMax - pendingBytes);
    if (p === undefined) return real;
    const out = new Uint8Array(real.length + p.bytes);
    out.set(real, 0);
    out.set(p.joined(), real.length);
    return out;
  }

  async readRange(path: string, offset: number, length: number): Promise<Uint8Array> {
    const p = this.#pending.get(path);
    if (p === undefined) return this.#inner.readRange(path, offset, length);
    const realBytes = await this.#inner.sizeBytes(path);
    const end = Math.min(offset + length, realBytes + p.bytes);
    if (end <= offset) return new Uint8Array(0);
    const out = new Uint8Array(end - offset);
    if (offset < realBytes) out.set(await this.#inner.readRange(path, offset, Math.min(end, realBytes) - offset), 0);
    if (end > realBytes) {
      const from = Math.max(offset, realBytes);
      out.set(p.joined().subarray(from - realBytes, end - realBytes), from - offset);
    }
    return out;
  }

  async sizeBytes(path: string): Promise<number> {
    return (await this.#inner.sizeBytes(path)) + (this.#pending.get(path)?.bytes ?? 0);
  }

  exists(path: string): Promise<boolean> {
    return this.#inner.exists(path);
  }

  readdir(dir: string): Promise<string[]> {
    return this.#inner.readdir(dir);
  }

  mkdirp(dir: string): Promise<void> {
    return this.#inner.mkdirp(dir);
  }

  async rename(from: string, to: string): Promise<void> {
    await this.#inner.rename(from, to);
    this.take(to);
    const p = this.take(from);
    if (p !== null) for (const c of p.chunks) this.hold(to, c);
  }

  async unlink(path: string): Promise<void> {
    await this.#inner.unlink(path);
    this.take(path);
  }

  async truncate(path: string, sizeBytes: number): Promise<void> {
    const p = this.take(path);
    if (p === null) return this.#inner.truncate(path, sizeBytes);
    const realBytes = await this.#inner.sizeBytes(path);
    if (sizeBytes <= realBytes) return this.#inner.truncate(path, sizeBytes);
    // The cut falls in the pending bytes (or past them: zeros), which stay pending.
    const all = p.joined();
    const kept = new Uint8Array(sizeBytes - realBytes);
    kept.set(all.subarray(0, Math.min(all.length, kept.length)), 0);
    this.hold(path, kept);
  }

  fsyncDir(dir: string): Promise<void> {
    return this.#inner.fsyncDir(dir);
  }
}
