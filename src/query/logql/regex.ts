/**
 * regex.ts — LogQL's regular expressions (Go RE2 syntax): stream selector
 * and label matchers are fully anchored, line filters and the regexp parser
 * search anywhere in the line. The translation to JavaScript and what is
 * refused are src/re2.ts's, shared by every language; this file adds LogQL's
 * bound (LogqlLimits.regexBytesMax) and the flag split line hints use.
 */
import { LogqlLimits } from '../../limits.js';
import { compileRe2, re2Problem } from '../../re2.js';
import type { Re2Bound, Re2Problem } from '../../re2.js';
import type { Re2Regex } from '../../re2-guard.js';

const BOUND: Re2Bound = { bytesMax: LogqlLimits.regexBytesMax, name: 'LogqlLimits.regexBytesMax' };

/** splitFlags separates a leading RE2 flag group from a pattern: `(?i)abc` → flags `i`, body `abc` (line hints read the body). */
export function splitFlags(pattern: string): { flags: string; body: string } {
  const m = /^\(\?([ism]+)\)/.exec(pattern);
  if (m === null) return { flags: '', body: pattern };
  return { flags: [...new Set(m[1] as string)].join(''), body: pattern.slice(m[0].length) };
}

/** regexProblem says why a pattern is not a valid LogQL regular expression, or null when it is. */
export function regexProblem(pattern: string): Re2Problem | null {
  return re2Problem(pattern, BOUND);
}

/** compileLogqlRegex compiles a pattern the parser accepted: anchored for matchers, unanchored for line filters and `regexp`. */
export function compileLogqlRegex(pattern: string, anchored: boolean): Re2Regex {
  return compileRe2(pattern, anchored, BOUND, 'LogQL');
}
