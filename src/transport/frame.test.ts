import t from 'tap';
import { SeededRand } from '../fs/seeded-rand.js';
import { FrameReader, FrameType, encodeFrame } from './frame.js';

t.test('FrameReader reassembles frames split at every byte boundary', async (t) => {
  const rand = new SeededRand(5);
  const payloads = Array.from({ length: 20 }, () => {
    const b = new Uint8Array(rand.intn(300));
    for (let i = 0; i < b.length; i++) b[i] = rand.intn(256);
    return b;
  });
  const stream = Buffer.concat(payloads.map((p) => encodeFrame(FrameType.Messages, p)));
  for (const step of [1, 2, 3, 7, 64, stream.length]) {
    const r = new FrameReader();
    const got: Uint8Array[] = [];
    for (let o = 0; o < stream.length; o += step) {
      const res = r.push(stream.subarray(o, o + step));
      if (!res.ok) throw new Error(res.reason);
      for (const f of res.frames) {
        t.equal(f.type, FrameType.Messages);
        got.push(Uint8Array.from(f.payload));
      }
    }
    t.same(got.map((g) => [...g]), payloads.map((p) => [...p]), `chunks of ${step} bytes`);
    t.equal(r.bufferedBytes, 0, 'nothing left over');
  }
});

t.test('FrameReader refuses oversized and empty lengths before buffering them', async (t) => {
  const r = new FrameReader(1024);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(1025, 0);
  const res = r.push(head);
  t.same(res, { ok: false, reason: 'frame_too_large' });
  t.equal(r.bufferedBytes, 0, 'nothing buffered');
  t.same(r.push(encodeFrame(FrameType.Hello, new Uint8Array(1))), { ok: false, reason: 'frame_too_large' }, 'stays failed');
  t.same(new FrameReader().push(Buffer.alloc(4)), { ok: false, reason: 'frame_empty' });
  const partial = new FrameReader(1024);
  const ok = partial.push(encodeFrame(FrameType.Hello, new Uint8Array(1000)).subarray(0, 500));
  t.ok(ok.ok && ok.frames.length === 0, 'a partial frame waits');
  t.equal(partial.bufferedBytes, 500);
});
