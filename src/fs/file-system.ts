/**
 * file-system.ts — the one interface through which otlpdb's storage code
 * (the shared WAL, later the LevelDB-adjacent code) reaches the operating
 * system's file system, as LevelDB's `Env`.
 *
 * Two implementations: `NodeFileSystem` (the real one, node:fs/promises with
 * real fsync of files and directories) and `CrashFileSystem` (in memory,
 * models the page cache so tests can drop every write that was not fsynced).
 *
 * Durability contract, the strict POSIX reading that both implementations
 * honour and callers must assume:
 * - bytes appended to a file are durable only once that file is fsynced
 *   (`WritableFile.sync()`);
 * - a created, renamed or unlinked directory entry is durable only once its
 *   directory is fsynced (`fsyncDir(dir)`); fsyncing a file does not make its
 *   name durable, and a directory made by `mkdirp` is itself an entry of its
 *   parent;
 * - `truncate` of a file is durable only once the file is fsynced.
 *
 * Errors: a missing path rejects with an error whose `code` is `'ENOENT'`
 * (`isNotFoundError`); other OS errors are passed through unchanged. A read
 * larger than its caller's bound rejects with OtlpdbError ERR_LIMIT_EXCEEDED
 * before anything is allocated.
 */

/** WriteMode says how `FileSystem.open` treats an existing file: keep its bytes and append, or truncate it to zero first. */
export type WriteMode = 'append' | 'truncate';

/**
 * WritableFile is an open file that only grows at its end (plus `sync`). Its
 * writes are volatile until `sync()` resolves.
 */
export interface WritableFile {
  /** path is the file's path as given to `open`. */
  readonly path: string;
  /** append writes all of `data` at the end of the file. */
  append(data: Uint8Array): Promise<void>;
  /** sync makes every byte appended so far durable (fsync). */
  sync(): Promise<void>;
  /** close releases the handle; it does not sync. */
  close(): Promise<void>;
}

/** FileSystem is every file-system call storage code makes; see the durability contract at the top of this file. */
export interface FileSystem {
  /** open opens (creating if missing) a file for writing at its end; the parent directory must exist. */
  open(path: string, mode: WriteMode): Promise<WritableFile>;
  /** readFile reads a whole file, refusing (ERR_LIMIT_EXCEEDED) one larger than `bytesMax` without reading it. */
  readFile(path: string, bytesMax: number): Promise<Uint8Array>;
  /** readRange reads up to `length` bytes at `offset` (fewer at the end of the file). */
  readRange(path: string, offset: number, length: number): Promise<Uint8Array>;
  /** sizeBytes is the current size of a file (stat). */
  sizeBytes(path: string): Promise<number>;
  /** exists says whether a file or directory exists at `path`. */
  exists(path: string): Promise<boolean>;
  /** readdir lists the names in a directory, sorted. */
  readdir(dir: string): Promise<string[]>;
  /** mkdirp creates a directory and any missing ancestors (mkdir -p); volatile until each parent is fsynced. */
  mkdirp(dir: string): Promise<void>;
  /** rename atomically replaces `to` with `from`; volatile until both directories are fsynced. */
  rename(from: string, to: string): Promise<void>;
  /** unlink removes a file's directory entry; volatile until its directory is fsynced. */
  unlink(path: string): Promise<void>;
  /** truncate sets a file's size (extending with zeros); volatile until the file is fsynced. */
  truncate(path: string, sizeBytes: number): Promise<void>;
  /** fsyncDir makes the entries of a directory durable. */
  fsyncDir(dir: string): Promise<void>;
}

/** isNotFoundError says whether a FileSystem call failed because the path does not exist. */
export function isNotFoundError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'ENOENT';
}
