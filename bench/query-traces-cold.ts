/**
 * query-traces-cold.ts — `node dist/bench/query-traces-cold.js [--traces N]
 * [--flushes N] [--searches N] [--rounds N] [--no-fill] [--no-metas]
 * [--profile-first FILE] [--by-id] [--as-node] [--marks]`: where the cold cost of the
 * first attribute searches after a load goes, in one process on one shard's
 * store (a real LevelDB; the data of bench/query-traces-shard.ts, written in
 * start-time order in `--flushes` flushes). Rounds of `--searches` attribute
 * searches (`customer.id=cN`, a seeded customer each, the same sequence in
 * every round), each round on:
 *
 *   round 1: the store that wrote the blocks, its block cache as the flushes
 *            left it — cold code (the process never searched before);
 *   round 2+: a fresh TraceStore and a fresh block cache over the same
 *            LevelDB — cold caches, warm code; in even rounds the LevelDB
 *            is closed and opened again first, so its own block and table
 *            caches are cold as well (the OS page cache stays warm);
 *   last:    round 1's store again — warm caches, warm code.
 *
 * `--no-metas`: every store reads its block metas from LevelDB per search
 * (no block meta table, block-meta-table.ts): the A/B of the table in one
 * build.
 *
 * `--by-id`: each round asks trace by id (TraceStore.traceById: the
 * trace-id index, then the trace's pages) of `--searches` seeded traces
 * instead of attribute searches, the same traces in every round.
 *
 * `--as-node`: each search's query is made as a node makes it (Tempo's
 * parameters through parseSearchParams, the query IR and the planner's
 * lowering: the coordinator's own shard part), and every second search is
 * a peer's part instead: the query packed into a shard.searchTraces call
 * frame, read back by FrameReader from a socket-like Buffer, decoded by
 * decodeCallRequest and decodeSearchRequest, and its answer sent back the
 * same way (encodeCallResponseFrame, FrameReader, decodeCallResponse,
 * decodeSearchAnswer); the local searches' answers pass the wire codec as
 * TraceSearch.searchHere's do. So round 1 meets both query shapes and the
 * peer frames' bytes a node's first searches meet, in one process. Its
 * load passes Raft traffic through the same peer codec as a follower's
 * does (an App message per flush, its entries the flush's bytes, framed,
 * cut by FrameReader and decoded by decodeMessages), so the codec's code
 * is as warm as a node's when the first search comes.
 *
 * `--profile-first FILE`: a CPU profile (node:inspector, sampled every
 * 100 us) of round 1's first 5 searches only, written to FILE (.cpuprofile).
 *
 * Per search: CPU ms of the process (process.cpuUsage, all threads), wall
 * ms, LevelDB calls (gets, getManys, iterators) and block-cache misses. The
 * first searches of round 1 against those of round 2 split the cold cost
 * into code (JIT) and caches; counts do not depend on the machine's load.
 * Timing never gates anything.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Session } from 'node:inspector/promises';
import { SeededRand } from '../src/fs/seeded-rand.js';
import { KvWriteBatch, ShardDb } from '../src/storage/shard/shard-db.js';
import { TraceStore } from '../src/storage/traces/trace-store.js';
import { SpanBlockCache } from '../src/storage/traces/block-cache.js';
import { BlockMetaTable } from '../src/storage/traces/block-meta-table.js';
import { searchShard } from '../src/query/trace-search-shard.js';
import { CountingKv } from './query-traces-round-trips.js';
import { parseSearchParams } from '../src/query/search-params.js';
import type { TraceSearchQuery } from '../src/query/search-params.js';
import { validateIr } from '../src/query/ir.js';
import { lowerTraceSearch, traceSearchIr } from '../src/query/trace-ir.js';
import { SHARD_SEARCH_TRACES, decodeSearchAnswer, decodeSearchRequest, encodeSearchAnswer, encodeSearchRequest } from '../src/query/trace-search-wire.js';
import { decodeCallRequest, decodeCallResponse, decodeMessages, encodeCallRequest, encodeCallResponseFrame, encodeMessages } from '../src/transport/codec.js';
import { EntryType, MessageType } from '../src/raft/types.js';
import type { Entry } from '../src/raft/types.js';
import { FrameReader, FrameType, encodeFrame } from '../src/transport/frame.js';
import { shardSpans, tracesInStartOrder } from './query-traces-shard.js';
import { positiveIntArg } from './cli-args.js';

const WINDOW_START_NS = 1_790_000_000_000_000_000n;
const WINDOW_NS = 58n * 60_000_000_000n;

interface Sample {
  readonly cpuMs: number;
  readonly wallMs: number;
  readonly calls: number;
  readonly misses: number;
  readonly blocks: number;
}

async function main(): Promise<void> {
  const traces = positiveIntArg('traces', 6250);
  const flushes = positiveIntArg('flushes', 27);
  const searches = positiveIntArg('searches', 20);
  const rounds = positiveIntArg('rounds', 3);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otlpdb-bench-cold-'));
  let db = await ShardDb.open(dir);
  try {
    const rand = new SeededRand(3200);
    const { spans, customers } = shardSpans(rand, traces, 'bench');
    const { ordered } = tracesInStartOrder(spans);
    // --no-fill: the flushes leave the cache as the reads fill it (before flush-cache-fill.ts).
    const fill = !process.argv.includes('--no-fill');
    const metas = !process.argv.includes('--no-metas');
    // --marks: a line before and after the flushes and each search, so V8's --trace-opt/--trace-deopt lines (stdout,
    // run under `stdbuf -oL`) fall into the window that paid them (bench/v8-trace-windows.ts counts them).
    const marks = process.argv.includes('--marks');
    const cache1 = new SpanBlockCache();
    const store1 = new TraceStore({}, cache1, undefined, undefined, fill, metas ? new BlockMetaTable() : null);
    await store1.load(db);
    if (marks) console.log('@@ begin load');
    const asNode = process.argv.includes('--as-node');
    /** throughFrame is `frame` as a peer reads it: one frame of `type` in a socket chunk (a Buffer), cut by FrameReader. */
    const throughFrame = (type: number, frame: Uint8Array): Uint8Array => {
      const r = new FrameReader().push(Buffer.from(frame));
      if (!r.ok || r.frames.length !== 1 || r.frames[0]?.type !== type) throw new Error('query-traces-cold: a frame did not come back');
      return r.frames[0].payload;
    };
    let raftIndex = 0;
    /** raftTraffic is a follower's side of one App message carrying `entries` (--as-node's load). */
    const raftTraffic = (datas: readonly Uint8Array[]): void => {
      const entries: Entry[] = datas.map((data) => ({ term: 1, index: ++raftIndex, type: EntryType.Normal, data }));
      const m = { group: 1, type: MessageType.App, from: 1, to: 2, term: 1, logTerm: 1, index: raftIndex - entries.length, entries, commit: raftIndex, reject: false, rejectHint: 0, rejectTerm: 0, context: null, snapshot: null };
      const d = decodeMessages(throughFrame(FrameType.Messages, encodeFrame(FrameType.Messages, encodeMessages([m]))));
      if (!d.ok || d.items.length !== 1 || d.items[0]?.ok !== true) throw new Error('query-traces-cold: a Raft message did not decode');
    };
    const perFlush = Math.ceil(ordered.length / flushes);
    for (let f = 0; f < flushes; f++) {
      if (asNode) {
        // The flush's traces as 64 KiB entries of text, about the bytes an OTLP body of them would be.
        const text = Buffer.from(JSON.stringify(ordered.slice(f * perFlush, (f + 1) * perFlush).flat().map((sp) => [sp.name, sp.attributes.length])));
        const datas: Uint8Array[] = [];
        for (let at = 0; at < text.length; at += 64 * 1024) datas.push(text.subarray(at, at + 64 * 1024));
        for (let at = 0; at < datas.length; at += 16) raftTraffic(datas.slice(at, at + 16));
      }
      store1.add('bench', ordered.slice(f * perFlush, (f + 1) * perFlush).flat(), 0);
      store1.freeze();
      const batch = new KvWriteBatch();
      await store1.writeFrozen({ kv: db, batch, flushIndex: f + 1 });
      await db.write(batch);
      store1.dropFrozen();
    }
    if (marks) console.log('@@ end load');
    const names = [...customers.keys()];
    const pick = new SeededRand(77);
    const seq = Array.from({ length: searches }, () => names[pick.intn(names.length)] as string);
    const byId = process.argv.includes('--by-id');
    const idRand = new SeededRand(78);
    const idPick = Array.from({ length: searches }, () => idRand.intn(ordered.length));
    const base = { startNs: WINDOW_START_NS, endNs: WINDOW_START_NS + WINDOW_NS, spss: 3 };
    const startS = WINDOW_START_NS / 1_000_000_000n;
    // Tempo's end is inclusive to the second (parseSearchParams adds one): the same range as `base`.
    const endS = (WINDOW_START_NS + WINDOW_NS) / 1_000_000_000n - 1n;
    const nodeQuery = (c: string): TraceSearchQuery =>
      lowerTraceSearch(validateIr(traceSearchIr('bench', parseSearchParams(new URLSearchParams({ tags: `customer.id=${c}`, start: String(startS), end: String(endS), limit: '100', spss: '3' }), Date.now()), 'linearizable')));
    let callId = 0;
    /** asPeer runs `q` as a peer's part: the request and the answer through call frames and the wire codecs. */
    const asPeer = async (store: TraceStore, kv: CountingKv, q: TraceSearchQuery): Promise<{ traces: number; blocks: number }> => {
      const id = ++callId;
      const reqPayload = throughFrame(FrameType.CallRequest, encodeFrame(FrameType.CallRequest, encodeCallRequest({ callId: id, method: SHARD_SEARCH_TRACES, deadlineMs: 30_000, payload: encodeSearchRequest({ group: 1, tenant: 'bench', consistency: 'linearizable', query: q }) })));
      const req = decodeCallRequest(reqPayload);
      if (req === undefined) throw new Error('query-traces-cold: the call request did not decode');
      const r = decodeSearchRequest(req.payload);
      const a = await searchShard(store, kv, r.tenant, r.query, () => false);
      const frame = encodeCallResponseFrame({ callId: id, code: '', message: '', payload: encodeSearchAnswer(a) });
      if (frame === null) throw new Error('query-traces-cold: answer past frameBytesMax');
      const resp = decodeCallResponse(throughFrame(FrameType.CallResponse, frame));
      if (resp === undefined || resp.callId !== id) throw new Error('query-traces-cold: the call response did not decode');
      return { traces: decodeSearchAnswer(resp.payload, q.limit, q.spss).traces.length, blocks: a.stats.blocksScanned };
    };
    /** asCoordinator runs `q` as the node's own part: TraceSearch.searchHere's answer through the wire codec. */
    const asCoordinator = async (store: TraceStore, kv: CountingKv, q: TraceSearchQuery): Promise<{ traces: number; blocks: number }> => {
      const a = await searchShard(store, kv, 'bench', q, () => false);
      return { traces: decodeSearchAnswer(encodeSearchAnswer(a), q.limit, q.spss).traces.length, blocks: a.stats.blocksScanned };
    };
    const pi = process.argv.indexOf('--profile-first');
    const profileFile = pi >= 0 ? process.argv[pi + 1] : undefined;
    let session: Session | null = null;
    let roundNo = 0;
    const round = async (store: TraceStore, cache: SpanBlockCache, profile = false): Promise<Sample[]> => {
      roundNo++;
      const out: Sample[] = [];
      if (profile && profileFile !== undefined) {
        session = new Session();
        session.connect();
        await session.post('Profiler.enable');
        await session.post('Profiler.setSamplingInterval', { interval: 100 });
        await session.post('Profiler.start');
      }
      for (const c of seq) {
        if (out.length === 5 && session !== null) {
          const { profile: p } = await session.post('Profiler.stop');
          fs.writeFileSync(profileFile as string, JSON.stringify(p));
          session.disconnect();
          session = null;
        }
        if (marks) console.log(`@@ begin r${roundNo}.${out.length + 1}`);
        const kv = new CountingKv(db, false);
        const m0 = cache.stats().misses;
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        if (byId) {
          const trace = ordered[idPick[out.length] as number] as readonly { traceId: Uint8Array }[];
          const r = await store.traceById(kv, 'bench', (trace[0] as { traceId: Uint8Array }).traceId);
          const wallMs = performance.now() - t0;
          const cu = process.cpuUsage(c0);
          if (r.spans.length !== trace.length) throw new Error(`trace by id: ${r.spans.length} spans, want ${trace.length}`);
          out.push({ cpuMs: (cu.user + cu.system) / 1000, wallMs, calls: kv.gets + kv.getManys + kv.iterators, misses: cache.stats().misses - m0, blocks: r.stats.blocksScanned });
          if (marks) console.log(`@@ end r${roundNo}.${out.length}`);
          continue;
        }
        let a: { traces: number; blocks: number };
        if (asNode) {
          const q = nodeQuery(c);
          a = out.length % 2 === 1 ? await asPeer(store, kv, q) : await asCoordinator(store, kv, q);
        } else {
          const r = await searchShard(store, kv, 'bench', { ...base, predicate: { attrs: [['customer.id', c]] }, limit: 100 }, () => false);
          a = { traces: r.traces.length, blocks: r.stats.blocksScanned };
        }
        const wallMs = performance.now() - t0;
        const cu = process.cpuUsage(c0);
        const want = customers.get(c)?.size ?? 0;
        if (a.traces !== want) throw new Error(`customer ${c}: ${a.traces} traces, want ${want}`);
        out.push({ cpuMs: (cu.user + cu.system) / 1000, wallMs, calls: kv.gets + kv.getManys + kv.iterators, misses: cache.stats().misses - m0, blocks: a.blocks });
        if (marks) console.log(`@@ end r${roundNo}.${out.length}`);
      }
      return out;
    };
    const print = (name: string, xs: readonly Sample[]): void => {
      const f = (v: number): string => v.toFixed(2).padStart(7);
      const mean = (ys: readonly Sample[], k: keyof Sample): number => ys.reduce((n, s) => n + s[k], 0) / Math.max(ys.length, 1);
      console.log(`${name}`);
      console.log(`  per search (cpu ms / wall ms / LevelDB calls / cache misses / blocks): ${xs.map((s) => `${s.cpuMs.toFixed(1)}/${s.wallMs.toFixed(1)}/${s.calls}/${s.misses}/${s.blocks}`).join('  ')}`);
      for (const [label, ys] of [['first 5', xs.slice(0, 5)], ['rest', xs.slice(5)]] as const) {
        console.log(`  ${label.padEnd(8)} cpu ${f(mean(ys, 'cpuMs'))} ms  wall ${f(mean(ys, 'wallMs'))} ms  calls ${f(mean(ys, 'calls'))}  misses ${f(mean(ys, 'misses'))}  blocks ${f(mean(ys, 'blocks'))}`);
      }
    };
    console.log(`query-traces-cold: ${spans.length} spans in ${traces} traces, ${flushes} flushes (fill on flush: ${fill}, meta table: ${metas}); ${searches} ${byId ? 'traces by id' : asNode ? 'attribute searches as a node makes them (every second one a peer\'s, through call frames)' : 'attribute searches'} a round; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
    print(`round 1: the writing store, cold code, ${cache1.stats().entries} cache entries after the flushes`, await round(store1, cache1, true));
    for (let r = 2; r < rounds; r++) {
      // Even rounds reopen the LevelDB first: its own block and table caches start cold too (the OS page cache does not).
      const reopen = r % 2 === 0;
      if (reopen) {
        await db.close();
        db = await ShardDb.open(dir);
      }
      const cache = new SpanBlockCache();
      const fresh = new TraceStore({}, cache, undefined, undefined, true, metas ? new BlockMetaTable() : null);
      await fresh.load(db);
      print(`round ${r}: a fresh store and cache${reopen ? ', LevelDB reopened' : ''}, warm code`, await round(fresh, cache));
    }
    print(`round ${rounds}: the writing store again, warm caches and code`, await round(store1, cache1));
  } finally {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1]?.endsWith('query-traces-cold.js') === true) await main();
