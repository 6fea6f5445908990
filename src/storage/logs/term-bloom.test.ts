import t from 'tap';
import { createHash } from 'node:crypto';
import { OtlpdbError } from '../../errors.js';
import { SeededRand } from '../../fs/seeded-rand.js';
import { BlockKind, sealBlock } from '../block.js';
import { buildBloom, encodeBloom } from '../bloom.js';
import { encodeLogBlock } from './log-block.js';
import { realisticLogs } from './log-test-util.js';
import { TERM_BLOOM_VERSION, buildTermBloom, decodeTermBloom } from './term-bloom.js';
import { queryLogBlock } from './term-index.js';
import { encodeLogIndex } from './term-index-build.js';

function randomTerms(rand: SeededRand, n: number, prefix: string): string[] {
  const out = new Set<string>();
  while (out.size < n) out.add(`${prefix}${rand.intn(1 << 30).toString(36)}${rand.intn(3) === 0 ? 'é' : ''}`);
  return [...out];
}

t.test('version 2: no false negatives, false positives near the 1% target', async (t) => {
  const rand = new SeededRand(0xb100);
  const held = randomTerms(rand, 20_000, 'h');
  const bloom = decodeTermBloom(buildTermBloom(held));
  t.ok(held.every((term) => bloom.has(term)), 'every held term is admitted');
  const absent = randomTerms(rand, 100_000, 'a');
  const fp = absent.filter((term) => bloom.has(term)).length / absent.length;
  t.ok(fp < 0.02, `false-positive rate ${fp} < 2% (target 1%)`);
  t.ok(fp > 0.002, `false-positive rate ${fp} is a real filter's, not an empty-set answer`);
});

t.test('version 2 bytes are pinned (a hashing change must bump the version)', async (t) => {
  const payload = buildTermBloom(['get', 'api', 'v1', 'users', '200', 'nullpointerexception', 'é']);
  t.equal(payload[0], TERM_BLOOM_VERSION);
  t.equal(createHash('sha256').update(payload).digest('hex').slice(0, 16), PINNED_V2_SHA256_PREFIX);
});

/** PINNED_V2_SHA256_PREFIX is the hash of the small filter above as version 2 writes it. */
const PINNED_V2_SHA256_PREFIX = '37ce093992cf118f';

t.test('version 1 filters (bloom.ts, written before version 2) still answer, in a query too', async (t) => {
  const terms = ['connection', 'refused', 'get', '200'];
  const v1 = encodeBloom(buildBloom(terms));
  const b = decodeTermBloom(v1);
  t.ok(terms.every((term) => b.has(term)), 'version 1 admits its terms');
  t.notOk(b.has('definitelyabsentterm12345'), 'and rules out an absent one');
  const rows = realisticLogs(new SeededRand(3), 300);
  const block = encodeLogBlock(rows);
  const index = encodeLogIndex(rows);
  const { tokenize } = await import('../tokenizer.js');
  const { logLine } = await import('./log-line.js');
  const blockTerms = [...new Set(rows.flatMap((r) => tokenize(logLine(r)).terms))];
  const oldIndex = { ...index, bloom: sealBlock(BlockKind.bloom, encodeBloom(buildBloom(blockTerms))) };
  for (const term of blockTerms.slice(0, 50)) {
    t.same([...queryLogBlock(block, oldIndex, { terms: [term] }).rows], [...queryLogBlock(block, index, { terms: [term] }).rows], `term ${term}: version 1 and 2 blooms answer alike`);
  }
  t.ok(queryLogBlock(block, oldIndex, { terms: ['definitelyabsentterm12345'] }).stats.prunedByBloom, 'a version 1 bloom still prunes');
});

t.test('damaged payloads are ERR_CORRUPTION', async (t) => {
  const good = buildTermBloom(['a', 'b']);
  const bad = (bytes: Uint8Array, what: string): void => {
    let code = 'none';
    try {
      decodeTermBloom(bytes);
    } catch (err) {
      code = err instanceof OtlpdbError ? err.code : 'not an OtlpdbError';
    }
    t.equal(code, 'ERR_CORRUPTION', what);
  };
  bad(good.subarray(0, 5), 'short header');
  bad(good.subarray(0, good.length - 1), 'truncated bits');
  bad(Uint8Array.from([9, ...good.subarray(1)]), 'unknown version');
  bad(Uint8Array.from([good[0] as number, 0, ...good.subarray(2)]), 'zero hashes');
  bad(Uint8Array.from([good[0] as number, good[1] as number, 1, ...good.subarray(3)]), 'reserved bytes set');
});
