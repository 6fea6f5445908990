import t from 'tap';
import type { Test } from 'tap';
import { SeededRand } from './fs/seeded-rand.js';
import type { OtlpdbNode } from './node.js';
import type { HostPort } from './node-config.js';
import { httpRequest, pollUntil, startThreeNodes } from './node-test-util.js';
import { resourceSpansJson } from './otlp/otlp-json-writer.js';
import { StateRole } from './raft/types.js';
import type { SpanRow } from './storage/rows.js';
import { realisticSpans } from './storage/traces/traces-test-util.js';

// Trace by id on a follower of the trace's shard reads its own replica
// after the leader's ReadIndex (trace-lookup.ts readReplica). Node 3 is made
// to lag: every other node holds its frames to node 3 for LAG_MS
// (transport faults), so node 3 applies each write LAG_MS after it was
// acknowledged. Each trace is written through node 1 and, as soon as the
// write is acknowledged, looked up on node 3: every span must come back
// (the barrier waits for node 3 to apply the leader's commit index). The
// planted bug `trace-replica-read-without-readindex` (the same read
// without the barrier) answers from node 3's stale replica and must miss
// traces of the shards node 3 follows.
// Reproduce: OTLPDB_LOOKUP_SEED=<seed> npx tap src/trace-lookup.test.ts

const SEED = Number(process.env.OTLPDB_LOOKUP_SEED ?? 4242);
const TRACES = 8;
/** LAG_MS holds every frame to node 3: far longer than a lookup right after the write, well within TraceLookupLimits.replicaReadMs. */
const LAG_MS = 300;

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** lookupsRightAfterWrites writes each trace through node 1 and looks it up on node 3 at once; returns the spans found per trace and the shards node 3 followed. */
async function lookupsRightAfterWrites(t: Test, plant: string | undefined): Promise<{ found: Map<string, number>; want: Map<string, number>; followed: number }> {
  const c = await startThreeNodes(t, 'otlpdb-lookup-', SEED, plant);
  const node = (id: number): OtlpdbNode => c.nodes.get(id) as OtlpdbNode;
  const shards = [1, 2, 3, 4];
  t.ok(await pollUntil(async () => shards.every((g) => [1, 2, 3].some((id) => node(id).driver.basicStatus(g)?.role === StateRole.Leader)), 1500, 40), 'every shard has a leader');
  for (const id of [1, 2]) node(id).admin.setFaults(3, { delayMs: LAG_MS });
  const followed = shards.filter((g) => node(3).driver.basicStatus(g)?.role === StateRole.Follower).length;

  const raw = realisticSpans(new SeededRand(SEED), TRACES, 'acme');
  const minStart = raw.reduce((m, s) => (s.startTimeUnixNano < m ? s.startTimeUnixNano : m), raw[0]!.startTimeUnixNano);
  const shift = BigInt(Date.now() - 5 * 60_000) * 1_000_000n - minStart;
  const spans = raw.map((s) => ({ ...s, startTimeUnixNano: s.startTimeUnixNano + shift, endTimeUnixNano: s.endTimeUnixNano + shift }));
  const byTrace = new Map<string, SpanRow[]>();
  for (const s of spans) byTrace.set(hex(s.traceId), [...(byTrace.get(hex(s.traceId)) ?? []), s]);
  const web = node(1).otlpHttpAddress() as HostPort;
  const found = new Map<string, number>();
  const want = new Map<string, number>();
  for (const [id, trace] of byTrace) {
    const body = Buffer.from(JSON.stringify({ resourceSpans: resourceSpansJson(trace) }));
    const r = await httpRequest(web, '/v1/traces', 'POST', body, { 'content-type': 'application/json', 'x-scope-orgid': 'acme' });
    t.equal(r.status, 200, `trace ${id} acknowledged`);
    want.set(id, trace.length);
    found.set(id, (await node(3).traceById('acme', trace[0]!.traceId)).spans.length);
  }
  for (const id of [1, 2]) node(id).admin.clearFaults();
  return { found, want, followed };
}

t.test('a follower answers a lookup right after the write from its replica, after the leader\'s barrier: every span', async (t) => {
  const { found, want, followed } = await lookupsRightAfterWrites(t, undefined);
  t.ok(followed >= 1, `node 3 follows ${followed} of 4 shards`);
  t.same(found, want, 'every trace whole on the lagging follower');
});

t.test('planted bug: the replica read without the barrier misses acknowledged traces on the lagging follower', async (t) => {
  const { found, want } = await lookupsRightAfterWrites(t, 'trace-replica-read-without-readindex');
  const missed = [...want].filter(([id, n]) => found.get(id) !== n).length;
  t.ok(missed >= 1, `${missed} of ${want.size} traces incomplete on node 3 (the check above would fail)`);
});
