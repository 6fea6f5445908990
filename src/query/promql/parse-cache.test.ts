import t from 'tap';
import { OtlpdbError } from '../../errors.js';
import type { Expr } from './ast.js';
import { promqlEngine } from './engine.js';
import { MemorySeriesSource } from './memory-source.js';
import { OracleCorpus } from './oracle-corpus.js';
import { OracleT0Ms, makeOracleDataset, oracleSeries } from './oracle-dataset.js';
import { ParsedExprCache } from './parse-cache.js';
import { parsePromql } from './parser.js';
import type { FloatSeries, PromResult } from './source.js';

const SMALL = { entriesMax: 3, textBytesMax: 1_000, textBytesEachMax: 200 };

/** tenantLeak answers whether a cache lets tenant B hit the entry tenant A's parse put in. */
function tenantLeak(c: Pick<ParsedExprCache, 'parse' | 'stats'>): boolean {
  c.parse('a', 'up{job="x"}');
  const hits = c.stats.hits;
  c.parse('b', 'up{job="x"}');
  return c.stats.hits > hits;
}

/** SharedKeyCache is the planted bug: a cache keyed by text alone, every tenant's entries shared. */
class SharedKeyCache extends ParsedExprCache {
  override parse(_tenant: string, text: string): Expr {
    return super.parse('', text);
  }
}

t.test('a cached parse is parsePromql\'s tree, frozen; a hit is the same tree', (t) => {
  const c = new ParsedExprCache(SMALL);
  const text = 'sum by (job) (rate(http_requests_total{code=~"5.."}[5m]))';
  const first = c.parse('t1', text);
  t.same(first, parsePromql(text), 'the tree parsePromql answers');
  t.equal(c.parse('t1', text), first, 'the second parse of the tenant is the kept tree');
  t.same(c.stats, { hits: 1, misses: 1, evictions: 0 });
  t.ok(Object.isFrozen(first), 'the tree is frozen');
  t.throws(() => {
    (first as unknown as { op: string }).op = 'max';
  }, TypeError, 'a write to a kept tree throws instead of changing what the next query parses');
  const inner = (first as unknown as { expr: { args: { selector: { matchers: { value: string }[] } }[] } }).expr.args[0]?.selector.matchers[0];
  t.ok(inner !== undefined && Object.isFrozen(inner), 'a matcher deep in the tree is frozen too');
  t.end();
});

t.test('entries are per tenant; a cache keyed by text alone is caught', (t) => {
  t.notOk(tenantLeak(new ParsedExprCache(SMALL)), 'tenant b misses what tenant a parsed');
  t.ok(tenantLeak(new SharedKeyCache(SMALL)), 'planted: the shared key is caught');
  const c = new ParsedExprCache(SMALL);
  c.parse('ab', 'c');
  c.parse('a', 'bc');
  t.equal(c.stats.hits, 0, 'no (tenant, text) pair reaches another whose concatenation is the same');
  t.end();
});

t.test('bounds: entries and bytes, least recently used out first; long texts and errors are not kept', (t) => {
  const c = new ParsedExprCache(SMALL);
  c.parse('t', 'a');
  c.parse('t', 'b');
  c.parse('t', 'c');
  c.parse('t', 'a');
  c.parse('t', 'd');
  t.equal(c.size, 3, 'at most entriesMax kept');
  t.equal(c.stats.evictions, 1);
  const misses = c.stats.misses;
  c.parse('t', 'a');
  t.equal(c.stats.misses, misses, 'a, used again, stayed');
  c.parse('t', 'b');
  t.equal(c.stats.misses, misses + 1, 'b, the least recently used, went out');
  const long = `x{l="${'v'.repeat(150)}"}`;
  const before = c.size;
  c.parse('t', long);
  c.parse('t', long);
  t.equal(c.stats.hits >= 1 && c.size, before, 'a text past textBytesEachMax is parsed each time, not kept');
  const bytes = new ParsedExprCache({ entriesMax: 100, textBytesMax: 100, textBytesEachMax: 100 });
  for (let i = 0; i < 10; i++) bytes.parse('t', `metric_${i}`);
  // A key is `1:t\0metric_i`, 12 code units: 24 bytes, four in 100.
  t.equal(bytes.size, 4, 'the byte bound holds: four keys of 24 bytes in 100');
  t.equal(bytes.stats.evictions, 6);
  t.throws(() => c.parse('t', 'sum('), OtlpdbError, 'a bad text throws');
  t.throws(() => c.parse('t', 'sum('), OtlpdbError, 'and throws again: not kept');
  t.end();
});

function key(r: PromResult): string {
  const series = (xs: readonly FloatSeries[]): unknown => xs.map((s) => [s.labels, [...s.timestampsMs], [...s.values]]);
  switch (r.kind) {
    case 'vector': return JSON.stringify(r.samples);
    case 'matrix': return JSON.stringify(series(r.series));
    default: return JSON.stringify(r);
  }
}

t.test('the oracle corpus answers the same through the cache (twice) as parsed each time, and never writes a kept tree', async (t) => {
  const series = oracleSeries(makeOracleDataset(7));
  const cache = new ParsedExprCache();
  const opts = { lookbackMs: 300_000, signal: new AbortController().signal };
  const instant = { startMs: OracleT0Ms + 90 * 60_000, endMs: OracleT0Ms + 90 * 60_000, stepMs: 0 };
  const range = { startMs: OracleT0Ms + 60 * 60_000, endMs: OracleT0Ms + 80 * 60_000, stepMs: 60_000 };
  const wrong: string[] = [];
  for (const q of OracleCorpus) {
    for (const r of [instant, range]) {
      const outcome = async (parse?: (text: string) => Expr): Promise<string> => {
        const source = new MemorySeriesSource(series);
        const src = parse === undefined ? source : Object.assign(source, { parse });
        try {
          return key(await promqlEngine.evaluate(q, r, src, opts));
        } catch (err) {
          // A TypeError here is a write to a frozen tree: the evaluator changed a parsed node.
          return err instanceof OtlpdbError ? `error ${err.code}` : `thrown ${String(err)}`;
        }
      };
      const plain = await outcome();
      const scope = cache.scope('t');
      for (const pass of ['miss', 'hit']) {
        const got = await outcome(scope.parse);
        if (got !== plain) wrong.push(`${q} (${r.stepMs === 0 ? 'instant' : 'range'}, ${pass}): ${got.slice(0, 120)}`);
      }
    }
  }
  t.same(wrong, [], `${OracleCorpus.length} queries × instant and range`);
  t.ok(cache.stats.hits >= OracleCorpus.length, 'the second pass hit the cache');
});
