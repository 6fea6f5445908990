#!/usr/bin/env node
/**
 * otlpdb.ts — the `otlpdb` command. Each subcommand lives in cli/commands/;
 * this file only wires them into commander and maps errors to exit codes:
 * 0 success, 1 the work found a problem (e.g. a simulator violation),
 * 2 the command line was refused (ERR_INVALID_ARGUMENT).
 */
import { Command, CommanderError } from 'commander';
import { OtlpdbError, isOtlpdbError } from '../src/errors.js';
import { CLI_USAGE_EXIT_CODE } from './flags.js';
import { runClusterDown, runClusterRemove, runClusterStatus, runClusterUp } from './commands/cluster.js';
import type { ClusterDownOptions, ClusterRemoveOptions, ClusterStatusOptions, ClusterUpOptions } from './commands/cluster.js';
import { runSimCommand } from './commands/sim.js';
import type { SimCommandOptions } from './commands/sim.js';
import type { StartCommandOptions } from './commands/start.js';
import type * as StartCommandModule from './commands/start.js';
import { DEFAULT_TARGET, runTraceCommand } from './commands/trace.js';
import { LogsQueryLimits, ReceiveWorkerLimits, TraceSearchLimits } from '../src/limits.js';
import { runQueryTraces } from './commands/query.js';
import { runQueryLogs } from './commands/query-logs.js';
import type { QueryLogsOptions } from './commands/query-logs.js';
import { runQueryLogsSearch } from './commands/query-logs-search.js';
import type { QueryTracesOptions } from './commands/query.js';
import { runQueryMetrics } from './commands/query-metrics.js';
import type { QueryMetricsOptions } from './commands/query-metrics.js';
import type { TraceCommandOptions } from './commands/trace.js';
import { runJepsenCleanup, runJepsenCommand } from './commands/jepsen.js';
import type { JepsenCleanupOptions, JepsenCommandOptions } from './commands/jepsen.js';

// A reader that goes away (`otlpdb cluster status | head`) is not an error
// of otlpdb: stop quietly instead of crashing on EPIPE.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

const io = {
  out: (line: string) => process.stdout.write(`${line}\n`),
  err: (line: string) => process.stderr.write(`${line}\n`),
};

/**
 * loadStartCommand imports the node (cli/commands/start.ts and everything a
 * node runs) only for the commands that need it. Loading it costs about
 * 0.4 s of CPU, four fifths of the CLI's start-up, which every other command
 * (`--help`, `sim`, `cluster status`, `trace`, ...) would otherwise pay.
 */
function loadStartCommand(): Promise<typeof StartCommandModule> {
  return import('./commands/start.js');
}

/** buildProgram returns the commander program for `otlpdb`. */
export function buildProgram(): Command {
  const program = new Command();
  program
    .name('otlpdb')
    .description('A distributed database for OpenTelemetry data, replicated by Raft.')
    .version('0.1.0')
    .exitOverride();

  program
    .command('sim')
    .description('Run the deterministic Raft cluster simulator; every violation prints the seed that reproduces it.')
    .option('--seed <n>', 'run exactly one seed')
    .option('--seeds <n>', 'run this many consecutive seeds (default 100)')
    .option('--start <s>', 'first seed of a --seeds run (default 1)')
    .option('--steps <m>', 'simulation steps (ticks) per seed (default 2000)')
    .option('--json', 'print one JSON summary instead of text')
    .option('--quiet', 'no progress bar even on a terminal')
    .action(async (options: SimCommandOptions) => {
      process.exitCode = await runSimCommand(options, io);
    });

  program
    .command('start')
    .description('Run one node of a cluster until SIGTERM or SIGINT; prints a JSON "started" line, then JSON log lines.')
    .option('--id <n>', 'this node\'s id (a positive integer, or nN; listed in --initial-cluster)')
    .option('--data <dir>', 'data directory (WAL and snapshots); restarting on it recovers the node')
    .option('--peer <host:port>', 'node-to-node address to listen on and dial from (default port 7400)')
    .option('--api <host:port>', 'HTTP API address (default: the peer host, port 3200)')
    .option('--otlp-grpc <host:port>', 'OTLP/gRPC receiver address (default: the peer host, port 4317)')
    .option('--otlp-http <host:port>', 'OTLP/HTTP receiver address (default: the peer host, port 4318)')
    .option('--otlp-max-request-bytes <n>', 'largest OTLP request body, on the wire and after gzip (default 16777216; 413 past it)')
    .option('--otlp-max-inflight-bytes <n>', 'OTLP request bytes the node holds at once before refusing with 503 (default 268435456)')
    .option('--receive-workers <n>', `worker threads that decode and split OTLP requests off the Raft thread; 0 = on the main thread (default ${ReceiveWorkerLimits.workersDefault})`)
    .option('--promote-resource-attributes <keys>', 'comma-separated OTLP resource attribute keys shown as Prometheus labels, e.g. k8s.pod.name,host.name (default none; job and instance always)')
    .option('--otlp-deadline-ms <n>', 'how long a request without a client deadline waits for its shards to commit (default 8000)')
    .option('--otlp-max-attributes <n>', 'attributes kept per item; the rest counted as dropped (points with more are refused) (default 256)')
    .option('--otlp-max-attribute-bytes <n>', 'attribute string values are cut to this many UTF-8 bytes, counted (default 65536)')
    .option('--otlp-max-age-ms <n>', 'items older than this are refused (OTLP_TIMESTAMP_OUT_OF_RANGE) (default 604800000, 7 days)')
    .option('--otlp-max-future-ms <n>', 'items further ahead than this are refused (default 600000, 10 minutes)')
    .option('--initial-cluster <list>', 'founding members of a new cluster, e.g. n1=127.0.0.1:7400,n2=127.0.0.2:7400,n3=127.0.0.3:7400')
    .option('--join <host:port>', 'join an existing cluster through the API address of any member (instead of --initial-cluster)')
    .option('--shards <n>', 'shard count S of a new cluster (default 16; fixed at creation)')
    .option('--replicas <n>', 'replicas per shard R of a new cluster (default 3, at most the node count)')
    .option('--tick-ms <n>', 'Raft tick in milliseconds (default 100)')
    .option('--log-term-index <on|off>', 'write the term index (postings, bloom) of log blocks (default on; off only for benchmark baselines: log queries then check every row)')
    .action(async (options: StartCommandOptions) => {
      const { processSignals, runStartCommand } = await loadStartCommand();
      process.exitCode = await runStartCommand(options, { ...io, untilSignal: processSignals });
    });

  const cluster = program
    .command('cluster')
    .description('Run a local multi-node cluster: one `otlpdb start` process per node (node i on 127.0.0.i).');
  cluster
    .command('up')
    .description(
      'Start one `otlpdb start` process per node, wait until every /readyz answers 200, print the endpoints and write DIR/cluster.json. ' +
        'Node i listens on 127.0.0.i (peer 7400, API 3200, OTLP gRPC 4317, OTLP HTTP 4318); with --port-step all nodes share 127.0.0.1 with ports offset by K*(i-1). ' +
        'Stays in the foreground until Ctrl-C/SIGTERM, which stops every node; --detach returns and leaves them running.',
    )
    .option('--nodes <n>', 'number of nodes (default 3, at most 254)')
    .option('--shards <n>', 'shard count S (default 16)')
    .option('--dir <dir>', 'cluster directory: data dirs n<i>/, logs n<i>.log and cluster.json (default .otlpdb)')
    .option('--detach', 'return once the cluster is ready, leaving the nodes running')
    .option('--json', 'print the cluster.json document instead of a table')
    .option('--port-step <k>', 'put every node on 127.0.0.1, node i on ports base+K*(i-1)')
    .option('--peer-port <n>', 'peer port of node 1 (default 7400)')
    .option('--api-port <n>', 'API port of node 1 (default 3200)')
    .option('--otlp-grpc-port <n>', 'OTLP/gRPC port of node 1 (default 4317)')
    .option('--otlp-http-port <n>', 'OTLP/HTTP port of node 1 (default 4318)')
    .option('--tick-ms <n>', 'Raft tick in milliseconds passed to every node (default: as `otlpdb start`)')
    .option('--receive-workers <n>', 'receive worker threads per node, passed to every node (default: as `otlpdb start`)')
    .option('--replicas <n>', 'replicas per shard R (default 3, at most the node count)')
    .option('--log-term-index <on|off>', 'passed to every node (default: as `otlpdb start`)')
    .action(async (options: ClusterUpOptions) => {
      const { processSignals } = await loadStartCommand();
      process.exitCode = await runClusterUp(options, { ...io, untilSignal: processSignals });
    });
  cluster
    .command('down')
    .description('Stop the cluster of DIR/cluster.json: SIGTERM every live node, SIGKILL any left after the timeout, remove cluster.json.')
    .option('--dir <dir>', 'cluster directory (default .otlpdb)')
    .option('--timeout-ms <n>', 'how long nodes get after SIGTERM before SIGKILL (default 30000)')
    .option('--json', 'print one JSON summary instead of text')
    .action(async (options: ClusterDownOptions) => {
      process.exitCode = await runClusterDown(options, io);
    });
  cluster
    .command('status')
    .description('Print GET /api/v1/cluster of one node: members, the meta leader/term, and each shard\'s leader/term/commit/applied.')
    .option('--api <host:port>', 'ask this node\'s API')
    .option('--dir <dir>', 'ask the first live node of DIR/cluster.json (default .otlpdb)')
    .option('--json', 'print the raw /api/v1/cluster JSON')
    .action(async (options: ClusterStatusOptions) => {
      process.exitCode = await runClusterStatus(options, io);
    });

  cluster
    .command('remove')
    .argument('<id>', 'the node to remove (n4 or 4)')
    .description(
      'Remove a node: it is marked leaving, its shard replicas move to the other nodes (add learner, catch up, promote, remove), ' +
        'then the meta group forgets it. Waits until it is gone; with --dir also stops its process and drops it from cluster.json.',
    )
    .option('--api <host:port>', 'ask this node\'s API')
    .option('--dir <dir>', 'the cluster of DIR/cluster.json (default .otlpdb)')
    .option('--timeout-ms <n>', 'how long to wait for the node to be moved out (default 120000)')
    .option('--json', 'print one JSON summary instead of text')
    .action(async (id: string, options: ClusterRemoveOptions) => {
      process.exitCode = await runClusterRemove(id, options, io);
    });

  program
    .command('trace')
    .argument('<id>', 'trace id: 1 to 32 hex digits (shorter ids are left-padded with zeros, as Tempo does)')
    .description(
      'Fetch one trace (GET /api/traces/{id}, Tempo\'s API) and draw it as a waterfall: the span tree (children by start time; ' +
        'spans whose parent is missing at the top level, marked ?), each span\'s service, name, a bar at its offset and length, and its duration; ' +
        'spans with status ERROR marked ! (and red on a terminal unless NO_COLOR is set). Exits 1 when the trace is not found or the target cannot be reached.',
    )
    .option('--target <url>', `API of any node, or a Tempo (default ${DEFAULT_TARGET})`)
    .option('--tenant <id>', 'the tenant to look in (sent as X-Scope-OrgID; default: the default tenant)')
    .option('--json', 'print the raw OTLP JSON answer instead of the waterfall')
    .option('--width <n>', 'line width in columns (default: the terminal width, or 120 when piped)')
    .action(async (id: string, options: TraceCommandOptions) => {
      process.exitCode = await runTraceCommand(id, options, { ...io, isTTY: process.stdout.isTTY === true, columns: process.stdout.columns, env: process.env });
    });

  const query = program.command('query').description('Query the cluster in the languages its users know (traces: TraceQL, as Tempo\'s /api/search; metrics: PromQL, as Prometheus\'s /api/v1/query; logs: LogQL, as Loki\'s query_range).');
  query
    .command('traces')
    .argument('<traceql>', 'a TraceQL query, for example \'{ resource.service.name = "cart" && status = error }\'')
    .description(
      'Search traces with TraceQL (GET /api/search?q=..., Tempo\'s API) and print one line per trace, newest first: trace id, start (UTC), ' +
        'duration, root service and name, matched spans. A syntax error names its line:column. Exits 1 when the target cannot be reached.',
    )
    .option('--since <duration>', 'how far back to search, a duration such as 15m, 1h or 24h (default 1h)')
    .option('--limit <n>', `at most this many traces (default ${TraceSearchLimits.limitDefault})`)
    .option('--target <url>', `API of any node, or a Tempo (default ${DEFAULT_TARGET})`)
    .option('--tenant <id>', 'the tenant to search (sent as X-Scope-OrgID; default: the default tenant)')
    .option('--json', 'print the raw search answer (Tempo\'s JSON) instead of the table')
    .action(async (traceql: string, options: QueryTracesOptions) => {
      process.exitCode = await runQueryTraces(traceql, options, io);
    });
  query
    .command('logs')
    .argument('[logql]', 'a LogQL query, for example \'{service_name="cart"} |= "error"\' (or none, with --search)')
    .description(
      'Query logs with LogQL (GET /loki/api/v1/query_range, Loki\'s API) and print one line per entry, newest first: time (UTC), stream labels, ' +
        'the line with the query\'s |= and |~ matches highlighted on a terminal (plain when piped or NO_COLOR is set); metric queries print each series. ' +
        'A syntax error names its position. Exits 1 when the server cannot be reached.',
    )
    .option('--since <duration>', 'how far back to query, a duration such as 15m, 1h or 24h (default 1h)')
    .option('--limit <n>', `at most this many lines (default ${LogsQueryLimits.limitDefault}, at most ${LogsQueryLimits.limitMax})`)
    .option('--server <url>', `API of any node, or a Loki (default ${DEFAULT_TARGET})`)
    .option('--target <url>', 'the same as --server')
    .option('--tenant <id>', 'the tenant to query (sent as X-Scope-OrgID; default: the default tenant)')
    .option('--json', 'print the raw answer (Loki\'s JSON) instead of the lines')
    .option('--search <json>', 'otlpdb\'s native JSON search instead of LogQL (POST /api/v1/logs/search; docs/log-search.md), for example \'{"and": [{"term": "timeout"}, {"not": {"term": "debug"}}]}\'')
    .action(async (logql: string | undefined, options: QueryLogsOptions) => {
      const logsIo = { ...io, isTTY: process.stdout.isTTY === true, env: process.env };
      if (options.search !== undefined) {
        if (logql !== undefined) throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'give a LogQL query or --search, not both', { flag: '--search' });
        process.exitCode = await runQueryLogsSearch(options.search, options, logsIo);
        return;
      }
      process.exitCode = await runQueryLogs(logql ?? '', options, logsIo);
    });

  query
    .command('metrics')
    .argument('<promql>', "a PromQL query, for example 'sum by (job) (rate(http_requests_total[5m]))'")
    .description(
      'Run a PromQL query (Prometheus\'s /api/v1/query, or /api/v1/query_range with --range) and print a table of the instant result, ' +
        'or per series a sparkline over the range with min, max and last. Exits 1 when the target cannot be reached.',
    )
    .option('--range <duration>', 'query a range ending at --time, a duration such as 15m, 1h or 24h')
    .option('--step <duration>', 'the range\'s step, such as 15s or 1m (default: the range / 60, at least 1s)')
    .option('--time <time>', 'the instant, or the end of the range: RFC 3339 or unix seconds (default now)')
    .option('--max-source-resolution <res>', 'raw, 5m, 1h or auto (default): the coarsest data the query may read; with auto, *_over_time functions at steps of 5m or more read 5m/1h rollups')
    .option('--server <url>', `API of any node, or a Prometheus (default ${DEFAULT_TARGET})`)
    .option('--target <url>', 'the same as --server')
    .option('--tenant <id>', 'the tenant to query (sent as X-Scope-OrgID; default: the default tenant)')
    .option('--width <n>', 'sparkline width in columns (default 60)')
    .option('--json', 'print the raw answer (Prometheus\'s JSON) instead of the table or chart')
    .action(async (promql: string, options: QueryMetricsOptions) => {
      process.exitCode = await runQueryMetrics(promql, options, io);
    });

  const jepsen = program
    .command('jepsen')
    .description(
      'Fault injection against a real local cluster: start it with `cluster up` (node i on 127.0.0.i), run clients and a nemesis drawn from the seed, ' +
        'heal, wait for recovery, read everything back, check, and write a report (results.json, history.jsonl, index.html). Exits 1 when the run is not valid.',
    )
    .option('--nodes <n>', 'cluster size, 3 or 5 (default 3)')
    .option('--time <duration>', 'how long clients and the nemesis run, e.g. 60s or 5m (default 60s)')
    .option('--nemesis <list>', 'faults: kill,pause,partition,disk,clock,membership (default kill,pause,partition; partitions use iptables as root, else the transport\'s fault hooks, with a notice)')
    .option('--partitioner <how>', 'how partitions cut links: auto, iptables or transport-faults (default auto: iptables where it works)')
    .option('--workload <list>', 'workloads: register,set,logs,counter (default all)')
    .option('--rate <n>', 'operations per second of each workload (default 10)')
    .option('--seed <s>', 'seed of the schedule and the clients (default 1)')
    .option('--report <dir>', 'report directory (default DIR/report-seed-S)')
    .option('--dir <dir>', 'suite directory: the cluster and the state file cleanup reads (default .otlpdb/jepsen)')
    .option('--port-offset <k>', 'add K (a multiple of 10, at most 990) to the suite\'s ports (27400/23200/24317/24318) and use the chain OTLPDB-JEPSEN-K, so two runs can go side by side (default 0)')
    .option('--json', 'print results.json instead of the verdict')
    .action(async (options: JepsenCommandOptions) => {
      process.exitCode = await runJepsenCommand(options, io);
    });
  jepsen
    .command('cleanup')
    .description('Undo what a crashed run left: stop the node processes of its state file (by PID) and remove its iptables chain.')
    .option('--dir <dir>', 'suite directory (default .otlpdb/jepsen)')
    .option('--json', 'print one JSON summary instead of text')
    .action(async (options: JepsenCleanupOptions, command: Command) => {
      // Commander hands `jepsen cleanup --dir X --json` to the parent `jepsen`, which has the same flags: read both.
      process.exitCode = await runJepsenCleanup({ ...command.optsWithGlobals<JepsenCleanupOptions>(), ...options }, io);
    });

  return program;
}

async function main(): Promise<void> {
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander already printed its message; --help and --version exit 0.
      process.exitCode = err.exitCode === 0 ? 0 : CLI_USAGE_EXIT_CODE;
      return;
    }
    if (isOtlpdbError(err)) {
      io.err(`otlpdb: ${err.code}: ${err.message}`);
      process.exitCode = err.code === 'ERR_INVALID_ARGUMENT' ? CLI_USAGE_EXIT_CODE : 1;
      return;
    }
    throw err;
  }
}

await main();
