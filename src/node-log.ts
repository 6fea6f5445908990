/**
 * node-log.ts — the node's structured log: one JSON line per event, each
 * with the time, the node id and (when it concerns one) the Raft group.
 * The sink is injected: the CLI writes to stdout, tests collect or drop.
 */
import type { GroupId, NodeId } from './raft/types.js';

/** LogSink receives one complete JSON line (no trailing newline). */
export type LogSink = (line: string) => void;

/** NodeLog writes structured events for one node. */
export class NodeLog {
  readonly #node: NodeId;
  readonly #sink: LogSink;

  constructor(node: NodeId, sink: LogSink) {
    this.#node = node;
    this.#sink = sink;
  }

  /** event logs one event; `group` is omitted from the line when not given. */
  event(event: string, fields: Readonly<Record<string, unknown>> = {}, group?: GroupId): void {
    const line: Record<string, unknown> = { ts: new Date().toISOString(), event, node: this.#node };
    if (group !== undefined) line.group = group;
    for (const [k, v] of Object.entries(fields)) if (!(k in line)) line[k] = v;
    try {
      this.#sink(JSON.stringify(line));
    } catch {
      // A log sink that fails (a closed pipe) must not stop the node.
    }
  }
}

/** silentLog is a sink that drops every line. */
export const silentLog: LogSink = () => {};
