/**
 * partition-shapes.ts — the shapes of network partitions the suite draws,
 * as pure rule sets: every shape becomes a list of directed links "messages
 * from A do not reach B". The same list drives both ways of cutting
 * (iptables.ts, and the transport's fault hooks in transport-cutter.ts), so
 * a shape means the same thing whichever is used.
 *
 * Shapes, over a seeded order p[0..n-1] of the n nodes (Jepsen's names):
 *   halves         p[0..n/2) | the rest, cut both ways;
 *   isolate        p[0] cut from every other node, both ways;
 *   isolate-leader the leader of a shard (found when the fault starts) cut
 *                  from every other node, both ways;
 *   ring           majority ring: node p[i] hears only p[i..i+m-1] (mod n),
 *                  m = the majority size, so every node hears a majority
 *                  but no two nodes hear the same one;
 *   bridge         p[0..k) | p[k] | p[k+1..n) with k = floor((n-1)/2): the
 *                  two sides cannot reach each other, the bridge p[k]
 *                  reaches and hears both;
 *   one-way        p[0] is not heard by any other node but hears them all
 *                  (`out`), or hears none of them but is heard (`in`).
 */
import { assert } from '../../src/errors.js';

/** PARTITION_SHAPES are the partition shapes a schedule draws from. */
export const PARTITION_SHAPES = ['halves', 'isolate', 'isolate-leader', 'ring', 'bridge', 'one-way'] as const;

/** PartitionShape names one shape. */
export type PartitionShape = (typeof PARTITION_SHAPES)[number];

/** Link is one directed cut: messages from `[0]` do not reach `[1]`. */
export type Link = readonly [from: number, to: number];

/** PartitionPlan is a drawn partition: its shape and the seeded node order the shape is laid over. */
export interface PartitionPlan {
  readonly shape: PartitionShape;
  /** order is a permutation of the node ids 1..n. */
  readonly order: readonly number[];
  /** direction is which way a one-way cut goes: p[0]'s messages are lost (`out`) or those to p[0] are (`in`). */
  readonly direction: 'in' | 'out';
}

function both(a: readonly number[], b: readonly number[]): Link[] {
  const out: Link[] = [];
  for (const x of a) for (const y of b) out.push([x, y], [y, x]);
  return out;
}

/**
 * partitionLinks is the directed cut of a plan. `leader` is the node that
 * `isolate-leader` isolates (the caller resolves it when the fault starts);
 * it is ignored by every other shape.
 */
export function partitionLinks(p: PartitionPlan, leader: number | null = null): Link[] {
  const n = p.order.length;
  assert(n >= 2, 'a partition needs at least two nodes');
  assert(new Set(p.order).size === n, 'the order is a permutation');
  const first = p.order[0];
  assert(first !== undefined, 'the order is not empty');
  switch (p.shape) {
    case 'halves': {
      const cut = Math.floor(n / 2);
      return both(p.order.slice(0, cut), p.order.slice(cut));
    }
    case 'isolate':
      return both([first], p.order.slice(1));
    case 'isolate-leader': {
      assert(leader !== null && p.order.includes(leader), 'isolate-leader needs a leader of the cluster');
      return both([leader], p.order.filter((x) => x !== leader));
    }
    case 'ring': {
      const m = Math.floor(n / 2) + 1;
      const out: Link[] = [];
      for (let i = 0; i < n; i++) {
        const hearer = p.order[i] as number;
        const heard = new Set<number>();
        for (let k = 0; k < m; k++) heard.add(p.order[(i + k) % n] as number);
        for (const from of p.order) if (!heard.has(from)) out.push([from, hearer]);
      }
      return out;
    }
    case 'bridge': {
      const k = Math.floor((n - 1) / 2);
      return both(p.order.slice(0, k), p.order.slice(k + 1));
    }
    case 'one-way': {
      const rest = p.order.slice(1);
      return p.direction === 'out' ? rest.map((x): Link => [first, x]) : rest.map((x): Link => [x, first]);
    }
  }
}

/** hears returns, per node, the nodes whose messages reach it under `links` (itself included): what a shape means, for tests and the report. */
export function hears(nodes: readonly number[], links: readonly Link[]): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const to of nodes) {
    out.set(
      to,
      nodes.filter((from) => from === to || !links.some(([a, b]) => a === from && b === to)),
    );
  }
  return out;
}

/** describeLinks renders a cut for the report: `1>3 2>1` means 1's messages do not reach 3, nor 2's reach 1. */
export function describeLinks(links: readonly Link[]): string {
  return [...links]
    .sort((x, y) => x[0] - y[0] || x[1] - y[1])
    .map(([a, b]) => `${a}>${b}`)
    .join(' ');
}
