/**
 * partition-shapes.test.ts — what every partition shape cuts, stated by
 * who hears whom (Jepsen's meaning of each shape), for 3 and 5 nodes; the
 * iptables rules a directed link becomes; and the requests the transport
 * fallback sends. A planted bug (a cutter that swaps each link's
 * direction) is caught by the same reachability check.
 */
import t from 'tap';
import { iptablesCutRules } from './iptables.js';
import { DROP_ALL, TransportFaultCutter } from './link-cutter.js';
import type { AdminCall } from './link-cutter.js';
import { PARTITION_SHAPES, describeLinks, hears, partitionLinks } from './partition-shapes.js';
import type { Link, PartitionPlan } from './partition-shapes.js';

const N3 = [2, 3, 1];
const N5 = [4, 1, 5, 2, 3];

function plan(shape: PartitionPlan['shape'], order: number[], direction: 'in' | 'out' = 'out'): PartitionPlan {
  return { shape, order, direction };
}

function sorted(xs: readonly number[]): number[] {
  return [...xs].sort((a, b) => a - b);
}

/** heardBy lists, for node `to`, who reaches it. */
function heardBy(order: number[], links: readonly Link[], to: number): number[] {
  return sorted(hears(order, links).get(to) ?? []);
}

t.test('halves and isolate cut both ways between two sides; isolate-leader cuts the leader', async (t) => {
  const h = partitionLinks(plan('halves', N5));
  for (const n of [4, 1]) t.same(heardBy(N5, h, n), [1, 4], `minority node ${n} hears only the minority`);
  for (const n of [5, 2, 3]) t.same(heardBy(N5, h, n), [2, 3, 5], `majority node ${n} hears only the majority`);
  const i = partitionLinks(plan('isolate', N3));
  t.same(heardBy(N3, i, 2), [2], 'p[0] hears nobody');
  t.same(heardBy(N3, i, 3), [1, 3]);
  const l = partitionLinks(plan('isolate-leader', N5), 5);
  t.same(heardBy(N5, l, 5), [5], 'the leader hears nobody');
  t.same(heardBy(N5, l, 1), [1, 2, 3, 4], 'and nobody hears it');
  t.throws(() => partitionLinks(plan('isolate-leader', N5), null), 'isolate-leader needs the leader');
  t.throws(() => partitionLinks(plan('isolate-leader', N5), 9), 'a leader of the cluster');
});

t.test('majority ring: every node hears a majority, and no two hear the same one', async (t) => {
  for (const order of [N3, N5]) {
    const links = partitionLinks(plan('ring', order));
    const m = Math.floor(order.length / 2) + 1;
    const seen = new Set<string>();
    for (const n of order) {
      const h = heardBy(order, links, n);
      t.equal(h.length, m, `${order.length} nodes: node ${n} hears exactly a majority (${h.join(',')})`);
      t.ok(h.includes(n), 'itself included');
      seen.add(h.join(','));
    }
    t.equal(seen.size, order.length, 'every node hears a different majority');
  }
});

t.test('bridge: the two sides cannot reach each other, the bridge reaches and hears all', async (t) => {
  const links = partitionLinks(plan('bridge', N5));
  t.same(heardBy(N5, links, 5), [1, 2, 3, 4, 5], 'the bridge p[2] hears everyone');
  for (const n of [4, 1]) t.same(heardBy(N5, links, n), [1, 4, 5], `left node ${n} hears its side and the bridge`);
  for (const n of [2, 3]) t.same(heardBy(N5, links, n), [2, 3, 5], `right node ${n} hears its side and the bridge`);
  const l3 = partitionLinks(plan('bridge', N3));
  t.same(heardBy(N3, l3, 3), [1, 2, 3], '3 nodes: the middle one bridges');
  t.same(heardBy(N3, l3, 2), [2, 3]);
});

t.test('one-way: p[0] goes unheard (out) or deaf (in), the other direction works', async (t) => {
  const out = partitionLinks(plan('one-way', N5, 'out'));
  t.same(heardBy(N5, out, 4), [1, 2, 3, 4, 5], 'out: p[0] still hears everyone');
  for (const n of [1, 5, 2, 3]) t.notOk(heardBy(N5, out, n).includes(4), `out: node ${n} does not hear p[0]`);
  const inn = partitionLinks(plan('one-way', N5, 'in'));
  t.same(heardBy(N5, inn, 4), [4], 'in: p[0] hears nobody');
  for (const n of [1, 5, 2, 3]) t.ok(heardBy(N5, inn, n).includes(4), `in: node ${n} still hears p[0]`);
});

t.test('every shape is deterministic in its plan and never cuts a node from itself', async (t) => {
  for (const shape of PARTITION_SHAPES) {
    for (const order of [N3, N5]) {
      const leader = order[1] ?? null;
      const a = partitionLinks(plan(shape, order), leader);
      t.same(a, partitionLinks(plan(shape, order), leader), `${shape} is a function of its plan`);
      t.ok(a.length > 0, `${shape} over ${order.length} nodes cuts something`);
      t.ok(a.every(([x, y]) => x !== y && order.includes(x) && order.includes(y)), `${shape}: links join two nodes of the cluster`);
    }
  }
  t.equal(describeLinks([[3, 1], [1, 2]]), '1>2 3>1');
});

t.test('iptables: a directed link drops the sender\'s connection to the receiver\'s peer port, and its answers', async (t) => {
  t.same(iptablesCutRules('CH', 7400, [[2, 3]]), [
    ['-A', 'CH', '-s', '127.0.0.2', '-d', '127.0.0.3', '-p', 'tcp', '--dport', '7400', '-j', 'DROP'],
    ['-A', 'CH', '-s', '127.0.0.3', '-d', '127.0.0.2', '-p', 'tcp', '--sport', '7400', '-j', 'DROP'],
  ]);
  const rules = iptablesCutRules('CH', 7400, [[2, 3]]).map((r) => r.join(' '));
  t.notOk(rules.some((r) => r.includes('-s 127.0.0.3 -d 127.0.0.2 -p tcp --dport')), '3\'s own connection to 2 is untouched');
  t.throws(() => iptablesCutRules('CH', 7400, [[2, 2]]), 'no self link');
});

/** recordingCall is an AdminCall that records what it was asked and answers 200. */
function recordingCall(log: string[]): AdminCall {
  return async (node, method, path, body) => {
    log.push(`${node} ${method} ${path}${body === null ? '' : ` ${body}`}`);
    return 200;
  };
}

/** reachUnder derives who hears whom from the PUTs a cutter sent (node A dropping towards B cuts A>B). */
function linksFromCalls(log: readonly string[]): Link[] {
  const out: Link[] = [];
  for (const l of log) {
    const m = /^(\d+) PUT \/api\/v1\/admin\/faults\/(\d+) (.*)$/.exec(l);
    if (m !== null && m[3] === DROP_ALL) out.push([Number(m[1]), Number(m[2])]);
  }
  return out;
}

t.test('transport fallback: each link is a drop-all fault on its sender; heal clears exactly the touched nodes', async (t) => {
  const log: string[] = [];
  const c = new TransportFaultCutter(recordingCall(log));
  for (const shape of PARTITION_SHAPES) {
    log.length = 0;
    const links = partitionLinks(plan(shape, N5, 'in'), 4);
    await c.cut(links);
    t.same(hears(N5, linksFromCalls(log)), hears(N5, links), `${shape}: the faults cut what the shape means`);
    log.length = 0;
    await c.heal();
    t.same(log, [...new Set(links.map(([a]) => a))].sort((a, b) => a - b).map((n) => `${n} DELETE /api/v1/admin/faults`), `${shape}: heal clears the senders`);
  }
  const refusing = new TransportFaultCutter(async () => 404);
  await t.rejects(refusing.cut([[1, 2]]), { code: 'ERR_UNAVAILABLE' }, 'a refused fault is an error, not a silent no-op');
});

t.test('planted bug: a cutter that swaps each link\'s direction is caught', async (t) => {
  const log: string[] = [];
  const call = recordingCall(log);
  const swapped = new TransportFaultCutter((node, method, path, body) => {
    const m = /\/(\d+)$/.exec(path);
    // The bug: the fault is set on the receiver, towards the sender.
    return m === null ? call(node, method, path, body) : call(Number(m[1]), method, path.replace(/\d+$/, String(node)), body);
  });
  const links = partitionLinks(plan('one-way', N5, 'out'));
  await swapped.cut(links);
  t.notSame(hears(N5, linksFromCalls(log)), hears(N5, links), 'the reachability check sees the wrong direction');
});
