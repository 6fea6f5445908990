import t from 'tap';
import { OtlpdbError } from '../errors.js';
import { SeededRand } from '../fs/seeded-rand.js';
import { BLOCK_HEADER_BYTES, BlockKind, openBlock, sealBlock } from './block.js';

function corruptionField(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof OtlpdbError && err.code === 'ERR_CORRUPTION') return String(err.details['field']);
    throw err;
  }
  return undefined;
}

t.test('a sealed block opens to the same payload', async (t) => {
  const rand = new SeededRand(1);
  for (const n of [0, 1, 7, 8, 100, 4096]) {
    const payload = rand.bytes(n);
    const sealed = sealBlock(BlockKind.spans, payload);
    t.equal(sealed.length, BLOCK_HEADER_BYTES + n);
    t.same(openBlock(sealed, BlockKind.spans), payload, `payload of ${n} bytes`);
  }
});

t.test('every single-bit flip of a small sealed block is caught', async (t) => {
  const seed = 7;
  const rand = new SeededRand(seed);
  const sealed = sealBlock(BlockKind.logs, rand.bytes(40));
  let caught = 0;
  for (let bit = 0; bit < sealed.length * 8; bit++) {
    const b = sealed.slice();
    b[bit >> 3] = (b[bit >> 3] as number) ^ (1 << (bit & 7));
    if (corruptionField(() => openBlock(b, BlockKind.logs)) !== undefined) caught++;
  }
  t.equal(caught, sealed.length * 8, `all ${sealed.length * 8} flips caught (seed ${seed})`);
});

t.test('every truncation and an extension are caught', async (t) => {
  const sealed = sealBlock(BlockKind.bloom, new SeededRand(3).bytes(64));
  let caught = 0;
  for (let n = 0; n < sealed.length; n++) {
    if (corruptionField(() => openBlock(sealed.subarray(0, n), BlockKind.bloom)) !== undefined) caught++;
  }
  t.equal(caught, sealed.length, 'every proper prefix refused');
  const longer = new Uint8Array(sealed.length + 1);
  longer.set(sealed);
  t.equal(corruptionField(() => openBlock(longer, BlockKind.bloom)), 'payloadBytes');
});

t.test('errors name the mismatched field', async (t) => {
  const sealed = sealBlock(BlockKind.spans, new Uint8Array([1, 2, 3]));
  t.equal(corruptionField(() => openBlock(sealed, BlockKind.logs)), 'kind');
  const m = sealed.slice();
  m[0] = 0;
  t.equal(corruptionField(() => openBlock(m, BlockKind.spans)), 'magic');
  const v = sealed.slice();
  v[2] = 9;
  t.equal(corruptionField(() => openBlock(v, BlockKind.spans)), 'version');
  const p = sealed.slice();
  p[BLOCK_HEADER_BYTES] = 0xff;
  t.equal(corruptionField(() => openBlock(p, BlockKind.spans)), 'crc32c');
  t.equal(corruptionField(() => openBlock(new Uint8Array(3), BlockKind.spans)), 'length');
});
