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
