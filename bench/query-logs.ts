/**
 * query-logs.ts — `node dist/bench/query-logs.js [--scale F] [--lines N]
 * [--nodes 1|3] [--queries N] [--connections N] [--no-ingest-baseline]
 * [--no-fts5] [--slow-ms N] [--json]`: log query latency over a real otlpdb cluster
 * holding 5,000,000 realistic lines by default (3 nodes, R=3; `--scale 0.1`
 * loads 500,000), through Loki's /loki/api/v1/query_range: keyword (`|=`),
 * phrase, regex (`|~`), `count_over_time`, and keyword over a 5-minute
 * range; in the same run, a brute-force scan over the same lines in this
 * process and SQLite FTS5 loaded with them (bench/fts5, installed on
 * demand), every answer of all three compared. Also the index's ingest
 * cost: the same bodies into a cluster with `--log-term-index off` first,
 * off and on alternated `--ingest-rounds` times (2 by default: one pair of
 * loads moved the ratio from 1.16 to 1.40 on an idle machine), judged on
 * the ratio of the sums.
 * Targets (issue 8): keyword p99 < 200 ms; keyword-plus-time-range faster
 * than FTS5; ingest with the index at most 30% slower than without.
 * query-logs-run.ts runs it. Never a CI gate: timing lives here.
 */
import { SLOW_QUERY_LOG_MS, runQueryLogsBench } from './query-logs-run.js';
import type { IngestFigures, KindFigures, Latency, QueryLogsConfig, QueryLogsReport } from './query-logs-run.js';

/** QUERY_LOGS_PORTS are base ports on 127.0.0.1 (node i on base + i − 1), away from a default cluster's and the other benches'. */
const QUERY_LOGS_PORTS = { api: 31_500, peer: 31_510, otlpGrpc: 31_520, otlpHttp: 31_530 } as const;
/** FULL_LINES is the issue's size: at least 5,000,000 lines. */
export const FULL_LINES = 5_000_000;
/** INGEST_ROUNDS is the default of --ingest-rounds: off/on load pairs, alternated. */
export const INGEST_ROUNDS = 2;
/** INGEST_ROUNDS_MAX bounds --ingest-rounds (each round loads every line twice). */
const INGEST_ROUNDS_MAX = 5;
/** LINES_MAX bounds --lines (memory: lines and bodies are held for the run). */
const LINES_MAX = 20_000_000;
/** TARGETS are the issue's: keyword p99 (ms), otlpdb/FTS5 p99 on keyword-plus-time-range, ingest slowdown with the index. */
export const TARGETS = { keywordP99Ms: 200, keywordRangeVsFts5: 1, ingestOnOverOffMax: 1.3 } as const;

/** parseQueryLogsArgs reads the flags; a bad one throws with the flag's name. */
export function parseQueryLogsArgs(argv: readonly string[]): QueryLogsConfig {
  const c: { -readonly [K in keyof QueryLogsConfig]: QueryLogsConfig[K] } = {
    nodes: 3, lines: FULL_LINES, queries: 100, connections: 8, ingestBaseline: true, ingestRounds: INGEST_ROUNDS, fts5: true, json: false, slowMs: SLOW_QUERY_LOG_MS,
  };
  let roundsAsked = false;
  const int = (flag: string, v: string | undefined, min: number, max: number): number => {
    if (v === undefined || !/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new Error(`${flag} takes an integer in [${min}, ${max}]`);
    return Number(v);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case '--scale': {
        const v = argv[++i];
        const f = Number(v);
        if (v === undefined || !/^\d*\.?\d+$/.test(v) || !(f > 0) || f * FULL_LINES > LINES_MAX || Math.round(f * FULL_LINES) < 100) throw new Error(`--scale takes a positive number (lines = scale × ${FULL_LINES}, 100 .. ${LINES_MAX})`);
        c.lines = Math.round(f * FULL_LINES);
        break;
      }
      case '--lines':
        c.lines = int(a, argv[++i], 100, LINES_MAX);
        break;
      case '--nodes':
        c.nodes = int(a, argv[++i], 1, 3);
        if (c.nodes === 2) throw new Error('--nodes takes 1 or 3');
        break;
      case '--queries':
        c.queries = int(a, argv[++i], 1, 100_000);
        break;
      case '--connections':
        c.connections = int(a, argv[++i], 1, 256);
        break;
      case '--ingest-rounds':
        c.ingestRounds = int(a, argv[++i], 1, INGEST_ROUNDS_MAX);
        roundsAsked = true;
        break;
      case '--no-ingest-baseline':
        c.ingestBaseline = false;
        break;
      case '--no-fts5':
        c.fts5 = false;
        break;
      case '--json':
        c.json = true;
        break;
      case '--slow-ms':
        c.slowMs = int(a, argv[++i], 0, 3_600_000);
        break;
      default:
        throw new Error(`unknown argument ${String(a)}; usage: query-logs.js [--scale F] [--lines N] [--nodes 1|3] [--queries N] [--connections N] [--ingest-rounds N] [--no-ingest-baseline] [--no-fts5] [--slow-ms N] [--json]`);
    }
  }
  if (!c.ingestBaseline) {
    // Rounds alternate the two sides; with one side there is nothing to alternate.
    if (roundsAsked && c.ingestRounds > 1) throw new Error('--ingest-rounds above 1 needs the index-off baseline (drop --no-ingest-baseline)');
    c.ingestRounds = 1;
  }
  return c;
}

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/** ratio is a / b to two decimals, or null when either is missing or b is 0. */
export function ratio(a: number | undefined, b: number | undefined): number | null {
  if (a === undefined || b === undefined || b === 0) return null;
  return Math.round((a / b) * 100) / 100;
}

function cell(l: Latency | null): string {
  return l === null ? '         -         -' : `${l.p50Ms.toFixed(1).padStart(10)}${l.p99Ms.toFixed(1).padStart(10)}`;
}

function targetOf(k: KindFigures): string {
  if (k.kind === 'keyword' && k.otlpdb !== null) return `p99 < ${TARGETS.keywordP99Ms} ms: ${k.otlpdb.p99Ms < TARGETS.keywordP99Ms ? 'met' : 'NOT met'}`;
  if (k.kind === 'keywordRange' && k.otlpdb !== null && k.fts5 !== null) {
    // The issue says "faster than FTS5" without a percentile: both are judged.
    const at = (ours: number, theirs: number): string => (ours < theirs ? 'met' : 'NOT met');
    return `faster than FTS5: p50 ${at(k.otlpdb.p50Ms, k.fts5.p50Ms)}, p99 ${at(k.otlpdb.p99Ms, k.fts5.p99Ms)}`;
  }
  if (k.kind === 'keywordRange') return 'faster than FTS5: not judged (no FTS5)';
  return '';
}

function printText(r: QueryLogsReport): void {
  const c = r.config;
  console.log(`query-logs: ${c.nodes} node(s), R=${c.nodes}, ${r.lines.toLocaleString('en-US')} lines (${(r.lineBytes / 1e6).toFixed(0)} MB of text) over one hour, ${c.queries} queries per kind, limit 100, backward`);
  console.log(`  load average before/after: ${r.loadAverage.before.map((x) => x.toFixed(1)).join(' ')} / ${r.loadAverage.after.map((x) => x.toFixed(1)).join(' ')}`);
  const secs = (f: IngestFigures): number => f.writeSec + f.flushSec;
  const cpu = (f: IngestFigures): number | null => (f.writeCpuSec === null || f.flushCpuSec === null ? null : f.writeCpuSec + f.flushCpuSec);
  const cpuText = (f: IngestFigures): string =>
    cpu(f) === null ? '' : `; nodes' CPU ${f.writeCpuSec} + ${f.flushCpuSec} s${f.writeMainCpuSec === null ? '' : ` (main threads ${f.writeMainCpuSec} + ${f.flushMainCpuSec} s)`}`;
  const rate = (f: IngestFigures): string => Math.round(r.lines / Math.max(secs(f), 0.001)).toLocaleString('en-US');
  const refused = (f: IngestFigures): string =>
    f.retries.retries === 0 ? '' : `; ${f.retries.retries} sends retried (${Object.entries(f.retries.byStatus).map(([k, v]) => `${k === '0' ? 'no answer' : k}: ${v}`).join(', ')}), ${f.retries.sleptSec} s slept`;
  let onSum = 0;
  let offSum = 0;
  let onCpu: number | null = 0;
  let offCpu: number | null = 0;
  for (const [i, round] of r.ingest.entries()) {
    const tag = r.ingest.length > 1 ? `round ${i + 1}, ` : '';
    if (round.off !== null) {
      const off = round.off;
      offSum += secs(off);
      const c = cpu(off);
      offCpu = offCpu === null || c === null ? null : offCpu + c;
      console.log(`  ingest, ${tag}index off: write ${off.writeSec} s + flush ${off.flushSec} s = ${secs(off).toFixed(1)} s (${rate(off)} lines/s)${cpuText(off)}${refused(off)}`);
    }
    const on = round.on;
    onSum += secs(on);
    const c = cpu(on);
    onCpu = onCpu === null || c === null ? null : onCpu + c;
    const pair = round.off === null ? '' : `; on/off ${ratio(secs(on), secs(round.off)) ?? '-'} (flush ${ratio(on.flushSec, round.off.flushSec) ?? '-'})`;
    console.log(`  ingest, ${tag}index on:  write ${on.writeSec} s + flush ${on.flushSec} s = ${secs(on).toFixed(1)} s (${rate(on)} lines/s)${cpuText(on)}${pair}${refused(on)}`);
  }
  if (r.ingest.every((x) => x.off !== null)) {
    // Judged on the exact ratio of the sums: the printed one is rounded to two decimals (1.3016 prints as 1.3).
    const exact = offSum > 0 ? onSum / offSum : null;
    const over = r.ingest.length > 1 ? ` over ${r.ingest.length} alternated rounds (sum on / sum off)` : '';
    console.log(`  ingest on/off ${ratio(onSum, offSum) ?? '-'}${exact === null ? '' : ` (${exact.toFixed(4)})`}${over}; target <= ${TARGETS.ingestOnOverOffMax}: ${exact !== null && exact <= TARGETS.ingestOnOverOffMax ? 'met' : 'NOT met'}`);
    // The nodes' CPU is not the target (the issue names ingest, a rate) but moves less with the machine's load than wall time does.
    if (onCpu !== null && offCpu !== null) console.log(`  nodes' CPU on/off ${ratio(onCpu, offCpu) ?? '-'} (${onCpu.toFixed(1)} s / ${offCpu.toFixed(1)} s; not the target, a diagnostic)`);
  } else console.log('  ingest baseline (index off) not run (--no-ingest-baseline)');
  console.log('notice' in r.fts5 ? `  FTS5: not measured. NOTICE: ${r.fts5.notice}` : `  FTS5: ${r.fts5.version}, loaded in ${r.fts5.loadSec} s`);
  console.log('\n  kind          otlpdb p50    p99 | brute p50    p99 |  FTS5 p50    p99 | otlpdb/FTS5 p99  otlpdb/brute p99 | matches wrong  target');
  for (const k of r.kinds) {
    console.log(
      `  ${k.kind.padEnd(12)}${cell(k.otlpdb)} |${cell(k.brute)} |${cell(k.fts5)} | ${String(ratio(k.otlpdb?.p99Ms, k.fts5?.p99Ms) ?? '-').padStart(15)} ${String(ratio(k.otlpdb?.p99Ms, k.brute?.p99Ms) ?? '-').padStart(17)} | ${String(k.meanMatches).padStart(7)} ${String(k.wrong).padStart(5)}  ${targetOf(k)}`,
    );
  }
  console.log('\n  examples:');
  for (const k of r.kinds) console.log(`    ${k.kind.padEnd(12)} ${k.example}`);
  for (const k of r.kinds) if (k.firstWrong !== null) console.log(`  ${k.kind}: first wrong answer: ${k.firstWrong}`);
}

async function main(): Promise<number> {
  const config = parseQueryLogsArgs(process.argv.slice(2));
  const report = await runQueryLogsBench(config, { ports: QUERY_LOGS_PORTS, log });
  if (config.json) console.log(JSON.stringify({ bench: 'query-logs', ...report }, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
  else printText(report);
  const wrong = report.kinds.reduce((n, k) => n + k.wrong, 0);
  if (wrong > 0) log(`bench/query-logs: FAILURE: ${wrong} wrong answers`);
  return wrong > 0 ? 1 : 0;
}

if (process.argv[1]?.endsWith('query-logs.js') === true) {
  process.exitCode = await main().catch((err: unknown) => {
    log(err instanceof Error ? `${err.message}${err.cause === undefined ? '' : `: ${String(err.cause)}`}` : String(err));
    return 1;
  });
}
