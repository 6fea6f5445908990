/**
 * The decode's reused state (issue 5, s17): ProtoReaders of a thread share
 * one ReaderCaches across requests, and AttrList gathers attributes in a
 * scratch reused from item to item. What a user relies on: every request
 * decodes to the rows it would decode to alone (fresh caches), whatever was
 * decoded before it, and no row's attributes change when the next item is
 * read. The seeded differential (proto-decode.test.ts) checks the rows
 * against protobufjs; these tests aim at the reuse itself.
 */
import t from 'tap';
import { DecodeContext } from './decode-result.js';
import { AttrList } from './proto-common.js';
import { ProtoReader, ReaderCaches } from './proto-reader.js';
import { OPTS, encodeProto } from './otlp-test-cases.js';
import { Gen } from './otlp-test-gen.js';
import { firstDifference } from './otlp-test-reference.js';
import { decodeMetricsProto } from './proto-metrics.js';
import { decodeLogsProto } from './proto-logs.js';
import { decodeTracesProto } from './proto-traces.js';
import { ValueCache } from './value-cache.js';

/** keyValueBytes encodes KeyValue{key, value: AnyValue{string_value}} (both shorter than 128 bytes). */
function keyValueBytes(key: string, value: string): number[] {
  const k = [...Buffer.from(key)];
  const v = [...Buffer.from(value)];
  const any = [0x0a, v.length, ...v];
  return [0x0a, k.length, ...k, 0x12, any.length, ...any];
}

t.test('ValueCache.stringValue checks its slot: a slot refilled by another reader is a miss, not a stale value', async (t) => {
  const c = new ValueCache();
  const a = c.stringValue(7, 'a');
  t.same(a, { type: 'string', value: 'a' });
  t.equal(c.stringValue(7, 'a'), a, 'a hit shares the value');
  // Another reader's string in the same slot (its string cache refilled the slot; this cache was not told).
  t.same(c.stringValue(7, 'b'), { type: 'string', value: 'b' });
  t.same(c.stringValue(7, 'a'), { type: 'string', value: 'a' });
});

t.test('two readers sharing one ReaderCaches, interleaved, read their own strings', async (t) => {
  const caches = new ReaderCaches();
  const words = ['cpu', 'mem', 'disk', 'net', 'a-much-longer-string-than-thirty-two-bytes', 'é', ''];
  const bodyOf = (ws: readonly string[]): Uint8Array => new Uint8Array(ws.flatMap((w) => [...Buffer.from(w)]));
  const left = words;
  const right = [...words].reverse();
  const r1 = new ProtoReader(bodyOf(left), caches);
  const r2 = new ProtoReader(bodyOf(right), caches);
  for (let round = 0; round < 3; round++) {
    let p1 = 0;
    let p2 = 0;
    for (let i = 0; i < words.length; i++) {
      const w1 = left[i] as string;
      const w2 = right[i] as string;
      const n1 = Buffer.byteLength(w1);
      const n2 = Buffer.byteLength(w2);
      const s1 = r1.string(p1, p1 + n1);
      const v1 = r1.lastSlot >= 0 ? r1.values.stringValue(r1.lastSlot, s1) : null;
      const s2 = r2.string(p2, p2 + n2);
      const v2 = r2.lastSlot >= 0 ? r2.values.stringValue(r2.lastSlot, s2) : null;
      t.equal(s1, w1);
      t.equal(s2, w2);
      if (v1 !== null) t.same(v1, { type: 'string', value: w1 });
      if (v2 !== null) t.same(v2, { type: 'string', value: w2 });
      p1 += n1;
      p2 += n2;
    }
  }
});

t.test('AttrList: each item keeps its own attributes, in a list of their exact length', async (t) => {
  const items = [
    [['cpu', '0'], ['host', 'a']],
    [['cpu', '1']],
    [],
    [['k1', 'v1'], ['k2', 'v2'], ['k3', 'v3']],
    [['cpu', '0'], ['host', 'a']],
  ];
  const fields = items.map((kvs) => kvs.map(([k, v]) => keyValueBytes(k as string, v as string)));
  const body = new Uint8Array(fields.flat(2));
  const r = new ProtoReader(body, new ReaderCaches());
  const ctx = new DecodeContext(OPTS);
  const list = new AttrList();
  const got: { key: string; value: unknown }[][] = [];
  let pos = 0;
  for (const item of fields) {
    list.reset();
    for (const f of item) {
      r.pos = pos;
      list.add(r, ctx, pos + f.length);
      pos += f.length;
    }
    got.push(list.finish(ctx, 'test attributes') as { key: string; value: unknown }[]);
  }
  // Checked after every item was read: a list that aliases the scratch would show the last item's attributes.
  for (let i = 0; i < items.length; i++) {
    const want = (items[i] as string[][]).map(([key, value]) => ({ key, value: { type: 'string', value } }));
    t.same(got[i], want, `item ${i}`);
    t.equal(got[i]?.length, want.length, `item ${i}: exact length`);
  }
  t.equal(ctx.rejected, 0);
});

t.test('seeded requests decode the same through the thread caches whatever request came before (forward and reverse order)', async (t) => {
  const gen = new Gen(0x5171);
  // Many requests share short strings and attribute pairs with their neighbours, so the caches hit across requests.
  const signals = ['metrics', 'traces', 'logs'] as const;
  const bodies: { signal: (typeof signals)[number]; body: Uint8Array }[] = [];
  for (let i = 0; i < 60; i++) {
    const signal = signals[i % 3] as (typeof signals)[number];
    const req = gen[signal]();
    bodies.push({ signal, body: encodeProto(signal, req) });
  }
  const decode = (signal: (typeof signals)[number], body: Uint8Array): unknown => {
    const res = signal === 'metrics' ? decodeMetricsProto(body, OPTS) : signal === 'traces' ? decodeTracesProto(body, OPTS) : decodeLogsProto(body, OPTS);
    return { rows: res.rows, rejected: res.rejected, truncated: res.truncatedValues };
  };
  // First each request right after the previous one; then the same requests in reverse order: other caches before each.
  const forward = bodies.map((b) => decode(b.signal, b.body));
  const backward = [...bodies].reverse().map((b) => decode(b.signal, b.body));
  backward.reverse();
  let differences = 0;
  for (let i = 0; i < bodies.length; i++) {
    const d = firstDifference(forward[i], backward[i], `request ${i}`);
    if (d !== null) {
      differences++;
      t.fail(d);
    }
  }
  t.equal(differences, 0);
});
