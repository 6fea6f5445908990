/**
 * raft-core-cluster.ts — the workload of `npm run bench` (bench/raft-core.ts): how many entries per second the pure Raft
 * core commits through a 3-node cluster with a zero-latency in-memory network
 * and MemoryStorage, 256-byte entries proposed in batches.
 *
 * The figure is printed next to a baseline measured in the same process: the
 * least work any replicated log must do for the same entries (build each entry
 * once and append it to three in-memory logs). The ratio raft/baseline is the
 * number to watch across machines; the absolute figure is compared with the
 * target of DESIGN.md (>= 1,000,000 entries/s) but never gates anything.
 * With `--profile`, the top frames of a CPU profile of the raft run follow.
 */
import { MemoryStorage, RawNode } from '../src/raft/index.js';
import type { Entry, Message, NodeId } from '../src/raft/index.js';
import { assert } from '../src/errors.js';
import { SeededRand } from '../src/fs/seeded-rand.js';

/** BenchConfig are the knobs of one run; defaults are the documented workload. */
export interface BenchConfig {
  readonly entryBytes: number;
  readonly batchEntries: number;
  readonly batchesInFlight: number;
  readonly durationMs: number;
}

export const DEFAULTS: BenchConfig = { entryBytes: 256, batchEntries: 1024, batchesInFlight: 4, durationMs: 3000 };
/** TARGET_ENTRIES_PER_SEC is DESIGN.md's target for the core on this machine. */
export const TARGET_ENTRIES_PER_SEC = 1_000_000;
const VOTERS: readonly NodeId[] = [1, 2, 3];
/** LOG_ENTRIES_KEPT_MAX bounds each node's in-memory log between compactions. */
const LOG_ENTRIES_KEPT_MAX = 100_000;
/** EMPTY_SNAPSHOT_DATA stands for the state-machine image; the bench applies nothing. */
const EMPTY_SNAPSHOT_DATA = new Uint8Array(0);

interface BenchNode {
  readonly id: NodeId;
  readonly storage: MemoryStorage;
  readonly raw: RawNode;
  applied: number;
}

/** runRaft drives the cluster for `durationMs` and returns entries committed (applied on the leader). */
export function runRaft(config: BenchConfig): { entries: number; elapsedMs: number; appliedPerNode: number[] } {
  const nodes = new Map<NodeId, BenchNode>();
  for (const id of VOTERS) {
    const storage = new MemoryStorage({ voters: VOTERS, learners: [] });
    const raw = new RawNode({ id, group: 1, storage, rand: new SeededRand(id) });
    nodes.set(id, { id, storage, raw, applied: 0 });
  }
  const leader = nodes.get(1);
  assert(leader !== undefined, 'node 1 exists');
  let inbox: Message[] = [];

  /** pump carries out every Ready and delivers every message until the cluster is quiet. */
  const pump = (): void => {
    for (;;) {
      let worked = false;
      for (const node of nodes.values()) {
        while (node.raw.hasReady()) {
          worked = true;
          const rd = node.raw.ready();
          if (rd.snapshot !== null) node.storage.applySnapshot(rd.snapshot);
          if (rd.entries.length > 0) node.storage.append(rd.entries);
          if (rd.hardState !== null) node.storage.setHardState(rd.hardState);
          for (const m of rd.messages) inbox.push(m);
          node.applied += rd.committedEntries.length;
          node.raw.advance();
        }
      }
      if (inbox.length > 0) {
        worked = true;
        const batch = inbox;
        inbox = [];
        for (const m of batch) {
          const to = nodes.get(m.to);
          assert(to !== undefined, 'message to a known node');
          const err = to.raw.step(m);
          assert(err === null, 'bench messages are accepted');
        }
      }
      if (!worked) return;
    }
  };

  leader.raw.campaign();
  pump();
  assert(leader.raw.status().lead === leader.id, 'node 1 won the election');

  const payloads: Uint8Array[] = [];
  for (let i = 0; i < config.batchEntries; i++) payloads.push(new Uint8Array(config.entryBytes).fill(i & 0xff));

  const appliedBefore = leader.applied;
  const t0 = performance.now();
  let elapsedMs = 0;
  while (elapsedMs < config.durationMs) {
    for (let b = 0; b < config.batchesInFlight; b++) {
      const err = leader.raw.propose(payloads);
      assert(err === null, 'proposal accepted');
    }
    pump();
    // Keep the log bounded as a real node does after a flush: snapshot, then compact.
    for (const node of nodes.values()) {
      const status = node.raw.status();
      if (status.applied - node.storage.firstIndex() > LOG_ENTRIES_KEPT_MAX) {
        const index = status.applied - 1000;
        node.storage.createSnapshot(index, status.confState, EMPTY_SNAPSHOT_DATA);
        node.storage.compact(index);
      }
    }
    elapsedMs = performance.now() - t0;
  }
  return { entries: leader.applied - appliedBefore, elapsedMs, appliedPerNode: [...nodes.values()].map((n) => n.raw.status().applied) };
}

/** runBaseline builds the same entries and appends each to three arrays: the floor of any replicated log. */
export function runBaseline(config: BenchConfig): { entries: number; elapsedMs: number } {
  const payload = new Uint8Array(config.entryBytes);
  const logs: Entry[][] = [[], [], []];
  let index = 0;
  const t0 = performance.now();
  let elapsedMs = 0;
  while (elapsedMs < config.durationMs) {
    for (let i = 0; i < config.batchEntries * config.batchesInFlight; i++) {
      index++;
      const entry: Entry = { term: 1, index, type: 0, data: payload };
      for (const log of logs) log.push(entry);
    }
    for (const log of logs) if (log.length > 100_000) log.length = 0;
    elapsedMs = performance.now() - t0;
  }
  return { entries: index, elapsedMs };
}

/** topFrames returns the functions with the most self time in a V8 CPU profile. */
export function topFrames(profile: { nodes: { id: number; hitCount?: number; callFrame: { functionName: string; url: string; lineNumber: number } }[] }, count: number): string[] {
  const hits = new Map<string, number>();
  let total = 0;
  for (const node of profile.nodes) {
    const n = node.hitCount ?? 0;
    total += n;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url === '' ? '' : ` ${url.replace(/^.*\/(src|bench|node_modules)\//, '$1/')}:${lineNumber + 1}`;
    const key = `${functionName || '(anonymous)'}${where}`;
    hits.set(key, (hits.get(key) ?? 0) + n);
  }
  return [...hits.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([key, n]) => `${((100 * n) / Math.max(1, total)).toFixed(1).padStart(5)}%  ${key}`);
}

