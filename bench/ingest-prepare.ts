/**
 * ingest-prepare.ts — `node dist/bench/ingest-prepare.js [--signal metrics|traces|logs] [--slots 16] [--seqs 8] [--rounds 7] [--json]`:
 * the receive worker's CPU per item (src/otlp/prepare-parts.ts
 * prepareParts: decode, split by shard, encode the shard entries) on the
 * ingest bench's own requests, in process CPU time (user + system, GC
 * threads included), the figure a loaded machine disturbs least.
 *
 * Requests: bench/ingest-payloads.ts bodies, batch 512, 16 shards, as a
 * one-node cluster gets them: `--slots` load slots × `--seqs` requests each,
 * so (metrics) each slot's series come back in every request with new
 * times, as they do under bench/ingest.ts. Every round passes once over all
 * of them through one PrepareDeps (whatever a node's worker remembers
 * across requests it remembers here), timing the decode alone, then
 * prepareParts; the round's split + encode is their difference. Printed:
 * the median and the range over rounds of µs per item and items per
 * CPU-second. Base and branch builds are compared by running this same
 * file in each, alternated (bench/README.md, ingest). Timing never gates
 * anything.
 */
import { assert } from '../src/errors.js';
import { initHash } from '../src/partition/hash.js';
import { OTLP_DECODERS } from '../src/otlp/decoders.js';
import { prepareParts } from '../src/otlp/prepare-parts.js';
import type { PrepareDeps, PrepareJob } from '../src/otlp/prepare-parts.js';
import type { OtlpSignal } from '../src/otlp/ingest.js';
import { buildTemplate, makeBody } from './ingest-payloads.js';
import { median } from './cli-args.js';

const SHARDS = 16;
const BATCH = 512;

function intArg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return dflt;
  const v = Number(process.argv[i + 1]);
  assert(Number.isSafeInteger(v) && v > 0, `${name} takes a positive integer`);
  return v;
}

function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

async function main(): Promise<void> {
  const si = process.argv.indexOf('--signal');
  const signal = (si < 0 ? 'metrics' : process.argv[si + 1]) as OtlpSignal;
  assert(signal === 'metrics' || signal === 'traces' || signal === 'logs', '--signal metrics|traces|logs');
  const slots = intArg('--slots', 16);
  const seqs = intArg('--seqs', 8);
  const rounds = intArg('--rounds', 7);
  const json = process.argv.includes('--json');
  const hasher = await initHash();
  const deps: PrepareDeps = { hasher, decoders: OTLP_DECODERS };
  const nowMs = Date.now();
  const template = buildTemplate(signal, BATCH, nowMs, 7);
  const jobs: PrepareJob[] = [];
  for (let seq = 0; seq < seqs; seq++) {
    for (let slot = 0; slot < slots; slot++) {
      const body = makeBody(template, slot, seq, nowMs - 60_000);
      jobs.push({ signal, tenant: 'bench', format: 'proto', body, shardCount: SHARDS, traceSampleRatio: 1, wallMs: nowMs });
    }
  }
  const items = jobs.length * BATCH;
  const decode = (): void => {
    for (const j of jobs) assert(OTLP_DECODERS[signal].proto(j.body, { tenant: j.tenant, nowMs }).rows.length === BATCH, 'every item decodes');
  };
  const prepare = (): void => {
    for (const j of jobs) {
      const p = prepareParts(j, deps);
      assert(p.rejected === 0 && p.parts.reduce((n, x) => n + x.rows, 0) === BATCH, 'every item is in a part');
    }
  };
  const timed = (fn: () => void): number => {
    const c0 = cpuUs();
    fn();
    return (cpuUs() - c0) / items;
  };
  decode();
  prepare();
  const dec: number[] = [];
  const all: number[] = [];
  for (let r = 0; r < rounds; r++) {
    dec.push(timed(decode));
    all.push(timed(prepare));
  }
  const rest = all.map((a, i) => a - (dec[i] as number));
  const out = {
    signal,
    items,
    rounds,
    decodeUsPerItem: median(dec),
    splitEncodeUsPerItem: median(rest),
    prepareUsPerItem: median(all),
    prepareItemsPerCpuSec: Math.round(1e6 / median(all)),
    prepareUsRange: [Math.min(...all), Math.max(...all)],
  };
  if (json) {
    console.log(JSON.stringify(out));
    return;
  }
  const f = (x: number): string => x.toFixed(2);
  console.log(`${signal}: ${jobs.length} requests × ${BATCH} items, ${SHARDS} shards, ${rounds} rounds; µs per item of process CPU, median (range)`);
  console.log(`  decode        ${f(median(dec))} (${f(Math.min(...dec))}-${f(Math.max(...dec))})`);
  console.log(`  split+encode  ${f(median(rest))} (${f(Math.min(...rest))}-${f(Math.max(...rest))})`);
  console.log(`  prepareParts  ${f(median(all))} (${f(Math.min(...all))}-${f(Math.max(...all))})  = ${out.prepareItemsPerCpuSec.toLocaleString('en-US')} items per CPU-second`);
}

await main();
