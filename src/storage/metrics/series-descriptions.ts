/**
 * series-descriptions.ts — the description (OTLP `Metric.description`, the
 * Prometheus HELP text) of every metric series of one shard replica, kept
 * beside the series and not in its identity (series-identity.ts): a new
 * wording of a description must not start a new series.
 *
 * Rule: a series' description is the one of its latest applied point (apply
 * order, so identical on every replica); a point with an empty description
 * sets it to empty, as a point does for every other field. Two writers that
 * disagree about one series therefore flip it back and forth, the last one
 * winning; two series of one metric name may carry different descriptions,
 * and /api/v1/metadata then lists one entry per distinct (type, help, unit),
 * as Prometheus lists the differing metadata of its targets. A description
 * is cut to MetricStoreLimits.descriptionCharsMax UTF-16 units (never inside
 * a surrogate pair) before it is kept.
 *
 * Durability: like last timestamps (metric-store.ts lastT pages), the
 * descriptions of the series ids page×1024 … +1023 are one value, rewritten
 * by a flush whose head changed one of them:
 *
 *   0x27 page:u32 → sealed (BlockKind.metricDescriptions) deflated msgpack
 *                   array of the page's descriptions, from its first id up
 *                   to the last series the flush's head knew
 *
 * freeze() copies the changed pages as of the freeze (the head's applied
 * index), so a flush writes exactly the state at its index; load() puts the
 * durable pages back, and Raft replays what came after.
 *
 * NB: descriptions are not counted in the head's bytes (the flush trigger):
 * they are bounded by the series count × descriptionCharsMax and shared
 * through the intern table, and a flush writes only the pages that changed.
 *
 * Invariants: #desc.length === the number of registered series; #changed
 * holds ids < #desc.length only (so it is bounded by the series count);
 * #intern holds at most MetricStoreLimits.descriptionInternMax strings.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { BlockKind, openBlock, sealBlock } from '../block.js';
import { assert } from '../../errors.js';
import { corrupt } from '../codec/index.js';
import { MetricStoreLimits, ShardDbLimits } from '../../limits.js';
import { STORAGE_PACKR } from '../storage-packr.js';
import { key } from '../shard/keys.js';
import { MetricKeySpace } from './store-format.js';

/** DESCRIPTION_PAGE_SERIES is the number of series whose descriptions share one value. */
export const DESCRIPTION_PAGE_SERIES = 1024;

assert(DESCRIPTION_PAGE_SERIES * MetricStoreLimits.descriptionCharsMax * 3 <= ShardDbLimits.valueBytesMax / 2, 'a full description page fits one LevelDB value');

/** descriptionPageKey is the key of description page `page`. */
export function descriptionPageKey(page: number): Uint8Array {
  return key(MetricKeySpace.Descriptions).u32(page).build();
}

/** encodeDescriptionPage seals one page's descriptions. */
export function encodeDescriptionPage(descriptions: readonly string[]): Uint8Array {
  assert(descriptions.length >= 1 && descriptions.length <= DESCRIPTION_PAGE_SERIES, 'a page holds 1 to 1024 descriptions');
  return sealBlock(BlockKind.metricDescriptions, deflateRawSync(STORAGE_PACKR.pack(descriptions)));
}

/** decodeDescriptionPage opens a description page (ERR_CORRUPTION on any defect). */
export function decodeDescriptionPage(bytes: Uint8Array): string[] {
  const payload = openBlock(bytes, BlockKind.metricDescriptions);
  let v: unknown;
  try {
    v = STORAGE_PACKR.unpack(inflateRawSync(payload));
  } catch {
    throw corrupt('metrics description page: undecodable');
  }
  if (!Array.isArray(v) || v.length < 1 || v.length > DESCRIPTION_PAGE_SERIES || !v.every((d) => typeof d === 'string')) {
    throw corrupt('metrics description page: bad shape');
  }
  return v as string[];
}

/** cutDescription is a description within MetricStoreLimits.descriptionCharsMax UTF-16 units, cut before a split surrogate pair. */
export function cutDescription(d: string): string {
  const max = MetricStoreLimits.descriptionCharsMax;
  if (d.length <= max) return d;
  const last = d.charCodeAt(max - 1);
  return d.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}

/** SeriesDescriptions holds the description of every series of one store (see the file comment). */
export class SeriesDescriptions {
  #desc: string[] = [];
  readonly #changed = new Set<number>();
  readonly #intern = new Map<string, string>();

  /** size is the number of series registered. */
  get size(): number {
    return this.#desc.length;
  }

  /** register adds series `id` (the next one) with an empty description. */
  register(id: number): void {
    assert(id === this.#desc.length, 'series are registered in id order');
    this.#desc.push('');
  }

  /** get is series id's description ("" when none). */
  get(id: number): string {
    const d = this.#desc[id];
    assert(d !== undefined, 'a registered series');
    return d;
  }

  /** set records the description of series id's latest point; cheap when unchanged. */
  set(id: number, description: string): void {
    const cur = this.#desc[id];
    assert(cur !== undefined, 'a registered series');
    if (cur === description) return;
    let d = cutDescription(description);
    if (cur === d) return;
    const shared = this.#intern.get(d);
    if (shared !== undefined) d = shared;
    else {
      if (this.#intern.size >= MetricStoreLimits.descriptionInternMax) this.#intern.clear();
      this.#intern.set(d, d);
    }
    this.#desc[id] = d;
    this.#changed.add(id);
  }

  /** freeze is a copy of every page with a description changed since the last freeze, up to series `seriesTo` (exclusive); it forgets those changes. */
  freeze(seriesTo: number): Map<number, string[]> {
    assert(seriesTo <= this.#desc.length, 'seriesTo within the registered series');
    const pages = new Set<number>();
    for (const id of this.#changed) if (id < seriesTo) pages.add(Math.floor(id / DESCRIPTION_PAGE_SERIES));
    for (const id of [...this.#changed]) if (id < seriesTo) this.#changed.delete(id);
    const out = new Map<number, string[]>();
    for (const p of [...pages].sort((a, b) => a - b)) {
      const from = p * DESCRIPTION_PAGE_SERIES;
      out.set(p, this.#desc.slice(from, Math.min(from + DESCRIPTION_PAGE_SERIES, seriesTo)));
    }
    return out;
  }

  /** reset forgets everything (before a load). */
  reset(): void {
    this.#desc = [];
    this.#changed.clear();
    this.#intern.clear();
  }

  /** loadPage puts a durable page back (after the series are registered); descriptions past the registered series are ignored. */
  loadPage(page: number, descriptions: readonly string[]): void {
    const from = page * DESCRIPTION_PAGE_SERIES;
    for (let j = 0; j < descriptions.length && from + j < this.#desc.length; j++) this.#desc[from + j] = descriptions[j] as string;
  }
}
