/**
 * log-hints.test.ts — line-hint pruning never drops a block holding a line
 * that contains the literal (seeded random lines and substrings, both
 * cases), a planted naive compiler (every token of the literal as an exact
 * term) is caught, and the store prunes blocks while selectLogs still
 * returns every matching record. Reproduce a failure with SEED=<n>.
 */
import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { StorageLimits } from '../../limits.js';
import { BlockKind, openBlock } from '../block.js';
import { decodeTermBloom } from './term-bloom.js';
import type { LogRow } from '../rows.js';
import { tokenize } from '../tokenizer.js';
import type { HintLiteral, LineHintPlan } from './log-hints.js';
import { bloomAlternatives, compileLineHints, termsAdmit } from './log-hints.js';
import { logLine } from './log-line.js';
import { randomLine, randomSubstring, realisticLogs, synthLine } from './log-test-util.js';
import { readIndexTerms } from './term-index.js';
import { encodeLogIndex } from './term-index-build.js';

const SEED = Number(process.env.SEED ?? 0x41e7);
function withLine(base: LogRow, line: string): LogRow {
  return { ...base, body: { type: 'string', value: line } };
}

interface Block {
  readonly lines: string[];
  readonly terms: readonly string[];
  readonly bloom: ReturnType<typeof decodeTermBloom>;
  readonly truncatedRows: number;
}

function buildBlocks(rand: SeededRand, count: number, rows: number): Block[] {
  const base = realisticLogs(rand, 1)[0] as LogRow;
  const out: Block[] = [];
  for (let b = 0; b < count; b++) {
    const lines: string[] = [];
    for (let i = 0; i < rows; i++) lines.push(rand.intn(2) === 0 ? randomLine(rand) : synthLine(rand));
    const idx = encodeLogIndex(lines.map((l) => withLine(base, l)));
    out.push({ lines: lines.map((l) => logLine(withLine(base, l))), terms: readIndexTerms(idx.postings), bloom: decodeTermBloom(openBlock(idx.bloom, BlockKind.bloom)), truncatedRows: idx.truncatedRows });
  }
  return out;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** lineHas is the widest meaning of a literal: includes, or (case-insensitive) lower-cased includes or a /iu match. */
function lineHas(line: string, lit: string, ci: boolean): boolean {
  if (!ci) return line.includes(lit);
  return line.toLowerCase().includes(lit.toLowerCase()) || new RegExp(escapeRegex(lit), 'iu').test(line) || new RegExp(escapeRegex(lit), 'i').test(line);
}

function admits(plan: LineHintPlan | null, b: Block): boolean {
  if (plan === null || b.truncatedRows > 0) return true;
  return bloomAlternatives(plan, (term) => b.bloom.has(term)) && termsAdmit(plan, b.terms);
}

/** randomLiteral is a substring of a random line of a random block (code-point boundaries), its case flipped at random when ci. */
function randomLiteral(rand: SeededRand, blocks: readonly Block[], ci: boolean): string {
  const b = blocks[rand.intn(blocks.length)] as Block;
  return randomSubstring(rand, b.lines[rand.intn(b.lines.length)] as string, ci);
}

/** soundnessViolations counts (literal, block) pairs where a block holding a matching line is pruned by `compile`. */
function soundnessViolations(seed: number, compile: (hints: readonly HintLiteral[]) => LineHintPlan | null, cases: number): { violations: string[]; pruned: number } {
  const rand = new SeededRand(seed);
  const blocks = buildBlocks(rand, 24, 16);
  const violations: string[] = [];
  let pruned = 0;
  for (let c = 0; c < cases; c++) {
    const ci = rand.intn(3) === 0;
    const lits = [randomLiteral(rand, blocks, ci)];
    if (rand.intn(4) === 0) lits.push(randomLiteral(rand, blocks, ci));
    const hints: HintLiteral[] = [{ contains: lits, caseInsensitive: ci }];
    const alt = rand.intn(5) === 0 ? randomLiteral(rand, blocks, false) : null;
    if (alt !== null) hints.push({ contains: [alt], caseInsensitive: false });
    const plan = compile(hints);
    for (const b of blocks) {
      const holds = b.lines.some((l) => hints.some((h) => h.contains.every((lit) => lineHas(l, lit, h.caseInsensitive))));
      const ok = admits(plan, b);
      if (!ok) pruned++;
      if (holds && !ok && violations.length < 5) violations.push(`seed ${seed} case ${c}: ${JSON.stringify(hints)} pruned a block holding a match`);
    }
  }
  return { violations, pruned };
}

t.test('pruning never drops a block holding a matching line (seeded)', async (t) => {
  for (let s = 0; s < 4; s++) {
    const r = soundnessViolations(SEED + s, compileLineHints, 400);
    t.same(r.violations, [], `SEED=${SEED + s}`);
    t.ok(r.pruned > 0, `some blocks are pruned (SEED=${SEED + s})`);
  }
});

t.test('a planted naive compiler (every token of the literal exact) is caught', async (t) => {
  const naive = (hints: readonly HintLiteral[]): LineHintPlan | null => ({
    alternatives: hints.map((h) => ({ exact: h.contains.flatMap((s) => tokenize(s).terms), pieces: [], foldLongS: false, literals: h.contains })),
  });
  let caught = 0;
  for (let s = 0; s < 4; s++) caught += soundnessViolations(SEED + s, naive, 400).violations.length;
  t.ok(caught > 0, 'the naive compiler drops matching blocks');
});

t.test('edge cases: dotted numbers, cut tokens, truncated lines, long s, no usable term', async (t) => {
  const base = realisticLogs(new SeededRand(3), 1)[0] as LogRow;
  const block = (lines: string[]): Block => {
    const idx = encodeLogIndex(lines.map((l) => withLine(base, l)));
    return { lines, terms: readIndexTerms(idx.postings), bloom: decodeTermBloom(openBlock(idx.bloom, BlockKind.bloom)), truncatedRows: idx.truncatedRows };
  };
  const cs = (lit: string): LineHintPlan | null => compileLineHints([{ contains: [lit], caseInsensitive: false }]);
  const b1 = block(['v 1.23abc x']);
  t.ok(admits(cs('23abc'), b1), 'a literal starting inside a dotted number');
  t.ok(admits(cs(' 1.23abc '), b1), 'interior chunk with a dotted number');
  t.notOk(admits(cs(' zzz '), b1), 'an absent interior word prunes');
  const long = 'q'.repeat(StorageLimits.tokenCharsMax + 40);
  t.ok(admits(cs(`${long.slice(0, 150)}`), block([`a ${long} b`])), 'a token longer than tokenCharsMax');
  const many = Array.from({ length: StorageLimits.tokensPerLineMax + 5 }, (_, i) => `w${i}`).join(' ') + ' needle';
  const bt = block([many]);
  t.ok(bt.truncatedRows === 1, 'the index counts a truncated line');
  t.ok(admits(cs(' needle'), bt), 'a block with a truncated line is never pruned by terms');
  const ci = compileLineHints([{ contains: ['STATUS'], caseInsensitive: true }]);
  t.ok(admits(ci, block(['ſtatus ok'])), 'long s in a case-insensitive literal');
  t.equal(compileLineHints([{ contains: ['--'], caseInsensitive: false }]), null, 'no usable term: no pruning');
  t.equal(compileLineHints([]), null, 'no hints: no pruning');
});
