/**
 * filter-targets.ts — how tight a version-3 page filters value's blooms are
 * (page-filters.ts encodePageTerms): the block-level filter and the pages'.
 *
 * Why: an attribute search on a skipped key (the bench's `customer.id`, a
 * value a trace) opens every block whose block-level filter says "maybe". At
 * 10% that is ~43 of the ~431 blocks of the 2M-span bench that do not hold
 * the value, each then reading its head and the ~25% of its pages whose
 * filters say "maybe" (~98 KB a block; bench/README.md, query-traces, s15),
 * against ~5 blocks that hold it. Such blocks have few skipped-key terms for
 * their bytes (~214 in a 4,700-span block of ~376 KB), so 1% filters cost
 * them ~310 B more: under 0.1% of the data. A block whose every span carries
 * its own values (realisticSpans: http.target and user.id, ~15,500 terms in
 * 755 KB) would pay ~1.2% of its data for the same, past the index's 10%
 * bound; it keeps the loose targets.
 *
 * Rule: the tight targets (TraceStoreLimits.blockTermsTightFalsePositiveTarget,
 * pageTermsTightFalsePositiveTarget) for the block and its pages when what
 * they add to the filters' bytes is at most TraceStoreLimits.tightFiltersDataShareMax
 * of the block's data bytes; else the tight block filter alone when it fits;
 * else the loose ones (blockTermsFalsePositiveTarget, pageTermsV3FalsePositiveTarget).
 * Readers need nothing: each bloom carries its size and hash count
 * (bloom.ts), so blocks of either sizing, and older ones, read alike, and a
 * search's answers do not depend on the choice (a bloom has no false
 * negatives). Pure code, no state.
 */
import { assert } from '../../errors.js';
import { TraceStoreLimits } from '../../limits.js';
import { bloomEncodedBytes } from '../bloom.js';

/** FilterTargets are the false-positive targets of a version-3 value's block-level filter and of its pages' filters. */
export interface FilterTargets {
  readonly block: number;
  readonly page: number;
}

/** bloomBytesFor is the encoded size of a filter of `items` items at `target` (bloom.ts bloomEncodedBytes). */
export const bloomBytesFor = bloomEncodedBytes;

/**
 * chooseFilterTargets picks the targets of a version-3 value (the rule
 * above) for a block of `dataBytes` data bytes whose block-level filter holds
 * `blockTerms` terms (null: no block filter, too many terms) and whose pages'
 * filters hold `pageTerms[p]` terms (null: that page keeps no filter).
 */
export function chooseFilterTargets(blockTerms: number | null, pageTerms: readonly (number | null)[], dataBytes: number): FilterTargets {
  assert(dataBytes >= 0 && Number.isSafeInteger(dataBytes), 'dataBytes is a count');
  const loose: FilterTargets = { block: TraceStoreLimits.blockTermsFalsePositiveTarget, page: TraceStoreLimits.pageTermsV3FalsePositiveTarget };
  const tight: FilterTargets = { block: TraceStoreLimits.blockTermsTightFalsePositiveTarget, page: TraceStoreLimits.pageTermsTightFalsePositiveTarget };
  const allowanceBytes = Math.floor(dataBytes * TraceStoreLimits.tightFiltersDataShareMax);
  const blockExtra = blockTerms === null ? 0 : bloomBytesFor(blockTerms, tight.block) - bloomBytesFor(blockTerms, loose.block);
  let pageExtra = 0;
  for (const n of pageTerms) if (n !== null) pageExtra += bloomBytesFor(n, tight.page) - bloomBytesFor(n, loose.page);
  assert(blockExtra >= 0 && pageExtra >= 0, 'tighter filters are not smaller');
  // NB: the uvarint length before each filter may grow by a byte; not counted (at most pages + 1 bytes).
  if (blockExtra + pageExtra <= allowanceBytes) return tight;
  if (blockExtra <= allowanceBytes) return { block: tight.block, page: loose.page };
  return loose;
}
