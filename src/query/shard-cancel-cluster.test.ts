import t from 'tap';
import { SeededRand } from '../fs/seeded-rand.js';
import { OtlpdbNode } from '../node.js';
import type { HostPort } from '../node-config.js';
import { httpRequest, inProcessCluster, pollUntil } from '../node-test-util.js';
import { resourceSpansJson } from '../otlp/otlp-json-writer.js';
import { realisticSpans } from '../storage/traces/traces-test-util.js';

// A search cancelled by its client stops its shard parts on the peers too
// (DESIGN.md §7.5), on a real 3-node cluster in this process over real
// sockets: the coordinator's fan-out cancels, the peer transport sends a
// CallCancel for each part in flight, and each peer's part stops at its
// next budget check — counted in otlpdb_shard_parts_cancelled_total and
// otlpdb_transport_cancels_received_total on the peers, none left running.
// (That a part stops within one check is shard-cancel.test.ts's, with its
// planted bug; the frame's is src/transport/call-cancel.test.ts's.)

const SEED = 4242;
const POLLS_MAX = 1500;
const POLL_MS = 40;

function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`));
  return line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
}

t.test('a search cancelled by its client stops its parts on the peers', async (t) => {
  const c = await inProcessCluster(t, { n: 3, founders: 3, prefix: 'otlpdb-pcancel-', seedBase: SEED, extra: { shards: 4, replicas: 3, tickMs: 20 }, otlp: true });
  for (const id of [1, 2, 3]) c.nodes.set(id, await OtlpdbNode.start({ ...c.options(id), initialCluster: c.founders }));
  for (const id of [1, 2, 3]) t.ok(await pollUntil(async () => (await httpRequest(c.api(id), '/readyz')).status === 200, POLLS_MAX, POLL_MS), `node ${id} ready`);

  // Enough blocks that a broad search's parts take many event-loop turns (they leave the loop between blocks).
  const raw = realisticSpans(new SeededRand(SEED), 600, 'acme');
  const minStart = raw.reduce((m, s) => (s.startTimeUnixNano < m ? s.startTimeUnixNano : m), raw[0]!.startTimeUnixNano);
  const shift = BigInt(Date.now() - 5 * 60_000) * 1_000_000n - minStart;
  const spans = raw.map((s) => ({ ...s, startTimeUnixNano: s.startTimeUnixNano + shift, endTimeUnixNano: s.endTimeUnixNano + shift }));
  const web = (c.nodes.get(1) as OtlpdbNode).otlpHttpAddress() as HostPort;
  for (let i = 0; i < spans.length; i += 400) {
    const body = Buffer.from(JSON.stringify({ resourceSpans: resourceSpansJson(spans.slice(i, i + 400)) }));
    t.equal((await httpRequest(web, '/v1/traces', 'POST', body, { 'content-type': 'application/json', 'x-scope-orgid': 'acme' })).status, 200);
    t.equal((await httpRequest(c.api(1), '/api/v1/admin/flush', 'POST')).status, 200, 'flushed into blocks');
  }

  const coordinator = c.nodes.get(1) as OtlpdbNode;
  const peers = [2, 3].map((id) => c.nodes.get(id) as OtlpdbNode);
  const nowS = Math.floor(Date.now() / 1000);
  const q = { startNs: BigInt(nowS - 3600) * 1_000_000_000n, endNs: BigInt(nowS + 60) * 1_000_000_000n, predicate: {}, limit: 1000, spss: 3, fullScan: true };
  // Cancel as soon as a peer serves a part; retry with a new search if every part finished first (a fast machine).
  let cancelledWhileRunning = false;
  for (let attempt = 0; attempt < 20 && !cancelledWhileRunning; attempt++) {
    const client = new AbortController();
    const search = coordinator.searchTraces('acme', q, 'linearizable', client.signal).then(
      () => 'answered',
      (e: unknown) => e,
    );
    let done = false;
    void search.then(() => (done = true));
    while (!done) {
      if (peers.some((p) => p.shardParts().running > 0)) {
        client.abort();
        cancelledWhileRunning = true;
        break;
      }
      await new Promise((r) => setImmediate(r));
    }
    const out = await search;
    if (cancelledWhileRunning) t.match(out, { code: 'ERR_UNAVAILABLE' }, 'the search fails as cancelled');
  }
  t.ok(cancelledWhileRunning, 'a search was cancelled while a peer served its part');
  t.ok(
    await pollUntil(async () => peers.every((p) => p.shardParts().running === 0), POLLS_MAX, 5),
    'no part is left running on any peer',
  );
  const cancelled = peers.reduce((n, p) => n + p.shardParts().cancelled, 0);
  t.ok(cancelled >= 1, `${cancelled} peer parts stopped by their cancel`);
  const received = peers.reduce((n, p) => n + p.transportMetrics().cancelsReceived, 0);
  t.ok(received >= 1, `${received} cancels received on the peers`);
  t.ok(coordinator.transportMetrics().callsCancelled >= 1, 'the coordinator cancelled its calls');
  // The same counters on /metrics.
  const scraped = await Promise.all([2, 3].map(async (id) => (await httpRequest(c.api(id), '/metrics')).body));
  t.equal(
    scraped.reduce((n, text) => n + metric(text, 'otlpdb_shard_parts_cancelled_total'), 0),
    cancelled,
    '/metrics shows the cancelled parts',
  );
  t.ok(scraped.every((text) => metric(text, 'otlpdb_shard_parts_running') === 0));
  // The cluster answers on.
  const after = await coordinator.searchTraces('acme', { ...q, limit: 5 }, 'linearizable', new AbortController().signal);
  t.ok(after !== null, 'a later search answers');
});
