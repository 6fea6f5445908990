/**
 * ingest-apply.ts — `node dist/bench/ingest-apply.js [--points 1200000] [--warm-points 300000] [--no-apply] [--cpu-prof FILE] [--json]`:
 * a metric point's CPU on a one-node cluster's main thread between its
 * shard entry and its apply result, in one process.
 *
 * Entries: the ingest bench's own metrics requests (bench/ingest-payloads.ts
 * bodies, batch 512, 16 load slots, so each slot's 512 series come back in
 * every 16th request with a new time), through the receive worker's
 * prepareParts over 16 shards, made before the clock starts. Apply: each
 * part by its own shard's ShardStateMachine (16 of them, a real LevelDB
 * each, no Raft, no flush), in request order, one `apply` call per part, and
 * its result read back by decodeApplyResult as the proposer reads it: what a
 * node's main thread does per part after the WAL. The first `--warm-points`
 * points (every series created, the code compiled) are not measured; the
 * rest are, in process CPU time (user + system, every thread: GC helpers
 * included), printed as ns per point.
 *
 * For instruction counts (valgrind --tool=callgrind, bench/README.md,
 * ingest): `--no-apply` makes the same entries and state machines and
 * applies nothing; a run without it minus a run with it is the apply's
 * instructions for `--points` points (warm-up and compilation included, the
 * same on both sides of an A/B). `--cpu-prof FILE` writes a V8 CPU profile
 * of the measured window only. Timing never gates anything.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assert } from '../src/errors.js';
import { initHash } from '../src/partition/hash.js';
import { OTLP_DECODERS } from '../src/otlp/decoders.js';
import { prepareParts } from '../src/otlp/prepare-parts.js';
import { EntryType } from '../src/raft/types.js';
import type { Entry } from '../src/raft/types.js';
import { decodeApplyResult } from '../src/storage/shard/shard-records.js';
import { ShardStateMachine } from '../src/storage/shard/shard-state-machine.js';
import { shardStoresFactory } from '../src/storage/shard/stores.js';
import { buildTemplate, makeBody } from './ingest-payloads.js';
import { positiveIntArg } from './cli-args.js';

/** SHARDS, BATCH and SLOTS are the ingest bench's defaults (a cluster's 16 shards, batch 512, 16 load slots). */
const SHARDS = 16;
const BATCH = 512;
const SLOTS = 16;
const POINTS = positiveIntArg('points', 1_200_000);
const WARM_POINTS = positiveIntArg('warm-points', Math.min(300_000, Math.floor(POINTS / 4)));
const NO_APPLY = process.argv.includes('--no-apply');
const JSON_OUT = process.argv.includes('--json');
const PROF_AT = process.argv.indexOf('--cpu-prof');
const PROF_FILE = PROF_AT >= 0 ? process.argv[PROF_AT + 1] : undefined;

/** Part is one shard entry of a request and the shard that applies it. */
interface Part {
  readonly shard: number;
  readonly rows: number;
  readonly bytes: Uint8Array;
}

/** makeParts encodes the ingest bench's requests, in order, until `points` points, as the receive worker does. */
async function makeParts(points: number): Promise<Part[]> {
  const hasher = await initHash();
  const nowMs = Date.now();
  const template = buildTemplate('metrics', BATCH, nowMs, 7);
  const out: Part[] = [];
  let n = 0;
  for (let seq = 0; n < points; seq++) {
    const body = makeBody(template, seq % SLOTS, Math.floor(seq / SLOTS), nowMs - 60_000);
    const job = { signal: 'metrics' as const, tenant: 'bench', format: 'proto' as const, body, shardCount: SHARDS, traceSampleRatio: 1, wallMs: nowMs };
    for (const p of prepareParts(job, { hasher, decoders: OTLP_DECODERS }).parts) {
      assert(p.shard >= 1 && p.shard <= SHARDS, 'a part names one of the shards');
      out.push({ shard: p.shard - 1, rows: p.rows, bytes: p.bytes });
      n += p.rows;
    }
  }
  return out;
}

function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

async function main(): Promise<void> {
  const parts = await makeParts(POINTS);
  const makeStores = shardStoresFactory(await initHash());
  const dirs: string[] = [];
  const sms: ShardStateMachine[] = [];
  for (let g = 0; g < SHARDS; g++) {
    const dir = mkdtempSync(join(tmpdir(), 'otlpdb-bench-ingest-apply-'));
    dirs.push(dir);
    const sm = new ShardStateMachine({
      group: g + 1,
      dir,
      makeStores,
      peer: { fetchPage: () => Promise.reject(new Error('no peers in the bench')) },
      nowMs: () => Date.now(),
      headBytesSoftMax: 2 ** 40,
      headBytesHardMax: 2 ** 41,
    });
    await sm.open({ index: 0, data: new Uint8Array(0) });
    sms.push(sm);
  }
  const next = new Array<number>(SHARDS).fill(1);
  let accepted = 0;
  const applyRange = (from: number, to: number): number => {
    let points = 0;
    for (let k = from; k < to; k++) {
      const p = parts[k] as Part;
      const e: Entry = { index: next[p.shard] as number, term: 1, type: EntryType.Normal, data: p.bytes };
      next[p.shard] = e.index + 1;
      const r = (sms[p.shard] as ShardStateMachine).apply([e]);
      accepted += decodeApplyResult(r[0] as Uint8Array).points.accepted;
      points += p.rows;
    }
    return points;
  };
  let warmParts = 0;
  for (let n = 0; warmParts < parts.length && n < WARM_POINTS; warmParts++) n += (parts[warmParts] as Part).rows;
  let measured = 0;
  let ns = 0;
  try {
    if (!NO_APPLY) {
      applyRange(0, warmParts);
      const session = PROF_FILE === undefined ? null : new Session();
      if (session !== null) {
        session.connect();
        await session.post('Profiler.enable');
        // 100 µs between samples (V8's default is 1 ms): the measured window is under a second of CPU.
        await session.post('Profiler.setSamplingInterval', { interval: 100 });
        await session.post('Profiler.start');
      }
      const c0 = cpuUs();
      measured = applyRange(warmParts, parts.length);
      ns = ((cpuUs() - c0) * 1000) / measured;
      if (session !== null && PROF_FILE !== undefined) {
        const { profile } = await session.post('Profiler.stop');
        writeFileSync(PROF_FILE, JSON.stringify(profile));
        session.disconnect();
      }
      const total = parts.reduce((a, p) => a + p.rows, 0);
      assert(accepted === total, `every point accepted (${accepted} of ${total})`);
    }
  } finally {
    for (const sm of sms) await sm.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
  const out = { points: parts.reduce((a, p) => a + p.rows, 0), parts: parts.length, measuredPoints: measured, cpuNsPerPoint: Math.round(ns * 10) / 10, applied: !NO_APPLY };
  if (JSON_OUT) console.log(JSON.stringify(out));
  else if (NO_APPLY) console.log(`${out.points} points in ${out.parts} parts made; nothing applied (--no-apply)`);
  else console.log(`${out.points} points in ${out.parts} parts; measured ${measured} after the warm-up: ${out.cpuNsPerPoint} ns of process CPU per point`);
}

await main();
