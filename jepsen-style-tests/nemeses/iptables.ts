/**
 * iptables.ts — network partitions between the per-node loopback addresses
 * (node i on 127.0.0.i) with iptables, in a chain of the suite's own
 * (JepsenLimits.iptablesChain) jumped to from INPUT. Only peer traffic is
 * dropped (TCP to or from the peer port), so the clients, which talk to the
 * API and OTLP ports from 127.0.0.1, keep reaching every node and see what a
 * user on the far side of a partition sees.
 *
 * Ownership: the suite creates the chain and its INPUT jump in setup(),
 * empties it on heal(), and removes both in teardown(), which is also what
 * `otlpdb jepsen cleanup` runs for a crashed run. No rule is ever added
 * outside the chain except the one jump.
 */
import { execFileSync } from 'node:child_process';
import { assert } from '../../src/errors.js';
import { JepsenLimits } from '../../src/limits.js';
import type { LinkCutter } from './link-cutter.js';
import type { Link } from './partition-shapes.js';

/** IptablesProbe says whether partitions can be injected here, and why not. */
export interface IptablesProbe {
  readonly available: boolean;
  /** reason is the printed notice when unavailable. */
  readonly reason: string;
}

function iptables(args: readonly string[]): { ok: boolean; out: string } {
  try {
    const out = execFileSync('iptables', ['-w', ...args], { timeout: JepsenLimits.iptablesTimeoutMs, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { ok: true, out };
  } catch (err) {
    return { ok: false, out: String((err as { stderr?: unknown }).stderr ?? err) };
  }
}

/** probeIptables checks for root and a working `iptables` (listing the filter table). */
export function probeIptables(): IptablesProbe {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return { available: false, reason: 'not running as root, so iptables cannot be changed' };
  }
  const r = iptables(['-S', 'INPUT']);
  if (!r.ok) return { available: false, reason: `iptables is missing or does not work here (${r.out.trim().split('\n')[0] ?? ''})` };
  return { available: true, reason: '' };
}

/**
 * IptablesPartitioner cuts and heals peer links between loopback node
 * addresses. `chain` and `peerPort` are injected so tests and cleanup can
 * name another chain.
 */
export class IptablesPartitioner implements LinkCutter {
  readonly name = 'iptables';
  readonly chain: string;
  readonly peerPort: number;

  constructor(chain: string, peerPort: number) {
    this.chain = chain;
    this.peerPort = peerPort;
  }

  /** setup creates the (empty) chain and the one jump to it from INPUT; an existing chain of a crashed run is emptied first. */
  setup(): void {
    if (!iptables(['-N', this.chain]).ok) iptables(['-F', this.chain]);
    if (!iptables(['-C', 'INPUT', '-j', this.chain]).ok) this.#must(['-I', 'INPUT', '-j', this.chain]);
  }

  /** partition drops peer traffic between every node of one side and every node of the other, both ways. */
  partition(sides: readonly [readonly number[], readonly number[]]): void {
    const links: Link[] = [];
    for (const a of sides[0]) for (const b of sides[1]) links.push([a, b], [b, a]);
    this.cut(links);
  }

  /** cut adds the rules of directed links (iptablesCutRules); a rule that cannot be added throws. */
  cut(links: readonly Link[]): void {
    for (const args of iptablesCutRules(this.chain, this.peerPort, links)) this.#must(args);
  }

  /** heal removes every rule of the chain (the chain and its jump stay until teardown). */
  heal(): void {
    iptables(['-F', this.chain]);
  }

  /** teardown removes the jump and the chain; safe to call when either is already gone. Returns whether the chain is gone. */
  teardown(): boolean {
    return removeChain(this.chain);
  }

  #must(args: readonly string[]): void {
    const r = iptables(args);
    if (!r.ok) throw new Error(`iptables ${args.join(' ')} failed: ${r.out.trim()}`);
  }
}

/**
 * iptablesCutRules are the `iptables -A` argument lists that cut the
 * directed links: "messages from A do not reach B". A node sends its peer
 * messages only on the connection it dials (peer-transport.ts), so A's
 * messages to B travel on A's connection to B's peer port: dropping what A
 * sends to that port, and what B answers from it, loses them, while B's own
 * connection to A (to A's peer port) keeps working. A link both ways is then
 * the old bidirectional cut.
 */
export function iptablesCutRules(chain: string, peerPort: number, links: readonly Link[]): string[][] {
  const out: string[][] = [];
  for (const [from, to] of links) {
    assert(Number.isInteger(from) && Number.isInteger(to) && from !== to && from >= 1 && to >= 1 && from <= 254 && to <= 254, 'a link joins two loopback node ids');
    out.push(['-A', chain, '-s', `127.0.0.${from}`, '-d', `127.0.0.${to}`, '-p', 'tcp', '--dport', String(peerPort), '-j', 'DROP']);
    out.push(['-A', chain, '-s', `127.0.0.${to}`, '-d', `127.0.0.${from}`, '-p', 'tcp', '--sport', String(peerPort), '-j', 'DROP']);
  }
  return out;
}

/** removeChain deletes every INPUT jump to `chain`, then flushes and deletes it; returns whether no such chain is left. */
export function removeChain(chain: string): boolean {
  for (let i = 0; i < 16 && iptables(['-D', 'INPUT', '-j', chain]).ok; i++) {
    // Each pass removes one jump; a crashed run added at most one, a few runs a few.
  }
  iptables(['-F', chain]);
  iptables(['-X', chain]);
  return !iptables(['-S', chain]).ok;
}
