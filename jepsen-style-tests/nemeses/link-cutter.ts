/**
 * link-cutter.ts — the two ways the suite cuts peer links, behind one
 * interface: iptables rules in the suite's own chain (iptables.ts), and,
 * where iptables cannot be used (not root, no iptables), the transport's
 * fault hooks over each node's admin API (PUT /api/v1/admin/faults/{peer}
 * with dropProbability 1; docs/admin-api.md).
 *
 * Ownership: TransportFaultCutter remembers which nodes it set faults on
 * (at most one entry per node of the cluster) and clears exactly those on
 * heal(). A node killed while cut loses its faults with its process, which
 * is what heal() would have done.
 *
 * What the fallback can and cannot do (printed as the notice): the hooks
 * act on the Raft messages a node sends, one peer at a time, so every
 * partition shape means the same for Raft; forwarded calls (a follower's
 * meta proposal, query fan-out) still get through, as they would not under
 * iptables.
 */
import { OtlpdbError, assert } from '../../src/errors.js';
import type { Link } from './partition-shapes.js';

/** LinkCutter cuts directed peer links and heals them all. */
export interface LinkCutter {
  /** name says which mechanism cuts (`iptables` or `transport-faults`), for the report. */
  readonly name: string;
  cut(links: readonly Link[]): void | Promise<void>;
  heal(): void | Promise<void>;
}

/** AdminCall sends one admin request to node `node` and resolves with the HTTP status (it rejects when the node cannot be reached). */
export type AdminCall = (node: number, method: 'PUT' | 'DELETE', path: string, body: string | null) => Promise<number>;

/** DROP_ALL is the fault body of a cut link: every Raft message towards the peer is dropped. */
export const DROP_ALL = JSON.stringify({ dropProbability: 1 });

/** TransportFaultCutter cuts links with the transport's fault hooks, through `call`. */
export class TransportFaultCutter implements LinkCutter {
  readonly name = 'transport-faults';
  readonly #call: AdminCall;
  /** #touched are the nodes that hold faults set by this cutter. */
  readonly #touched = new Set<number>();

  constructor(call: AdminCall) {
    this.#call = call;
  }

  /** cut sets, on each link's sender, a drop-everything fault towards its receiver; a refused request throws. */
  async cut(links: readonly Link[]): Promise<void> {
    for (const [from, to] of links) {
      assert(from !== to, 'a link joins two nodes');
      this.#touched.add(from);
      const status = await this.#call(from, 'PUT', `/api/v1/admin/faults/${to}`, DROP_ALL);
      if (status !== 200) throw new OtlpdbError('ERR_UNAVAILABLE', `node ${from} refused the fault towards ${to} (HTTP ${status})`);
    }
  }

  /** heal clears every fault on the nodes this cutter touched; a node that cannot be reached (killed) has none left. */
  async heal(): Promise<void> {
    for (const node of [...this.#touched].sort((a, b) => a - b)) {
      try {
        await this.#call(node, 'DELETE', '/api/v1/admin/faults', null);
      } catch {
        // Unreachable: a dead node's faults died with it; a paused one is resumed before the heal (faults never overlap).
      }
      this.#touched.delete(node);
    }
    assert(this.#touched.size === 0, 'heal forgets every touched node');
  }
}
