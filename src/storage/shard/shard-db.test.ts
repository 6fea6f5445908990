import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SeededRand } from '../../fs/seeded-rand.js';
import { KvWriteBatch, ShardDb } from './shard-db.js';

// A flush's batch from ShardDb.batch() goes to LevelDB's native batch as it
// is filled and keeps nothing in JS. What a user relies on: the database
// after the write holds exactly what the same operations in a recorded batch
// (the array path every earlier flush used) would have left, deletes and
// overwrites included, atomically; a batch given up writes nothing.

async function withDbs<T>(n: number, f: (dbs: ShardDb[]) => Promise<T>): Promise<T> {
  const root = await mkdtemp(join(tmpdir(), 'otlpdb-shard-db-test-'));
  const dbs: ShardDb[] = [];
  try {
    for (let i = 0; i < n; i++) dbs.push(await ShardDb.open(join(root, `db${i}`)));
    return await f(dbs);
  } finally {
    for (const db of dbs) await db.close();
    await rm(root, { recursive: true, force: true });
  }
}

async function contents(db: ShardDb): Promise<string[]> {
  const out: string[] = [];
  for await (const page of db.pages({})) for (const e of page) out.push(`${Buffer.from(e.key).toString('hex')}=${Buffer.from(e.value).toString('hex')}`);
  return out;
}

/** sameContents is the check: null when both databases hold the same entries, else the first difference. */
async function sameContents(a: ShardDb, b: ShardDb): Promise<string | null> {
  const x = await contents(a);
  const y = await contents(b);
  if (x.length !== y.length) return `${x.length} entries vs ${y.length}`;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return `entry ${i}: ${x[i]} vs ${y[i]}`;
  return null;
}

/** fill adds the same seeded operations to both batches: puts of 1 B-64 KiB values, overwrites, deletes of earlier keys. */
function fill(rand: SeededRand, batches: readonly KvWriteBatch[], ops: number): void {
  const keys: Uint8Array[] = [];
  for (let i = 0; i < ops; i++) {
    const r = rand.intn(10);
    if (r < 2 && keys.length > 0) {
      const k = keys[rand.intn(keys.length)] as Uint8Array;
      for (const b of batches) b.del(k);
      continue;
    }
    const k = r < 3 && keys.length > 0 ? (keys[rand.intn(keys.length)] as Uint8Array) : new Uint8Array(1 + rand.intn(40)).map(() => rand.intn(256));
    keys.push(k);
    const v = new Uint8Array(rand.intn(4) === 0 ? rand.intn(65_536) : rand.intn(64)).map(() => rand.intn(256));
    for (const b of batches) b.put(k, v);
  }
}

t.test('a native batch leaves what the same operations in a recorded batch leave', async (t) => {
  await withDbs(2, async ([a, b]) => {
    if (a === undefined || b === undefined) throw new Error('two dbs');
    for (const seed of [1, 2, 3, 4]) {
      const rand = new SeededRand(seed);
      // Something already there, so the deletes and overwrites meet older entries.
      const base = new KvWriteBatch();
      fill(new SeededRand(seed + 100), [base], 200);
      await a.write(base);
      await b.write(base);
      const native = a.batch();
      const recorded = new KvWriteBatch();
      fill(rand, [native, recorded], 1_500);
      t.ok(native.native, 'ShardDb.batch is native');
      t.notOk(recorded.native, 'new KvWriteBatch records');
      t.equal(native.size, recorded.size, 'sizes counted alike');
      t.equal(native.bytes, recorded.bytes, 'bytes counted alike');
      t.throws(() => native.ops, /keeps no operations/, 'a native batch lists no operations');
      await a.write(native);
      await b.write(recorded);
      t.equal(await sameContents(a, b), null, `seed ${seed}: same entries`);
    }
  });
});

t.test('the check catches a planted difference (one lost delete)', async (t) => {
  await withDbs(2, async ([a, b]) => {
    if (a === undefined || b === undefined) throw new Error('two dbs');
    const native = a.batch();
    const recorded = new KvWriteBatch();
    fill(new SeededRand(9), [native, recorded], 300);
    await a.write(native);
    // Planted: the recorded side loses its last delete (as a native batch that dropped one would).
    const ops = recorded.ops;
    const lastDel = ops.map((o) => o.type).lastIndexOf('del');
    t.ok(lastDel >= 0, 'the seeded operations hold a delete');
    const planted = new KvWriteBatch();
    for (const [i, o] of ops.entries()) {
      if (i === lastDel) continue;
      if (o.type === 'put') planted.put(o.key, o.value as Uint8Array);
      else planted.del(o.key);
    }
    await b.write(planted);
    // The delete may remove a key put earlier in the same batch; only a delete that takes something away shows.
    const differs = await sameContents(a, b);
    const deleted = ops[lastDel]?.key as Uint8Array;
    const laterPut = ops.slice(lastDel + 1).some((o) => o.type === 'put' && Buffer.compare(o.key, deleted) === 0);
    const existed = ops.slice(0, lastDel).some((o) => o.type === 'put' && Buffer.compare(o.key, deleted) === 0);
    if (!laterPut && existed) t.not(differs, null, `caught: ${differs ?? ''}`);
    else t.fail('seed 9 should delete a key put earlier and not put again');
  });
});

t.test('a native batch: written once, to its own db; discarded, nothing lands', async (t) => {
  await withDbs(2, async ([a, b]) => {
    if (a === undefined || b === undefined) throw new Error('two dbs');
    const k = Uint8Array.of(1, 2, 3);
    const given = a.batch();
    given.put(k, Uint8Array.of(9));
    await given.discard();
    t.throws(() => given.put(k, Uint8Array.of(8)), /after the batch was written or discarded/, 'no put after discard');
    t.equal(await a.get(k), undefined, 'a discarded batch wrote nothing');
    const other = a.batch();
    other.put(k, Uint8Array.of(7));
    await t.rejects(b.write(other), /ShardDb that made it/, 'a batch goes to its own db');
    await a.write(other);
    t.same(await a.get(k), Uint8Array.of(7), 'then written to its own');
    await t.rejects(a.write(other), /at most once/, 'not written twice');
    const empty = a.batch();
    await a.write(empty);
    t.equal(empty.size, 0, 'an empty native batch writes (and closes) quietly');
  });
});

// Every read answers plain Uint8Arrays (plainBytes): the decoders the flush trains on plain Uint8Arrays
// (crc32c, ByteReader, idKey, the block and index decoders) then meet one object map on reads too, instead of
// deoptimising on the first read after a load (bench/README.md, query-traces, s22). What the check looks at: the
// prototype (a Node Buffer's is Buffer.prototype) and the bytes.
const isPlain = (v: Uint8Array | undefined): boolean => v !== undefined && Object.getPrototypeOf(v) === Uint8Array.prototype && !Buffer.isBuffer(v);

t.test('every read answers plain Uint8Arrays over the bytes written', async (t) => {
  await withDbs(1, async ([db]) => {
    if (db === undefined) throw new Error('one db');
    const rand = new SeededRand(22);
    const want = new Map<string, Uint8Array>();
    const batch = db.batch();
    for (let i = 0; i < 50; i++) {
      const k = Uint8Array.of(7, i);
      const v = new Uint8Array(rand.intn(3) === 0 ? 5_000 + rand.intn(60_000) : rand.intn(40)).map(() => rand.intn(256));
      batch.put(k, v);
      want.set(Buffer.from(k).toString('hex'), v);
    }
    await db.write(batch);
    const keys = [...want.keys()].map((h) => Uint8Array.from(Buffer.from(h, 'hex')));
    const absent = Uint8Array.of(9, 9);
    const view = db.view();
    try {
      for (const [name, read] of [['db', db], ['view', view], ['readAt', db.readAt(undefined)]] as const) {
        const one = await read.get(keys[3] as Uint8Array);
        t.ok(isPlain(one), `${name}.get answers a plain Uint8Array`);
        t.same(one, want.get(Buffer.from(keys[3] as Uint8Array).toString('hex')), `${name}.get: the bytes written`);
        t.ok(isPlain(one?.subarray(1)), `${name}.get: its subarray is plain too`);
        t.equal(await read.get(absent), undefined, `${name}.get of an absent key: undefined`);
        const many = await read.getMany([...keys, absent]);
        t.equal(many.length, keys.length + 1, `${name}.getMany answers every key`);
        t.equal(many[keys.length], undefined, `${name}.getMany: an absent key stays undefined`);
        t.ok(many.slice(0, keys.length).every(isPlain), `${name}.getMany answers plain Uint8Arrays`);
        t.ok(keys.every((k, i) => Buffer.compare(many[i] as Uint8Array, want.get(Buffer.from(k).toString('hex')) as Uint8Array) === 0), `${name}.getMany: the bytes written`);
        let entries = 0;
        for await (const page of read.pages({}, 7)) {
          for (const e of page) {
            entries++;
            if (!isPlain(e.key) || !isPlain(e.value)) t.fail(`${name}.pages: entry ${entries} is not plain`);
            if (Buffer.compare(e.value, want.get(Buffer.from(e.key).toString('hex')) as Uint8Array) !== 0) t.fail(`${name}.pages: entry ${entries} differs`);
          }
        }
        t.equal(entries, keys.length, `${name}.pages: every entry, each plain, the bytes written`);
      }
    } finally {
      await view.release();
    }
  });
});

t.test('the plain check catches a Buffer (what classic-level answers without plainBytes)', async (t) => {
  t.notOk(isPlain(Buffer.from([1, 2, 3])), 'a Buffer is caught');
  t.notOk(isPlain(Buffer.from([1, 2, 3]).subarray(1)), "a Buffer's subarray is caught");
  t.ok(isPlain(new Uint8Array(3)), 'a plain Uint8Array passes');
});
