/**
 * seq-checker.ts — the pure checker of the logs, counter and set workloads.
 * Each item belongs to a stream and has an id unique within it: the logs and
 * counter clients write to their own stream (a log stream, or a metric
 * series) items numbered 0, 1, 2, ... (log lines, or metric points); the set
 * workload's streams are traces and its items span ids (set-checker.ts). A
 * request carries a few items. Given what was sent (each request's stream,
 * item ids and outcome) and what the final reads found per stream (item ids,
 * with repeats), it counts:
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

/** ItemId is an item's id within its stream: a sequence number (logs, counter) or a span id (set). */
export type ItemId = number | string;

/** SentItems is one request's items of one stream: their ids, and what the client learnt of the request. */
export interface SentItems<K extends ItemId = number> {
  readonly stream: string;
  readonly seqs: readonly K[];
  readonly outcome: Outcome;
  /** refused is true when the request was refused outright (4xx), so none of its items may be stored. */
  readonly refused: boolean;
}

/** StreamRead is what the final read of one stream found: its items' ids (with repeats), or a failure. */
export type StreamRead<K extends ItemId = number> = { readonly ok: true; readonly seqs: readonly K[] } | { readonly ok: false; readonly error: string };

/** SeqWords are the words anomalies use: an item ("line", "span"), a stream ("stream", "trace"), and an item's full name. */
export interface SeqWords {
  readonly item: string;
  readonly stream: string;
  readonly name: (stream: string, id: ItemId) => string;
}

/** seqWords are the logs and counter workloads' words: `what` names an item; an item is `stream#seq`. */
export function seqWords(what: string): SeqWords {
  return { item: what, stream: 'stream', name: (stream, id) => `${stream}#${id}` };
}

/** SeqCheck is the checker's verdict and counts. */
export interface SeqCheck {
  readonly valid: boolean;
  readonly lost: number;
  readonly unexpected: number;
  readonly duplicates: number;
  readonly unreadable: number;
  readonly anomalies: readonly string[];
}

/** checkSequences compares what was sent with what was read back; `words` (or `what`, an item's word) name things in anomalies. */
export function checkSequences<K extends ItemId>(
  what: string | SeqWords,
  sent: readonly SentItems<K>[],
  reads: ReadonlyMap<string, StreamRead<K>>,
): SeqCheck {
  const words = typeof what === 'string' ? seqWords(what) : what;
  const expected = new Map<string, Map<K, SentItems<K>>>();
  for (const r of sent) {
    let byStream = expected.get(r.stream);
    if (byStream === undefined) expected.set(r.stream, (byStream = new Map()));
    for (const seq of r.seqs) {
      assert(typeof seq === 'string' || (Number.isSafeInteger(seq) && (seq as number) >= 0), 'item numbers are non-negative integers');
      assert(!byStream.has(seq), 'every sent item id is unique within its stream');
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
      anomalies.push(`${words.stream} ${stream} could not be read after recovery: ${read.error}`);
      continue;
    }
    const byStream = expected.get(stream);
    const seen = new Map<K, number>();
    for (const seq of read.seqs) seen.set(seq, (seen.get(seq) ?? 0) + 1);
    for (const [seq, times] of seen) {
      const req = byStream?.get(seq);
      if (req === undefined) {
        unexpected++;
        anomalies.push(`${words.item} ${words.name(stream, seq)} was found but never sent`);
      } else if (req.refused) {
        unexpected++;
        anomalies.push(`${words.item} ${words.name(stream, seq)} was found although its request was refused`);
      }
      if (times > 1) {
        duplicates++;
        anomalies.push(`${words.item} ${words.name(stream, seq)} was found ${times} times`);
      }
    }
  }
  for (const r of sent) {
    if (r.outcome !== 'ok') continue;
    const read = reads.get(r.stream);
    if (read === undefined) {
      unreadable++;
      anomalies.push(`${words.stream} ${r.stream} of an acknowledged ${words.item} was never read`);
      continue;
    }
    if (!read.ok) continue;
    const found = new Set(read.seqs);
    for (const seq of r.seqs) {
      if (!found.has(seq)) {
        lost++;
        anomalies.push(`acknowledged ${words.item} ${words.name(r.stream, seq)} was not found`);
      }
    }
  }
  const valid = lost === 0 && unexpected === 0 && duplicates === 0 && unreadable === 0;
  assert(valid === (anomalies.length === 0), 'an invalid history has anomalies to show');
  return { valid, lost, unexpected, duplicates, unreadable, anomalies: capAnomalies(anomalies) };
}
