/**
 * The series-creation fast paths of issue 5 (s17): SeriesRegistry writes an
 * ASCII string of the canonical key byte by byte (encodeInto for any other),
 * and series-identity.ts remembers resource label names. What a user relies
 * on: the key of a series is exactly the canonical form series-registry.ts
 * draws (so ids, collisions and snapshots are unchanged), and a resource
 * attribute's label name is RESOURCE_LABEL_PREFIX + escapeLabelName(key),
 * whatever keys came before.
 */
import t from 'tap';
import { SeededRand } from '../../fs/seeded-rand.js';
import { initHash } from '../../partition/hash.js';
import { PREPARE_NEW, SeriesRegistry } from './series-registry.js';
import type { Label } from './series-registry.js';
import { RESOURCE_LABEL_NAMES_MAX, RESOURCE_LABEL_PREFIX, escapeLabelName, resourceLabelName } from './series-identity.js';

const hasher = await initHash();

/** canonicalKey is the canonical byte form drawn in series-registry.ts, built with Buffer's UTF-8 encoder (labels already sorted, none empty). */
function canonicalKey(tenant: string, name: string, labels: readonly Label[]): string {
  const out: number[] = [];
  const uvarint = (n: number): void => {
    while (n >= 0x80) {
      out.push((n & 0x7f) | 0x80);
      n = Math.floor(n / 128);
    }
    out.push(n);
  };
  const str = (s: string): void => {
    const b = Buffer.from(s, 'utf8');
    uvarint(b.length);
    out.push(...b);
  };
  str(tenant);
  str(name);
  uvarint(labels.length);
  for (const l of labels) {
    str(l.name);
    str(l.value);
  }
  return Buffer.from(out).toString('hex');
}

t.test('series keys equal the canonical form for ASCII, non-ASCII and mixed strings of every length class', async (t) => {
  const rand = new SeededRand(4242);
  const pool = ['a', 'host-1', 'é', 'cpu-é', '日本', 'x😀', 'ü'.repeat(70), 'y'.repeat(130), '', 'ascii-then-é', 'z'.repeat(200) + 'é'];
  const r = new SeriesRegistry(hasher);
  let created = 0;
  for (let i = 0; i < 400; i++) {
    const labels: Label[] = [];
    const n = 1 + rand.intn(5);
    for (let k = 0; k < n; k++) {
      const value = pool[rand.intn(pool.length)] as string;
      if (value !== '') labels.push({ name: `l${k}`, value });
    }
    const name = pool[rand.intn(pool.length)] || 'm';
    const tenant = rand.intn(2) === 0 ? 'default' : 'tenant-é';
    const got = r.prepare(tenant, name, labels);
    const id = got === PREPARE_NEW ? r.create() : got;
    t.ok(id >= 0, 'valid identities are accepted');
    if (got === PREPARE_NEW) created++;
    const want = canonicalKey(tenant, name, labels);
    if (Buffer.from(r.key(id)).toString('hex') !== want) {
      t.fail(`identity ${i}: key ${Buffer.from(r.key(id)).toString('hex')} is not ${want}`);
      return;
    }
  }
  t.ok(created > 100, `${created} series created`);
});

t.test('resourceLabelName is RESOURCE_LABEL_PREFIX + escapeLabelName(key) for seeded keys, past a clear of its memo', async (t) => {
  const rand = new SeededRand(99);
  const keys: string[] = [];
  for (let i = 0; i < RESOURCE_LABEL_NAMES_MAX + 500; i++) keys.push(rand.intn(4) === 0 ? `k.${i}` : rand.intn(2) === 0 ? `key_${i % 700}` : `${i % 300}-é`);
  let wrong = 0;
  for (let round = 0; round < 2; round++) {
    for (const k of keys) {
      if (resourceLabelName(k) !== RESOURCE_LABEL_PREFIX + escapeLabelName(k)) wrong++;
    }
  }
  t.equal(wrong, 0);
});
