/**
 * node-log.ts — the node's structured log (pino): one JSON line per event,
 * each with `level`, `time` (ISO 8601), `node`, `event`, and `group` when it
 * concerns one Raft group. The sink is injected: the CLI writes to stdout,
 * tests collect or drop. pino formats; the sink only receives finished lines.
 *
 * Line shape: {"level":"info","time":"2026-...Z","node":1,"event":"leader_changed","group":3,"leader":2,"term":5}
 */
import { pino } from 'pino';
import type { Logger } from 'pino';
import type { GroupId, NodeId } from './raft/types.js';

/** LogSink receives one complete JSON line (no trailing newline). */
export type LogSink = (line: string) => void;

/** LogLevel is the severity of one event. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** NodeLog writes structured events for one node through pino. */
export class NodeLog {
  readonly #logger: Logger;

  constructor(node: NodeId, sink: LogSink, level: LogLevel = 'info') {
    const stream = {
      write(chunk: string): void {
        try {
          sink(chunk.endsWith('\n') ? chunk.slice(0, -1) : chunk);
        } catch {
          // A log sink that fails (a closed pipe) must not stop the node.
        }
      },
    };
    this.#logger = pino(
      {
        level,
        base: { node },
        timestamp: pino.stdTimeFunctions.isoTime,
        formatters: { level: (label) => ({ level: label }) },
      },
      stream,
    );
  }

  /** event logs one event at `level` (default info); `group` is omitted from the line when not given. */
  event(event: string, fields: Readonly<Record<string, unknown>> = {}, group?: GroupId, level: LogLevel = 'info'): void {
    const line: Record<string, unknown> = { event };
    if (group !== undefined) line.group = group;
    for (const [k, v] of Object.entries(fields)) if (!(k in line) && k !== 'node' && k !== 'level' && k !== 'time') line[k] = v;
    this.#logger[level](line);
  }
}

/** silentLog is a sink that drops every line. */
export const silentLog: LogSink = () => {};
