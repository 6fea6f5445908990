/**
 * prom-json.test.ts — a query answer's `data` written as text
 * (prom-routes.ts queryDataJson, prom-json.ts matrixResultJson) is byte for
 * byte what JSON.stringify makes of the object form, over seeded matrices
 * with every kind of value formatPromFloat spells (-0, NaN, ±Inf, tiny,
 * huge, fractions) and labels that need escaping, with and without stats;
 * and where an object would differ (a `__proto__` label, an index-like name,
 * a name twice) the object form is written.
 * The answer a node sends for a matrix (prom-routes.ts queryAnswer: UTF-8
 * bytes, prom-json.ts matrixAnswerBytes) is that text's UTF-8 encoding with
 * the success wrapper, stats and warnings, byte for byte, whether its buffer
 * starts at its guess or at one byte (grown at every size), and is refused
 * with ERR_LIMIT_EXCEEDED one byte past its bound.
 * Planted: a writer that rounds times to whole seconds is caught.
 */
import t from 'tap';
import { SeededRand } from '../fs/seeded-rand.js';
import { matrixResultJson } from './prom-json.js';
import { matrixAnswerBytes } from './prom-json.js';
import { queryAnswer, queryDataJson } from './prom-routes.js';
import type { SourceStats } from '../query/promql/source.js';
import type { FloatSeries, PromResult } from '../query/promql/source.js';

const VALUES = [0, -0, NaN, Infinity, -Infinity, 1e-7, 1.5e-300, 5e-324, 1e21, 123456789012345680000, -2.5, 0.1 + 0.2, 1 / 3, 2 ** 53, 42];
const NAMES = ['app', 'job', 'le', 'quantile', 'x_y'];
const VALUE_TEXTS = ['a', 'quote"d', 'back\\slash', 'tab\tnew\nline', 'ü€😀', '', '\u0001', '0.5', 'lone \ud800 surrogate', '\u2028'];

function seededMatrix(seed: number): FloatSeries[] {
  const rand = new SeededRand(seed);
  const out: FloatSeries[] = [];
  for (let k = 0; k < 6; k++) {
    const labels = NAMES.filter(() => rand.intn(2) === 0).map((name) => ({ name, value: VALUE_TEXTS[rand.intn(VALUE_TEXTS.length)] as string }));
    const n = rand.intn(40);
    const ts = new Float64Array(n);
    const vs = new Float64Array(n);
    let t0 = 1_700_000_000_000 + rand.intn(1000);
    for (let i = 0; i < n; i++) {
      t0 += 1 + rand.intn(90_000);
      ts[i] = t0;
      vs[i] = rand.intn(3) === 0 ? (VALUES[rand.intn(VALUES.length)] as number) : (rand.intn(2_000_000) - 1_000_000) / (1 + rand.intn(1000));
    }
    out.push({ labels, timestampsMs: ts, values: vs });
  }
  return out;
}

const STATS = { timings: { evalTotalTime: 0.125 }, samples: { totalQueryableSamples: 12, peakSamples: 0 }, otlpdb: { partialFailures: [{ shard: 3, code: 'ERR_X', message: 'm"' }] } };

t.test('the text is JSON.stringify of the object form, byte for byte', async (t) => {
  for (let seed = 1; seed <= 40; seed++) {
    const r: PromResult = { kind: 'matrix', series: seededMatrix(seed) };
    for (const stats of [undefined, STATS]) {
      const direct = queryDataJson(r, stats);
      const object = queryDataJson(r, stats, false);
      if (direct !== object) {
        t.fail(`seed ${seed}: ${direct.slice(0, 200)} vs ${object.slice(0, 200)}`);
        return;
      }
    }
  }
  t.pass('40 seeded matrices, with and without stats');
  const parsed = JSON.parse(queryDataJson({ kind: 'matrix', series: [{ labels: [{ name: 'a', value: 'b' }], timestampsMs: Float64Array.of(1500, 2000), values: Float64Array.of(-0, NaN) }] }, undefined)) as unknown;
  t.same(parsed, { resultType: 'matrix', result: [{ metric: { a: 'b' }, values: [[1.5, '0'], [2, 'NaN']] }] }, 'Prometheus\'s shape');
});

t.test('where an object would differ, the object form is written', async (t) => {
  const one = (labels: FloatSeries['labels']): FloatSeries[] => [{ labels, timestampsMs: Float64Array.of(1000), values: Float64Array.of(1) }];
  for (const labels of [[{ name: '__proto__', value: 'x' }], [{ name: 'b', value: '1' }, { name: '0', value: '2' }], [{ name: 'a', value: '1' }, { name: 'a', value: '2' }]]) {
    t.equal(matrixResultJson(one(labels)), null, `labels ${JSON.stringify(labels)}`);
    const r: PromResult = { kind: 'matrix', series: one(labels) };
    t.equal(queryDataJson(r, undefined), queryDataJson(r, undefined, false), 'the object form\'s bytes');
  }
});

t.test('planted: a writer that rounds times to whole seconds is caught', async (t) => {
  const r: PromResult = { kind: 'matrix', series: seededMatrix(7) };
  const object = queryDataJson(r, undefined, false);
  const rounded = JSON.stringify({ resultType: 'matrix', result: JSON.parse(`[${(matrixResultJson(r.series) as string).slice(1, -1)}]`, (k, v: unknown) => (typeof v === 'number' ? Math.round(v) : v)) as unknown });
  t.not(rounded, object, 'rounded times differ');
});

/** bodyText is an answer's body as text (its bytes decoded as UTF-8). */
function bodyText(body: string | Uint8Array): string {
  return typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
}

const PARTIAL: SourceStats = { shardsAsked: 16, seriesRead: 0, samplesRead: 0, samplesHeld: 0, rollupPointsRead: 0, bytesRead: 0, partialFailures: [{ shard: 5, code: 'ERR_UNAVAILABLE', message: 'gone "away" ü' }] };

t.test('a matrix answer\'s bytes are the object form\'s text as UTF-8, grown from any size', async (t) => {
  let compared = 0;
  for (let seed = 1; seed <= 40; seed++) {
    const r: PromResult = { kind: 'matrix', series: seededMatrix(seed) };
    for (const stats of [undefined, STATS]) {
      for (const source of [null, PARTIAL]) {
        const a = queryAnswer(r, stats, source);
        t.equal(a.status, 200);
        t.type(a.body, Uint8Array, 'a matrix is written as bytes');
        const warnings = source === null ? '' : `,"warnings":${JSON.stringify(['shard 5 did not answer (ERR_UNAVAILABLE): gone "away" ü'])},"partial":true`;
        const want = `{"status":"success","data":${queryDataJson(r, stats, false)}${warnings}}`;
        if (bodyText(a.body) !== want || !Buffer.from(want, 'utf8').equals(a.body as Uint8Array)) {
          t.fail(`seed ${seed}: ${bodyText(a.body).slice(0, 200)} vs ${want.slice(0, 200)}`);
          return;
        }
        compared++;
      }
    }
    // From one byte the buffer grows at every size a seed's text passes through: the same bytes.
    const guessed = matrixAnswerBytes(r.series, 'head ü', 'tail') as Buffer;
    const grown = matrixAnswerBytes(r.series, 'head ü', 'tail', 1) as Buffer;
    if (!guessed.equals(grown)) {
      t.fail(`seed ${seed}: grown from one byte differs`);
      return;
    }
  }
  t.equal(compared, 160, '40 seeded matrices × stats × warnings');
  const lone = queryAnswer({ kind: 'matrix', series: [{ labels: [{ name: 'a', value: '\udc00x' }], timestampsMs: Float64Array.of(1500), values: Float64Array.of(1) }] }, undefined, null);
  t.equal(bodyText(lone.body), '{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"\\udc00x"},"values":[[1.5,"1"]]}]}}', 'a lone surrogate is escaped, as JSON.stringify does');
});

t.test('a matrix answer past its bound is refused with ERR_LIMIT_EXCEEDED', async (t) => {
  const series = seededMatrix(3);
  const whole = matrixAnswerBytes(series, '{', '}') as Buffer;
  for (const initial of [undefined, 1, whole.length]) {
    t.ok((matrixAnswerBytes(series, '{', '}', initial, whole.length) as Buffer).equals(whole), `exactly the bound is written (initial ${String(initial)})`);
    t.throws(() => matrixAnswerBytes(series, '{', '}', initial, whole.length - 1), { code: 'ERR_LIMIT_EXCEEDED' }, `one byte past the bound (initial ${String(initial)})`);
  }
});

t.test('a vector, a scalar, or a matrix whose object form differs is answered as text', async (t) => {
  const v: PromResult = { kind: 'vector', samples: [{ labels: [{ name: 'a', value: 'b' }], timestampMs: 1000, value: 2 }] };
  t.equal(queryAnswer(v, undefined, null).body, `{"status":"success","data":${queryDataJson(v, undefined)}}`);
  const proto: PromResult = { kind: 'matrix', series: [{ labels: [{ name: '__proto__', value: 'x' }, { name: 'b', value: 'y' }], timestampsMs: Float64Array.of(1000), values: Float64Array.of(1) }] };
  t.equal(queryAnswer(proto, undefined, null).body, `{"status":"success","data":${queryDataJson(proto, undefined, false)}}`);
});
