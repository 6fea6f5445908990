/**
 * log-hint-rows.test.ts — the row side of line hints: hintCandidates (the
 * rows a hint may admit, from a block's postings alone) never leaves out a
 * row whose line holds the hint's literals, literals that sit inside longer
 * tokens included (ported from branch logs2). Each check is shown failing
 * on a planted bug; log-store-hints.test.ts checks the store end to end.
 */
import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import type { LogRow } from '../rows.js';
import { StorageLimits } from '../../limits.js';
import type { HintLiteral, LineHintPlan } from './log-hints.js';
import { compileLineHints } from './log-hints.js';
import { adjacentPairOf, hintCandidates, hintCandidatesWith } from './log-hint-rows.js';
import { logLine } from './log-line.js';
import { randomLine, randomSubstring, realisticLogs, synthLine } from './log-test-util.js';
import type { LogIndexReader } from './term-index.js';
import { openLogIndex } from './term-index.js';
import { encodeLogIndex } from './term-index-build.js';

const SEED = Number(process.env.SEED ?? 0x5713);
interface IndexedBlock {
  readonly lines: string[];
  readonly reader: LogIndexReader;
  readonly truncatedRows: number;
}

function buildBlock(rand: SeededRand, rows: number): IndexedBlock {
  const base = realisticLogs(rand, 1)[0] as LogRow;
  const made: LogRow[] = [];
  for (let i = 0; i < rows; i++) {
    // Some lines carry a key=value whose value a literal may cut inside (`status=5` in `xstatus=503`).
    const extra = rand.intn(4) === 0 ? ` ${['', 'x', 'http_'][rand.intn(3)] as string}status=${[200, 404, 500, 503, 5][rand.intn(5)] as number}` : '';
    const line = (rand.intn(2) === 0 ? randomLine(rand) : synthLine(rand)) + extra;
    made.push({ ...base, body: { type: 'string', value: line } });
  }
  const idx = encodeLogIndex(made);
  return { lines: made.map(logLine), reader: openLogIndex(idx, rows), truncatedRows: idx.truncatedRows };
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function lineHas(line: string, lit: string, ci: boolean): boolean {
  if (!ci) return line.includes(lit);
  return line.toLowerCase().includes(lit.toLowerCase()) || new RegExp(escapeRegex(lit), 'iu').test(line) || new RegExp(escapeRegex(lit), 'i').test(line);
}

function randomLiteral(rand: SeededRand, b: IndexedBlock, ci: boolean): string {
  if (rand.intn(6) === 0) return ['status=5', 'tatus=50', 'status', '=503', 'us=5'][rand.intn(5)] as string;
  return randomSubstring(rand, b.lines[rand.intn(b.lines.length)] as string, ci);
}

type Candidates = (plan: LineHintPlan, reader: LogIndexReader) => Uint32Array | null;

/** rowViolations counts rows holding a hint that `candidates` leaves out, and the rows it rules out in all. */
function rowViolations(seed: number, candidates: Candidates, cases: number): { violations: string[]; ruledOut: number } {
  const rand = new SeededRand(seed);
  const blocks = Array.from({ length: 8 }, () => buildBlock(rand, 64));
  const violations: string[] = [];
  let ruledOut = 0;
  for (let c = 0; c < cases; c++) {
    const b = blocks[rand.intn(blocks.length)] as IndexedBlock;
    if (b.truncatedRows > 0) continue;
    const ci = rand.intn(3) === 0;
    const lits = [randomLiteral(rand, b, ci)];
    if (rand.intn(4) === 0) lits.push(randomLiteral(rand, b, ci));
    const hints: HintLiteral[] = [{ contains: lits, caseInsensitive: ci }];
    if (rand.intn(5) === 0) hints.push({ contains: [randomLiteral(rand, b, false)], caseInsensitive: false });
    const plan = compileLineHints(hints);
    if (plan === null) continue;
    const got = candidates(plan, b.reader);
    if (got === null) continue;
    const set = new Set(got);
    ruledOut += b.lines.length - set.size;
    b.lines.forEach((line, row) => {
      const holds = hints.some((h) => h.contains.every((lit) => lineHas(line, lit, h.caseInsensitive)));
      if (holds && !set.has(row) && violations.length < 5) violations.push(`seed ${seed} case ${c}: ${JSON.stringify(hints)} left out row ${row} ${JSON.stringify(line)}`);
    });
  }
  return { violations, ruledOut };
}

t.test('hintCandidates never leaves out a row holding the hint (seeded, literals inside longer tokens)', async (t) => {
  for (let s = 0; s < 3; s++) {
    const r = rowViolations(SEED + s, hintCandidates, 300);
    t.same(r.violations, [], `SEED=${SEED + s}`);
    t.ok(r.ruledOut > 0, `rows are ruled out (${r.ruledOut}, SEED=${SEED + s})`);
  }
});

t.test('a planted hintCandidates that takes a piece for a whole term is caught', async (t) => {
  const wholeTerms: Candidates = (plan, reader) => {
    let out: number[] = [];
    for (const a of plan.alternatives) {
      const terms = [...a.exact, ...a.pieces];
      if (terms.length === 0) return null;
      const sets = terms.map((term) => new Set<number>(reader.termRows(term)));
      const rows = [...(sets[0] as Set<number>)].filter((x) => sets.every((set) => set.has(x)));
      out = [...new Set([...out, ...rows])];
    }
    return Uint32Array.from(out.sort((x, y) => x - y));
  };
  let caught = 0;
  for (let s = 0; s < 3; s++) caught += rowViolations(SEED + s, wholeTerms, 300).violations.length;
  t.ok(caught > 0, `the planted candidates leave out matching rows (${caught})`);
});


t.test('a planted hintCandidates that keeps only the first term holding a piece is caught', async (t) => {
  const firstHolders: Candidates = (plan, reader) => {
    const a = plan.alternatives[0];
    if (a === undefined || plan.alternatives.length !== 1 || a.exact.length > 0 || a.pieces.length !== 1) return hintCandidates(plan, reader);
    const p = a.pieces[0] as string;
    const hs = reader.terms.filter((term) => term.includes(p)).slice(0, 1);
    if (hs.length === 0) return new Uint32Array(0);
    return reader.termRows(hs[0] as string);
  };
  let caught = 0;
  for (let s = 0; s < 3; s++) caught += rowViolations(SEED + s, firstHolders, 300).violations.length;
  t.ok(caught > 0, `the planted candidates leave out matching rows (${caught})`);
});

t.test('a piece held by more than hintTermsPerPieceMax terms requires nothing', async (t) => {
  const base = realisticLogs(new SeededRand(SEED), 1)[0] as LogRow;
  const rows = Array.from({ length: 200 }, (_, i) => ({ ...base, body: { type: 'string' as const, value: `v=5${i} other` } }));
  const idx = encodeLogIndex(rows);
  const reader = openLogIndex(idx, rows.length);
  const plan = compileLineHints([{ contains: ['=5'], caseInsensitive: false }]) as LineHintPlan;
  t.equal(hintCandidates(plan, reader), null, 'every row stays a candidate');
  t.ok(StorageLimits.tokenCharsMax > 2, 'the piece is not a cut term');
});

t.test('an adjacent pair (status=5) narrows the rows to a term holding the left run right before one starting with the right run', async (t) => {
  t.same(adjacentPairOf('status=5'), { left: 'status', right: '5' });
  t.same(adjacentPairOf('Status = 5xx'), { left: 'status', right: '5xx' });
  t.equal(adjacentPairOf('status:5'), null, 'a soft separator between: no pair');
  t.equal(adjacentPairOf('a=b=c'), null, 'three runs: no pair');
  t.equal(adjacentPairOf('=5'), null, 'one run');
  const base = realisticLogs(new SeededRand(SEED), 1)[0] as LogRow;
  const lines = ['GET /x status=200 id=5abc', 'GET /y status=503 took=5ms', 'xstatus=500 ok', 'status=404 5 5', 'status = 5.2 s'];
  const rows = lines.map((value) => ({ ...base, body: { type: 'string' as const, value } }));
  const reader = openLogIndex(encodeLogIndex(rows), rows.length);
  const plan = compileLineHints([{ contains: ['status=5'], caseInsensitive: false }]) as LineHintPlan;
  t.same([...(hintCandidates(plan, reader) ?? [])], [1, 2, 4], 'the lines with status=5…, and one the index cannot tell apart (the separators are not indexed: over-admitting only)');
  const spaced = compileLineHints([{ contains: ['status = 5'], caseInsensitive: false }]) as LineHintPlan;
  t.same([...(hintCandidates(spaced, reader) ?? [])], [1, 2, 4], 'hard separators of any length between');
});

t.test('a planted adjacency step (the same position, or two apart) is caught', async (t) => {
  for (const step of [0, 2]) {
    let caught = 0;
    for (let s = 0; s < 3; s++) caught += rowViolations(SEED + s, (plan, reader) => hintCandidatesWith(plan, reader, step), 300).violations.length;
    t.ok(caught > 0, `step ${step}: the planted candidates leave out matching rows (${caught})`);
  }
});
