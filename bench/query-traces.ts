/**
 * query-traces.ts — `node dist/bench/query-traces.js [--nodes 1|3]
 * [--traces N] [--by-id N] [--searches N] [--scans N] [--connections N]
 * [--arrival time|random] [--port-base P] [--node-arg FLAG]... [--query-log FILE]
 * [--json]`: query latency over a real otlpdb cluster holding about 20 × N
 * spans (default 100,000 traces, 2,000,000 spans, 3 nodes with R=3): trace
 * by id, a selective attribute-equality search and a broad duration-range
 * search over the last hour (Tempo's API), every answer checked against the
 * data; in the same run, both searches again as full scans (`scan=full`,
 * the same search without the indexes) for the index/scan ratio. Targets
 * (issue "Distributed query engine and trace queries", the seed's): trace
 * by id p99 < 10 ms, attribute search p99 < 50 ms, time-range search p99 <
 * 100 ms. query-traces-run.ts runs it; query-traces-data.ts makes the data.
 * Never a CI gate: timing lives here, not in tests.
 *
 * To name the pauses a query meets: `--node-arg` passes a Node flag to every
 * node (`--node-arg --trace-gc`, `--node-arg --import=/path/preload.mjs`;
 * the nodes inherit `cluster up`'s execArgv), and `--query-log FILE` writes
 * one JSON line per timed query (kind, its place in the run, the node asked,
 * start as epoch ms, latency), to line up with what the nodes logged.
 */
import { printByIdBreakdown } from './query-traces-by-id.js';
import { printSearchTail } from './query-traces-tail.js';
import { runQueryTracesBench } from './query-traces-run.js';
import type { LatencyFigures, QueryPorts, QueryTracesConfig, QueryTracesReport } from './query-traces-run.js';

/** QUERY_PORTS are base ports on 127.0.0.i, away from a default cluster's and the other benches'. */
const QUERY_PORTS = { api: 15_200, peer: 19_400, otlpGrpc: 15_317, otlpHttp: 15_318 } as const;
/**
 * portBasePorts are the ports of `--port-base P`: every node on 127.0.0.1
 * (`cluster up --port-step 1`), peer P.., API P+10.., OTLP gRPC P+20..,
 * OTLP HTTP P+30.., so a run stays inside one block of 40 ports and off the
 * other loopback addresses.
 */
export function portBasePorts(p: number): QueryPorts {
  return { api: p + 10, peer: p, otlpGrpc: p + 20, otlpHttp: p + 30, step: 1 };
}
/** TARGETS_P99_MS are the issue's latency targets. */
export const TARGETS_P99_MS = { byId: 10, attribute: 50, duration: 100 } as const;
/** TRACES_MAX bounds --traces (memory: the bodies are held for the run). */
const TRACES_MAX = 1_000_000;

/** parseQueryTracesArgs reads the flags; a bad one throws with the flag's name. */
export function parseQueryTracesArgs(argv: readonly string[]): QueryTracesConfig {
  const c: { -readonly [K in keyof QueryTracesConfig]: QueryTracesConfig[K] } = {
    nodes: 3, traces: 100_000, byIdQueries: 200, searchQueries: 100, scanQueries: 10, connections: 8, arrival: 'time', portBase: null, nodeArgs: [], queryLog: null, json: false,
  };
  const int = (flag: string, v: string | undefined, min: number, max: number): number => {
    if (v === undefined || !/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new Error(`${flag} takes an integer in [${min}, ${max}]`);
    return Number(v);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case '--nodes':
        c.nodes = int(a, argv[++i], 1, 3);
        if (c.nodes === 2) throw new Error('--nodes takes 1 or 3');
        break;
      case '--traces':
        c.traces = int(a, argv[++i], 10, TRACES_MAX);
        break;
      case '--by-id':
        c.byIdQueries = int(a, argv[++i], 1, 100_000);
        break;
      case '--searches':
        c.searchQueries = int(a, argv[++i], 1, 100_000);
        break;
      case '--scans':
        c.scanQueries = int(a, argv[++i], 1, 10_000);
        break;
      case '--connections':
        c.connections = int(a, argv[++i], 1, 256);
        break;
      case '--arrival': {
        const v = argv[++i];
        if (v !== 'time' && v !== 'random') throw new Error('--arrival takes time or random');
        c.arrival = v;
        break;
      }
      case '--port-base':
        c.portBase = int(a, argv[++i], 1024, 65_000);
        break;
      case '--node-arg': {
        const v = argv[++i];
        if (v === undefined || !v.startsWith('--') || v.length < 3) throw new Error('--node-arg takes a Node flag such as --trace-gc');
        c.nodeArgs = [...c.nodeArgs, v];
        break;
      }
      case '--query-log': {
        const v = argv[++i];
        if (v === undefined || v === '' || v.startsWith('--')) throw new Error('--query-log takes a file');
        c.queryLog = v;
        break;
      }
      case '--json':
        c.json = true;
        break;
      default:
        throw new Error(`unknown argument ${String(a)}; usage: query-traces.js [--nodes 1|3] [--traces N] [--by-id N] [--searches N] [--scans N] [--connections N] [--arrival time|random] [--port-base P] [--node-arg FLAG]... [--query-log FILE] [--json]`);
    }
  }
  return c;
}

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

function row(name: string, f: LatencyFigures, target: number | null, scan: LatencyFigures | null): string {
  const verdict = target === null ? '' : f.p99Ms < target ? `met (p99 < ${target} ms)` : `NOT met (p99 < ${target} ms)`;
  const ratio = scan === null || f.p50Ms === 0 ? '' : `scan/index p50 ${Math.round((scan.p50Ms / f.p50Ms) * 10) / 10}x`;
  return `  ${name.padEnd(20)} ${String(f.queries).padStart(7)} ${String(f.p50Ms).padStart(9)} ${String(f.p99Ms).padStart(9)} ${String(f.maxMs).padStart(9)} ${String(f.wrong).padStart(6)}  ${verdict} ${ratio}`;
}

function printText(r: QueryTracesReport): void {
  const c = r.config;
  console.log(`query-traces: ${c.nodes} node(s), R=${c.nodes}, ${r.spans.toLocaleString('en-US')} spans in ${r.traces.toLocaleString('en-US')} traces over one hour, written in ${c.arrival === 'time' ? 'start-time order' : 'random order'} (--arrival ${c.arrival})`);
  console.log(`  written in ${r.writeSec} s (${Math.round(r.spans / Math.max(r.writeSec, 0.001)).toLocaleString('en-US')} spans/s, ${c.connections} requests in flight), flushed in ${r.flushSec} s`);
  console.log(`  load average before/after: ${r.loadAverage.before.map((x) => x.toFixed(1)).join(' ')} / ${r.loadAverage.after.map((x) => x.toFixed(1)).join(' ')}`);
  console.log('\n  query                queries    p50 ms    p99 ms    max ms  wrong  target');
  console.log(row('trace by id', r.byId, TARGETS_P99_MS.byId, null));
  console.log(row('attribute search', r.attribute, TARGETS_P99_MS.attribute, r.attributeScan));
  console.log(row('duration search', r.duration, TARGETS_P99_MS.duration, r.durationScan));
  console.log(row('attribute full scan', r.attributeScan, null, null));
  console.log(row('duration full scan', r.durationScan, null, null));
  printByIdBreakdown(r.byIdPaths, (l) => console.log(l));
  console.log('\n  the tail: each kind\'s first search and its slowest (#place in the run), asked again after the searches');
  printSearchTail('attribute search', r.attributeTail, (l) => console.log(l));
  printSearchTail('duration search', r.durationTail, (l) => console.log(l));
  console.log('\n  shard work, mean per search: blocks scanned / pruned, spans inspected, bytes read');
  for (const [k, f] of Object.entries({ attribute: r.attribute, duration: r.duration, attributeScan: r.attributeScan, durationScan: r.durationScan })) {
    const w = f.work;
    if (w !== null) console.log(`  ${k.padEnd(20)} ${String(w.blocksScanned).padStart(7)} / ${String(w.blocksPruned).padStart(5)} ${String(w.inspectedSpans).padStart(9)} ${(w.bytesRead / 1e6).toFixed(1).padStart(8)} MB`);
  }
  for (const [k, f] of Object.entries({ byId: r.byId, attribute: r.attribute, duration: r.duration, attributeScan: r.attributeScan, durationScan: r.durationScan })) {
    if (f.firstWrong !== null) console.log(`  ${k}: first wrong answer: ${f.firstWrong}`);
  }
}

async function main(): Promise<number> {
  const config = parseQueryTracesArgs(process.argv.slice(2));
  const report = await runQueryTracesBench(config, { ports: config.portBase === null ? QUERY_PORTS : portBasePorts(config.portBase), log });
  if (config.json) console.log(JSON.stringify({ bench: 'query-traces', ...report }, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
  else printText(report);
  const wrong = report.byId.wrong + report.attribute.wrong + report.duration.wrong + report.attributeScan.wrong + report.durationScan.wrong;
  if (wrong > 0) log(`bench/query-traces: FAILURE: ${wrong} wrong answers`);
  return wrong > 0 ? 1 : 0;
}

if (process.argv[1]?.endsWith('query-traces.js') === true) {
  process.exitCode = await main().catch((err: unknown) => {
    // fetch's own message ("fetch failed") hides why: the cause says (refused, reset, timeout).
    log(err instanceof Error ? `${err.message}${err.cause === undefined ? '' : `: ${String(err.cause)}`}` : String(err));
    return 1;
  });
}
