/**
 * demo.ts — `otlpdb demo`, what `npm start` runs until OTLP ingest exists:
 * it says so, runs a short deterministic simulation of Raft clusters
 * under faults, and points at the commands to go further.
 */
import { runSimCommand } from './sim.js';
import type { SimIo } from './sim.js';

/** DEMO_SEEDS is how many simulator seeds `npm start` runs (a few seconds of work). */
const DEMO_SEEDS = 20;

/** runDemoCommand prints the explanation, runs the short simulation, and returns its exit code. */
export async function runDemoCommand(io: SimIo): Promise<number> {
  io.out('otlpdb — a distributed database for OpenTelemetry data, replicated by Raft.');
  io.out('');
  io.out('OTLP ingest lands with a later milestone; a real cluster already runs with');
  io.out('`npx otlpdb cluster up` (see the README). Meanwhile `npm start` runs a short');
  io.out('deterministic simulation of the Raft core: clusters of 3, 5 or 7');
  io.out('replicas under crashes, partitions, lossy networks, membership changes and snapshots, with');
  io.out('every safety invariant checked at every step and client histories checked for');
  io.out(`linearizability. Running ${DEMO_SEEDS} seeds...`);
  io.out('');
  const code = await runSimCommand({ seeds: String(DEMO_SEEDS), start: '1' }, io);
  io.out('');
  io.out('Go further:');
  io.out('  npx otlpdb sim --seeds 1000          # more seeds');
  io.out('  npx otlpdb sim --seed 42 --json      # one seed, machine-readable');
  io.out('  npx otlpdb cluster up                # a real three-node cluster on 127.0.0.1-3 (Ctrl-C stops it)');
  io.out('  npm test                             # type check, lint and every test');
  return code;
}
