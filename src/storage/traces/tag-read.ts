/**
 * tag-read.ts — a shard's bounded read of tag names and of one tag's values
 * for Tempo's tag routes (/api/search/tags, /api/search/tag/{tag}/values and
 * their v2 forms). Pure over its inputs: the tenant's heads (decoded span by
 * span), a KvRead for the blocks, a clock check passed in.
 *
 * Where each answer comes from:
 * - head and frozen head: every span whose start is in [startNs, endNs),
 *   decoded; its span and resource attributes of indexable types (string,
 *   int, bool: attrIndexValue's), its name, kind and status;
 * - blocks of the overlapping buckets whose meta's start times meet the
 *   range: the index alone (span-index.ts) — attribute terms with their
 *   scope and type flags, the skipped keys' names and flags, the name, kind
 *   and status terms. A skipped key's values are not in the index: the
 *   block's rows are read (the rest column) for them, within the bounds.
 *
 * Semantics, and what they leave out (NB):
 * - A block counts whole when its start times meet the range: its terms
 *   come from all its rows, so an answer may hold a name or value of a span
 *   just outside [startNs, endNs) (Tempo's block-level pruning does the same).
 * - Span versions are not resolved: a span replaced by a later write may
 *   still contribute its older values until its block expires.
 * - Attributes of other types (double, bytes, arrays, maps) are not tags
 *   here; the index does not hold them, and the head read skips them so an
 *   answer does not change when a head is flushed.
 *
 * Bounds (TraceTagLimits, or smaller ones a test passes): valuesMax distinct
 * entries and valueBytesMax UTF-8 bytes in the answer, blocksMax block
 * indexes, rowsScannedMax spans decoded (head spans and skipped-key rows),
 * staleValuesMax already known entries met (only when the caller asks for
 * it: Tempo's maxStaleValues), and the deadline. Any of them cuts the read
 * and makes it `partial`.
 */
import { assert } from '../../errors.js';
import { TraceTagLimits } from '../../limits.js';
import { corrupt } from '../codec/bits.js';
import type { KeyValue, SpanRow } from '../rows.js';
import type { KvRead } from '../shard/shard-db.js';
import type { ScanStats } from '../shard/signal-store.js';
import { newScanStats } from '../shard/signal-store.js';
import { SpanColumn } from './span-block.js';
import type { BlockCacheRef } from './block-read.js';
import { readBlockIndex, readBlockView } from './block-read.js';
import type { SpanHead } from './span-head.js';
import type { IndexTerm, TagScope, TagType } from './span-index.js';
import { IndexField, SCOPE_FLAGS, attrIndexValue, attrTagType, flagPairs } from './span-index.js';
import { readRest, readRestRecord } from './span-rest.js';
import { TraceKeySpace as K, bucketKey, bucketOf, decodeBlockMeta, readRef, tenantPrefixBytes } from './trace-keys.js';

/** TagValueType is a tag value's type as Tempo's v2 values route prints it; kind and status are `keyword`s. */
export type TagValueType = TagType | 'keyword';

/** TagIntrinsic is an intrinsic whose values the index holds. */
export type TagIntrinsic = 'name' | 'kind' | 'status';

/** TagTarget says what a tag read collects. */
export type TagTarget =
  /** names: the attribute keys of the given scopes. */
  | { readonly kind: 'names'; readonly scopes: readonly TagScope[] }
  /** values: the values of attribute `key` in `scope` ('any': span or resource, Tempo's unscoped `.key`). */
  | { readonly kind: 'values'; readonly scope: TagScope | 'any'; readonly key: string }
  /** intrinsic: the span names, kinds or status codes. */
  | { readonly kind: 'intrinsic'; readonly field: TagIntrinsic };

/** TagRead is one shard's tag read. */
export interface TagRead {
  /** startNs and endNs bound the spans' start: [startNs, endNs) (block-granular, see the top of the file). */
  readonly startNs: bigint;
  readonly endNs: bigint;
  readonly target: TagTarget;
  /** valuesMax bounds the entries answered (1 ..= TraceTagLimits.valuesMax). */
  readonly valuesMax: number;
  /** staleValuesMax, when given, stops the read after that many already known entries (Tempo's maxStaleValues). */
  readonly staleValuesMax?: number;
}

/** TagEntry is one answered entry: for names, the scope ('span' | 'resource') and the key; for values, the type and the value. */
export interface TagEntry {
  readonly kind: TagScope | TagValueType;
  readonly text: string;
}

/** TagReadAnswer is a shard's answer: distinct entries sorted by (kind, text), partial when a bound cut the read. */
export interface TagReadAnswer {
  readonly entries: TagEntry[];
  readonly partial: boolean;
  readonly stats: ScanStats;
}

/** TagReadBounds are the read's bounds (TraceTagLimits' unless a test passes smaller ones). */
export interface TagReadBounds {
  readonly valueBytesMax: number;
  readonly blocksMax: number;
  readonly rowsScannedMax: number;
}

/** SPAN_KIND_KEYWORDS are TraceQL's kind keywords by OTLP SpanKind number. */
export const SPAN_KIND_KEYWORDS = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'] as const;
/** STATUS_KEYWORDS are TraceQL's status keywords by OTLP status code. */
export const STATUS_KEYWORDS = ['unset', 'ok', 'error'] as const;

/** Cut is thrown inside the read when a bound stops it; the answer so far is returned as partial. */
class Cut {
  constructor(readonly why: string) {}
}

/**
 * TagCollector holds the distinct entries of one read, bounded by count and
 * bytes. Invariant: entries.size <= valuesMax and bytes <= valueBytesMax.
 */
class TagCollector {
  readonly #seen = new Map<string, TagEntry>();
  #bytes = 0;
  #stale = 0;
  constructor(
    readonly valuesMax: number,
    readonly bytesMax: number,
    readonly staleMax: number | undefined,
  ) {}

  add(kind: TagEntry['kind'], text: string): void {
    const k = `${kind}\u0000${text}`;
    if (this.#seen.has(k)) {
      if (this.staleMax !== undefined && ++this.#stale >= this.staleMax) throw new Cut('maxStaleValues');
      return;
    }
    const b = Buffer.byteLength(text);
    if (this.#seen.size >= this.valuesMax) throw new Cut('valuesMax');
    if (this.#bytes + b > this.bytesMax) throw new Cut('valueBytesMax');
    this.#seen.set(k, { kind, text });
    this.#bytes += b;
    assert(this.#seen.size <= this.valuesMax && this.#bytes <= this.bytesMax, 'the collector stays within its bounds');
  }

  sorted(): TagEntry[] {
    return [...this.#seen.values()].sort(compareEntries);
  }
}

/** compareEntries orders entries by kind, then text (code unit order). */
export function compareEntries(a: TagEntry, b: TagEntry): number {
  if (a.kind !== b.kind) return a.kind < b.kind ? -1 : 1;
  return a.text < b.text ? -1 : a.text > b.text ? 1 : 0;
}

function keywordOf(field: 'kind' | 'status', n: number): string {
  const k = field === 'kind' ? SPAN_KIND_KEYWORDS[n] : STATUS_KEYWORDS[n];
  if (k === undefined) throw corrupt(`span ${field} ${n} has no keyword`);
  return k;
}

/** addAttrs adds what `list` (of one scope) holds for the target. */
function addAttrs(c: TagCollector, target: TagTarget, scope: TagScope, list: readonly KeyValue[]): void {
  if (target.kind === 'names') {
    if (!target.scopes.includes(scope)) return;
    for (const kv of list) if (attrTagType(kv.value) !== undefined) c.add(scope, kv.key);
    return;
  }
  if (target.kind !== 'values' || (target.scope !== 'any' && target.scope !== scope)) return;
  for (const kv of list) {
    if (kv.key !== target.key) continue;
    const type = attrTagType(kv.value);
    if (type !== undefined) c.add(type, attrIndexValue(kv.value) as string);
  }
}

/** addSpan adds what one decoded span holds for the target. */
function addSpan(c: TagCollector, target: TagTarget, s: SpanRow): void {
  if (target.kind === 'intrinsic') {
    if (target.field === 'name') c.add('string', s.name);
    else if (target.field === 'kind') c.add('keyword', keywordOf('kind', s.kind));
    else c.add('keyword', keywordOf('status', s.status.code));
    return;
  }
  addAttrs(c, target, 'span', s.attributes);
  addAttrs(c, target, 'resource', s.resource.attributes);
}

/** addTerm adds what one index term holds for the target. */
function addTerm(c: TagCollector, target: TagTarget, t: IndexTerm): void {
  if (target.kind === 'intrinsic') {
    if (target.field === 'name' && t.field === IndexField.name) c.add('string', t.value);
    else if (target.field === 'kind' && t.field === IndexField.kind) c.add('keyword', keywordOf('kind', Number(t.value)));
    else if (target.field === 'status' && t.field === IndexField.status) c.add('keyword', keywordOf('status', Number(t.value)));
    return;
  }
  if (t.field !== IndexField.attr) return;
  if (target.kind === 'names') {
    for (const scope of target.scopes) if ((t.flags & SCOPE_FLAGS[scope]) !== 0) c.add(scope, t.key);
    return;
  }
  if (t.key !== target.key) return;
  for (const p of flagPairs(t.flags)) if (target.scope === 'any' || p.scope === target.scope) c.add(p.type, t.value);
}

/** wantsSkipped says whether a skipped key with `flags` must be read row by row for a values target. */
function wantsSkipped(target: TagTarget, flags: number): boolean {
  return target.kind === 'values' && (target.scope === 'any' || (flags & SCOPE_FLAGS[target.scope]) !== 0);
}

/**
 * readTags runs one tag read over a tenant's heads (head first, then the
 * frozen head) and its blocks; see the top of this file. `expired` is
 * checked between blocks and every 1024 head spans. With the node's block
 * cache (`cache`, block-read.ts) a block's index and view opened by any
 * earlier read are served from memory, not read and checked again.
 */
export async function readTags(
  heads: readonly SpanHead[],
  kv: KvRead,
  tenant: string,
  q: TagRead,
  expired: () => boolean,
  bounds: TagReadBounds = TraceTagLimits,
  cache: BlockCacheRef | null = null,
): Promise<TagReadAnswer> {
  assert(Number.isSafeInteger(q.valuesMax) && q.valuesMax >= 1 && q.valuesMax <= TraceTagLimits.valuesMax, 'valuesMax in [1, TraceTagLimits.valuesMax]');
  assert(bounds.blocksMax >= 1 && bounds.rowsScannedMax >= 1 && bounds.valueBytesMax >= 1, 'bounds >= 1');
  const stats = newScanStats();
  const c = new TagCollector(q.valuesMax, bounds.valueBytesMax, q.staleValuesMax);
  let rows = 0;
  const row = (): void => {
    if (++rows > bounds.rowsScannedMax) throw new Cut('rowsScannedMax');
    if ((rows & 1023) === 0 && expired()) throw new Cut('deadline');
  };
  try {
    if (q.startNs >= q.endNs) return { entries: [], partial: false, stats };
    for (const h of heads) {
      const reader = h.reader();
      for (const [, t] of h.traces()) {
        for (let slot = h.firstSlot(t); slot !== -1; slot = h.nextSlot(slot)) {
          stats.headRowsScanned++;
          const start = h.startNs(slot);
          if (start < q.startNs || start >= q.endNs) continue;
          row();
          addSpan(c, q.target, reader.row(slot));
        }
      }
    }
    const offset = tenantPrefixBytes(tenant);
    let blocks = 0;
    for await (const page of kv.pages({ gte: bucketKey(K.meta, tenant, bucketOf(q.startNs)), lt: bucketKey(K.meta, tenant, bucketOf(q.endNs - 1n) + 1) })) {
      for (const e of page) {
        stats.bytesRead += e.key.length + e.value.length;
        const meta = decodeBlockMeta(e.value);
        if (meta.maxStartNs < q.startNs || meta.minStartNs >= q.endNs) {
          stats.blocksPrunedTime++;
          continue;
        }
        if (expired()) throw new Cut('deadline');
        if (++blocks > bounds.blocksMax) throw new Cut('blocksMax');
        const ref = readRef(e.key, offset);
        const idx = await readBlockIndex(kv, tenant, ref, stats, cache);
        if (idx.rows !== meta.rows) throw corrupt(`span index of ${idx.rows} rows, its meta says ${meta.rows}`, { tenant, ...ref });
        for (const t of idx.terms) addTerm(c, q.target, t);
        for (const [key, flags] of idx.skippedKeyFlags) {
          if (q.target.kind === 'names') {
            for (const scope of q.target.scopes) if ((flags & SCOPE_FLAGS[scope]) !== 0) c.add(scope, key);
          }
        }
        const target = q.target;
        const skippedFlags = target.kind === 'values' ? idx.skippedKeyFlags.get(target.key) : undefined;
        // Answered from the index alone (the usual case): the block itself is not read.
        if (skippedFlags === undefined || !wantsSkipped(target, skippedFlags)) continue;
        // The key is not indexed in this block: its values are in the rows.
        stats.blocksScanned++;
        const view = await readBlockView(kv, tenant, ref, stats, cache);
        if (view.rows !== meta.rows) throw corrupt(`span block of ${view.rows} rows, its meta says ${meta.rows}`, { tenant, ...ref });
        const rest = readRest(view.columns[SpanColumn.rest] as Uint8Array, view.rows);
        for (let i = 0; i < view.rows; i++) {
          row();
          const rec = readRestRecord(rest, i);
          addAttrs(c, target, 'span', rec.attributes);
          addAttrs(c, target, 'resource', rec.resource.attributes);
        }
      }
    }
  } catch (err) {
    if (!(err instanceof Cut)) throw err;
    return { entries: c.sorted(), partial: true, stats };
  }
  return { entries: c.sorted(), partial: false, stats };
}
