import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { STORAGE_PACKR } from '../storage-packr.js';
import { codeOf } from '../storage-test-util.js';
import {
  decodeApplyResult,
  decodeShardMeta,
  decodeSnapshotDescriptor,
  decodeSnapshotPage,
  decodeSnapshotPageRequest,
  encodeApplyResult,
  encodeShardMeta,
  encodeSnapshotDescriptor,
  encodeSnapshotPage,
  encodeSnapshotPageRequest,
  streamDigest,
} from './shard-records.js';
import type { ShardApplyResult } from './shard-records.js';

t.test('records round-trip', async (t) => {
  t.same(decodeShardMeta(encodeShardMeta({ appliedIndex: 42, flushes: 3, group: 7 })), { appliedIndex: 42, flushes: 3, group: 7 });
  t.same(decodeSnapshotDescriptor(encodeSnapshotDescriptor(7, 99)), { group: 7, index: 99 });
  t.equal(decodeSnapshotDescriptor(new Uint8Array(0)), null, 'the empty bootstrap image is not a descriptor');
  const r: ShardApplyResult = {
    duplicate: false,
    invalid: null,
    spans: { accepted: 3, refused: 1 },
    points: { accepted: 0, refused: 0 },
    logs: { accepted: 9, refused: 0 },
    refusals: [{ signal: 'traces', row: 2, code: 'ERR_INVALID_ARGUMENT', reason: 'why' }],
  };
  t.same(decodeApplyResult(encodeApplyResult(r)), r);
  t.same(decodeSnapshotPageRequest(encodeSnapshotPageRequest({ group: 3, session: 0, minIndex: 10 })), { group: 3, session: 0, minIndex: 10 });
  const entries = [[Uint8Array.of(1), Uint8Array.of(2, 3)] as const];
  const d = streamDigest({ count: 0, crc: 0 }, entries);
  const page = { session: 4, durableIndex: 12, entries, done: true, ...d };
  t.same(decodeSnapshotPage(encodeSnapshotPage(page)), page);
});

t.test('a damaged meta record is ERR_CORRUPTION; a flipped byte anywhere is caught', async (t) => {
  const sealed = encodeShardMeta({ appliedIndex: 42, flushes: 3, group: 7 });
  for (let i = 0; i < sealed.length; i++) {
    const bad = sealed.slice();
    bad[i] = (bad[i] as number) ^ 0x10;
    t.equal(codeOf(() => decodeShardMeta(bad)), 'ERR_CORRUPTION', `byte ${i}`);
  }
});

t.test('peer frames that are not pages or requests are refused with ERR_INVALID_ARGUMENT, never thrown otherwise', async (t) => {
  const rand = new SeededRand(17);
  const shapes: unknown[] = [
    null,
    [],
    [1, 2],
    [1, 2, 3, 4, 5, 6],
    [1, 2, 'x', [], 0, 0],
    [1, 2, true, [[Uint8Array.of(), Uint8Array.of(1)]], 1, 1],
    [1, 2, true, [[1, 2]], 1, 1],
    [1, 2, true, new Array(5000).fill([Uint8Array.of(1), Uint8Array.of(1)]), 5000, 1],
    [-1, 0, 0],
    [1.5, 0, 0],
    { group: 1 },
  ];
  for (const s of shapes) {
    const bytes = STORAGE_PACKR.pack(s);
    t.equal(codeOf(() => decodeSnapshotPage(bytes)), 'ERR_INVALID_ARGUMENT', `page ${JSON.stringify(s)?.slice(0, 40)}`);
    t.equal(codeOf(() => decodeSnapshotPageRequest(bytes)), 'ERR_INVALID_ARGUMENT', `request ${JSON.stringify(s)?.slice(0, 40)}`);
    t.equal(codeOf(() => decodeApplyResult(bytes)), 'ERR_INVALID_ARGUMENT', `result ${JSON.stringify(s)?.slice(0, 40)}`);
  }
  for (let i = 0; i < 500; i++) {
    const junk = rand.bytes(1 + rand.intn(64));
    for (const f of [decodeSnapshotPage, decodeSnapshotPageRequest, decodeApplyResult]) {
      const c = codeOf(() => f(junk));
      t.ok(c === 'ERR_INVALID_ARGUMENT' || c === 'ok', `random bytes (seed 17, case ${i}) give a coded refusal`);
    }
  }
});

t.test('the stream digest changes when an entry is lost, altered or reordered (a planted loss is caught)', async (t) => {
  const a = [Uint8Array.of(1), Uint8Array.of(9)] as const;
  const b = [Uint8Array.of(2), Uint8Array.of(8)] as const;
  const full = streamDigest({ count: 0, crc: 0 }, [a, b]);
  t.not(streamDigest({ count: 0, crc: 0 }, [a]).crc, full.crc, 'a lost entry');
  t.not(streamDigest({ count: 0, crc: 0 }, [b, a]).crc, full.crc, 'reordered entries');
  t.not(streamDigest({ count: 0, crc: 0 }, [a, [Uint8Array.of(2), Uint8Array.of(7)] as const]).crc, full.crc, 'an altered value');
  t.same(streamDigest(streamDigest({ count: 0, crc: 0 }, [a]), [b]), full, 'pages chain');
});
