/**
 * logql-engine.ts — `node dist/bench/logql-engine.js [--entries N] [--json]`:
 * the LogQL engine (src/query/logql) over a seeded in-memory corpus that
 * looks like real logs, each figure against a baseline measured in the same
 * run:
 *
 * 1. A keyword log query (`|= "timeout"`, limit 100) over a source that skips
 *    entries no LineHint admits (as a block index would) against the same
 *    source ignoring hints: the ratio is what hints save the pipeline.
 * 2. `sum by (level) (count_over_time(... [1m]))` at 30 s steps over the whole
 *    corpus, pushed to 3 in-memory shards (partials combined) against the
 *    same query gathered through one source.
 * 3. `| json | status >= 500` throughput (entries/s) against the bare
 *    baseline of JSON.parse on every line.
 *
 * Timing never gates anything; the ratios are the figures to compare.
 */
import { SeededRand } from '../src/fs/seeded-rand.js';
import { logqlEngine } from '../src/query/logql/engine.js';
import { CORPUS_SPAN_NS, CORPUS_START_NS, randomCorpus } from '../src/query/logql/logql-test-gen.js';
import { MemoryLogSource } from '../src/query/logql/memory-log-source.js';
import type { LogEntry, LogSource, LogqlParams } from '../src/query/logql/source.js';
import { positiveIntArg } from './cli-args.js';

async function timed(f: () => Promise<unknown>): Promise<number> {
  await f();
  const runs = 3;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) await f();
  return Number(process.hrtime.bigint() - t0) / 1e6 / runs;
}

function sharded(corpus: readonly LogEntry[], n: number): LogSource {
  const shards = Array.from({ length: n }, (_, k) => new MemoryLogSource(corpus.filter((_, i) => i % n === k)));
  const whole = new MemoryLogSource(corpus);
  whole.shardEval = async (req, signal) => {
    const answers = await Promise.all(shards.map((s) => logqlEngine.evaluateShardPart(req, s, signal)));
    if (answers[0]?.kind === 'entries') return { kind: 'entries', entries: answers.flatMap((a) => (a.kind === 'entries' ? a.entries : [])) };
    return { kind: 'partials', series: answers.flatMap((a) => (a.kind === 'partials' ? a.series : [])) };
  };
  return whole;
}

async function main(): Promise<void> {
  const entries = positiveIntArg('entries', 200_000);
  const corpus = randomCorpus(new SeededRand(20261127), entries);
  const signal = new AbortController().signal;
  const whole: LogqlParams = { startNs: CORPUS_START_NS, endNs: CORPUS_START_NS + CORPUS_SPAN_NS, stepNs: 0n, direction: 'backward', limit: 100, signal };
  const keyword = '{service_name=~".+"} |= "timeout"';
  const hinted = await timed(() => logqlEngine.evaluate(keyword, whole, new MemoryLogSource(corpus)));
  const unhinted = await timed(() => logqlEngine.evaluate(keyword, whole, new MemoryLogSource(corpus, () => true)));
  const metric = 'sum by (level) (count_over_time({service_name=~".+"} [1m]))';
  const range = { ...whole, stepNs: 30_000_000_000n };
  const pushed = await timed(() => logqlEngine.evaluate(metric, range, sharded(corpus, 3)));
  const gathered = await timed(() => logqlEngine.evaluate(metric, range, new MemoryLogSource(corpus)));
  const jsonQuery = 'count_over_time({format="json"} | json | status >= 500 | __error__="" | keep level [10m])';
  const jsonLines = corpus.filter((e) => e.stream.some((l) => l.name === 'format' && l.value === 'json'));
  const pipelineMs = await timed(() => logqlEngine.evaluate(jsonQuery, whole, new MemoryLogSource(jsonLines)));
  const parseMs = await timed(async () => {
    let n = 0;
    for (const e of jsonLines) {
      try {
        if ((JSON.parse(e.line) as { status?: number }).status !== undefined) n++;
      } catch {
        n--;
      }
    }
    return n;
  });
  const figures = {
    entries,
    keywordHintedMs: hinted,
    keywordUnhintedMs: unhinted,
    keywordRatio: unhinted / hinted,
    countPushedMs: pushed,
    countGatheredMs: gathered,
    countRatio: gathered / pushed,
    jsonLines: jsonLines.length,
    jsonPipelineEntriesPerSec: jsonLines.length / (pipelineMs / 1000),
    jsonParseOnlyEntriesPerSec: jsonLines.length / (parseMs / 1000),
    jsonPipelineOverParse: pipelineMs / parseMs,
  };
  if (process.argv.includes('--json')) console.log(JSON.stringify(figures));
  else for (const [k, v] of Object.entries(figures)) console.log(`${k.padEnd(28)} ${typeof v === 'number' ? v.toFixed(2) : String(v)}`);
}

await main();
