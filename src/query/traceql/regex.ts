/**
 * regex.ts — the regular expressions of `=~` and `!~`. TraceQL uses Go's RE2
 * syntax, fully anchored (Tempo: `=~ "bar"` means `^bar$`). The translation
 * to JavaScript and what is refused are src/re2.ts's, shared by every
 * language; this file adds TraceQL's bound (TraceqlLimits.regexBytesMax).
 */
import { TraceqlLimits } from '../../limits.js';
import { compileRe2, re2Problem } from '../../re2.js';
import type { Re2Bound, Re2Problem } from '../../re2.js';
import type { Re2Regex } from '../../re2-guard.js';

const BOUND: Re2Bound = { bytesMax: TraceqlLimits.regexBytesMax, name: 'TraceqlLimits.regexBytesMax' };

/**
 * regexProblem says why a pattern is not a valid TraceQL regular expression,
 * or returns null when it is. The parser reports the problem at the pattern's
 * position.
 */
export function regexProblem(pattern: string): Re2Problem | null {
  return re2Problem(pattern, BOUND);
}

/**
 * compileTraceqlRegex compiles a pattern the parser accepted into a fully
 * anchored RegExp. A pattern regexProblem refuses is a programmer error here.
 */
export function compileTraceqlRegex(pattern: string): Re2Regex {
  return compileRe2(pattern, true, BOUND, 'TraceQL');
}
