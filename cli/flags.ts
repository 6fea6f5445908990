/**
 * flags.ts — parsing of CLI flag values. Every flag that takes a number is
 * checked here against a named limit, so a typo fails fast with
 * ERR_INVALID_ARGUMENT and exit code 2 instead of running something absurd.
 */
import { OtlpdbError } from '../src/errors.js';

/** CLI_USAGE_EXIT_CODE is the exit code for a command line the CLI refuses. */
export const CLI_USAGE_EXIT_CODE = 2;

/**
 * parseIntegerFlag parses a decimal integer flag value in [min, max] or
 * throws ERR_INVALID_ARGUMENT naming the flag and the accepted range.
 */
export function parseIntegerFlag(flag: string, raw: string, min: number, max: number): number {
  if (!/^[0-9]+$/.test(raw)) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `${flag} must be a non-negative decimal integer, got ${JSON.stringify(raw)}`, {
      flag,
    });
  }
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `${flag} must be between ${min} and ${max}, got ${raw}`, { flag });
  }
  return value;
}

/** parseLogTermIndex reads `--log-term-index on|off` (undefined: the node default, on); anything else is ERR_INVALID_ARGUMENT naming the flag. */
export function parseLogTermIndex(raw: string | undefined): boolean | undefined {
  if (raw === undefined) return undefined;
  if (raw !== 'on' && raw !== 'off') throw new OtlpdbError('ERR_INVALID_ARGUMENT', '--log-term-index takes on or off', { flag: '--log-term-index' });
  return raw === 'on';
}
