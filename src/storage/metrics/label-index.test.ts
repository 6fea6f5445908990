import t from 'tap';
import { MetricHeadLimits } from '../../limits.js';
import { SeededRand } from '../../fs/seeded-rand.js';
import { LabelIndex, type Matcher, compileMatchers } from './label-index.js';
import { Oracle, randomMatchers } from './head-test-util.js';

/**
 * The fixture: tenant t holds
 *   0 up{job="api", env="prod"}   1 up{job="api"}   2 up{job="db", env="dev"}   3 cpu{job="db"}
 * and tenant u holds 4 up{job="api", env="prod"}.
 */
function fixture(): LabelIndex {
  const idx = new LabelIndex();
  idx.add(0, 't', 'up', [{ name: 'env', value: 'prod' }, { name: 'job', value: 'api' }]);
  idx.add(1, 't', 'up', [{ name: 'job', value: 'api' }]);
  idx.add(2, 't', 'up', [{ name: 'env', value: 'dev' }, { name: 'job', value: 'db' }]);
  idx.add(3, 't', 'cpu', [{ name: 'job', value: 'db' }]);
  idx.add(4, 'u', 'up', [{ name: 'env', value: 'prod' }, { name: 'job', value: 'api' }]);
  return idx;
}

const name = (v: string): Matcher => ({ name: '__name__', op: '=', value: v });
const sel = (idx: LabelIndex, ...ms: Matcher[]): number[] => [...idx.select('t', ms)];

t.test('Prometheus matcher semantics', async (t) => {
  const idx = fixture();
  t.same(sel(idx, name('up')), [0, 1, 2]);
  t.same(sel(idx, name('up'), { name: 'job', op: '=', value: 'api' }), [0, 1]);
  t.same(sel(idx, name('up'), { name: 'job', op: '!=', value: 'api' }), [2]);
  t.same(sel(idx, name('up'), { name: 'env', op: '=', value: '' }), [1], 'env="" selects series without env');
  t.same(sel(idx, name('up'), { name: 'env', op: '!=', value: '' }), [0, 2], 'env!="" selects series with env');
  t.same(sel(idx, name('up'), { name: 'env', op: '!=', value: 'prod' }), [1, 2], '!= keeps series without the label');
  t.same(sel(idx, { name: 'job', op: '=~', value: 'a.*' }), [0, 1]);
  t.same(sel(idx, { name: 'job', op: '=~', value: 'p' }), [], '=~ is fully anchored');
  t.same(sel(idx, { name: '__name__', op: '=~', value: 'up|cpu' }), [0, 1, 2, 3]);
  t.same(sel(idx, name('up'), { name: 'env', op: '=~', value: 'prod|' }), [0, 1], 'a regex matching "" keeps series without the label');
  t.same(sel(idx, name('up'), { name: 'env', op: '!~', value: 'p.*' }), [1, 2]);
  t.same(sel(idx, name('up'), { name: 'nope', op: '=', value: '' }), [0, 1, 2], 'a missing label equals ""');
  t.same(sel(idx, name('up'), { name: 'nope', op: '=', value: 'x' }), []);
  t.same(sel(idx, { name: 'job', op: '=~', value: '.+' }), [0, 1, 2, 3]);
  t.same(sel(idx, name('nope')), []);
  t.same([...idx.select('nobody', [name('up')])], [], 'an unknown tenant sees nothing');
  t.same([...idx.select('u', [name('up')])], [4], 'tenant u sees its own series only');
});

t.test('selector errors: Prometheus refusals are ERR_INVALID_ARGUMENT, bounds ERR_LIMIT_EXCEEDED', async (t) => {
  const idx = fixture();
  t.throws(() => idx.select('t', []), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => idx.select('t', [{ name: 'job', op: '=', value: '' }]), { code: 'ERR_INVALID_ARGUMENT' }, 'every matcher matches ""');
  t.throws(() => idx.select('t', [{ name: 'job', op: '=~', value: '.*' }]), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => idx.select('t', [{ name: 'job', op: '!=', value: 'api' }]), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => idx.select('t', [{ name: 'job', op: '=~', value: '(' }]), { code: 'ERR_INVALID_ARGUMENT' }, 'malformed regex');
  t.throws(() => idx.select('t', [{ name: 'job', op: '=~', value: 'a'.repeat(MetricHeadLimits.regexBytesMax + 1) }]), { code: 'ERR_LIMIT_EXCEEDED' });
  t.throws(() => idx.select('t', Array.from({ length: MetricHeadLimits.matchersMax + 1 }, () => name('up'))), { code: 'ERR_LIMIT_EXCEEDED' });
  t.throws(() => idx.select('t', [{ name: 'job', op: '==' as '=', value: 'x' }]), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => idx.select('t', [{ name: '', op: '=', value: 'x' }]), { code: 'ERR_INVALID_ARGUMENT' });
  t.ok(compileMatchers([name('up')])[0]?.matches('up'));
});

t.test('labelNames and labelValues are sorted and tenant-scoped', async (t) => {
  const idx = fixture();
  t.same(idx.labelNames('t'), ['__name__', 'env', 'job']);
  t.same(idx.labelValues('t', 'job'), ['api', 'db']);
  t.same(idx.labelValues('t', '__name__'), ['cpu', 'up']);
  t.same(idx.labelValues('u', 'env'), ['prod']);
  t.same(idx.labelValues('u', 'nope'), []);
  t.same(idx.labelNames('nobody'), []);
  t.equal(idx.pairs, 9);
  t.equal(idx.postings, 13);
});

t.test('ids must be added increasing', async (t) => {
  const idx = fixture();
  t.throws(() => idx.add(4, 't', 'up', []), { code: 'ERR_INTERNAL' });
});

t.test('a many-valued regex (the sort-merge path) agrees with the oracle', async (t) => {
  const idx = new LabelIndex();
  const oracle = new Oracle(1_000_000);
  const rand = new SeededRand(99);
  for (let id = 0; id < 2000; id++) {
    const labels = [{ name: 'i', value: String(id) }, { name: 'pod', value: `p${rand.intn(300)}` }];
    idx.add(id, 't', 'up', labels);
    oracle.append('t', 'up', labels, 0, 0);
  }
  for (const m of [
    { name: 'pod', op: '=~', value: 'p1.*' },
    { name: 'pod', op: '!~', value: 'p2.' },
    { name: 'pod', op: '=~', value: 'p(1|2|3)0' },
  ] as Matcher[]) {
    t.same([...idx.select('t', [name('up'), m])], oracle.select('t', [name('up'), m]), JSON.stringify(m));
  }
  let agree = 0;
  for (let q = 0; q < 200; q++) {
    const ms = randomMatchers(rand);
    const want = oracle.select('t', ms);
    let got: number[] | 'invalid';
    try {
      got = [...idx.select('t', ms)];
    } catch {
      got = 'invalid';
    }
    if (JSON.stringify(got) === JSON.stringify(want)) agree++;
    else t.fail(`${JSON.stringify(ms)}: ${JSON.stringify(got)} vs ${JSON.stringify(want)}`);
  }
  t.equal(agree, 200);
});
