/**
 * clock-routes.test.ts — PUT/GET/DELETE /api/v1/admin/clock through the
 * real API server: the offset moves the wall clock the source reports, is
 * bounded, refuses anything but {"offsetMs": integer} with
 * ERR_INVALID_ARGUMENT and changes nothing then; a node without a clock
 * answers 503 ERR_UNAVAILABLE. The wall clock is a counter, not Date.now(),
 * so no assertion depends on the time of day.
 */
import t from 'tap';
import type { HostPort } from '../node-config.js';
import { httpRequest } from '../node-test-util.js';
import { AdminApiLimits } from '../limits.js';
import { bareApiSource, serveApi } from './api-test-util.js';
import type { ApiSource, WallClockSource } from './types.js';

/** FixedClock is a WallClockSource whose base time is fixed, so wallMs is exactly base + offset. */
class FixedClock implements WallClockSource {
  #offsetMs = 0;
  constructor(readonly baseMs: number) {}
  offsetMs(): number {
    return this.#offsetMs;
  }
  setOffsetMs(ms: number): void {
    this.#offsetMs = ms;
  }
  wallMs(): number {
    return this.baseMs + this.#offsetMs;
  }
}

function source(clock?: WallClockSource): ApiSource {
  return bareApiSource(clock === undefined ? {} : { clock: clock });
}


function put(a: HostPort, body: string) {
  return httpRequest(a, '/api/v1/admin/clock', 'PUT', Buffer.from(body), { 'content-type': 'application/json' });
}

t.test('PUT sets the offset, GET reads it with the skewed wall clock, DELETE resets it', async (t) => {
  const clock = new FixedClock(1_000_000);
  const a = await serveApi(t, source(clock));
  const r = await put(a, '{"offsetMs":-5000}');
  t.equal(r.status, 200, r.body);
  t.same(JSON.parse(r.body), { offsetMs: -5000, wallMs: 995_000 });
  t.equal(clock.offsetMs(), -5000, 'the offset reached the clock');
  t.same(JSON.parse((await httpRequest(a, '/api/v1/admin/clock')).body), { offsetMs: -5000, wallMs: 995_000 });
  const del = await httpRequest(a, '/api/v1/admin/clock', 'DELETE');
  t.equal(del.status, 200);
  t.equal(clock.offsetMs(), 0, 'DELETE resets the offset');
  t.equal((await put(a, `{"offsetMs":${AdminApiLimits.clockOffsetMsMax}}`)).status, 200, 'the bound itself is allowed');
});

t.test('bad input is 400 ERR_INVALID_ARGUMENT and changes nothing; other methods 405; no clock 503', async (t) => {
  const clock = new FixedClock(0);
  clock.setOffsetMs(7);
  const a = await serveApi(t, source(clock));
  for (const body of ['', '[]', 'null', '{"offsetMs":"5"}', '{"offsetMs":1.5}', '{"offsetMs":1,"x":2}', '{"skew":1}', `{"offsetMs":${AdminApiLimits.clockOffsetMsMax + 1}}`, `{"offsetMs":${-AdminApiLimits.clockOffsetMsMax - 1}}`]) {
    const r = await put(a, body);
    t.equal(r.status, 400, `${body}: 400`);
    t.equal((JSON.parse(r.body) as { error: { code: string } }).error.code, 'ERR_INVALID_ARGUMENT');
  }
  t.equal(clock.offsetMs(), 7, 'no bad request changed the offset');
  const post = await httpRequest(a, '/api/v1/admin/clock', 'POST', Buffer.from('{}'));
  t.equal(post.status, 405);
  t.equal(post.headers['allow'], 'GET, PUT, DELETE');
  const b = await serveApi(t, source());
  const none = await put(b, '{"offsetMs":1}');
  t.equal(none.status, 503);
  t.equal((JSON.parse(none.body) as { error: { code: string } }).error.code, 'ERR_UNAVAILABLE');
});

t.test('planted bug: a clock that ignores the offset is caught by GET', async (t) => {
  class Stuck extends FixedClock {
    override wallMs(): number {
      return this.baseMs;
    }
  }
  const a = await serveApi(t, source(new Stuck(1_000)));
  await put(a, '{"offsetMs":250}');
  const doc = JSON.parse((await httpRequest(a, '/api/v1/admin/clock')).body) as { offsetMs: number; wallMs: number };
  t.not(doc.wallMs, 1_000 + doc.offsetMs, 'the skew did not reach the wall clock, and the document shows it');
});
