import t from 'tap';
import { assert } from '../errors.js';
import { Packr, pack } from 'msgpackr';
import { SeededRand } from '../fs/seeded-rand.js';
import { MessageType } from '../raft/types.js';
import type { Message } from '../raft/types.js';
import {
  CALL_CANCEL_VERSION,
  PROTOCOL_VERSION,
  decodeCallCancel,
  decodeCallRequest,
  decodeCallResponse,
  decodeHello,
  decodeErrorDetails,
  decodeMessages,
  encodeCallCancel,
  encodeCallRequest,
  encodeCallResponse,
  encodeCallResponseFrame,
  encodeErrorDetails,
  encodeHello,
  encodeMessages,
} from './codec.js';
import type { DecodeMessagesResult } from './codec.js';
import { entry, msg } from './transport-test-util.js';
import { FrameReader, FrameType, encodeFrame } from './frame.js';

const packr = new Packr({ useRecords: false, mapsAsObjects: false });

/** sample is a valid message using every field. */
function sample(rand: SeededRand): Message {
  return msg(
    {
      group: rand.intn(4096),
      from: 1 + rand.intn(9),
      to: 1 + rand.intn(9),
      term: rand.intn(1000),
      logTerm: rand.intn(1000),
      index: rand.intn(1_000_000),
      commit: rand.intn(1000),
      reject: rand.intn(2) === 1,
      rejectHint: rand.intn(1000),
      rejectTerm: rand.intn(1000),
      entries: [entry(5, new Uint8Array([1, 2, 3])), { term: 2, index: 6, type: 1, data: new Uint8Array(0) }],
      context: rand.intn(2) === 1 ? new Uint8Array([7, 7]) : null,
      snapshot: {
        metadata: { index: 4, term: 1, confState: { voters: [1, 2], learners: [3] } },
        offset: 2,
        totalBytes: 10,
        data: new Uint8Array([9, 9, 9]),
        done: false,
      },
    },
    MessageType.Snap,
  );
}

/** plain turns Uint8Arrays into arrays and sorts object keys, so that deep equality and JSON compare content. */
function plain(x: unknown): unknown {
  if (x instanceof Uint8Array) return [...x];
  if (Array.isArray(x)) return x.map(plain);
  if (x !== null && typeof x === 'object') return Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, plain(v)]));
  return x;
}

/** tupleOf is the wire tuple of a message, to be mutated below. */
function tupleOf(m: Message): unknown[] {
  return (packr.unpack(encodeMessages([m])) as unknown[][])[0] as unknown[];
}

// Invalid values per tuple position (see the layout in codec.ts).
const BAD_NUMBERS: unknown[] = [-1, 1.5, 2 ** 53, 'x', null, true, new Uint8Array(1), [], Number.NaN];
const BAD_FIELDS: Record<number, unknown[]> = {
  0: BAD_NUMBERS,
  1: [0, 1, 17, 18, 99, -1, 'App', null],
  2: [0, ...BAD_NUMBERS],
  3: [0, ...BAD_NUMBERS],
  4: BAD_NUMBERS,
  5: BAD_NUMBERS,
  6: BAD_NUMBERS,
  7: [null, 'x', 5, [[1, 2, 0]], [[1, 2, 2, new Uint8Array(0)]], [[1, 2, 0, 'data']], [[-1, 2, 0, new Uint8Array(0)]], [[1, 2.5, 0, new Uint8Array(0)]]],
  8: BAD_NUMBERS,
  9: [0, 1, 'true', null],
  10: BAD_NUMBERS,
  11: BAD_NUMBERS,
  12: ['ctx', 5, [1, 2], true],
  13: [
    'snap',
    5,
    [[4, 1, [1], []], 2, 10, new Uint8Array(20), false], // chunk ends past totalBytes
    [[4, 1, [0], []], 0, 10, new Uint8Array(1), false], // node id 0
    [[4, 1, [1], 'x'], 0, 10, new Uint8Array(1), false],
    [[4, 1, [1], []], 0, 10, 'data', false],
    [[4, 1, [1], []], 0, 10, new Uint8Array(1), 1],
    [[4, 1, [1]], 0, 10, new Uint8Array(1), false],
    [[-4, 1, [1], []], 0, 10, new Uint8Array(1), false],
    [[4, 1, Array.from({ length: 2000 }, (_, i) => i + 1), []], 0, 10, new Uint8Array(1), false],
    null, // a Snap message must carry its chunk
  ],
};

/**
 * checkDecoder is the property the transport relies on: every valid message
 * round-trips exactly, and every tuple with one invalid field is refused
 * (never delivered, never thrown). It returns the violations it found.
 */
function checkDecoder(decode: (b: Uint8Array) => DecodeMessagesResult, seed: number): string[] {
  const rand = new SeededRand(seed);
  const violations: string[] = [];
  const run = (b: Uint8Array): DecodeMessagesResult | undefined => {
    try {
      return decode(b);
    } catch (e) {
      violations.push(`threw: ${String(e)}`);
      return undefined;
    }
  };
  for (let i = 0; i < 50; i++) {
    const m = sample(rand);
    const r = run(encodeMessages([m]));
    const item = r?.ok === true ? r.items[0] : undefined;
    if (item?.ok !== true || JSON.stringify(plain(item.message)) !== JSON.stringify(plain(m))) violations.push(`valid message ${i} not round-tripped`);
    for (const [pos, bads] of Object.entries(BAD_FIELDS)) {
      for (const bad of bads) {
        const tuple = tupleOf(m);
        tuple[Number(pos)] = bad;
        const d = run(packr.pack([tuple]));
        if (d === undefined) continue;
        if (d.ok && d.items.some((it) => it.ok)) violations.push(`field ${pos} = ${String(bad)} accepted`);
      }
    }
  }
  // Whole-payload refusals: wrong shapes, truncation, random bytes.
  for (const b of [packr.pack({ a: 1 }), packr.pack([[1, 2]]), Buffer.from([0x92, 1]), Buffer.alloc(0)]) {
    const d = run(b);
    if (d !== undefined && d.ok && d.items.some((it) => it.ok)) violations.push(`bad payload ${b.toString('hex')} accepted`);
  }
  for (let i = 0; i < 2000; i++) {
    const b = new Uint8Array(1 + rand.intn(64));
    for (let j = 0; j < b.length; j++) b[j] = rand.intn(256);
    const d = run(b);
    if (d !== undefined && d.ok && d.items.some((it) => it.ok)) violations.push(`random bytes accepted as a message`);
  }
  return violations;
}

t.test('decodeMessages round-trips valid batches and refuses every malformed field', async (t) => {
  t.same(checkDecoder(decodeMessages, 1), [], 'no violations (seed 1)');
  t.same(checkDecoder(decodeMessages, 2), [], 'no violations (seed 2)');
});

t.test('planted bug: a decoder that skips field validation is caught', async (t) => {
  // The bug a hurried change would make: trust the peer and cast the tuple.
  const trusting = (b: Uint8Array): DecodeMessagesResult => {
    const v = packr.unpack(b) as unknown[][];
    return {
      ok: true,
      items: v.map((x) => ({
        ok: true as const,
        message: msg({ group: x[0] as number, from: x[2] as number, to: x[3] as number }, x[1] as Message['type']),
      })),
    };
  };
  const violations = checkDecoder(trusting, 1);
  t.ok(violations.length > 0, `the checker reports the broken decoder (${violations.length} violations)`);
  t.ok(violations.some((v) => v.includes('accepted')), 'malformed fields let through are named');
});

t.test('per-item verdicts: one bad message does not hide the others', async (t) => {
  const rand = new SeededRand(3);
  const good = sample(rand);
  const bad = tupleOf(good);
  bad[4] = -1;
  const d = decodeMessages(packr.pack([tupleOf(good), bad, tupleOf(good)]));
  t.ok(d.ok);
  if (!d.ok) return;
  t.same(d.items.map((i) => i.ok), [true, false, true]);
  const second = d.items[1];
  t.ok(second !== undefined && !second.ok && second.index === 1 && second.reason.includes('term'), 'reason names the field');
});

t.test('handshake and call codecs validate their fields', async (t) => {
  t.same(decodeHello(encodeHello('c', 3)), { version: PROTOCOL_VERSION, clusterId: 'c', nodeId: 3 });
  t.equal(PROTOCOL_VERSION, 2, 'version 2: the CallCancel frame');
  t.equal(decodeHello(encodeHello('c', 0)), undefined, 'node id 0 refused');
  t.equal(decodeHello(packr.pack([1, 'x'.repeat(300), 1])), undefined, 'long cluster id refused');
  t.equal(decodeHello(Buffer.from([0xff])), undefined, 'garbage refused');
  const req = { callId: 5, method: 'm', deadlineMs: 100, payload: new Uint8Array([1]) };
  t.same(plain(decodeCallRequest(encodeCallRequest(req))), plain(req));
  t.equal(decodeCallRequest(encodeCallRequest({ ...req, deadlineMs: 10 ** 9 })), undefined, 'deadline past callDeadlineMsMax refused');
  t.equal(decodeCallRequest(packr.pack([1, 2, 3, 4])), undefined);
  const resp = { callId: 5, code: 'ERR_TIMEOUT' as const, message: 'late', payload: new Uint8Array(0) };
  t.same(plain(decodeCallResponse(encodeCallResponse(resp))), plain(resp));
  t.equal(decodeCallResponse(packr.pack([5, 'ERR_NOPE', '', new Uint8Array(0)])), undefined, 'unknown error code refused');
  t.same(plain(decodeCallCancel(encodeCallCancel(0xffff_ffff))), { version: CALL_CANCEL_VERSION, callId: 0xffff_ffff });
  t.ok(encodeCallCancel(0xffff_ffff).length <= 7, 'a cancel packs to at most 7 bytes');
  t.same(plain(decodeCallCancel(packr.pack([CALL_CANCEL_VERSION + 1, 3]))), { version: CALL_CANCEL_VERSION + 1, callId: 3 }, 'another version decodes (the receiver ignores it)');
  for (const bad of [packr.pack([0, 3]), packr.pack([1]), packr.pack([1, -3]), packr.pack([1, 'x']), packr.pack([1, 2, 3]), Buffer.from([0xc1]), packr.pack([1, 1, 'y'.repeat(40)])]) {
    t.equal(decodeCallCancel(bad), undefined, 'malformed cancel refused');
  }
});

t.test('error details of a failed call round-trip: primitives kept, the rest and junk dropped', async (t) => {
  const bytes = encodeErrorDetails({ leaderHint: 3, group: 0, why: 'x', nested: { a: 1 }, list: [1] });
  t.same(decodeErrorDetails(bytes), { leaderHint: 3, group: 0, why: 'x' });
  t.same(decodeErrorDetails(new Uint8Array(0)), {});
  t.same(decodeErrorDetails(Uint8Array.from([0xc1, 0xff, 0x00])), {}, 'malformed bytes give no details');
  t.same(decodeErrorDetails(pack([1, 2])), {}, 'a list is not details');
  t.equal(encodeErrorDetails({ nested: {} }).length, 0, 'nothing to carry: an empty payload');
});

t.test('a call response frame written in one buffer is the packed-then-framed bytes, at every bin header size', async (t) => {
  const rand = new SeededRand(21);
  // Payload lengths at each edge of msgpack's bin8 / bin16 / bin32 headers.
  for (const n of [0, 1, 255, 256, 65_535, 65_536, 300_001]) {
    const payload = new Uint8Array(n);
    for (let i = 0; i < n; i += 97) payload[i] = rand.intn(256);
    for (const r of [
      { callId: 7, code: '' as const, message: '', payload },
      { callId: 4_000_000_000, code: 'ERR_NOT_LEADER' as const, message: 'not the leader: ask node 2', payload },
    ]) {
      const frame = encodeCallResponseFrame(r);
      const want = encodeFrame(FrameType.CallResponse, encodeCallResponse(r));
      t.ok(frame !== null && Buffer.compare(frame, want) === 0, `payload of ${n} bytes, call ${r.callId}: the same ${want.length} bytes`);
      const read = new FrameReader().push(frame ?? Buffer.alloc(0));
      const back = read.ok ? decodeCallResponse(read.frames[0]?.payload ?? new Uint8Array(0)) : undefined;
      t.ok(back !== undefined && back.callId === r.callId && back.code === r.code && Buffer.compare(Buffer.from(back.payload), Buffer.from(payload)) === 0, 'read back as sent');
    }
  }
  const r = { callId: 1, code: '' as const, message: '', payload: new Uint8Array(1000) };
  const size = encodeFrame(FrameType.CallResponse, encodeCallResponse(r)).length - 4;
  t.ok(encodeCallResponseFrame(r, size) !== null, 'a frame of exactly frameBytesMax is written');
  t.equal(encodeCallResponseFrame(r, size - 1), null, 'one byte past it is not');
});

t.test('a frame cut from a socket Buffer decodes to plain Uint8Arrays: call payloads, entry data, contexts', async (t) => {
  const isPlain = (b: Uint8Array | null | undefined): boolean => b != null && Object.getPrototypeOf(b) === Uint8Array.prototype;
  const cut = (type: FrameType, body: Uint8Array): Buffer => {
    // Two frames in one chunk, as a socket delivers them: the second is a Buffer subarray of the first's chunk.
    const r = new FrameReader().push(Buffer.concat([encodeFrame(type, body), encodeFrame(type, body)]));
    assert(r.ok && r.frames.length === 2, 'two frames back');
    return (r.frames[1] as { payload: Buffer }).payload;
  };
  const req = decodeCallRequest(cut(FrameType.CallRequest, encodeCallRequest({ callId: 7, method: 'm', deadlineMs: 10, payload: Uint8Array.of(1, 2, 3) })));
  t.ok(isPlain(req?.payload), 'a call request\'s payload');
  t.same(req?.payload, Uint8Array.of(1, 2, 3));
  const resp = decodeCallResponse(cut(FrameType.CallResponse, encodeCallResponse({ callId: 7, code: '', message: '', payload: Uint8Array.of(4, 5) })));
  t.ok(isPlain(resp?.payload), 'a call response\'s payload');
  const m = msg({ group: 1, from: 1, to: 2, term: 4, entries: [entry(3, Uint8Array.of(9, 9))], context: Uint8Array.of(1) });
  const d = decodeMessages(cut(FrameType.Messages, encodeMessages([m])));
  assert(d.ok && d.items[0]?.ok === true, 'the message decodes');
  t.ok(isPlain(d.items[0].message.entries[0]?.data), 'an entry\'s data');
  t.ok(isPlain(d.items[0].message.context), 'a message\'s context');
  t.same(d.items[0].message.entries[0]?.data, Uint8Array.of(9, 9));
});
