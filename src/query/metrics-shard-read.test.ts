import t from 'tap';
import { SeededRand } from '../fs/seeded-rand.js';
import { LabelIndex } from '../storage/metrics/label-index.js';
import type { Matcher } from '../storage/metrics/label-index.js';

// metrics-shard-read.ts lists a tenant's series with `otel_type != ""`
// instead of `otel_type =~ ".+"` (no regex compiled per shard part). The two
// select the same series on any index: every series carrying otel_type, in
// this tenant only. Seeded random series, some without otel_type.

const NOT_EMPTY: readonly Matcher[] = [{ name: 'otel_type', op: '!=', value: '' }];
const ANY_VALUE: readonly Matcher[] = [{ name: 'otel_type', op: '=~', value: '.+' }];

t.test('otel_type != "" selects exactly what otel_type =~ ".+" does', async (t) => {
  const rand = new SeededRand(15);
  const idx = new LabelIndex();
  const carrying: number[] = [];
  for (let id = 1; id <= 400; id++) {
    const tenant = rand.intn(4) === 0 ? 'other' : 'acme';
    const labels = [{ name: 'pod', value: `p-${rand.intn(20)}` }];
    const typed = rand.intn(5) !== 0;
    if (typed) labels.push({ name: 'otel_type', value: ['gauge', 'sum', 'histogram'][rand.intn(3)] as string });
    labels.sort((a, b) => (a.name < b.name ? -1 : 1));
    idx.add(id, tenant, 'm', labels);
    if (typed && tenant === 'acme') carrying.push(id);
  }
  t.ok(carrying.length > 100 && carrying.length < 400, 'some series carry otel_type, some do not');
  t.same([...idx.select('acme', NOT_EMPTY)], carrying, 'every acme series carrying otel_type');
  t.same([...idx.select('acme', NOT_EMPTY)], [...idx.select('acme', ANY_VALUE)], 'the same as the regex');
  // Planted bug: a narrower listing (one type only) would lose series; the check above would catch it.
  t.not([...idx.select('acme', [{ name: 'otel_type', op: '=', value: 'gauge' }])].length, carrying.length, 'a wrong matcher is seen');
});
