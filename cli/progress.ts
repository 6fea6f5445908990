/**
 * progress.ts — a progress bar for long work, shown only when stdout is a
 * terminal (piped output stays quiet, as DESIGN.md §8 asks). The bar is drawn
 * on stderr, and only when stderr is a terminal too, so redirecting either
 * stream never captures bar frames.
 */
import cliProgress from 'cli-progress';

/** Progress is what long-running commands report to. */
export interface Progress {
  update(done: number, suffix: string): void;
  stop(): void;
}

/** createProgress returns a terminal progress bar, or a no-op when stdout or stderr is not a TTY or `quiet` is set. */
export function createProgress(label: string, total: number, quiet: boolean): Progress {
  if (quiet || !process.stdout.isTTY || !process.stderr.isTTY) {
    return { update: () => undefined, stop: () => undefined };
  }
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} [{bar}] {value}/{total} {suffix}`,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: true,
      fps: 10,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { suffix: '' });
  return {
    update: (done, suffix) => bar.update(done, { suffix }),
    stop: () => bar.stop(),
  };
}
