/**
 * start.ts — `otlpdb start`: runs one node (OtlpdbNode) until SIGTERM or
 * SIGINT, then stops it gracefully (stop serving, hand its leaderships to
 * other voters, final WAL sync, transport) and exits 0, all within
 * ReconcileLimits.shutdownDeadlineMs. Every flag is checked before anything starts, so a typo exits 2
 * with ERR_INVALID_ARGUMENT and touches no data dir.
 */
import { OtlpdbError } from '../../src/errors.js';
import { OtlpdbNode } from '../../src/node.js';
import type { OtlpdbNodeOptions } from '../../src/node.js';
import { NodeDefaults, PartitionLimits, ReceiveWorkerLimits, ReconcileLimits } from '../../src/limits.js';
import {
  checkMembership,
  formatHostPort,
  parseHostPort,
  parseInitialCluster,
  parseNodeId,
} from '../../src/node-config.js';
import type { HostPort } from '../../src/node-config.js';
import { parseIntegerFlag, parseLogTermIndex } from '../flags.js';
import { INGEST_SETTINGS_RANGES, resolveIngestSettings } from '../../src/otlp/ingest.js';
import type { IngestSettings } from '../../src/otlp/ingest.js';
import { OTLP_ITEM_LIMITS_RANGES } from '../../src/otlp/decode-result.js';
import type { OtlpItemLimits } from '../../src/otlp/decode-result.js';

/** StartCommandOptions are the raw flag values of `otlpdb start`, as commander gives them. */
export interface StartCommandOptions {
  readonly id?: string;
  readonly data?: string;
  readonly peer?: string;
  readonly api?: string;
  readonly otlpGrpc?: string;
  readonly otlpHttp?: string;
  readonly otlpMaxRequestBytes?: string;
  readonly otlpMaxInflightBytes?: string;
  readonly otlpDeadlineMs?: string;
  readonly otlpMaxAttributes?: string;
  readonly otlpMaxAttributeBytes?: string;
  readonly otlpMaxAgeMs?: string;
  readonly otlpMaxFutureMs?: string;
  readonly initialCluster?: string;
  readonly join?: string;
  readonly shards?: string;
  readonly replicas?: string;
  readonly tickMs?: string;
  readonly receiveWorkers?: string;
  /** promoteResourceAttributes is a comma-separated list of OTLP resource attribute keys shown as Prometheus labels. */
  readonly promoteResourceAttributes?: string;
  /** logTermIndex is `on` (default) or `off`: whether log flushes write the term index (a benchmark baseline). */
  readonly logTermIndex?: string;
}

/** StartIo is where `otlpdb start` writes and how it learns to stop; injected for tests. */
export interface StartIo {
  out(line: string): void;
  err(line: string): void;
  /** untilSignal resolves with the name of the first stop signal received. */
  untilSignal(): Promise<string>;
}

function required(flag: string, value: string | undefined): string {
  if (value === undefined || value === '') throw new OtlpdbError('ERR_INVALID_ARGUMENT', `${flag} is required`, { flag });
  return value;
}

/** parseStartOptions checks every flag of `otlpdb start` and returns the node's options (without a log sink). */
export function parseStartOptions(o: StartCommandOptions): OtlpdbNodeOptions {
  const id = parseNodeId('--id', required('--id', o.id));
  const dataDir = required('--data', o.data);
  const peer = parseHostPort('--peer', required('--peer', o.peer), NodeDefaults.peerPort);
  const api = parseHostPort('--api', o.api ?? `${peer.host}:${NodeDefaults.apiPort}`, NodeDefaults.apiPort);
  if ((o.initialCluster === undefined) === (o.join === undefined)) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'give exactly one of --initial-cluster (a new cluster) and --join (an existing one)', {
      flag: '--initial-cluster',
    });
  }
  const join = o.join === undefined ? undefined : parseHostPort('--join', o.join, NodeDefaults.apiPort);
  const initialCluster =
    o.initialCluster === undefined ? new Map<number, HostPort>() : parseInitialCluster('--initial-cluster', required('--initial-cluster', o.initialCluster));
  if (join === undefined) checkMembership(id, peer, initialCluster);
  const otlpGrpc = parseHostPort('--otlp-grpc', o.otlpGrpc ?? `${peer.host}:${NodeDefaults.otlpGrpcPort}`, NodeDefaults.otlpGrpcPort);
  const otlpHttp = parseHostPort('--otlp-http', o.otlpHttp ?? `${peer.host}:${NodeDefaults.otlpHttpPort}`, NodeDefaults.otlpHttpPort);
  const listeners = [['--peer', peer], ['--api', api], ['--otlp-grpc', otlpGrpc], ['--otlp-http', otlpHttp]] as const;
  for (let i = 0; i < listeners.length; i++) {
    for (let j = 0; j < i; j++) {
      const [fa, a] = listeners[i] as (typeof listeners)[number];
      const [fb, b] = listeners[j] as (typeof listeners)[number];
      // Port 0 asks the OS for a free port, so two listeners may both say 0.
      if (a.port !== 0 && a.host === b.host && a.port === b.port) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `${fb} and ${fa} must differ`, { flag: fa });
    }
  }
  const shards = o.shards === undefined ? NodeDefaults.shardCount : parseIntegerFlag('--shards', o.shards, 1, NodeDefaults.shardCountMax);
  const replicas =
    o.replicas === undefined ? NodeDefaults.replicas : parseIntegerFlag('--replicas', o.replicas, 1, PartitionLimits.replicationFactorMax);
  const tickMs =
    o.tickMs === undefined ? NodeDefaults.tickMs : parseIntegerFlag('--tick-ms', o.tickMs, NodeDefaults.tickMsMin, NodeDefaults.tickMsMax);
  const ingest: Partial<IngestSettings> = {};
  const setting = (flag: string, raw: string | undefined, key: keyof IngestSettings): void => {
    if (raw === undefined) return;
    const [lo, hi] = INGEST_SETTINGS_RANGES[key];
    (ingest as Record<string, number>)[key] = parseIntegerFlag(flag, raw, lo, hi);
  };
  setting('--otlp-max-request-bytes', o.otlpMaxRequestBytes, 'requestBytesMax');
  setting('--otlp-max-inflight-bytes', o.otlpMaxInflightBytes, 'nodeInflightBytesMax');
  setting('--otlp-deadline-ms', o.otlpDeadlineMs, 'requestDeadlineMs');
  const otlpItemLimits: Partial<OtlpItemLimits> = {};
  const itemLimit = (flag: string, raw: string | undefined, key: keyof OtlpItemLimits): void => {
    if (raw === undefined) return;
    const [lo, hi] = OTLP_ITEM_LIMITS_RANGES[key];
    (otlpItemLimits as Record<string, number>)[key] = parseIntegerFlag(flag, raw, lo, hi);
  };
  itemLimit('--otlp-max-attributes', o.otlpMaxAttributes, 'attributesPerItemMax');
  itemLimit('--otlp-max-attribute-bytes', o.otlpMaxAttributeBytes, 'attributeValueBytesMax');
  itemLimit('--otlp-max-age-ms', o.otlpMaxAgeMs, 'timestampPastMsMax');
  itemLimit('--otlp-max-future-ms', o.otlpMaxFutureMs, 'timestampFutureMsMax');
  const receiveWorkers =
    o.receiveWorkers === undefined ? undefined : parseIntegerFlag('--receive-workers', o.receiveWorkers, 0, ReceiveWorkerLimits.workersMax);
  const promote = o.promoteResourceAttributes === undefined ? [] : o.promoteResourceAttributes.split(',').map((k) => k.trim()).filter((k) => k !== '');
  if (promote.length > 256 || promote.some((k) => Buffer.byteLength(k) > 1024)) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', '--promote-resource-attributes takes at most 256 keys of at most 1024 bytes', { flag: '--promote-resource-attributes' });
  }
  const logTermIndex = parseLogTermIndex(o.logTermIndex);
  try {
    resolveIngestSettings(ingest);
  } catch (err) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', (err as Error).message, { flag: '--otlp-max-inflight-bytes' });
  }
  return { id, dataDir, peer, api, otlpGrpc, otlpHttp, ingest, otlpItemLimits, initialCluster, ...(join === undefined ? {} : { join }), shards, replicas, tickMs,
    ...(receiveWorkers === undefined ? {} : { receiveWorkers }), ...(promote.length === 0 ? {} : { promoteResourceAttributes: promote }),
    ...(logTermIndex === undefined ? {} : { logTermIndex }) };
}


/** runStartCommand runs a node until a stop signal and returns the exit code (0 after a clean stop). */
export async function runStartCommand(o: StartCommandOptions, io: StartIo): Promise<number> {
  const opts = parseStartOptions(o);
  const stopSignal = io.untilSignal();
  const node = await OtlpdbNode.start({ ...opts, log: (line) => io.out(line) });
  const grpcAt = node.otlpGrpcAddress();
  const httpAt = node.otlpHttpAddress();
  io.out(
    JSON.stringify({
      event: 'started',
      id: opts.id,
      peer: formatHostPort(opts.peer),
      api: formatHostPort(node.apiAddress()),
      otlpGrpc: grpcAt === null ? null : formatHostPort(grpcAt),
      otlpHttp: httpAt === null ? null : formatHostPort(httpAt),
    }),
  );
  node.log.event('node_config', { groups: node.driver.groups().length, seed: node.seed, tickMs: opts.tickMs, dataDir: opts.dataDir });
  // Fail stop: a driver that stopped on an error (a failed fsync, a broken
  // invariant) leaves every Raft group of the node frozen; the process ends
  // with exit 1 so a supervisor sees it, rather than serving 503s forever.
  const driverFailed = node.driver.whenFailed().then((err) => {
    node.log.event('driver_failed', { error: String(err) }, undefined, 'error');
    return 'driver failure';
  });
  const signal = await Promise.race([stopSignal, driverFailed]);
  node.log.event('stopping', { signal });
  // The whole graceful stop is bounded: past shutdownDeadlineMs the process ends anyway (the WAL is durable at every sync).
  const deadline = setTimeout(() => {
    io.err(`otlpdb: shutdown took longer than ${ReconcileLimits.shutdownDeadlineMs} ms; exiting`);
    process.exit(1);
  }, ReconcileLimits.shutdownDeadlineMs);
  deadline.unref();
  await node.shutdown();
  clearTimeout(deadline);
  const failure = node.driver.failure;
  if (failure !== null) {
    io.err(`otlpdb: the node stopped after a storage failure: ${String(failure)}`);
    return 1;
  }
  return 0;
}

/** processSignals resolves on the first SIGTERM or SIGINT of this process. */
export function processSignals(): Promise<string> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals): void => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
      resolve(signal);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
}
