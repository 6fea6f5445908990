import t from 'tap';
import type { Test } from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { ByteWriter } from '../codec/index.js';
import { anyValueToWire, attributesToWire } from '../row-wire.js';
import { randomRows } from '../rows-test-util.js';
import type { AnyValue, LogRow } from '../rows.js';
import { STORAGE_PACKR } from '../storage-packr.js';
import { writeRestSection } from './log-block-rest.js';
import type { KvWriteBatch } from '../shard/shard-db.js';
import { writeTenantFlush } from './log-flush-write.js';
import { realisticLogs } from './log-test-util.js';

const SEED = Number(process.env.SEED ?? 0x7e57);

/** reference is the rest section as log-block.ts built it before log-block-rest.ts: the value, then STORAGE_PACKR.pack. */
function reference(rows: readonly LogRow[], ri: Uint32Array, si: Uint32Array, tables: readonly [readonly unknown[], readonly unknown[]]): Uint8Array {
  const rest = rows.map((r, i) => [
    ri[i],
    si[i],
    r.flags,
    r.eventName,
    r.droppedAttributesCount,
    attributesToWire(r.attributes),
    r.body.type === 'string' ? 0 : [anyValueToWire(r.body)],
  ]);
  return Uint8Array.from(STORAGE_PACKR.pack([tables[0], tables[1], rest]));
}

function written(rows: readonly LogRow[], ri: Uint32Array, si: Uint32Array, tables: readonly [readonly unknown[], readonly unknown[]]): Uint8Array {
  const w = new ByteWriter();
  writeRestSection(w, rows, ri, si, tables);
  return w.finish();
}

/** EDGE_STRINGS cross every header cut of a msgpack string, in UTF-16 units and in UTF-8 bytes, with lone surrogates and pairs at the ends. */
const EDGE_STRINGS = [
  '',
  'a'.repeat(31),
  'a'.repeat(32),
  'é'.repeat(16),
  'é'.repeat(15) + 'a',
  '日'.repeat(11),
  'a'.repeat(63),
  'a'.repeat(64),
  '日'.repeat(63),
  '🚀'.repeat(20),
  'x\ud800',
  '\udc00y',
  'a'.repeat(62) + '\ud83d',
  'a'.repeat(255),
  'a'.repeat(256),
  'é'.repeat(128),
  '日'.repeat(86),
  'a'.repeat(0xffff),
  'a'.repeat(0x10000),
  'é'.repeat(0x8000),
  '日'.repeat(30_000),
];

/** EDGE_NUMBERS cross every cut of msgpackr's number forms. */
const EDGE_NUMBERS = [0, -0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 2 ** 32 - 1, 2 ** 32, -1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1, 0.5, -1.5, NaN, Infinity, -Infinity, Number.MAX_SAFE_INTEGER, 1e300];
const EDGE_INTS = [0n, 1n, -1n, 127n, 128n, -(1n << 63n), (1n << 63n) - 1n, 1n << 40n, -(1n << 40n)];

function edgeRows(rand: SeededRand): LogRow[] {
  const base = realisticLogs(rand, 1)[0] as LogRow;
  const rows: LogRow[] = [];
  for (const s of EDGE_STRINGS) {
    rows.push({ ...base, eventName: s, attributes: [{ key: s, value: { type: 'string', value: s } }] });
    rows.push({ ...base, body: { type: 'kvlist', values: [{ key: s, value: { type: 'string', value: s } }] } });
  }
  for (const x of EDGE_NUMBERS) {
    const v: AnyValue = { type: 'double', value: x };
    rows.push({ ...base, body: v, attributes: [{ key: 'd', value: v }] });
    if (x >>> 0 === x && !Object.is(x, -0)) rows.push({ ...base, flags: x, droppedAttributesCount: x });
  }
  rows.push({ ...base, droppedAttributesCount: Number.MAX_SAFE_INTEGER });
  for (const x of EDGE_INTS) rows.push({ ...base, attributes: [{ key: 'i', value: { type: 'int', value: x } }], body: { type: 'int', value: x } });
  for (const n of [15, 16, 17, 40]) {
    rows.push({ ...base, attributes: Array.from({ length: n }, (_, k) => ({ key: `k${k}`, value: { type: 'bool', value: k % 2 === 0 } })) });
  }
  rows.push({ ...base, body: { type: 'empty' }, attributes: [{ key: 'e', value: { type: 'empty' } }, { key: 'b', value: { type: 'bytes', value: rand.bytes(300) } }] });
  return rows;
}

/** same asserts two byte strings equal without tap's element-wise diff (slow on megabytes); the first differing offset names a failure. */
function same(t: Test, a: Uint8Array, b: Uint8Array, what: string): void {
  let at = 0;
  while (at < a.length && at < b.length && a[at] === b[at]) at++;
  t.ok(a.length === b.length && at === a.length, `${what}: equal bytes`, { length: a.length, expectedLength: b.length, firstDifferenceAt: at });
}

function indexes(rand: SeededRand, n: number): [Uint32Array, Uint32Array] {
  const pickIndex = (): number => [0, 1, 0x7f, 0x80, 0x100, 0x10000, 2 ** 32 - 1][rand.intn(7)] as number;
  return [Uint32Array.from({ length: n }, pickIndex), Uint32Array.from({ length: n }, pickIndex)];
}

t.test('writeRestSection writes STORAGE_PACKR.pack of the section value, byte for byte', async (t) => {
  t.comment(`seed ${SEED} (rerun with SEED=${SEED})`);
  const tablesOf = (rows: readonly LogRow[]): [unknown[], unknown[]] => [[[attributesToWire(rows[0]?.resource.attributes ?? []), 0, '']], [['s', '1', [], 0, '']]];
  for (let s = 0; s < 40; s++) {
    const rand = new SeededRand(SEED + s);
    const rows = s % 2 === 0 ? randomRows(rand, { logs: rand.intn(40) }).logs : realisticLogs(rand, 1 + rand.intn(300));
    const [ri, si] = indexes(rand, rows.length);
    const tables: [unknown[], unknown[]] = s % 4 < 2 ? [[], []] : tablesOf(rows);
    same(t, written(rows, ri, si, tables), reference(rows, ri, si, tables), `seed ${SEED + s}: ${rows.length} rows`);
  }
});

t.test('writeRestSection: strings, numbers and lists across every header cut', async (t) => {
  const rand = new SeededRand(SEED);
  const rows = edgeRows(rand);
  const [ri, si] = indexes(rand, rows.length);
  for (let i = 0; i < rows.length; i++) {
    const one = rows.slice(i, i + 1);
    same(t, written(one, ri.subarray(i), si.subarray(i), [[], []]), reference(one, ri.subarray(i), si.subarray(i), [[], []]), `edge row ${i}`);
  }
});

t.test('writeRestSection: row counts across the array header cuts', async (t) => {
  const rand = new SeededRand(SEED);
  const pool = realisticLogs(rand, 50);
  for (const n of [0, 15, 16, 0xffff, 0x10000]) {
    const rows = Array.from({ length: n }, (_, i) => pool[i % pool.length] as LogRow);
    const ri = new Uint32Array(n);
    const si = new Uint32Array(n);
    same(t, written(rows, ri, si, [[], []]), reference(rows, ri, si, [[], []]), `${n} rows`);
  }
});

t.test('a flush of rows far out of time order (rest tails copied) writes what the same rows sorted beforehand write', async (t) => {
  const rand = new SeededRand(SEED + 1);
  const rows = realisticLogs(rand, 3_000).map((r, i) => ({ ...r, timeUnixNano: r.timeUnixNano - (r.timeUnixNano % 1_000_000_000n) + BigInt(i % 7) * 1_000n }));
  // A shuffle: far out of order (more descents than TAILS_DESCENT_SHARE_MIN), with equal times whose apply order decides.
  const shuffled = rows.slice();
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = rand.intn(i + 1);
    [shuffled[i], shuffled[j]] = [shuffled[j] as LogRow, shuffled[i] as LogRow];
  }
  const presorted = shuffled.slice().sort((a, b) => (a.timeUnixNano < b.timeUnixNano ? -1 : a.timeUnixNano > b.timeUnixNano ? 1 : 0));
  const flush = async (input: readonly LogRow[], termIndex: boolean): Promise<string[]> => {
    const puts: string[] = [];
    await writeTenantFlush({ put: (k: Uint8Array, v: Uint8Array) => puts.push(`${Buffer.from(k).toString('hex')}=${Buffer.from(v).toString('hex')}`) } as unknown as KvWriteBatch, 'default', input, 9, termIndex);
    return puts;
  };
  for (const termIndex of [true, false]) {
    const a = await flush(shuffled, termIndex);
    const b = await flush(presorted, termIndex);
    t.equal(a.length, b.length, `index ${termIndex}: as many puts`);
    t.ok(a.every((x, i) => x === b[i]), `index ${termIndex}: every key and value equal`);
  }
});
