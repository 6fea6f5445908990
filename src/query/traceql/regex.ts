/**
 * regex.ts — the regular expressions of `=~` and `!~`. TraceQL uses Go's RE2
 * syntax, fully anchored (Tempo: `=~ "bar"` means `^bar$`). JavaScript's
 * engine is close to RE2 for the common subset; the constructs RE2 refuses
 * (backreferences, lookaround) are refused here too, and Go's `(?P<name>...)`
 * groups are accepted as `(?<name>...)`.
 *
 * NB: JavaScript's engine backtracks, RE2 does not; a pattern such as
 * `(a+)+b` can take exponential time on an adversarial value. The pattern
 * length is bounded (TraceqlLimits.regexBytesMax) and values are bounded by
 * ingest limits, but a linear-time engine would be the real fix.
 */
import { OtlpdbError } from '../../errors.js';
import { TraceqlLimits } from '../../limits.js';

const RE2_REFUSED: readonly (readonly [RegExp, string])[] = [
  [/\\[1-9]/, 'backreferences'],
  [/\\k</, 'named backreferences'],
  [/\(\?<?[=!]/, 'lookaround'],
];

/**
 * regexProblem says why a pattern is not a valid TraceQL regular expression,
 * or returns null when it is. The parser reports the problem at the pattern's
 * position.
 */
export function regexProblem(pattern: string): { code: 'ERR_INVALID_ARGUMENT' | 'ERR_LIMIT_EXCEEDED'; message: string } | null {
  const bytes = Buffer.byteLength(pattern, 'utf8');
  if (bytes > TraceqlLimits.regexBytesMax) {
    return {
      code: 'ERR_LIMIT_EXCEEDED',
      message: `regular expression of ${bytes} bytes exceeds TraceqlLimits.regexBytesMax (${TraceqlLimits.regexBytesMax})`,
    };
  }
  for (const [re, what] of RE2_REFUSED) {
    if (re.test(pattern)) return { code: 'ERR_INVALID_ARGUMENT', message: `invalid regular expression (RE2 has no ${what})` };
  }
  try {
    compileAnchored(pattern);
  } catch (err) {
    return { code: 'ERR_INVALID_ARGUMENT', message: `invalid regular expression (${(err as Error).message})` };
  }
  return null;
}

function compileAnchored(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern.replaceAll('(?P<', '(?<')})$`, 'u');
}

/**
 * compileTraceqlRegex compiles a pattern the parser accepted into a fully
 * anchored RegExp. A pattern regexProblem refuses is a programmer error here.
 */
export function compileTraceqlRegex(pattern: string): RegExp {
  const problem = regexProblem(pattern);
  if (problem !== null) throw new OtlpdbError(problem.code, `TraceQL: ${problem.message}`);
  return compileAnchored(pattern);
}
