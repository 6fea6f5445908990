/**
 * stale-markers.test.ts — eval-types.ts mayHoldNaN and dropStaleMarkers:
 * mayHoldNaN is true exactly when an array holds a NaN or an infinity, for
 * every length 0-13 and every position of the one special value (the
 * four-at-a-time part and the tail); dropStaleMarkers removes exactly the
 * staleness markers (not other NaNs) and answers the same series when
 * there are none.
 *
 * Planted in eval-types.ts and caught (each reverted): the tail loop
 * dropped ("length 1, NaN at 0"), the fourth value of each group left out
 * ("length 4, NaN at 3"), mayHoldNaN always false ("length 1, NaN at 0" and
 * "a marker at 2 is removed").
 */
import t from 'tap';
import { STALE_NAN, dropStaleMarkers, mayHoldNaN } from './eval-types.js';

t.test('mayHoldNaN is true exactly when a NaN or an infinity is there, at every position and length', async (t) => {
  let checked = 0;
  for (let n = 0; n <= 13; n++) {
    const plain = Float64Array.from({ length: n }, (_, j) => j * 1.5 - 3);
    t.equal(mayHoldNaN(plain), false, `length ${n}, plain`);
    for (const special of [NaN, STALE_NAN, Infinity, -Infinity]) {
      for (let at = 0; at < n; at++) {
        const a = Float64Array.from(plain);
        a[at] = special;
        if (!mayHoldNaN(a)) {
          t.fail(`length ${n}, ${special} at ${at}`);
          return;
        }
        checked++;
      }
    }
  }
  t.equal(checked, 4 * 91, 'every position of every length');
  t.equal(mayHoldNaN(Float64Array.of(-0, 0, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE)), false, 'extremes are not NaN');
});

t.test('dropStaleMarkers removes the markers only, and answers the same series without them', async (t) => {
  const labels = [{ name: '__name__', value: 'm' }];
  const plain = { labels, timestampsMs: Float64Array.of(1, 2, 3, 4, 5), values: Float64Array.of(1, 2, 3, 4, 5) };
  t.equal(dropStaleMarkers(plain), plain, 'no marker: the same series');
  const nan = { labels, timestampsMs: Float64Array.of(1, 2, 3), values: Float64Array.of(1, NaN, Infinity) };
  t.equal(dropStaleMarkers(nan), nan, 'a NaN that is not a marker stays');
  const marked = { labels, timestampsMs: Float64Array.of(1, 2, 3, 4, 5), values: Float64Array.of(1, 2, STALE_NAN, NaN, 5) };
  const out = dropStaleMarkers(marked);
  t.same([...out.timestampsMs], [1, 2, 4, 5], 'a marker at 2 is removed');
  t.ok(Number.isNaN(out.values[2]) && out.values[3] === 5, 'the other NaN kept in place');
});
