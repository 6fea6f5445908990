/**
 * state-file.ts — what a running `otlpdb jepsen` leaves on disk so that
 * `otlpdb jepsen cleanup` can undo it after a crash: the node PIDs (with
 * their data dirs, so a reused PID is never signalled), which of them are
 * paused, the iptables chain, and the mounts of the full-disk fault. The file is rewritten (atomically) after
 * every change and removed by a clean exit or by cleanup.
 */
import { readFileSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** STATE_FILE is the state file's name inside the suite's directory. */
export const STATE_FILE = 'jepsen-state.json';

/** JepsenStateNode is one node process the run started (or restarted). */
export interface JepsenStateNode {
  readonly id: number;
  readonly pid: number;
  readonly dataDir: string;
  readonly paused: boolean;
}

/** JepsenState is the document of DIR/jepsen-state.json. */
export interface JepsenState {
  readonly version: 1;
  /** runnerPid is the `otlpdb jepsen` process that wrote the file. */
  readonly runnerPid: number;
  readonly clusterDir: string;
  readonly nodes: readonly JepsenStateNode[];
  /** iptablesChain is set from before the chain is created until after it is removed. */
  readonly iptablesChain: string | null;
  /** mounts are the size-limited filesystems the full-disk fault mounted (absent in files of older runs); cleanup unmounts them. */
  readonly mounts?: readonly string[];
}

/** statePath is where the state file of the suite directory `dir` lives. */
export function statePath(dir: string): string {
  return join(dir, STATE_FILE);
}

/** writeState replaces the state file atomically (write, then rename). */
export async function writeState(dir: string, s: JepsenState): Promise<void> {
  const file = statePath(dir);
  await writeFile(`${file}.tmp`, `${JSON.stringify(s, null, 2)}\n`);
  await rename(`${file}.tmp`, file);
}

/** readState returns the state file of `dir`, or null when there is none; a malformed file is reported as null with its text kept on disk. */
export function readState(dir: string): JepsenState | null {
  let text: string;
  try {
    text = readFileSync(statePath(dir), 'utf8');
  } catch {
    return null;
  }
  try {
    const d = JSON.parse(text) as JepsenState;
    if (d.version !== 1 || !Array.isArray(d.nodes) || typeof d.clusterDir !== 'string') return null;
    return d;
  } catch {
    return null;
  }
}

/** removeState deletes the state file (a clean exit, or cleanup once everything is undone). */
export async function removeState(dir: string): Promise<void> {
  await rm(statePath(dir), { force: true });
}
