/**
 * hints.ts — the LineHints of a log query: substrings every line the query
 * can keep must contain, so a source may skip blocks without them. Derived
 * from the positive line filters before the first stage that rewrites the
 * line (line_format, unpack, decolorize): `|= "a" or "b"` gives two
 * alternatives; `|>` requires every literal of its pattern;
 * `|~` derives the literals its regex requires (`error.*timeout` → "error"
 * and "timeout"; alternations give alternatives; `(?i)` makes the hint
 * case-insensitive); chained filters combine as a conjunction (the cross
 * product of their alternatives, bounded by LogqlLimits.hintsMax — past it a
 * filter is left out). Hints only over-approximate: anything not understood
 * (classes, escapes other than punctuation, inner flag groups) requires
 * nothing.
 *
 * Case-insensitive matching is JavaScript's `/literal/iu` (Unicode simple
 * case folding: `ſ` matches `s`, `K` (Kelvin) matches `k`); `hintMatches`
 * is the exact check. A source comparing lower-cased text must fold those
 * too, or treat such literals as no requirement.
 */
import type { LogExpr } from './ast.js';
import { LogqlLimits } from '../../limits.js';
import { parseLinePattern } from './pattern.js';
import { splitFlags } from './regex.js';
import type { LineHint } from './source.js';

type Dnf = string[][];

const NONE: Dnf = [[]];

function and(a: Dnf, b: Dnf): Dnf {
  if (a.length * b.length > LogqlLimits.hintsMax) return a;
  const out: Dnf = [];
  for (const x of a) for (const y of b) out.push([...new Set([...x, ...y])].slice(0, LogqlLimits.hintLiteralsMax));
  return out;
}

function or(parts: readonly Dnf[]): Dnf {
  const out: Dnf = [];
  for (const p of parts) {
    if (p.some((alt) => alt.length === 0)) return NONE;
    out.push(...p);
  }
  return out.length > LogqlLimits.hintsMax || out.length === 0 ? NONE : out;
}

interface Info {
  /** exact lists every string the node can match, when that set is small and known. */
  exact: string[] | null;
  dnf: Dnf;
}

const EXACT_MAX = 16;

/** RegexAnalyzer walks an RE2 pattern body; any construct it does not know yields "no requirement". */
class RegexAnalyzer {
  readonly #src: string;
  #i = 0;
  #depth = 0;
  #failed = false;

  constructor(src: string) {
    this.#src = src;
  }

  analyze(): Dnf {
    const info = this.#alternation();
    if (this.#failed || this.#i < this.#src.length) return NONE;
    return info.dnf;
  }

  #alternation(): Info {
    const branches: Info[] = [this.#concat()];
    while (this.#src[this.#i] === '|') {
      this.#i++;
      branches.push(this.#concat());
    }
    if (branches.length === 1) return branches[0] as Info;
    let exact: string[] | null = [];
    for (const b of branches) exact = exact === null || b.exact === null ? null : [...exact, ...b.exact];
    if (exact !== null && exact.length > EXACT_MAX) exact = null;
    return { exact, dnf: or(branches.map((b) => b.dnf)) };
  }

  #concat(): Info {
    let dnf: Dnf = NONE;
    let cur: string[] = [''];
    let allExact = true;
    const flush = (): void => {
      if (!cur.includes('')) dnf = and(dnf, cur.map((s) => [s]));
      cur = [''];
    };
    while (this.#i < this.#src.length && this.#src[this.#i] !== '|' && this.#src[this.#i] !== ')') {
      const atom = this.#quantified();
      if (atom.exact !== null && cur.length * atom.exact.length <= EXACT_MAX) {
        const next: string[] = [];
        for (const a of cur) for (const b of atom.exact) next.push(a + b);
        cur = [...new Set(next)];
      } else {
        allExact = false;
        flush();
        dnf = and(dnf, atom.dnf);
      }
    }
    const exact = allExact ? cur : null;
    flush();
    return { exact, dnf };
  }

  #quantified(): Info {
    const atom = this.#atom();
    const c = this.#src[this.#i];
    let min: number;
    let max: number | null;
    if (c === '*' || c === '+' || c === '?') {
      this.#i++;
      min = c === '+' ? 1 : 0;
      max = c === '?' ? 1 : null;
    } else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.#src.slice(this.#i));
      if (m === null) return this.#giveUp();
      this.#i += m[0].length;
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === '' ? null : Number(m[3]);
    } else return atom;
    if (this.#src[this.#i] === '?') this.#i++;
    if (min === 0) return { exact: max === 1 && atom.exact !== null ? [...new Set(['', ...atom.exact])] : null, dnf: NONE };
    if (max === 1) return atom;
    return { exact: null, dnf: atom.dnf };
  }

  #giveUp(): Info {
    this.#failed = true;
    this.#i = this.#src.length + 1;
    return { exact: null, dnf: NONE };
  }

  #atom(): Info {
    const c = this.#src[this.#i] as string;
    if (c === '(') {
      if (++this.#depth > LogqlLimits.nestingDepthMax) return this.#giveUp();
      this.#i++;
      if (this.#src[this.#i] === '?') {
        const m = /^\?(:|P?<[A-Za-z_][A-Za-z0-9_]*>)/.exec(this.#src.slice(this.#i));
        if (m === null) return this.#giveUp();
        this.#i += m[0].length;
      }
      const inner = this.#alternation();
      if (this.#src[this.#i] !== ')') return this.#giveUp();
      this.#i++;
      this.#depth--;
      return inner;
    }
    if (c === '[') {
      let j = this.#i + 1;
      if (this.#src[j] === '^') j++;
      if (this.#src[j] === ']') j++;
      while (j < this.#src.length && this.#src[j] !== ']') j += this.#src[j] === '\\' ? 2 : 1;
      if (j >= this.#src.length) return this.#giveUp();
      this.#i = j + 1;
      return { exact: null, dnf: NONE };
    }
    if (c === '\\') {
      const e = this.#src[this.#i + 1];
      if (e === undefined) return this.#giveUp();
      this.#i += 2;
      if (/[A-Za-z0-9]/.test(e)) {
        if (e === 'b' || e === 'B' || e === 'A' || e === 'z') return { exact: [''], dnf: NONE };
        if (e === 'p' || e === 'P' || e === 'x' || e === 'u') return this.#giveUp();
        return { exact: null, dnf: NONE };
      }
      return { exact: [e], dnf: [[e]] };
    }
    if (c === '^' || c === '$') {
      this.#i++;
      return { exact: [''], dnf: NONE };
    }
    if (c === '.') {
      this.#i++;
      return { exact: null, dnf: NONE };
    }
    if (c === '*' || c === '+' || c === '?' || c === '{') return this.#giveUp();
    const cp = String.fromCodePoint(this.#src.codePointAt(this.#i) as number);
    this.#i += cp.length;
    return { exact: [cp], dnf: [[cp]] };
  }
}

/** regexRequirements lists the alternatives of literals a regex line filter requires, and whether they are case-insensitive. */
export function regexRequirements(pattern: string): { dnf: string[][]; caseInsensitive: boolean } {
  const { flags, body } = splitFlags(pattern);
  const dnf = new RegexAnalyzer(body).analyze().map((alt) => alt.filter((s) => s !== ''));
  return { dnf: dnf.some((a) => a.length === 0) ? NONE : dnf, caseInsensitive: flags.includes('i') };
}

/**
 * lineHints derives the LineHints of a log query (alternatives: a kept line
 * satisfies at least one); empty when nothing is required.
 */
export function lineHints(log: LogExpr): LineHint[] {
  let hints: { contains: string[]; ci: boolean }[] = [{ contains: [], ci: false }];
  for (const stage of log.stages) {
    if (stage.kind === 'lineFormat' || stage.kind === 'unpack' || stage.kind === 'decolorize') break;
    if (stage.kind !== 'lineFilter' || (stage.op !== '|=' && stage.op !== '|~' && stage.op !== '|>')) continue;
    let alts: { contains: string[]; ci: boolean }[] = [];
    for (const v of stage.values) {
      if (stage.op === '|=') alts.push({ contains: v === '' ? [] : [v], ci: false });
      else if (stage.op === '|>') {
        // A line passing a pattern filter contains every literal of the pattern.
        const parts = parseLinePattern(v);
        const literals = typeof parts === 'string' ? [] : parts.flatMap((p) => (p.kind === 'literal' ? [p.text] : []));
        alts.push({ contains: [...new Set(literals)].slice(0, LogqlLimits.hintLiteralsMax), ci: false });
      } else {
        const r = regexRequirements(v);
        for (const a of r.dnf) alts.push({ contains: a, ci: r.caseInsensitive });
      }
    }
    if (alts.some((a) => a.contains.length === 0) || alts.length > LogqlLimits.hintsMax) alts = [];
    if (alts.length === 0 || hints.length * alts.length > LogqlLimits.hintsMax) continue;
    const next: { contains: string[]; ci: boolean }[] = [];
    for (const h of hints) for (const a of alts) next.push({ contains: [...new Set([...h.contains, ...a.contains])].slice(0, LogqlLimits.hintLiteralsMax), ci: h.ci || a.ci });
    hints = next;
  }
  if (hints.some((h) => h.contains.length === 0)) return [];
  return hints.map((h) => ({ contains: h.contains, caseInsensitive: h.ci }));
}

function escapeRegex(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}

/** hintMatches is the exact meaning of a LineHint: the line contains every literal (case-insensitively as `/lit/iu` when flagged). */
export function hintMatches(hint: LineHint, line: string): boolean {
  return hint.contains.every((lit) => (hint.caseInsensitive ? new RegExp(escapeRegex(lit), 'iu').test(line) : line.includes(lit)));
}

/** hintsAdmit says whether a line may be kept under a hint list (no hints admit every line). */
export function hintsAdmit(hints: readonly LineHint[], line: string): boolean {
  return hints.length === 0 || hints.some((h) => hintMatches(h, line));
}
