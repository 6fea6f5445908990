#!/usr/bin/env node
/**
 * otlpdb.ts — the `otlpdb` command. Each subcommand lives in cli/commands/;
 * this file only wires them into commander and maps errors to exit codes:
 * 0 success, 1 the work found a problem (e.g. a simulator violation),
 * 2 the command line was refused (ERR_INVALID_ARGUMENT).
 */
import { Command, CommanderError } from 'commander';
import { isOtlpdbError } from '../src/errors.js';
import { CLI_USAGE_EXIT_CODE } from './flags.js';
import { runDemoCommand } from './commands/demo.js';
import { runSimCommand } from './commands/sim.js';
import type { SimCommandOptions } from './commands/sim.js';
import { processSignals, runStartCommand } from './commands/start.js';
import type { StartCommandOptions } from './commands/start.js';

const io = {
  out: (line: string) => process.stdout.write(`${line}\n`),
  err: (line: string) => process.stderr.write(`${line}\n`),
};

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
    .option('--id <n>', 'this node\'s id (a positive integer listed in --initial-cluster)')
    .option('--data <dir>', 'data directory (WAL and snapshots); restarting on it recovers the node')
    .option('--peer <host:port>', 'node-to-node address to listen on and dial from (default port 7400)')
    .option('--api <host:port>', 'HTTP API address (default: the peer host, port 3200)')
    .option('--initial-cluster <list>', 'founding members, e.g. 1=127.0.0.1:7400,2=127.0.0.2:7400,3=127.0.0.3:7400')
    .option('--shards <n>', 'shard groups every node hosts (default 4)')
    .option('--tick-ms <n>', 'Raft tick in milliseconds (default 100)')
    .action(async (options: StartCommandOptions) => {
      process.exitCode = await runStartCommand(options, { ...io, untilSignal: processSignals });
    });

  program
    .command('demo')
    .description('What `npm start` runs until the multi-node cluster lands: a short simulation, explained.')
    .action(async () => {
      process.exitCode = await runDemoCommand(io);
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
