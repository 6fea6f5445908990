/**
 * progress.ts — a progress bar for long work, shown only when stderr is a
 * terminal (piped output stays quiet, as DESIGN.md §8 asks).
 */
import cliProgress from 'cli-progress';

/** Progress is what long-running commands report to. */
export interface Progress {
  update(done: number, suffix: string): void;
  stop(): void;
}

/** createProgress returns a terminal progress bar, or a no-op when stderr is not a TTY or `quiet` is set. */
export function createProgress(label: string, total: number, quiet: boolean): Progress {
  if (quiet || !process.stderr.isTTY) {
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
