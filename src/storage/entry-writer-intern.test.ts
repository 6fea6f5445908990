/**
 * EntryWriter's resource and scope tables (issue 5, s17): a resource or scope
 * is found by identity, else by its bytes, compared one by one in a short
 * table and through a map from INTERN_SCAN_ENTRIES_MAX (8) entries on. What
 * a user relies on: the entry's bytes are exactly msgpackr's (the 'packed'
 * path of encodeShardEntry), whatever the number of distinct resources, and
 * equal resources sent as different objects share one table entry.
 */
import t from 'tap';
import { SeededRand } from '../fs/seeded-rand.js';
import { EntryWriter } from './entry-writer.js';
import type { MetricPointRow, Resource, Scope } from './rows.js';
import { SHARD_ENTRY_VERSION, decodeShardEntry, encodeShardEntry } from './shard-entry.js';
import type { ShardEntry } from './shard-entry.js';

const KEY = '00112233445566aa';

/** resourceOf is a new Resource object for host `h`: hosts of one digit count encode to bytes of equal length. */
function resourceOf(h: number): Resource {
  return { attributes: [{ key: 'host.name', value: { type: 'string', value: `host-${h}` } }], droppedAttributesCount: 0, schemaUrl: '' };
}

function scopeOf(s: number): Scope {
  return { name: `scope-${s}`, version: '1', attributes: [], droppedAttributesCount: 0, schemaUrl: '' };
}

function pointOf(res: Resource, scope: Scope, i: number): MetricPointRow {
  return {
    tenant: 'default',
    name: 'm',
    description: '',
    unit: '',
    data: { type: 'gauge', value: { type: 'double', value: i / 4 } },
    attributes: [{ key: 'cpu', value: { type: 'string', value: String(i % 5) } }],
    startTimeUnixNano: 0n,
    timeUnixNano: 1_790_000_000_000_000_000n + BigInt(i),
    flags: 0,
    exemplars: [],
    resource: res,
    scope,
  };
}

t.test('tables of 1 to 40 distinct resources and scopes, each sent as new objects: the writer writes msgpackr\'s bytes', async (t) => {
  const rand = new SeededRand(51717);
  const w = new EntryWriter();
  let checked = 0;
  for (const distinct of [1, 2, 7, 8, 9, 15, 16, 40]) {
    for (let round = 0; round < 4; round++) {
      const points: MetricPointRow[] = [];
      const n = distinct * 3;
      for (let i = 0; i < n; i++) {
        // A new object for every point: only the bytes say two resources are equal.
        const h = rand.intn(distinct);
        points.push(pointOf(resourceOf(h), scopeOf(rand.intn(Math.min(distinct, 12))), i));
      }
      const e: ShardEntry = { version: SHARD_ENTRY_VERSION, tenant: 'default', idempotencyKey: KEY, part: 0, parts: 1, leaderTimeMs: 1_790_000_000_123, spans: [], points, logs: [] };
      const direct = w.writeEntry(e.version, e.tenant, e.idempotencyKey, e.part, e.parts, e.leaderTimeMs, e.spans, e.points, e.logs);
      const packed = encodeShardEntry(e, 'packed');
      if (direct === null) {
        t.fail(`${distinct} distinct: the writer declined`);
        continue;
      }
      t.same(Buffer.from(direct).toString('hex'), Buffer.from(packed).toString('hex'), `${distinct} distinct, round ${round}`);
      const back = decodeShardEntry(direct);
      t.equal(new Set(back.points.map((p) => p.resource)).size, new Set(points.map((p) => (p.resource.attributes[0]?.value as { value: string }).value)).size, 'one table entry per distinct resource');
      checked++;
    }
  }
  t.equal(checked, 32);
});
