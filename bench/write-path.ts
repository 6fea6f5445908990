/**
 * write-path.ts — `node dist/bench/write-path.js [--ms 500] [--rounds 5]`:
 * the CPU a node's receiver spends per item between decoding and proposing
 * (src/otlp/shard-parts.ts splitByShard and encodeParts), in one process,
 * each optimized step against the definition it replaced, same run, same
 * bodies:
 *
 * - split: splitByShard against routeReference per row (a Record of labels
 *   and the partition-key.ts functions, what splitByShard did before the
 *   PartitionKeyBuffer);
 * - encode: encodeShardEntry(entry, 'fast') against (entry, 'full') (the
 *   self-check that decodes the bytes it just wrote), on one shard's part of
 *   a request (512 items over 16 shards, as a one-node cluster splits them);
 * - direct: encodeShardEntry(entry, 'fast') against (entry, 'packed'): the
 *   entry written by EntryWriter (src/storage/entry-writer.ts) against
 *   msgpackr's pack of the wire tuples, both with the fast check (the byte
 *   decoders, or for 'packed' logs the readers over the tuples), on the same
 *   part. Both must write the same bytes; the bench asserts it before timing.
 *
 * Bodies: bench/ingest-payloads.ts, the ingest bench's requests (batch 512),
 * decoded once by the node's decoders. Each round times A then B for --ms
 * each; printed: per signal and step, µs per item of the best round of each
 * (the least disturbed on a shared machine) and the median per-round ratio.
 * Timing never gates anything.
 */
import { performance } from 'node:perf_hooks';
import { assert } from '../src/errors.js';
import { initHash } from '../src/partition/hash.js';
import { OTLP_DECODERS } from '../src/otlp/decoders.js';
import { routeReference, splitByShard } from '../src/otlp/shard-parts.js';
import type { RowBatch } from '../src/otlp/shard-parts.js';
import type { OtlpSignal } from '../src/otlp/ingest.js';
import type { LogRow, MetricPointRow, SpanRow } from '../src/storage/rows.js';
import { SHARD_ENTRY_VERSION, encodeShardEntry } from '../src/storage/shard-entry.js';
import type { ShardEntry } from '../src/storage/shard-entry.js';
import { buildTemplate, makeBody } from './ingest-payloads.js';

const SHARDS = 16;
const BATCH = 512;
const KEY = '0123456789abcdef';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return dflt;
  const v = Number(process.argv[i + 1]);
  assert(Number.isSafeInteger(v) && v > 0, `${name} takes a positive integer`);
  return v;
}

/** usPerItem runs fn for about `ms` and returns µs per item (`items` per call). */
function usPerItem(ms: number, items: number, fn: () => void): number {
  fn();
  let calls = 0;
  const t0 = performance.now();
  let t1: number;
  while ((t1 = performance.now()) - t0 < ms) {
    fn();
    calls++;
  }
  return ((t1 - t0) * 1000) / (calls * items);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

async function main(): Promise<void> {
  const ms = arg('--ms', 500);
  const rounds = arg('--rounds', 5);
  const hasher = await initHash();
  const nowMs = Date.now();
  for (const signal of ['metrics', 'traces', 'logs'] as OtlpSignal[]) {
    const body = makeBody(buildTemplate(signal, BATCH, nowMs, 7), 3, 1, nowMs - 60_000);
    const rows = OTLP_DECODERS[signal].proto(body, { tenant: 'bench', nowMs }).rows;
    assert(rows.length === BATCH, 'every item of a bench body decodes');
    const batch: RowBatch = {
      spans: signal === 'traces' ? (rows as SpanRow[]) : [],
      points: signal === 'metrics' ? (rows as MetricPointRow[]) : [],
      logs: signal === 'logs' ? (rows as LogRow[]) : [],
    };
    const kind = signal === 'traces' ? 'span' : signal === 'metrics' ? 'point' : 'log';
    const split = (): void => void splitByShard(hasher, SHARDS, 'bench', KEY, batch);
    const reference = (): void => {
      for (const row of rows) routeReference(hasher, SHARDS, 'bench', KEY, { kind, row } as Parameters<typeof routeReference>[4]);
    };
    const part = [...splitByShard(hasher, SHARDS, 'bench', KEY, batch).values()][0] as RowBatch;
    const partRows = part.spans.length + part.points.length + part.logs.length;
    const entry: ShardEntry = { version: SHARD_ENTRY_VERSION, tenant: 'bench', idempotencyKey: KEY, part: 0, parts: 1, leaderTimeMs: nowMs, ...part };
    assert(Buffer.compare(encodeShardEntry(entry, 'fast'), encodeShardEntry(entry, 'packed')) === 0, 'the direct writer writes msgpackr\'s bytes');
    const steps: [string, () => void, () => void, number][] = [
      ['split', split, reference, BATCH],
      ['encode', () => void encodeShardEntry(entry, 'fast'), () => void encodeShardEntry(entry, 'full'), partRows],
      ['direct', () => void encodeShardEntry(entry, 'fast'), () => void encodeShardEntry(entry, 'packed'), partRows],
    ];
    for (const [step, fast, slow, items] of steps) {
      const a: number[] = [];
      const b: number[] = [];
      for (let r = 0; r < rounds; r++) {
        a.push(usPerItem(ms, items, fast));
        b.push(usPerItem(ms, items, slow));
      }
      const ratio = median(a.map((x, i) => (b[i] as number) / x));
      console.log(
        `${signal.padEnd(8)} ${step.padEnd(7)} now ${Math.min(...a).toFixed(2).padStart(7)} µs/item   before ${Math.min(...b).toFixed(2).padStart(7)} µs/item   ` +
          `before/now ${ratio.toFixed(1)}x (median of ${rounds} rounds)`,
      );
    }
  }
}

await main();
