/**
 * regex.ts — LogQL's regular expressions (Go RE2 syntax) on JavaScript's
 * engine: stream selector and label matchers are fully anchored, line
 * filters and the regexp parser search anywhere in the line. A leading
 * flag group (`(?i)`, `(?s)`, `(?is)`...) becomes the RegExp's flags;
 * `(?P<name>...)` is read as `(?<name>...)`; what RE2 refuses
 * (backreferences, lookaround) is refused here too.
 *
 * NB: JavaScript's engine backtracks where RE2 does not; patterns are bounded
 * by LogqlLimits.regexBytesMax and lines by ingest limits, but a linear-time
 * engine would be the real fix (as in traceql/regex.ts).
 */
import { OtlpdbError } from '../../errors.js';
import { LogqlLimits } from '../../limits.js';

const RE2_REFUSED: readonly (readonly [RegExp, string])[] = [
  [/\\[1-9]/, 'backreferences'],
  [/\\k</, 'named backreferences'],
  [/\(\?<?[=!]/, 'lookaround'],
];

/** splitFlags separates a leading RE2 flag group from a pattern: `(?i)abc` → flags `i`, body `abc`. */
export function splitFlags(pattern: string): { flags: string; body: string } {
  const m = /^\(\?([ism]+)\)/.exec(pattern);
  if (m === null) return { flags: '', body: pattern };
  return { flags: [...new Set(m[1] as string)].join(''), body: pattern.slice(m[0].length) };
}

function compile(pattern: string, anchored: boolean): RegExp {
  const { flags, body } = splitFlags(pattern);
  const js = body.replaceAll('(?P<', '(?<');
  return new RegExp(anchored ? `^(?:${js})$` : js, `u${flags}`);
}

/** regexProblem says why a pattern is not a valid LogQL regular expression, or null when it is. */
export function regexProblem(pattern: string): { code: 'ERR_INVALID_ARGUMENT' | 'ERR_LIMIT_EXCEEDED'; message: string } | null {
  const bytes = Buffer.byteLength(pattern, 'utf8');
  if (bytes > LogqlLimits.regexBytesMax) {
    return { code: 'ERR_LIMIT_EXCEEDED', message: `regular expression of ${bytes} bytes exceeds LogqlLimits.regexBytesMax (${LogqlLimits.regexBytesMax})` };
  }
  for (const [re, what] of RE2_REFUSED) {
    if (re.test(pattern)) return { code: 'ERR_INVALID_ARGUMENT', message: `invalid regular expression (RE2 has no ${what})` };
  }
  try {
    compile(pattern, false);
  } catch (err) {
    return { code: 'ERR_INVALID_ARGUMENT', message: `invalid regular expression (${(err as Error).message})` };
  }
  return null;
}

/** compileLogqlRegex compiles a pattern the parser accepted: anchored for matchers, unanchored for line filters and `regexp`. */
export function compileLogqlRegex(pattern: string, anchored: boolean): RegExp {
  const problem = regexProblem(pattern);
  if (problem !== null) throw new OtlpdbError(problem.code, `LogQL: ${problem.message}`);
  return compile(pattern, anchored);
}
