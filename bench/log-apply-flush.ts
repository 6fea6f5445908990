/**
 * log-apply-flush.ts — `node --expose-gc dist/bench/log-apply-flush.js [--records N]
 * [--rounds R] [--no-keep] [--json]`: the CPU a log record costs a node's
 * main thread in the logs store, apply and flush apart, in one process: the
 * ingest bench's own entries (bench/ingest-payloads.ts bodies, batch 512,
 * prepareParts over 16 shards, as bench/apply.ts's --ingest-entries builds
 * them: about 32 records per entry, random times over 20 s), every entry
 * decoded as the apply path does (decodeLogsOnlyEntry, else
 * decodeShardEntry) and added to one LogStore (apply), then frozen and
 * written into a batch that only counts bytes (flush: writeFrozen, term
 * index on; no LevelDB, no idempotency window, no Raft).
 *
 * Printed per round after a warm-up round: process CPU (user + system, all
 * threads) per record for apply and for flush, scavenges in each (a young
 * generation of 1 MiB, `--min-semi-space-size=1 --max-semi-space-size=1`,
 * makes the count a coarse measure of the bytes allocated), the head's
 * accounted bytes per record and the bytes the flush put (equal between
 * two trees that write the same blocks), and the medians. `--no-keep`
 * decodes without adding to the store: what apply costs when no record
 * outlives its entry (the price of keeping a head of per-record objects,
 * bench/README.md "## ingest", s20). Timing never gates anything.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { performance } from 'node:perf_hooks';
import { OTLP_DECODERS } from '../src/otlp/decoders.js';
import { prepareParts } from '../src/otlp/prepare-parts.js';
import { initHash } from '../src/partition/hash.js';
import { peekEntry } from '../src/storage/entry-header.js';
import { LogStore } from '../src/storage/logs/log-store.js';
import { decodeLogsOnlyEntry, decodeShardEntry } from '../src/storage/shard-entry.js';
import type { KvRead, KvWriteBatch } from '../src/storage/shard/shard-db.js';
import { buildTemplate, makeBody } from './ingest-payloads.js';
import { positiveIntArg } from './cli-args.js';

const RECORDS = positiveIntArg('records', 100_000);
const ROUNDS = positiveIntArg('rounds', 5);
const KEEP = !process.argv.includes('--no-keep');
const JSON_OUT = process.argv.includes('--json');
/** NOW_MS fixes the bodies' clock: every run builds the same entries. */
const NOW_MS = 1_764_000_000_000;

/** ingestEntries builds at least `records` log records as the ingest bench sends them, as the shard entries prepareParts makes. */
async function ingestEntries(records: number): Promise<{ entries: Uint8Array[]; records: number }> {
  const hasher = await initHash();
  const template = buildTemplate('logs', 512, NOW_MS, 7);
  const entries: Uint8Array[] = [];
  let n = 0;
  for (let seq = 0; n < records; seq++) {
    const body = makeBody(template, seq % 16, Math.floor(seq / 16), NOW_MS - 60_000);
    const job = { signal: 'logs' as const, tenant: 'bench', format: 'proto' as const, body, shardCount: 16, traceSampleRatio: 1, wallMs: NOW_MS };
    for (const part of prepareParts(job, { hasher, decoders: OTLP_DECODERS }).parts) {
      entries.push(part.bytes);
      n += part.rows;
    }
  }
  return { entries, records: n };
}

/** Round is one round's figures. */
interface Round {
  applyUsPerRecord: number;
  flushUsPerRecord: number;
  applyScavenges: number;
  flushScavenges: number;
  headBytesPerRecord: number;
  flushBytes: number;
}

const cpuMs = (): number => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;

async function main(): Promise<void> {
  const { entries, records } = await ingestEntries(RECORDS);
  const scavengesAt: number[] = [];
  // A minor GC is kind 1 (NODE_PERFORMANCE_GC_MINOR).
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if ((e as unknown as { detail?: { kind?: number } }).detail?.kind === 1) scavengesAt.push(e.startTime);
  });
  obs.observe({ entryTypes: ['gc'] });
  const gc = (globalThis as { gc?: () => void }).gc;
  const windows: [number, number, number, number][] = [];
  const rounds: Round[] = [];
  for (let r = 0; r <= ROUNDS; r++) {
    gc?.();
    const store = new LogStore({});
    const a0 = performance.now();
    const c0 = cpuMs();
    for (const data of entries) {
      const peek = peekEntry(data);
      const e = (peek === null ? null : decodeLogsOnlyEntry(data, peek)) ?? decodeShardEntry(data);
      if (KEEP) store.add(e.tenant, e.logs, e.leaderTimeMs);
    }
    const applyMs = cpuMs() - c0;
    const a1 = performance.now();
    const headBytes = store.headBytes();
    store.freeze();
    let flushBytes = 0;
    const batch = { put: (k: Uint8Array, v: Uint8Array) => void (flushBytes += k.length + v.length), del: () => undefined } as unknown as KvWriteBatch;
    const f0 = performance.now();
    const c1 = cpuMs();
    if (KEEP) await store.writeFrozen({ batch, kv: null as unknown as KvRead, flushIndex: 1 });
    const flushMs = cpuMs() - c1;
    const f1 = performance.now();
    if (r === 0) continue;
    windows.push([a0, a1, f0, f1]);
    rounds.push({ applyUsPerRecord: (applyMs * 1000) / records, flushUsPerRecord: (flushMs * 1000) / records, applyScavenges: 0, flushScavenges: 0, headBytesPerRecord: headBytes / records, flushBytes });
  }
  // GC entries arrive after the synchronous work that caused them (a task of their own; a loaded machine delays it).
  for (let k = 0; k < 20; k++) await new Promise((resolve) => setTimeout(resolve, 25));
  obs.disconnect();
  windows.forEach(([a0, a1, f0, f1], i) => {
    const round = rounds[i] as Round;
    round.applyScavenges = scavengesAt.filter((t) => t >= a0 && t < a1).length;
    round.flushScavenges = scavengesAt.filter((t) => t >= f0 && t < f1).length;
  });
  const summary = {
    records,
    entries: entries.length,
    keep: KEEP,
    applyUsPerRecord: median(rounds.map((x) => x.applyUsPerRecord)),
    flushUsPerRecord: median(rounds.map((x) => x.flushUsPerRecord)),
    applyScavenges: median(rounds.map((x) => x.applyScavenges)),
    flushScavenges: median(rounds.map((x) => x.flushScavenges)),
    headBytesPerRecord: median(rounds.map((x) => x.headBytesPerRecord)),
    flushBytes: rounds[0]?.flushBytes ?? 0,
    rounds,
  };
  if (JSON_OUT) {
    console.log(JSON.stringify(summary));
    return;
  }
  console.log(`${records} records in ${entries.length} entries, ${ROUNDS} rounds after one${KEEP ? '' : ', not kept (--no-keep)'}`);
  for (const x of rounds) {
    console.log(`apply ${x.applyUsPerRecord.toFixed(2)} µs/record (${x.applyScavenges} scavenges)  flush ${x.flushUsPerRecord.toFixed(2)} µs/record (${x.flushScavenges} scavenges)  head ${x.headBytesPerRecord.toFixed(0)} B/record  flush wrote ${x.flushBytes} B`);
  }
  console.log(`median: apply ${summary.applyUsPerRecord.toFixed(2)} µs/record, flush ${summary.flushUsPerRecord.toFixed(2)} µs/record of process CPU`);
}

await main();
