/**
 * ingest-diag.ts — what `bench/ingest.ts` keeps to explain a failed or slow
 * phase after the fact: each node's `/metrics` sampled during every phase
 * (warm-up included) into the run's directory, and, when a phase failed or
 * `--keep-dir` was given, the node logs and those samples left on disk at a
 * printed path instead of being deleted with the cluster's data.
 *
 * Ownership: a MetricsSampler owns its timer and its in-flight fetches;
 * stop() ends both and returns once every sample is written. keepDiagnostics
 * copies, it never moves or deletes.
 */
import { appendFile, copyFile, mkdir, mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assert } from '../src/errors.js';
import { IngestBenchLimits } from '../src/limits.js';

/** DIAG_DIR is the folder of the run's directory that holds the /metrics samples. */
export const DIAG_DIR = 'diag';

/** MetricsSampler fetches every node's /metrics every metricsSampleMs and appends each answer to one file per node and phase. */
export class MetricsSampler {
  readonly #files: readonly string[];
  readonly #apis: readonly string[];
  readonly #startMs = Date.now();
  #timer: NodeJS.Timeout | null = null;
  #pending: Promise<void> = Promise.resolve();
  #samples = 0;

  constructor(dir: string, phase: string, apis: readonly string[]) {
    assert(apis.length >= 1, 'MetricsSampler needs a node');
    assert(/^[a-z0-9-]+$/.test(phase), 'MetricsSampler phase is a file-name-safe label');
    this.#apis = apis;
    this.#files = apis.map((_, i) => join(dir, `${phase}-n${i + 1}.metrics.txt`));
  }

  /** start samples once now and then every metricsSampleMs until stop(). */
  start(): void {
    assert(this.#timer === null, 'MetricsSampler started once');
    this.#sampleAll();
    this.#timer = setInterval(() => this.#sampleAll(), IngestBenchLimits.metricsSampleMs);
  }

  /** stop takes a last sample, ends the timer and waits for every write. */
  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    this.#sampleAll();
    await this.#pending;
  }

  #sampleAll(): void {
    if (this.#samples >= IngestBenchLimits.metricsSamplesPerPhaseMax) return;
    this.#samples++;
    const atMs = Date.now() - this.#startMs;
    // Chained, so samples land in order and stop() can wait for the last one.
    this.#pending = this.#pending.then(() => Promise.all(this.#apis.map((api, i) => this.#sampleOne(api, this.#files[i] as string, atMs))).then(() => undefined));
  }

  async #sampleOne(api: string, file: string, atMs: number): Promise<void> {
    let text: string;
    try {
      const res = await fetch(`http://${api}/metrics`, { signal: AbortSignal.timeout(IngestBenchLimits.metricsSampleTimeoutMs) });
      text = await res.text();
    } catch (e) {
      // A node too busy to answer within the timeout is itself the finding.
      text = `# no answer: ${e instanceof Error ? e.message : String(e)}\n`;
    }
    await appendFile(file, `# sample asked ${atMs} ms after the phase's start, answered ${new Date().toISOString()}\n${text}\n`);
  }
}

/** diagDir creates (if needed) and returns the run's /metrics sample folder under `root`. */
export async function diagDir(root: string): Promise<string> {
  const dir = join(root, DIAG_DIR);
  await mkdir(dir, { recursive: true });
  return dir;
}

/**
 * keepDiagnostics copies the node logs (`cluster/n<i>.log`) and the /metrics
 * samples of the run in `root` to a new directory under the temp dir, which
 * it returns, so they outlive the run's directory (and its data, which is
 * not copied).
 */
export async function keepDiagnostics(root: string): Promise<string> {
  const kept = await mkdtemp(join(tmpdir(), 'otlpdb-bench-ingest-kept-'));
  const clusterDir = join(root, 'cluster');
  for (const name of await readdir(clusterDir).catch(() => [] as string[])) {
    if (/^n[0-9]+\.log$/.test(name)) await copyFile(join(clusterDir, name), join(kept, name));
  }
  const samples = join(root, DIAG_DIR);
  const keptSamples = join(kept, DIAG_DIR);
  await mkdir(keptSamples);
  for (const name of await readdir(samples).catch(() => [] as string[])) await copyFile(join(samples, name), join(keptSamples, name));
  return kept;
}
