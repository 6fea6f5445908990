/**
 * cli-args.ts — the small helpers the in-process benches share: a positive
 * integer flag read from process.argv, and the median of a round's figures.
 */

/** positiveIntArg reads `--name N` from process.argv (fallback when absent); anything but a positive safe integer is refused. */
export function positiveIntArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`--${name} must be a positive integer`);
  return v;
}

/** median is the upper median of `xs` (the middle element of a sorted copy; `xs` itself is left as it is). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}
