/**
 * node-file-system.ts — the real FileSystem over node:fs/promises. Every
 * `sync()` is a real fsync(2) of the file and every `fsyncDir` opens the
 * directory read-only and fsyncs it (Linux and macOS allow that; Windows does
 * not, see NB below).
 *
 * Invariant: a NodeWritableFile owns its FileHandle until `close()`; after
 * `close()` every call on it is a bug and fails an assertion.
 */
import { open, readdir, mkdir, rename, unlink, truncate, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { OtlpdbError, assert } from '../errors.js';
import type { FileSystem, WritableFile, WriteMode } from './file-system.js';
import { isNotFoundError } from './file-system.js';

/** NodeWritableFile is a WritableFile over one node FileHandle opened in append mode. */
class NodeWritableFile implements WritableFile {
  readonly path: string;
  #handle: FileHandle | null;

  constructor(path: string, handle: FileHandle) {
    this.path = path;
    this.#handle = handle;
  }

  async append(data: Uint8Array): Promise<void> {
    const handle = this.#handle;
    assert(handle !== null, 'append on an open file');
    let done = 0;
    // A write may be partial (a signal, a full pipe); loop until every byte is handed to the OS.
    while (done < data.length) {
      const { bytesWritten } = await handle.write(data, done, data.length - done);
      assert(bytesWritten > 0, 'write makes progress');
      done += bytesWritten;
    }
    assert(done === data.length, 'append wrote every byte');
  }

  async sync(): Promise<void> {
    assert(this.#handle !== null, 'sync on an open file');
    await this.#handle.sync();
  }

  async close(): Promise<void> {
    const handle = this.#handle;
    assert(handle !== null, 'close on an open file');
    this.#handle = null;
    await handle.close();
  }
}

/** NodeFileSystem is the production FileSystem: real files, real fsync. */
export class NodeFileSystem implements FileSystem {
  async open(path: string, mode: WriteMode): Promise<WritableFile> {
    const handle = await open(path, mode === 'append' ? 'a' : 'w');
    return new NodeWritableFile(path, handle);
  }

  async readFile(path: string, bytesMax: number): Promise<Uint8Array> {
    assert(Number.isSafeInteger(bytesMax) && bytesMax >= 0, 'readFile bytesMax is a non-negative integer');
    const handle = await open(path, 'r');
    try {
      const { size } = await handle.stat();
      if (size > bytesMax) {
        throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `${path} is ${size} bytes, more than the ${bytesMax} this read allows`, {
          path,
          sizeBytes: size,
          bytesMax,
        });
      }
      const out = new Uint8Array(size);
      let done = 0;
      while (done < size) {
        const { bytesRead } = await handle.read(out, done, size - done, done);
        if (bytesRead === 0) break; // The file shrank under us; return what is there.
        done += bytesRead;
      }
      return done === size ? out : out.subarray(0, done);
    } finally {
      await handle.close();
    }
  }

  async readRange(path: string, offset: number, length: number): Promise<Uint8Array> {
    assert(Number.isSafeInteger(offset) && offset >= 0, 'readRange offset >= 0');
    assert(Number.isSafeInteger(length) && length >= 0, 'readRange length >= 0');
    const handle = await open(path, 'r');
    try {
      const { size } = await handle.stat();
      const n = Math.max(0, Math.min(length, size - offset));
      const out = new Uint8Array(n);
      let done = 0;
      while (done < n) {
        const { bytesRead } = await handle.read(out, done, n - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return done === n ? out : out.subarray(0, done);
    } finally {
      await handle.close();
    }
  }

  async sizeBytes(path: string): Promise<number> {
    return (await stat(path)).size;
  }

  async exists(path: string): Promise<boolean> {
    try {
      await stat(path);
      return true;
    } catch (err) {
      if (isNotFoundError(err)) return false;
      throw err;
    }
  }

  async readdir(dir: string): Promise<string[]> {
    return (await readdir(dir)).sort();
  }

  async mkdirp(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
  }

  async rename(from: string, to: string): Promise<void> {
    await rename(from, to);
  }

  async unlink(path: string): Promise<void> {
    await unlink(path);
  }

  async truncate(path: string, sizeBytes: number): Promise<void> {
    assert(Number.isSafeInteger(sizeBytes) && sizeBytes >= 0, 'truncate size >= 0');
    await truncate(path, sizeBytes);
  }

  async fsyncDir(dir: string): Promise<void> {
    // NB: Windows cannot open a directory for fsync; otlpdb targets Linux and macOS.
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}
