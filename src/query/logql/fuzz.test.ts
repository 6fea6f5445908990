/**
 * fuzz.test.ts — bad outside input is refused with a stable code, never a
 * crash: seeded mutations of valid queries (characters deleted, inserted,
 * replaced, spans duplicated) either parse — and then print, reparse to the
 * same tree and evaluate over a small corpus — or throw OtlpdbError
 * ERR_INVALID_ARGUMENT / ERR_LIMIT_EXCEEDED. LOGQL_FUZZ_SEED overrides the seed.
 */
import t from 'tap';
import { isOtlpdbError } from '../../errors.js';
import type { LogqlExpr } from './ast.js';
import { logqlEngine } from './engine.js';
import { formatLogql } from './format.js';
import { CORPUS_SPAN_NS, CORPUS_START_NS, caseRand, pick, randomCorpus, randomLogExpr, randomMetric } from './logql-test-gen.js';
import { MemoryLogSource } from './memory-log-source.js';
import { parseLogql } from './parser.js';

const SEED = Number(process.env.LOGQL_FUZZ_SEED ?? 31337);
const CASES = 1500;
const SYMBOLS = ['{', '}', '(', ')', '[', ']', '|', '=', '~', '!', '"', '`', '\\', ',', ' ', '-', '5', '5m', '1e9', 'or', 'by', '.', '<', '>', '#', '\n', '{{', '}}', '$', 'ſ', '[0]', '["'];

const stable = (e: LogqlExpr): string => JSON.stringify(e, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));

t.test('mutated queries parse, or are refused with a stable code', async (t) => {
  const corpus = randomCorpus(caseRand(SEED, -1), 60);
  const source = new MemoryLogSource(corpus);
  let parsed = 0;
  let refused = 0;
  for (let c = 0; c < CASES; c++) {
    const r = caseRand(SEED, c);
    let text = formatLogql(r.intn(2) === 0 ? randomLogExpr(r) : randomMetric(r));
    const edits = 1 + r.intn(3);
    for (let k = 0; k < edits; k++) {
      const at = r.intn(text.length + 1);
      switch (r.intn(4)) {
        case 0:
          text = text.slice(0, at) + text.slice(at + 1 + r.intn(3));
          break;
        case 1:
          text = text.slice(0, at) + pick(r, SYMBOLS) + text.slice(at);
          break;
        case 2:
          text = text.slice(0, at) + pick(r, SYMBOLS) + text.slice(at + 1);
          break;
        default:
          text = text.slice(0, at) + text.slice(at, at + r.intn(12)) + text.slice(at);
      }
    }
    let e: LogqlExpr;
    try {
      e = parseLogql(text);
    } catch (err) {
      if (!isOtlpdbError(err) || (err.code !== 'ERR_INVALID_ARGUMENT' && err.code !== 'ERR_LIMIT_EXCEEDED')) {
        t.fail(`seed ${SEED} case ${c}: parsing ${JSON.stringify(text)} crashed: ${String(err)}`);
        return;
      }
      refused++;
      continue;
    }
    parsed++;
    if (stable(parseLogql(formatLogql(e))) !== stable(e)) {
      t.fail(`seed ${SEED} case ${c}: ${JSON.stringify(text)} does not round-trip: ${formatLogql(e)}`);
      return;
    }
    try {
      await logqlEngine.evaluate(text, { startNs: CORPUS_START_NS, endNs: CORPUS_START_NS + CORPUS_SPAN_NS, stepNs: e.kind === 'log' ? 0n : 60_000_000_000n, direction: 'backward', limit: 50, signal: new AbortController().signal }, source);
    } catch (err) {
      if (!isOtlpdbError(err) || err.code === 'ERR_INTERNAL') {
        t.fail(`seed ${SEED} case ${c}: evaluating ${JSON.stringify(text)} crashed: ${String(err)}`);
        return;
      }
    }
  }
  t.comment(`parsed ${parsed}, refused ${refused}`);
  t.ok(parsed > CASES / 10 && refused > CASES / 10, 'both outcomes happen');
});
