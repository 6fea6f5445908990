import t from 'tap';
import { initHash } from '../partition/hash.js';
import type { Hasher } from '../partition/hash.js';
import type { GroupId } from '../raft/types.js';
import type { MetricPointRow } from '../storage/rows.js';
import { OPTS, encodeProto } from './otlp-test-cases.js';
import { Gen } from './otlp-test-gen.js';
import type { Obj } from './otlp-test-gen.js';
import { decodeMetricsProto } from './proto-metrics.js';
import { SeriesShardMemo } from './series-shard-memo.js';
import type { SeriesShardLookup } from './series-shard-memo.js';
import { routeReference, splitByShard } from './shard-parts.js';
import type { RawPointIdentities } from './shard-parts.js';

const KEY = '0123456789abcdef';
const TENANTS = ['tenant-a', 'tenant-é'];
const SHARD_COUNTS = [16, 64];

/** retimed is `req` with every number point's time and value changed: the same series, other bytes around their attributes. */
function retimed(req: Obj, n: number): Obj {
  const out = structuredClone(req);
  for (const rm of (out.resourceMetrics as Obj[] | undefined) ?? []) {
    for (const sm of (rm.scopeMetrics as Obj[] | undefined) ?? []) {
      for (const m of (sm.metrics as Obj[] | undefined) ?? []) {
        const data = (m.gauge ?? m.sum) as Obj | undefined;
        for (const p of (data?.dataPoints as Obj[] | undefined) ?? []) {
          if (typeof p.timeUnixNano === 'string') p.timeUnixNano = String(BigInt(p.timeUnixNano) + BigInt(n) * 1_000_000n);
          p.asDouble = n / 8;
          delete p.asInt;
        }
      }
    }
  }
  return out;
}

/** swappedResources gives each request the resource of the one after it: the same point attributes under other heads. */
function swappedResources(reqs: readonly Obj[]): Obj[] {
  return reqs.map((req, i) => {
    const out = structuredClone(req);
    const from = reqs[(i + 1) % reqs.length] as Obj;
    const rms = (out.resourceMetrics as Obj[] | undefined) ?? [];
    const src = (from.resourceMetrics as Obj[] | undefined) ?? [];
    rms.forEach((rm, j) => {
      const r = src[j % Math.max(1, src.length)];
      if (r !== undefined) rm.resource = structuredClone(r.resource);
    });
    return out;
  });
}

/** bodies are seeded metric requests, each sent as drawn, re-timed twice and under another resource. */
function bodies(seed: number): Uint8Array[] {
  const gen = new Gen(seed);
  const reqs: Obj[] = [];
  for (let i = 0; i < 8; i++) reqs.push(gen.metrics());
  const all = [...reqs, ...reqs.map((r) => retimed(r, 1)), ...swappedResources(reqs), ...reqs.map((r) => retimed(r, 2))];
  return all.map((r) => encodeProto('metrics', r));
}

function referenceShard(hasher: Hasher, shards: number, tenant: string, row: MetricPointRow): GroupId | null {
  try {
    return routeReference(hasher, shards, tenant, KEY, { kind: 'point', row });
  } catch {
    return null; // a point the split refuses (an empty metric name...): left out below
  }
}

interface RunStats {
  readonly points: number;
  readonly rawPoints: number;
  readonly wrong: number;
}

/**
 * runThrough splits every seeded body, for each tenant and shard count,
 * through `memo`, and counts the points whose shard differs from
 * routeReference's. `cut` may change the decoder's ranges (planted bugs).
 */
function runThrough(hasher: Hasher, seeds: readonly number[], memo: SeriesShardLookup, cut?: (body: Uint8Array, ranges: Int32Array) => Int32Array): RunStats {
  let points = 0;
  let rawPoints = 0;
  let wrong = 0;
  for (const seed of seeds) {
    for (const body of bodies(seed)) {
      const decoded = decodeMetricsProto(body, OPTS);
      for (const tenant of TENANTS) {
        for (const shards of SHARD_COUNTS) {
          const rows: MetricPointRow[] = [];
          const want: GroupId[] = [];
          const kept: number[] = [];
          decoded.rows.forEach((row, i) => {
            const s = referenceShard(hasher, shards, tenant, row);
            if (s === null) return;
            rows.push(row);
            want.push(s);
            kept.push(decoded.pointAttributeRanges[2 * i] as number, decoded.pointAttributeRanges[2 * i + 1] as number);
          });
          if (rows.length === 0) continue;
          let ranges: Int32Array = Int32Array.from(kept);
          if (cut !== undefined) ranges = cut(body, ranges);
          const raw: RawPointIdentities = { memo, body, ranges };
          const split = splitByShard(hasher, shards, tenant, KEY, { spans: [], points: rows, logs: [] }, raw);
          const got = new Map<MetricPointRow, GroupId>();
          for (const [shard, b] of split) for (const p of b.points) got.set(p, shard);
          rows.forEach((row, i) => {
            points++;
            if ((ranges[2 * i] as number) >= 0) rawPoints++;
            if (got.get(row) !== want[i]) wrong++;
          });
        }
      }
    }
  }
  return { points, rawPoints, wrong };
}

const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];

t.test('splitByShard through the memo gives every point the reference shard, across requests, tenants and shard counts', async (t) => {
  const hasher = await initHash();
  const memo = new SeriesShardMemo();
  const st = runThrough(hasher, SEEDS, memo);
  t.equal(st.wrong, 0, 'no point on another shard than the reference gives');
  t.ok(st.points > 2_000, `enough points (${st.points})`);
  t.ok(st.rawPoints > st.points / 3, `most gauge and sum points have raw attribute ranges (${st.rawPoints} of ${st.points})`);
  t.ok(st.rawPoints < st.points, 'and some points have none (other point types, truncated values)');
  t.ok(memo.hits > st.rawPoints / 3, `the memo answered for repeated series (${memo.hits} hits)`);
});

t.test('the memo stays exact when it is cleared mid-run (tiny bounds) and when every key hashes alike', async (t) => {
  const hasher = await initHash();
  const tiny = new SeriesShardMemo({ entriesMax: 40, headsMax: 8, keyBytesMax: 600 });
  const st = runThrough(hasher, SEEDS.slice(0, 6), tiny);
  t.equal(st.wrong, 0);
  t.ok(tiny.clears > 10, `cleared ${tiny.clears} times`);
  t.ok(tiny.hits > 0, 'and still answered between clears');
  const colliding = new SeriesShardMemo(undefined, () => 7);
  const st2 = runThrough(hasher, SEEDS.slice(0, 4), colliding);
  t.equal(st2.wrong, 0, 'a hash collision costs a comparison, never a wrong shard');
  t.ok(colliding.hits > 0);
});

/**
 * PlantedMemo is a Map-based memo with one defect chosen by `bug`: a key
 * without its head, a key without the shard count, or head numbers that
 * restart every request while the series entries that hold them stay
 * (stale entries).
 */
class PlantedMemo implements SeriesShardLookup {
  readonly #heads = new Map<string, number>();
  readonly #series = new Map<string, number>();

  constructor(readonly bug: 'no-head' | 'no-shard-count' | 'stale-heads') {}

  beginRequest(): void {
    if (this.bug === 'stale-heads') this.#heads.clear();
  }

  head(key: Uint8Array): number {
    const k = Buffer.from(key).toString('latin1');
    let n = this.#heads.get(k);
    if (n === undefined) {
      n = this.#heads.size;
      this.#heads.set(k, n);
    }
    return n;
  }

  #key(head: number, shardCount: number, body: Uint8Array, at: number, end: number): string {
    const h = this.bug === 'no-head' ? 0 : head;
    const s = this.bug === 'no-shard-count' ? 0 : shardCount;
    return `${h}/${s}/${Buffer.from(body.subarray(at, end)).toString('latin1')}`;
  }

  shard(head: number, shardCount: number, body: Uint8Array, at: number, end: number): number {
    return this.#series.get(this.#key(head, shardCount, body, at, end)) ?? -1;
  }

  remember(head: number, shardCount: number, body: Uint8Array, at: number, end: number, shard: number): boolean {
    this.#series.set(this.#key(head, shardCount, body, at, end), shard);
    return true;
  }
}

t.test('planted memo bugs put points on wrong shards, and the differential run catches each', async (t) => {
  const hasher = await initHash();
  for (const bug of ['no-head', 'no-shard-count', 'stale-heads'] as const) {
    const st = runThrough(hasher, SEEDS.slice(0, 6), new PlantedMemo(bug));
    t.ok(st.wrong > 0, `${bug}: ${st.wrong} points on a wrong shard`);
  }
});

t.test('a planted decoder bug, ranges that stop after the first attribute field, is caught', async (t) => {
  const hasher = await initHash();
  const firstFieldOnly = (body: Uint8Array, ranges: Int32Array): Int32Array => {
    const out = Int32Array.from(ranges);
    for (let i = 0; i < out.length; i += 2) {
      const at = out[i] as number;
      if (at < 0 || out[i + 1] === at) continue;
      // tag (1 byte for field 7), then a varint length
      let p = at + 1;
      let len = 0;
      let shift = 0;
      for (;;) {
        const b = body[p++] as number;
        len += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if (b < 0x80) break;
      }
      out[i + 1] = p + len;
    }
    return out;
  };
  const st = runThrough(hasher, SEEDS.slice(0, 6), new SeriesShardMemo(), firstFieldOnly);
  t.ok(st.wrong > 0, `${st.wrong} points on a wrong shard`);
});

t.test('decodeMetricsProto: a range for gauge and sum points whose attributes are one run, none for others', async (t) => {
  const str = (key: string, value: string): Obj => ({ key, value: { stringValue: value } });
  const NOW = String(BigInt(OPTS.nowMs - 1000) * 1_000_000n);
  const req = {
    resourceMetrics: [
      {
        scopeMetrics: [
          {
            metrics: [
              { name: 'g', gauge: { dataPoints: [{ timeUnixNano: NOW, asDouble: 1, attributes: [str('a', '1'), str('b', '2')] }, { timeUnixNano: NOW, asDouble: 2 }] } },
              { name: 'h', histogram: { aggregationTemporality: 2, dataPoints: [{ timeUnixNano: NOW, count: 0, attributes: [str('a', '1')] }] } },
              { name: 'long', gauge: { dataPoints: [{ timeUnixNano: NOW, asDouble: 1, attributes: [str('a', 'x'.repeat(70_000))] }] } },
            ],
          },
        ],
      },
    ],
  };
  const body = encodeProto('metrics', req);
  const d = decodeMetricsProto(body, OPTS);
  t.equal(d.rows.length, 4);
  const r = d.pointAttributeRanges;
  t.ok((r[0] as number) > 0 && (r[1] as number) > (r[0] as number), 'a gauge point with attributes: a range');
  t.equal(body[r[0] as number], (7 << 3) | 2, 'that starts at the first attribute field tag');
  t.same([r[2], r[3]], [0, 0], 'a gauge point without attributes: the empty run');
  t.same([r[4], r[5]], [-1, -1], 'a histogram point: none');
  t.ok(d.truncatedValues > 0);
  t.same([r[6], r[7]], [-1, -1], 'a point whose value was truncated: none');
  // Hand-written: attribute, time, value, attribute: not one run, so no range; the same with both attributes first has one.
  const varint = (n: number): number[] => {
    const out: number[] = [];
    for (; n >= 0x80; n = Math.floor(n / 0x80)) out.push((n % 0x80) | 0x80);
    out.push(n);
    return out;
  };
  const len = (field: number, bytes: number[]): number[] => [(field << 3) | 2, ...varint(bytes.length), ...bytes];
  const text = (s: string): number[] => [...Buffer.from(s)];
  const kv = (k: string, v: string): number[] => len(7, [...len(1, text(k)), ...len(2, len(1, text(v)))]);
  const time = [(3 << 3) | 1, ...Buffer.from(new BigUint64Array([BigInt(OPTS.nowMs - 1000) * 1_000_000n]).buffer)];
  const value = [(4 << 3) | 1, ...Buffer.from(new Float64Array([1.5]).buffer)];
  const requestOf = (point: number[]): Uint8Array => new Uint8Array(len(1, len(2, len(2, [...len(1, text('g')), ...len(5, len(1, point))]))));
  const gapped = decodeMetricsProto(requestOf([...kv('a', '1'), ...time, ...value, ...kv('b', '2')]), OPTS);
  t.equal(gapped.rows.length, 1);
  t.equal(gapped.rows[0]?.attributes.length, 2);
  t.same([...gapped.pointAttributeRanges], [-1, -1], 'attributes around other fields: none');
  const runBody = requestOf([...time, ...kv('a', '1'), ...kv('b', '2'), ...value]);
  const run = decodeMetricsProto(runBody, OPTS);
  const [a0, a1] = [run.pointAttributeRanges[0] as number, run.pointAttributeRanges[1] as number];
  t.same([...runBody.subarray(a0, a1)], [...kv('a', '1'), ...kv('b', '2')], 'both attribute fields, between other fields: their bytes exactly');
});
