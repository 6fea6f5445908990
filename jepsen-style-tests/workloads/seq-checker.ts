/**
 * seq-checker.ts — the pure checker of the logs and counter workloads. Each
 * client writes to its own stream (a log stream, or a metric series) items
 * numbered 0, 1, 2, ... (log lines, or metric points); a request carries a
 * few consecutive items. Given what was sent (each request's stream, item
 * numbers and outcome) and what the final reads found per stream (item
 * numbers, with repeats), it counts:
 *   lost        an item of an acknowledged request not found;
 *   unexpected  an item found that was never sent, or found although its
 *               request was refused outright (4xx: nothing may be stored);
 *   duplicates  an item found more than once (a retried request stored twice);
 *   unreadable  a stream whose read failed on every node (nothing can be
 *               proven about it, so the workload is not valid).
 * Items of requests with unknown or retryable-failed outcomes may or may not
 * be present; either is legal. So the number of distinct items found lies
 * between the acknowledged items and the acknowledged plus unknown ones.
 */
import { assert } from '../../src/errors.js';
import type { Outcome } from '../harness/history.js';
import { capAnomalies } from '../report/results.js';

/** SentItems is one request of the logs or counter workload: its stream, its items' numbers, and what the client learnt. */
export interface SentItems {
  readonly stream: string;
  readonly seqs: readonly number[];
  readonly outcome: Outcome;
  /** refused is true when the request was refused outright (4xx), so none of its items may be stored. */
  readonly refused: boolean;
}

/** StreamRead is what the final read of one stream found: its items' numbers (with repeats), or a failure. */
export type StreamRead = { readonly ok: true; readonly seqs: readonly number[] } | { readonly ok: false; readonly error: string };

/** SeqCheck is the checker's verdict and counts. */
export interface SeqCheck {
  readonly valid: boolean;
  readonly lost: number;
  readonly unexpected: number;
  readonly duplicates: number;
  readonly unreadable: number;
  readonly anomalies: readonly string[];
}

/** checkSequences compares what was sent with what was read back; `what` names an item in anomalies ("line", "point"). */
export function checkSequences(what: string, sent: readonly SentItems[], reads: ReadonlyMap<string, StreamRead>): SeqCheck {
  const expected = new Map<string, Map<number, SentItems>>();
  for (const r of sent) {
    let byStream = expected.get(r.stream);
    if (byStream === undefined) expected.set(r.stream, (byStream = new Map()));
    for (const seq of r.seqs) {
      assert(Number.isSafeInteger(seq) && seq >= 0, 'item numbers are non-negative integers');
      assert(!byStream.has(seq), 'every sent item number is unique within its stream');
      byStream.set(seq, r);
    }
  }
  const anomalies: string[] = [];
  let lost = 0;
  let unexpected = 0;
  let duplicates = 0;
  let unreadable = 0;
  for (const [stream, read] of reads) {
    if (!read.ok) {
      unreadable++;
      anomalies.push(`stream ${stream} could not be read after recovery: ${read.error}`);
      continue;
    }
    const byStream = expected.get(stream);
    const seen = new Map<number, number>();
    for (const seq of read.seqs) seen.set(seq, (seen.get(seq) ?? 0) + 1);
    for (const [seq, times] of seen) {
      const req = byStream?.get(seq);
      if (req === undefined) {
        unexpected++;
        anomalies.push(`${what} ${stream}#${seq} was found but never sent`);
      } else if (req.refused) {
        unexpected++;
        anomalies.push(`${what} ${stream}#${seq} was found although its request was refused`);
      }
      if (times > 1) {
        duplicates++;
        anomalies.push(`${what} ${stream}#${seq} was found ${times} times`);
      }
    }
  }
  for (const r of sent) {
    if (r.outcome !== 'ok') continue;
    const read = reads.get(r.stream);
    if (read === undefined) {
      unreadable++;
      anomalies.push(`stream ${r.stream} of an acknowledged ${what} was never read`);
      continue;
    }
    if (!read.ok) continue;
    const found = new Set(read.seqs);
    for (const seq of r.seqs) {
      if (!found.has(seq)) {
        lost++;
        anomalies.push(`acknowledged ${what} ${r.stream}#${seq} was not found`);
      }
    }
  }
  const valid = lost === 0 && unexpected === 0 && duplicates === 0 && unreadable === 0;
  assert(valid === (anomalies.length === 0), 'an invalid history has anomalies to show');
  return { valid, lost, unexpected, duplicates, unreadable, anomalies: capAnomalies(anomalies) };
}
