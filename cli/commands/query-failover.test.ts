/**
 * Replica failover under kill -9 (issue 6): real `otlpdb start` processes
 * from `cluster up --detach` (3 nodes, 4 shards, R=3). Traces are written
 * over OTLP/HTTP; then the node leading the most shards is killed with
 * SIGKILL (by its PID) while a writer keeps writing and searches and
 * trace-by-id lookups keep running on the two survivors.
 *
 * The user-visible promise checked for every query:
 * - no wrong answer: a search lists only traces that were sent, a lookup
 *   answers exactly the spans sent for that trace (or 404 for a trace whose
 *   write was never acknowledged before the lookup began);
 * - no silent loss: a search that does not say `partial` lists every trace
 *   acknowledged before it started, and a lookup of such a trace finds it;
 *   an answer that misses any says so (`partial`, or a 503);
 * - once the shards have leaders again, every query answers in full.
 * Ports 28580-28592 (peer, API) and 29580-29592 (OTLP): apart from the
 * other cluster tests. No assertion is about speed.
 */
import t from 'tap';
import { SeededRand } from '../../src/fs/seeded-rand.js';
import { TraceLookupLimits, TraceSearchLimits } from '../../src/limits.js';
import { parseHostPort } from '../../src/node-config.js';
import { resourceSpansJson } from '../../src/otlp/otlp-json-writer.js';
import type { SpanRow } from '../../src/storage/rows.js';
import { realisticSpans } from '../../src/storage/traces/traces-test-util.js';
import { LocalCluster, pidGone, requestWithin } from './cluster-test-util.js';
import type { ClusterSpec, ClusterView, HttpOutcome } from './cluster-test-util.js';

const SPEC: ClusterSpec = { peerPort: 28_580, apiPort: 28_590, tickMs: 20, shards: 4, nodes: 3 };
const SEED = Number(process.env.OTLPDB_FAILOVER_SEED ?? 8080);
const TRACES = 120;
const BEFORE_KILL = 40;
const TRACES_PER_WRITE = 4;
const QUERY_ROUNDS = 18;
const FINAL_LOOKUPS_AT_ONCE = 8;
const WRITE_DEADLINE_MS = 10_000;
const SEARCH_DEADLINE_MS = TraceSearchLimits.wallMsMax + 5_000;
const LOOKUP_DEADLINE_MS = TraceLookupLimits.lookupMsMax + 5_000;

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const tempoId = (h: string): string => h.replace(/^0+/, '') || '0';

interface SearchDoc {
  traces: { traceID: string }[];
  stats: { partial: boolean; failedShards: unknown[] };
}

/**
 * judgeSearch checks one search answer against the promise: a non-200 is a
 * 503 (unavailable, said), a listed trace was sent, and an answer that
 * does not say partial holds every trace in `mustHave` (acknowledged
 * before the search began). `full` is a complete answer.
 */
function judgeSearch(r: HttpOutcome, sent: ReadonlySet<string>, mustHave: ReadonlySet<string>): { problem: string | null; full: boolean } {
  if (r.status !== 200) return { problem: r.status === 503 ? null : `answered ${r.status}, not 200 or 503: ${r.body.slice(0, 160)}`, full: false };
  const doc = JSON.parse(r.body) as SearchDoc;
  const sentIds = new Set([...sent].map(tempoId));
  const got = new Set(doc.traces.map((x) => x.traceID));
  const wrong = [...got].filter((id) => !sentIds.has(id));
  if (wrong.length > 0) return { problem: `traces never sent: ${wrong.join(',')}`, full: false };
  const partial = doc.stats.partial || doc.stats.failedShards.length > 0;
  const missing = [...mustHave].filter((id) => !got.has(tempoId(id)));
  if (!partial && missing.length > 0) return { problem: `not partial, yet ${missing.length} acknowledged traces are missing`, full: false };
  return { problem: null, full: !partial };
}

/**
 * judgeLookup checks one trace-by-id answer: the spans sent, exactly; a
 * 404 only for a trace not acknowledged before the lookup began (then not
 * counted); otherwise a 503.
 */
function judgeLookup(r: HttpOutcome, want: readonly string[], wasAcked: boolean): { problem: string | null; full: boolean; counted: boolean } {
  if (r.status === 404 && !wasAcked) return { problem: null, full: false, counted: false };
  if (r.status !== 200) return { problem: r.status === 503 ? null : `answered ${r.status}, not 200 or 503: ${r.body.slice(0, 160)}`, full: false, counted: true };
  const doc = JSON.parse(r.body) as { batches: { scopeSpans: { spans: { spanId: string }[] }[] }[] };
  const got = doc.batches.flatMap((b) => b.scopeSpans.flatMap((s) => s.spans.map((x) => x.spanId))).sort();
  if (got.join() !== [...want].sort().join()) return { problem: `spans ${got.length} are not the ${want.length} sent`, full: false, counted: true };
  return { problem: null, full: true, counted: true };
}

t.test('planted: the judges catch a wrong trace, a silent loss and a cut trace, and accept what is said partial', async (t) => {
  const sent = new Set(['00aa', '00bb', '00cc']);
  const doc = (ids: string[], partial: boolean): HttpOutcome => ({ status: 200, body: JSON.stringify({ traces: ids.map((traceID) => ({ traceID })), stats: { partial, failedShards: [] } }) });
  t.same(judgeSearch(doc(['aa', 'bb', 'cc'], false), sent, sent), { problem: null, full: true });
  t.match(judgeSearch(doc(['aa', 'bb'], false), sent, sent).problem, /missing/, 'an acknowledged trace missing without partial');
  t.same(judgeSearch(doc(['aa', 'bb'], true), sent, sent), { problem: null, full: false }, 'missing but said partial: allowed');
  t.match(judgeSearch(doc(['aa', 'dd'], true), sent, sent).problem, /never sent/, 'a trace never sent');
  t.match(judgeSearch({ status: 500, body: 'boom' }, sent, sent).problem, /500/, 'an error other than 503');
  t.same(judgeSearch({ status: 503, body: '' }, sent, sent), { problem: null, full: false });
  const trace = (spanIds: string[]): HttpOutcome => ({ status: 200, body: JSON.stringify({ batches: [{ scopeSpans: [{ spans: spanIds.map((spanId) => ({ spanId })) }] }] }) });
  t.equal(judgeLookup(trace(['1', '2']), ['2', '1'], true).problem, null);
  t.match(judgeLookup(trace(['1']), ['1', '2'], true).problem, /not the 2 sent/, 'a trace missing a span');
  t.match(judgeLookup({ status: 404, body: '' }, ['1'], true).problem, /404/, 'an acknowledged trace not found');
  t.equal(judgeLookup({ status: 404, body: '' }, ['1'], false).counted, false, 'an unacknowledged trace may be absent');
});

interface Outcome {
  readonly what: string;
  readonly afterKill: boolean;
  readonly full: boolean;
}

t.test('a node killed with SIGKILL while searches and lookups run: no wrong answer, no silent loss', async (t) => {
  const c = await LocalCluster.up(t, SPEC, 'otlpdb-query-failover-');
  const otlp = (id: number): ReturnType<typeof parseHostPort> => parseHostPort('otlp', c.entry(id).otlpHttp ?? '', 0);

  // Realistic traces, moved to the last minutes (the receiver refuses old timestamps).
  const raw = realisticSpans(new SeededRand(SEED), TRACES, 'acme');
  const minStart = raw.reduce((m, s) => (s.startTimeUnixNano < m ? s.startTimeUnixNano : m), (raw[0] as SpanRow).startTimeUnixNano);
  const shift = BigInt(Date.now() - 5 * 60_000) * 1_000_000n - minStart;
  const byTrace = new Map<string, SpanRow[]>();
  for (const s of raw) {
    const moved = { ...s, startTimeUnixNano: s.startTimeUnixNano + shift, endTimeUnixNano: s.endTimeUnixNano + shift };
    byTrace.set(hex(s.traceId), [...(byTrace.get(hex(s.traceId)) ?? []), moved]);
  }
  const ids = [...byTrace.keys()];
  const sent = new Set<string>();
  const acked = new Set<string>();

  /** write sends traces [from, to) to node `via`'s OTLP/HTTP receiver; acknowledged ones join `acked`. */
  const write = async (via: number, from: number, to: number): Promise<boolean> => {
    const batch = ids.slice(from, to);
    for (const id of batch) sent.add(id);
    const body = JSON.stringify({ resourceSpans: resourceSpansJson(batch.flatMap((id) => byTrace.get(id) ?? [])) });
    const a = otlp(via);
    const r = await requestWithin(a, '/v1/traces', 'POST', body, WRITE_DEADLINE_MS, { 'content-type': 'application/json', 'x-scope-orgid': 'acme' });
    if (r.status === 200) for (const id of batch) acked.add(id);
    return r.status === 200;
  };
  for (let i = 0; i < BEFORE_KILL; i += TRACES_PER_WRITE) t.ok(await write(1 + ((i / TRACES_PER_WRITE) % 3), i, i + TRACES_PER_WRITE), `batch ${i / TRACES_PER_WRITE} acknowledged`);

  const range = `start=${Math.floor(Date.now() / 1000) - 3600}&end=${Math.floor(Date.now() / 1000) + 60}&limit=${TraceSearchLimits.limitMax}&spss=1`;
  const outcomes: Outcome[] = [];
  let killed = false;

  /** search runs one search on node `via` and checks the promise against what was acknowledged before it began. */
  const search = async (via: number): Promise<void> => {
    const afterKill = killed;
    const mustHave = new Set(acked);
    const r = await requestWithin(c.api(via), `/api/search?${range}`, 'GET', undefined, SEARCH_DEADLINE_MS, { 'x-scope-orgid': 'acme' });
    const what = `search on node ${via}${afterKill ? ' after the kill' : ''}`;
    const v = judgeSearch(r, sent, mustHave);
    if (v.problem !== null) t.fail(`${what}: ${v.problem}`);
    outcomes.push({ what, afterKill, full: v.full });
  };

  /** lookup reads one trace by id on node `via`: the spans sent, exactly, or a 404 only for a trace not acknowledged before. */
  const lookup = async (via: number, id: string): Promise<void> => {
    const afterKill = killed;
    const wasAcked = acked.has(id);
    const r = await requestWithin(c.api(via), `/api/traces/${id}`, 'GET', undefined, LOOKUP_DEADLINE_MS, { 'x-scope-orgid': 'acme' });
    const what = `lookup of ${id} on node ${via}${afterKill ? ' after the kill' : ''}`;
    const v = judgeLookup(r, (byTrace.get(id) ?? []).map((s) => hex(s.spanId)), wasAcked);
    if (v.problem !== null) t.fail(`${what}: ${v.problem}`);
    if (v.counted) outcomes.push({ what, afterKill, full: v.full });
  };

  // The victim: the node leading the most shards, so queries lose leaders for real.
  const view = (await c.view(1, 5_000)) as ClusterView | null;
  t.ok(view !== null, 'cluster view');
  const leads = new Map<number, number>();
  for (const s of view?.shards ?? []) leads.set(s.leader, (leads.get(s.leader) ?? 0) + 1);
  const victim = [...leads.entries()].filter(([id]) => id >= 1 && id <= 3).sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]?.[0] ?? 2;
  const survivors = [1, 2, 3].filter((id) => id !== victim);
  t.comment(`node ${victim} leads ${leads.get(victim) ?? 0} of ${SPEC.shards} shards: it is killed`);

  // Writer and readers run together; the kill lands after the first round of queries is in flight.
  const rand = new SeededRand(SEED + 1);
  let next = BEFORE_KILL;
  const writer = (async (): Promise<void> => {
    while (next < TRACES) {
      const from = next;
      next += TRACES_PER_WRITE;
      await write(survivors[from % 2] as number, from, Math.min(TRACES, from + TRACES_PER_WRITE));
    }
  })();
  for (let round = 0; round < QUERY_ROUNDS; round++) {
    const via = survivors[round % 2] as number;
    const known = [...acked];
    const pending = [search(via), lookup(via, known[rand.intn(known.length)] as string), lookup(survivors[(round + 1) % 2] as number, known[rand.intn(known.length)] as string)];
    if (round === 1) {
      const pid = c.entry(victim).pid;
      process.kill(pid, 'SIGKILL');
      killed = true;
      t.comment(`round ${round}: node ${victim} (pid ${pid}) killed with SIGKILL`);
    }
    await Promise.all(pending);
  }
  await writer;
  t.ok(pidGone(c.entry(victim).pid), 'the victim is gone');

  // Once every shard has a leader again (a search says so by being complete), everything answers in full.
  let settled = false;
  for (let i = 0; i < 50 && !settled; i++) {
    const r = await requestWithin(c.api(survivors[0] as number), `/api/search?${range}`, 'GET', undefined, SEARCH_DEADLINE_MS, { 'x-scope-orgid': 'acme' });
    settled = r.status === 200 && !(JSON.parse(r.body) as SearchDoc).stats.partial;
  }
  t.ok(settled, 'the survivors serve complete searches');
  const before = outcomes.length;
  for (const via of survivors) await search(via);
  const all = [...acked];
  for (let i = 0; i < all.length; i += FINAL_LOOKUPS_AT_ONCE) await Promise.all(all.slice(i, i + FINAL_LOOKUPS_AT_ONCE).map((id) => lookup(survivors[rand.intn(2)] as number, id)));
  const finals = outcomes.slice(before);
  t.ok(finals.every((o) => o.full), `after the failover every query is complete (${finals.filter((o) => !o.full).map((o) => o.what).join('; ') || 'all'})`);
  const after = outcomes.slice(0, before).filter((o) => o.afterKill);
  t.ok(after.length >= QUERY_ROUNDS, `${after.length} queries started after the kill`);
  t.ok(after.some((o) => o.full), `${after.filter((o) => o.full).length} of them complete during the failover`);
  t.ok(acked.size >= BEFORE_KILL, `${acked.size} of ${sent.size} traces acknowledged; every one found after the failover`);
});
