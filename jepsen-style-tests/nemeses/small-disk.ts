/**
 * small-disk.ts — the full-disk fault: one node's data directory moved onto
 * a size-limited tmpfs mounted by the suite (as root), filled to within
 * nothing, and grown again when the
 * fault heals ("space returns"). Where mounting is impossible (not root, no
 * tmpfs) the probe says why and the nemesis skips the fault with a notice.
 *
 * The first full-disk fault on a node moves its data dir (node down) onto a
 * tmpfs; the fault itself, with the node running, shrinks that tmpfs to its
 * use plus a little and takes the rest with a ballast file, so the node
 * runs out of space at once.
 *
 * Ownership: SmallDisks records every mount point it created (at most one
 * per node) and the run's state file lists them (JepsenState.mounts), so a
 * crashed run's mounts are unmounted by `otlpdb jepsen cleanup`. A data dir
 * is moved only while its node is down: the original is renamed to
 * `<dataDir>.jepsen-disk` and copied onto the tmpfs mounted at `<dataDir>`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmdirSync } from 'node:fs';
import { cp, mkdir, open, rename, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OtlpdbError, assert } from '../../src/errors.js';
import { JepsenLimits } from '../../src/limits.js';

/** BALLAST_FILE is the file, in the data dir's root, that takes a full disk's last free bytes (removed when space returns). */
export const BALLAST_FILE = '.jepsen-ballast';

/** PAGE_BYTES is tmpfs's allocation unit: sizes are rounded up to it. */
const PAGE_BYTES = 4096;

/** MountProbe says whether the full-disk fault can run here, and why not. */
export interface MountProbe {
  readonly available: boolean;
  readonly reason: string;
}

function run(cmd: string, args: readonly string[]): { ok: boolean; out: string } {
  try {
    const out = execFileSync(cmd, args, { timeout: JepsenLimits.iptablesTimeoutMs, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { ok: true, out };
  } catch (err) {
    return { ok: false, out: String((err as { stderr?: unknown }).stderr ?? err).trim() };
  }
}

/** probeMount checks for root and mounts (then unmounts) a tiny tmpfs in a temp dir. */
export function probeMount(): MountProbe {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return { available: false, reason: 'not running as root, so no size-limited filesystem can be mounted' };
  const dir = mkdtempSync(join(tmpdir(), 'otlpdb-jepsen-probe-'));
  try {
    const m = run('mount', ['-t', 'tmpfs', '-o', `size=${PAGE_BYTES * 4}`, 'tmpfs', dir]);
    if (!m.ok) return { available: false, reason: `mount -t tmpfs does not work here (${m.out.split('\n')[0] ?? ''})` };
    run('umount', [dir]);
    return { available: true, reason: '' };
  } finally {
    rmdirSync(dir);
  }
}

/** roundUpPages rounds a byte count up to whole tmpfs pages. */
export function roundUpPages(bytes: number): number {
  assert(Number.isSafeInteger(bytes) && bytes >= 0, 'a byte count');
  return Math.ceil(bytes / PAGE_BYTES) * PAGE_BYTES;
}

/** usedBytes is what a mounted filesystem holds. */
async function usedBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return (s.blocks - s.bfree) * s.bsize;
}

/** unmount unmounts `dir` (lazily when busy); returns whether it is no longer a mount point. */
export function unmount(dir: string): boolean {
  if (!run('umount', [dir]).ok) run('umount', ['-l', dir]);
  return !isMountPoint(dir);
}

/** isMountPoint says whether `dir` is a mount point (per /proc/self/mounts). */
export function isMountPoint(dir: string): boolean {
  const r = run('findmnt', ['-n', '-M', dir]);
  return r.ok && r.out.trim() !== '';
}

/** SmallDisks owns the size-limited mounts of one run. */
export class SmallDisks {
  /** #mounts are the mount points this run created, in order. */
  readonly #mounts: string[] = [];
  readonly #onChange: (mounts: readonly string[]) => Promise<void>;

  /** `onChange` persists the list (the state file) before a mount is made and after one is removed. */
  constructor(onChange: (mounts: readonly string[]) => Promise<void>) {
    this.#onChange = onChange;
  }

  /** mounts are the mount points held now. */
  get mounts(): readonly string[] {
    return this.#mounts;
  }

  /**
   * move puts `dataDir` (its node down) on a tmpfs of
   * JepsenLimits.diskGrownBytes, with its files; a data dir already on one
   * stays where it is.
   */
  async move(dataDir: string): Promise<void> {
    if (this.#mounts.includes(dataDir)) return;
    assert(this.#mounts.length < JepsenLimits.diskMountsMax, 'a bounded number of mounts');
    const moved = `${dataDir}.jepsen-disk`;
    await rename(dataDir, moved);
    await mkdir(dataDir);
    this.#mounts.push(dataDir);
    await this.#onChange(this.#mounts);
    const m = run('mount', ['-t', 'tmpfs', '-o', `size=${JepsenLimits.diskGrownBytes}`, 'tmpfs', dataDir]);
    if (!m.ok) throw new OtlpdbError('ERR_UNAVAILABLE', `mount tmpfs on ${dataDir}: ${m.out}`);
    await cp(moved, dataDir, { recursive: true, preserveTimestamps: true });
  }

  /**
   * fill shrinks `dataDir`'s tmpfs (moved first when it is not on one) to
   * its use plus `headroomBytes`, then takes that headroom too with a
   * ballast file (BALLAST_FILE): the running node finds no space left at
   * once. Returns the filesystem's size.
   */
  async fill(dataDir: string, headroomBytes: number): Promise<number> {
    assert(headroomBytes > 0, 'a shrunk filesystem keeps some headroom while it is remounted');
    await this.move(dataDir);
    const size = roundUpPages((await usedBytes(dataDir)) + headroomBytes);
    this.#remount(dataDir, size);
    const f = await open(join(dataDir, BALLAST_FILE), 'w');
    try {
      const page = Buffer.alloc(PAGE_BYTES);
      // Bounded: the filesystem holds at most size / PAGE_BYTES pages.
      for (let i = 0; i <= size / PAGE_BYTES; i++) await f.write(page);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
    } finally {
      await f.close();
    }
    return size;
  }

  /** freeBytes is what is left on `dataDir`'s filesystem (for the report: 0 means the fault filled it). */
  async freeBytes(dataDir: string): Promise<number> {
    const s = await statfs(dataDir);
    return s.bavail * s.bsize;
  }

  /** grow removes the ballast and gives `dataDir`'s tmpfs JepsenLimits.diskGrownBytes again: space returns, the node may go on. */
  async grow(dataDir: string): Promise<void> {
    assert(this.#mounts.includes(dataDir), 'grow a mount of this run');
    await rm(join(dataDir, BALLAST_FILE), { force: true });
    this.#remount(dataDir, JepsenLimits.diskGrownBytes);
  }

  /** unmountAll removes every mount of the run (their nodes must be stopped); returns the mount points that could not be removed. */
  async unmountAll(): Promise<string[]> {
    const stuck = this.#mounts.filter((m) => !unmount(m));
    this.#mounts.splice(0, this.#mounts.length, ...stuck);
    await this.#onChange(this.#mounts);
    return stuck;
  }

  #remount(dir: string, sizeBytes: number): void {
    const r = run('mount', ['-o', `remount,size=${sizeBytes}`, dir]);
    if (!r.ok) throw new OtlpdbError('ERR_UNAVAILABLE', `remount ${dir} with size ${sizeBytes}: ${r.out}`);
  }
}
