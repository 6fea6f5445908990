import t from 'tap';
import { initHash } from './hash.js';
import { shardForKey } from './key-to-shard.js';
import { PartitionLimits } from '../limits.js';
import { logPartitionKey, seriesPartitionKey, spanPartitionKey } from './partition-key.js';
import { PartitionKeyBuffer } from './partition-key-buffer.js';
import { SeededRand } from '../fs/seeded-rand.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const traceId = Uint8Array.from({ length: 16 }, (_, i) => i + 1);

t.test('the encoding is pinned (stored rows are routed by it)', (t) => {
  t.equal(hex(spanPartitionKey('default', traceId)), '010764656661756c74100102030405060708090a0b0c0d0e0f10');
  t.equal(
    hex(seriesPartitionKey('default', 'http_requests_total', { method: 'GET', code: '200' })),
    '020764656661756c7413687474705f72657175657374735f746f74616c0204636f646503323030066d6574686f6403474554',
  );
  t.equal(hex(logPartitionKey('default', null, { app: 'api' }, 'req-1')), '030764656661756c74010361707003617069057265712d31');
  t.end();
});

t.test('series keys: labels sorted, so label order does not matter', (t) => {
  const a = seriesPartitionKey('t', 'm', { b: '2', a: '1', c: '3' });
  const b = seriesPartitionKey('t', 'm', { c: '3', a: '1', b: '2' });
  t.same(a, b);
  t.end();
});

t.test('series keys: empty-valued labels are dropped (Prometheus semantics)', (t) => {
  t.same(seriesPartitionKey('t', 'm', { a: 'b', c: '' }), seriesPartitionKey('t', 'm', { a: 'b' }));
  t.end();
});

t.test('series keys never collide through delimiters', (t) => {
  const pairs: [string, string, Record<string, string>, string, string, Record<string, string>][] = [
    ['t', 'm', { a: 'b,c' }, 't', 'm', { a: 'b', c: 'x' }],
    ['t', 'm', { a: 'b,c=d' }, 't', 'm', { a: 'b', c: 'd' }],
    ['t', 'm', { a: 'b\u0000c' }, 't', 'm', { a: 'b', c: '' }],
    ['t', 'm', { 'a=b': 'c' }, 't', 'm', { a: 'b=c' }],
    ['t', 'ab', {}, 't', 'a', { b: '' }],
    ['t', 'm{a="b"}', {}, 't', 'm', { a: 'b' }],
    ['t/m', 'x', {}, 't', 'm/x', {}],
    ['t', 'm', { a: '1' }, 'u', 'm', { a: '1' }],
  ];
  for (const [t1, m1, l1, t2, m2, l2] of pairs) {
    t.not(hex(seriesPartitionKey(t1, m1, l1)), hex(seriesPartitionKey(t2, m2, l2)), `${t1}/${m1}${JSON.stringify(l1)} vs ${t2}/${m2}${JSON.stringify(l2)}`);
  }
  t.end();
});

t.test('property: distinct canonical series give distinct keys (seeded, delimiter-heavy alphabet)', (t) => {
  const rng = new SeededRand(21);
  const alphabet = ['a', 'b', ',', '=', '"', '{', '}', '\u0000', '\u0001', '\u0007', 'é', ''];
  const word = (): string => Array.from({ length: rng.intn(4) }, () => alphabet[rng.intn(alphabet.length)]).join('');
  const seen = new Map<string, string>();
  let collisions = 0;
  for (let i = 0; i < 20_000; i++) {
    const labels: Record<string, string> = {};
    const count = rng.intn(4);
    for (let k = 0; k < count; k++) {
      const name = word() || 'n';
      labels[name] = word();
    }
    const metric = word() || 'm';
    // The canonical identity of a series, built independently of the encoder.
    const canonical = JSON.stringify([
      metric,
      Object.entries(labels)
        .filter(([, v]) => v !== '')
        .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)),
    ]);
    const key = hex(seriesPartitionKey('tenant', metric, labels));
    const prior = seen.get(key);
    if (prior !== undefined && prior !== canonical) collisions++;
    seen.set(key, canonical);
  }
  t.equal(collisions, 0);
  t.ok(seen.size > 5000, `${seen.size} distinct series exercised`);
  t.end();
});

t.test('a log with a trace id lands with its trace; without one, it spreads by request', async (t) => {
  const h = await initHash();
  t.same(logPartitionKey('t', traceId, { app: 'x' }, 'r1'), spanPartitionKey('t', traceId), 'same key as the spans');
  const none = [null, new Uint8Array(0), new Uint8Array(16)];
  for (const id of none) {
    t.same(logPartitionKey('t', id, { app: 'x' }, 'r1'), logPartitionKey('t', null, { app: 'x' }, 'r1'), 'null, empty and zero ids mean none');
  }
  t.not(hex(logPartitionKey('t', null, { app: 'x' }, 'r1')), hex(logPartitionKey('t', null, { app: 'x' }, 'r2')));
  t.same(logPartitionKey('t', null, { app: 'x' }, 'r1'), logPartitionKey('t', null, { app: 'x' }, new TextEncoder().encode('r1')));
  // One hot stream: 1000 requests reach every one of 16 shards.
  const shards = new Set<number>();
  for (let r = 0; r < 1000; r++) shards.add(shardForKey(h, logPartitionKey('t', null, { app: 'hot' }, `req-${r}`), 16));
  t.equal(shards.size, 16, 'a hot stream spreads over all shards');
  // A trace id is not confused with a stream whose labels spell it out.
  t.not(hex(logPartitionKey('t', traceId, {}, '')), hex(logPartitionKey('t', null, {}, traceId)));
});

t.test('spans of one trace share a shard; traces spread', async (t) => {
  const h = await initHash();
  const rng = new SeededRand(5);
  const counts = new Array<number>(16).fill(0);
  for (let i = 0; i < 16_000; i++) {
    const s = shardForKey(h, spanPartitionKey('default', rng.bytes(16)), 16);
    counts[s - 1] = (counts[s - 1] ?? 0) + 1;
  }
  t.ok(Math.min(...counts) > 850 && Math.max(...counts) < 1150, `per-shard counts ${counts.join(' ')}`);
  t.not(hex(spanPartitionKey('a', traceId)), hex(spanPartitionKey('b', traceId)), 'tenant is part of the key');
});

t.test('bad inputs are refused', (t) => {
  t.throws(() => spanPartitionKey('', traceId), { code: 'ERR_INVALID_ARGUMENT', message: /tenant is empty/ });
  t.throws(() => spanPartitionKey('t', new Uint8Array(8)), { code: 'ERR_INVALID_ARGUMENT', message: /8 bytes: expected 16/ });
  t.throws(() => spanPartitionKey('t', new Uint8Array(16)), { code: 'ERR_INVALID_ARGUMENT', message: /all zero/ });
  t.throws(() => seriesPartitionKey('t', '', {}), { code: 'ERR_INVALID_ARGUMENT', message: /metric name is empty/ });
  t.throws(() => seriesPartitionKey('t', 'm', { '': 'v' }), { code: 'ERR_INVALID_ARGUMENT', message: /empty label name/ });
  t.throws(() => logPartitionKey('t', new Uint8Array(5).fill(1), {}, 'r'), { code: 'ERR_INVALID_ARGUMENT', message: /5 bytes/ });
  const big = 'x'.repeat(PartitionLimits.partitionKeyBytesMax);
  t.throws(() => seriesPartitionKey('t', 'm', { a: big }), { code: 'ERR_LIMIT_EXCEEDED', message: /limit is 65536 bytes/ });
  t.end();
});

t.test('PartitionKeyBuffer gives the reference keys byte for byte (seeded: Unicode, lone surrogates, empty values, many and long labels)', (t) => {
  const rng = new SeededRand(5);
  const units = ['a', 'z', '_', '.', ' ', '0', 'é', 'ß', '日', '本', '\u0000', '\u007f', '\u0080', '\u07ff', '\u0800', '\uffff', '🚀', '\ud83d', '\ude80', '\udbff\udfff', '__proto__'];
  const word = (max: number): string => {
    const n = rng.intn(max + 1);
    let s = '';
    for (let i = 0; i < n; i++) s += units[rng.intn(units.length)];
    return s;
  };
  const keys = new PartitionKeyBuffer();
  let fast = 0;
  let leftToReference = 0;
  const tenants = ['default', 'team-ü', 'x'.repeat(60), ''];
  for (let i = 0; i < 4000; i++) {
    const tenant = tenants[rng.intn(tenants.length)] as string;
    const metric = rng.intn(50) === 0 ? '' : word(rng.intn(8) === 0 ? 60 : 6) || 'm';
    const count = rng.intn(8) === 0 ? 40 + rng.intn(60) : rng.intn(8);
    const names: string[] = [];
    const values: string[] = [];
    const labels: Record<string, string> = {};
    // Half of the cases move a run of labels into a block, as a resource's labels are (mostly under a prefix of their own).
    const split = rng.intn(2) === 0 ? count : rng.intn(count + 1);
    const blockPrefix = rng.intn(5) === 0 ? '' : 'resource_';
    for (let k = 0; k < count; k++) {
      // Mostly distinct names (a duplicate is left to the reference), some raw words that may repeat.
      const raw = rng.intn(30) === 0 ? '' : word(rng.intn(10) === 0 ? 50 : 4);
      const name = (k >= split ? blockPrefix : '') + (rng.intn(10) === 0 ? raw : `${raw}${k}`);
      const value = rng.intn(5) === 0 ? '' : word(rng.intn(10) === 0 ? 200 : 6);
      names.push(name);
      values.push(value);
      labels[name] = value;
    }
    const block = split < count ? keys.labelBlock(names.slice(split), values.slice(split), count - split) : null;
    let want: string | null;
    try {
      want = hex(seriesPartitionKey(tenant, metric, labels));
    } catch {
      want = null;
    }
    const got = split < count && block === null ? null : keys.seriesKey(tenant, metric, names, values, split, block);
    if (got === null) {
      if (want !== null) leftToReference++;
      continue;
    }
    fast++;
    if (hex(got) !== want) {
      t.fail(`case ${i}: fast key differs from seriesPartitionKey (${JSON.stringify({ tenant, metric, names, values, split })})`);
      break;
    }
  }
  t.ok(fast > 2000 && leftToReference < fast / 10, `the fast path wrote most valid keys (${fast}; ${leftToReference} valid ones left to the reference)`);
  // Trace keys, and the cases left to the reference (which throws for them).
  for (let i = 0; i < 200; i++) {
    const id = Uint8Array.from({ length: 16 }, () => rng.intn(256));
    const tenant = tenants[rng.intn(3)] as string;
    t.equal(hex(keys.traceKey(tenant, id) as Uint8Array), hex(spanPartitionKey(tenant, id)));
  }
  t.equal(keys.traceKey('', traceId), null, 'an empty tenant is left to the reference');
  t.equal(keys.traceKey('t', new Uint8Array(16)), null, 'an all-zero trace id too');
  t.equal(keys.traceKey('t', new Uint8Array(8).fill(1)), null, 'a short trace id too');
  t.equal(keys.seriesKey('t', 'm', ['a', 'a'], ['1', '2'], 2), null, 'a duplicate name too (a Record keeps the last)');
  t.equal(keys.seriesKey('t', 'm', ['__proto__'], ['1'], 1), null, '__proto__ too (a Record drops it)');
  t.equal(keys.seriesKey('t', 'm', [''], ['1'], 1), null, 'an empty name with a value too');
  t.equal(hex(keys.seriesKey('t', 'm', [''], [''], 1) as Uint8Array), hex(seriesPartitionKey('t', 'm', { '': '' })), 'an empty name without a value is dropped');
  const big = 'x'.repeat(PartitionLimits.partitionKeyBytesMax);
  t.equal(keys.seriesKey('t', 'm', ['a'], [big], 1), null, 'a key over the bound too');
  t.throws(() => seriesPartitionKey('t', 'm', { a: big }), { code: 'ERR_LIMIT_EXCEEDED' });
  t.equal(hex(keys.seriesKey('t', 'm', ['a'], ['b'], 1) as Uint8Array), hex(seriesPartitionKey('t', 'm', { a: 'b' })), 'the buffer is usable after an overflow');
  t.end();
});
