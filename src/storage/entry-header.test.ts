import t from 'tap';
import { SeededRand } from '../fs/seeded-rand.js';
import { randomRows, seededEntry } from './rows-test-util.js';
import { encodeShardEntry } from './shard-entry.js';
import type { ShardEntry } from './shard-entry.js';
import { peekEntry } from './entry-header.js';
import type { EntryPeek } from './entry-header.js';
import { MetricEntryColumns, decodeMetricEntry } from './metric-entry.js';
import { SpanEntryColumns, decodeSpanEntry } from './span-entry.js';
import { realisticLogs } from './logs/log-test-util.js';

/** randomEntry is an entry of a random shape: points, spans or logs only, two of them, or (rarely) realistic logs. */
function randomEntry(rand: SeededRand): ShardEntry {
  const tenant = rand.intn(2) === 0 ? 'default' : `tenant-${rand.intn(100)}`;
  const shape = rand.intn(7);
  const n = 1 + rand.intn(6);
  const rows = randomRows(rand, { spans: shape === 1 || shape === 3 || shape === 5 ? n : 0, points: shape === 0 || shape === 3 || shape === 4 ? n : 0, logs: shape === 2 || shape === 4 || shape === 5 ? n : 0, tenant });
  const logs = shape === 6 ? realisticLogs(rand, n, tenant) : rows.logs;
  const points = rows.points.map((p) => (rand.intn(2) === 0 ? p : { ...p, exemplars: [], attributes: p.attributes.filter((kv) => kv.value.type === 'string') }));
  return seededEntry(rand, tenant, { spans: rows.spans, points, logs });
}

function metricPrint(c: MetricEntryColumns): string {
  const n = c.n;
  return JSON.stringify([c.tenant, c.idempotencyKey, c.part, c.parts, c.leaderTimeMs, n, [...c.kind.subarray(0, n)], [...c.tMs.subarray(0, n)], [...c.value.subarray(0, n)], [...c.pointAt.subarray(0, n)]]);
}

function spanPrint(c: SpanEntryColumns): string {
  const n = c.count;
  return JSON.stringify([c.tenant, c.idempotencyKey, c.part, c.parts, c.leaderTimeMs, n, [...c.spanEnds.subarray(0, n)]]);
}

/**
 * peekDisagreement checks the apply path's dispatch (shard-state-machine.ts
 * #applyEntry: peek once, then only the decoder the peek names, continuing
 * from its scan) against the chain it replaced (decodeMetricEntry, then
 * decodeSpanEntry, each from the bytes): the same decoder must take the
 * entry, with the same columns, and an entry neither took must be taken by
 * neither. Null when they agree, else the first difference.
 */
function peekDisagreement(bytes: Uint8Array, peek: (b: Uint8Array) => EntryPeek | null = peekEntry): string | null {
  try {
    return dispatchDisagreement(bytes, peek);
  } catch (err) {
    return `threw ${(err as Error).message}`;
  }
}

function dispatchDisagreement(bytes: Uint8Array, peek: (b: Uint8Array) => EntryPeek | null): string | null {
  const m0 = new MetricEntryColumns();
  const s0 = new SpanEntryColumns();
  const metricBefore = decodeMetricEntry(bytes, m0);
  const spanBefore = !metricBefore && decodeSpanEntry(bytes, s0);
  const p = peek(bytes);
  const m1 = new MetricEntryColumns();
  const s1 = new SpanEntryColumns();
  const metricNow = p !== null && p.rows === 'points' && decodeMetricEntry(bytes, m1, p);
  const spanNow = p !== null && p.rows === 'spans' && decodeSpanEntry(bytes, s1, p);
  if (metricBefore !== metricNow) return `metric decoder: ${metricBefore} before, ${metricNow} after the peek (${p?.rows ?? 'null'})`;
  if (spanBefore !== spanNow) return `span decoder: ${spanBefore} before, ${spanNow} after the peek (${p?.rows ?? 'null'})`;
  if (metricNow && metricPrint(m0) !== metricPrint(m1)) return 'metric columns differ';
  if (spanNow && spanPrint(s0) !== spanPrint(s1)) return 'span columns differ';
  return null;
}

t.test('peekEntry: the dispatch takes what the decoder chain took, with the same columns (every shape)', async (t) => {
  const seed = 91;
  const rand = new SeededRand(seed);
  const taken = { points: 0, spans: 0, other: 0 };
  for (let i = 0; i < 700; i++) {
    const bytes = encodeShardEntry(randomEntry(rand));
    const d = peekDisagreement(bytes);
    if (d !== null) t.fail(`entry ${i} (seed ${seed}): ${d}`);
    taken[peekEntry(bytes)?.rows ?? 'other']++;
  }
  t.ok(taken.points > 100 && taken.spans > 100 && taken.other > 100, `shapes seen: ${JSON.stringify(taken)}`);
});

t.test('peekEntry: flipped and cut bytes get the same verdicts as the decoder chain', async (t) => {
  const seed = 92;
  const rand = new SeededRand(seed);
  let peeked = 0;
  let declined = 0;
  for (let i = 0; i < 1500; i++) {
    const bytes = Uint8Array.from(encodeShardEntry(randomEntry(rand)));
    const flips = rand.intn(3);
    for (let f = 0; f < flips; f++) {
      // Half the flips land in the first 64 bytes: the header and the list headers peekEntry reads.
      const at = rand.intn(2) === 0 ? rand.intn(Math.min(64, bytes.length)) : rand.intn(bytes.length);
      bytes[at] = rand.intn(3) === 0 ? (bytes[at] as number) ^ (1 << rand.intn(8)) : rand.intn(256);
    }
    const cut = rand.intn(6) === 0 ? bytes.subarray(0, rand.intn(bytes.length)) : bytes;
    const d = peekDisagreement(cut);
    if (d !== null) t.fail(`entry ${i} (seed ${seed}): ${d}`);
    if (peekEntry(cut) === null) declined++;
    else peeked++;
  }
  t.ok(peeked > 300 && declined > 100, `outcomes seen: ${peeked} peeked, ${declined} declined`);
});

t.test('the checker catches planted peek bugs', async (t) => {
  const planted: [string, (b: Uint8Array) => EntryPeek | null][] = [
    // The lists' order swapped: a spans entry routed to the metric decoder and back.
    ['spans and points swapped', (b) => {
      const p = peekEntry(b);
      if (p === null || p.rows === 'other') return p;
      return { ...p, rows: p.rows === 'spans' ? 'points' : 'spans' };
    }],
    // Points-only entries left to decodeShardEntry: the same stored state, but not the columnar path.
    ['points reported as other', (b) => {
      const p = peekEntry(b);
      return p === null || p.rows !== 'points' ? p : { ...p, rows: 'other' };
    }],
    // The scan left one byte further than readEntryHeader left it.
    ['scan one byte late', (b) => {
      const p = peekEntry(b);
      if (p !== null) p.scan.at++;
      return p;
    }],
    // The header of another entry handed over (a stale peek).
    ['stale header', (() => {
      let last: EntryPeek | null = null;
      return (b: Uint8Array): EntryPeek | null => {
        const p = peekEntry(b);
        const out = p !== null && last !== null ? { ...p, header: last.header } : p;
        last = p;
        return out;
      };
    })()],
  ];
  for (const [name, bug] of planted) {
    const rand = new SeededRand(93);
    let caught = 0;
    for (let i = 0; i < 300; i++) if (peekDisagreement(encodeShardEntry(randomEntry(rand)), bug) !== null) caught++;
    t.ok(caught > 0, `planted "${name}" caught in ${caught} of 300 entries`);
  }
});
