/**
 * loki-push.test.ts — Loki push bodies to OTLP: a JSON and a protobuf push
 * of the same streams give the same OTLP request, which the OTLP decoder
 * turns into rows whose LogEntry view shows the pushed labels, lines,
 * metadata and ids unchanged; 4,000 seeded mutations of push bodies are
 * refused with a stable code or parsed, never crash.
 * Reproduce: SEED=<n> npx tap src/api/loki-push.test.ts
 */
import snappy from 'snappyjs';
import t from 'tap';
import { OtlpdbError } from '../errors.js';
import { SeededRand } from '../fs/seeded-rand.js';
import { decodeLogsProto } from '../otlp/proto-logs.js';
import { ProtoWriter } from '../otlp/rpc-status.js';
import { logEntryOf } from '../query/logs-view.js';
import { parsePushJson, parsePushProto, pushToOtlp } from './loki-push.js';

const SEED = Number(process.env.SEED ?? 0x9054);
const NOW_MS = 1_795_000_000_000;
const T = BigInt(NOW_MS - 1000) * 1_000_000n;
const enc = new TextEncoder();

function protoPush(): Uint8Array {
  const req = new ProtoWriter();
  const stream = new ProtoWriter();
  stream.bytesField(1, enc.encode('{app="shop", level="warn"}'));
  for (const [i, line] of ['one', 'two ✓'].entries()) {
    const ts = new ProtoWriter();
    ts.int64Field(1, T / 1_000_000_000n);
    ts.varintField(2, Number(T % 1_000_000_000n) + i);
    const e = new ProtoWriter();
    e.bytesField(1, ts.finish());
    e.bytesField(2, enc.encode(line));
    const m = new ProtoWriter();
    m.bytesField(1, enc.encode(i === 0 ? 'user' : 'span_id'));
    m.bytesField(2, enc.encode(i === 0 ? 'ann' : '0102030405060708'));
    e.bytesField(3, m.finish());
    stream.bytesField(2, e.finish());
  }
  req.bytesField(1, stream.finish());
  return snappy.compress(req.finish());
}

const JSON_PUSH = {
  streams: [{ stream: { app: 'shop', level: 'warn' }, values: [[T.toString(), 'one', { user: 'ann' }], [(T + 1n).toString(), 'two ✓', { span_id: '0102030405060708' }]] }],
};

t.test('JSON and protobuf pushes give the same OTLP request and the view shows them unchanged', async (t) => {
  const fromJson = pushToOtlp(parsePushJson(enc.encode(JSON.stringify(JSON_PUSH))));
  const fromProto = pushToOtlp(parsePushProto(protoPush(), 1 << 20));
  t.same(Buffer.from(fromProto), Buffer.from(fromJson), 'same bytes (same idempotency key)');
  const decoded = decodeLogsProto(fromJson, { tenant: 'acme', nowMs: NOW_MS });
  t.equal(decoded.rejected, 0);
  const entries = decoded.rows.map(logEntryOf);
  t.same(entries.map((e) => e.stream), [
    [{ name: 'app', value: 'shop' }, { name: 'level', value: 'warn' }],
    [{ name: 'app', value: 'shop' }, { name: 'level', value: 'warn' }],
  ]);
  t.same(entries.map((e) => e.line), ['one', 'two ✓']);
  t.same(entries.map((e) => e.metadata), [[{ name: 'user', value: 'ann' }], [{ name: 'span_id', value: '0102030405060708' }]]);
  t.same(decoded.rows.map((r) => r.severityNumber), [13, 13], 'a level label sets the severity for OTLP readers');
});

t.test('seeded mutations are refused with a stable code or parsed, never crash', async (t) => {
  const rand = new SeededRand(SEED);
  const frames: [Uint8Array, (b: Uint8Array) => unknown][] = [
    [protoPush(), (b) => pushToOtlp(parsePushProto(b, 1 << 20))],
    [enc.encode(JSON.stringify(JSON_PUSH)), (b) => pushToOtlp(parsePushJson(b))],
  ];
  let refused = 0;
  for (let i = 0; i < 4000; i++) {
    const [frame, parse] = frames[i % 2] as (typeof frames)[number];
    let b: Uint8Array = new Uint8Array(frame);
    if (rand.intn(3) === 0) b = b.subarray(0, rand.intn(b.length));
    else {
      const k = rand.intn(b.length);
      b[k] = rand.intn(256);
    }
    try {
      parse(b);
    } catch (err) {
      if (!(err instanceof OtlpdbError) || (err.code !== 'ERR_INVALID_ARGUMENT' && err.code !== 'ERR_LIMIT_EXCEEDED')) {
        t.fail(`SEED=${SEED} mutation ${i}: ${String(err)}`);
        return;
      }
      refused++;
    }
  }
  t.ok(refused > 500, `mutations are refused (${refused})`);
  t.throws(() => parsePushProto(protoPush(), 10), { code: 'ERR_LIMIT_EXCEEDED' }, 'a body that decompresses past its bound');
});
