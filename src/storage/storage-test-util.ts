/**
 * storage-test-util.ts — small helpers the storage tests share. Test code only.
 */
import { OtlpdbError } from '../errors.js';

/** codeOf runs `fn` and returns 'ok', or the code of the OtlpdbError it threw (any other error is rethrown). */
export function codeOf(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    if (err instanceof OtlpdbError) return err.code;
    throw err;
  }
}

/** codeOfAsync is codeOf for a promise: 'ok', or the error code it rejected with. */
export async function codeOfAsync(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (err instanceof OtlpdbError) return err.code;
    throw err;
  }
}
