import t from 'tap';
import { SeededRand } from '../fs/seeded-rand.js';
import type { HostPort } from '../node-config.js';
import { httpRequest } from '../node-test-util.js';
import { FaultInjector } from '../transport/faults.js';
import type { Faults } from '../transport/faults.js';
import { AdminApiLimits, TransportLimits } from '../limits.js';
import { bareApiSource, serveApi } from './api-test-util.js';
import type { AdminSource, ApiSource } from './types.js';

/** InjectorAdmin is an AdminSource over a real FaultInjector and a fixed peer set, as a node's transport would be. */
class InjectorAdmin implements AdminSource {
  readonly injector = new FaultInjector(new SeededRand(1));
  readonly #peers: readonly number[];
  constructor(peers: readonly number[]) {
    this.#peers = peers;
  }
  setFaults(peer: number, faults: Faults): void {
    this.injector.set(peer, faults);
  }
  clearFaults(): void {
    this.injector.clear();
  }
  faults(): ReadonlyMap<number, Faults> {
    return this.injector.faults();
  }
  peers(): readonly number[] {
    return this.#peers;
  }
}

function source(admin?: AdminSource): ApiSource {
  return bareApiSource(admin === undefined ? {} : { admin: admin });
}


function put(a: HostPort, path: string, body: string | Buffer) {
  return httpRequest(a, path, 'PUT', typeof body === 'string' ? Buffer.from(body) : body, { 'content-type': 'application/json' });
}

t.test('PUT sets faults per peer, GET lists them, DELETE clears them all', async (t) => {
  const admin = new InjectorAdmin([2, 3]);
  const a = await serveApi(t, source(admin));
  const r = await put(a, '/api/v1/admin/faults/2', '{"dropProbability":0.25,"delayMs":40}');
  t.equal(r.status, 200, r.body);
  t.same(JSON.parse(r.body), { peer: 2, faults: { dropProbability: 0.25, delayMs: 40 } });
  t.equal(admin.injector.delayMs(2), 40, 'the fault reached the injector');
  t.equal((await put(a, '/api/v1/admin/faults/3', '{"duplicateProbability":1,"reorderProbability":0}')).status, 200);

  const list = await httpRequest(a, '/api/v1/admin/faults');
  t.equal(list.status, 200);
  t.same(JSON.parse(list.body), {
    faults: { '2': { dropProbability: 0.25, delayMs: 40 }, '3': { duplicateProbability: 1, reorderProbability: 0 } },
  });

  t.equal((await put(a, '/api/v1/admin/faults/2', '{"reorderProbability":0.5}')).status, 200);
  t.same(admin.faults().get(2), { reorderProbability: 0.5 }, 'a PUT replaces the peer faults, it does not merge');

  const del = await httpRequest(a, '/api/v1/admin/faults', 'DELETE');
  t.equal(del.status, 200);
  t.equal(admin.faults().size, 0, 'every fault cleared');
  t.same(JSON.parse((await httpRequest(a, '/api/v1/admin/faults')).body), { faults: {} });
});

t.test('bad input is 400 ERR_INVALID_ARGUMENT with a message naming the problem; nothing changes', async (t) => {
  const admin = new InjectorAdmin([2]);
  const a = await serveApi(t, source(admin));
  const cases: Array<[string, string | Buffer, RegExp]> = [
    ['not JSON', '{dropProbability:1}', /JSON object/],
    ['empty body', '', /JSON object/],
    ['not UTF-8', Buffer.from([0x7b, 0xff, 0x7d]), /JSON object/],
    ['an array', '[0.5]', /JSON object/],
    ['null', 'null', /JSON object/],
    ['unknown field', '{"dropRate":0.5}', /unknown field.*"dropRate".*allowed: .*dropProbability/],
    ['prototype key', '{"__proto__":{"x":1}}', /unknown field/],
    ['a string value', '{"dropProbability":"0.5"}', /dropProbability must be a number/],
    ['probability above 1', '{"dropProbability":1.5}', /dropProbability must be in \[0, 1\]/],
    ['negative probability', '{"reorderProbability":-0.1}', /reorderProbability must be in \[0, 1\]/],
    ['fractional delay', '{"delayMs":1.5}', /delayMs must be an integer/],
    ['delay past its limit', `{"delayMs":${TransportLimits.faultDelayMsMax + 1}}`, /delayMs must be an integer in \[0, 60000\]/],
  ];
  for (const [name, body, why] of cases) {
    const r = await put(a, '/api/v1/admin/faults/2', body);
    t.equal(r.status, 400, `${name}: 400`);
    t.match(JSON.parse(r.body), { error: { code: 'ERR_INVALID_ARGUMENT', message: why } }, `${name}: message`);
  }
  for (const id of ['0', '-1', 'abc', '02', '1.5', '99999999999', '']) {
    const r = await put(a, `/api/v1/admin/faults/${id}`, '{}');
    if (id === '') {
      t.equal(r.status, 405, 'PUT on the collection is not allowed');
      t.equal(r.headers.allow, 'GET, DELETE');
      continue;
    }
    t.equal(r.status, 400, `peer id ${JSON.stringify(id)}: 400`);
    t.match(JSON.parse(r.body), { error: { code: 'ERR_INVALID_ARGUMENT', message: /peer id must be a positive integer/ } });
  }
  t.equal(admin.faults().size, 0, 'no bad request set a fault');
});

t.test('unknown peer 404, oversized body 413, wrong method 405, no admin source 503', async (t) => {
  const admin = new InjectorAdmin([2]);
  const a = await serveApi(t, source(admin));
  const unknown = await put(a, '/api/v1/admin/faults/7', '{"dropProbability":1}');
  t.equal(unknown.status, 404);
  t.match(JSON.parse(unknown.body), { error: { code: 'ERR_NOT_FOUND', message: /node 7 is not a configured peer/, details: { peer: 7 } } });

  const big = await put(a, '/api/v1/admin/faults/2', `{"delayMs":1${' '.repeat(AdminApiLimits.faultsBodyBytesMax)}}`);
  t.equal(big.status, 413);
  t.match(JSON.parse(big.body), { error: { code: 'ERR_LIMIT_EXCEEDED' } });
  t.equal(admin.faults().size, 0, 'the oversized body set nothing');

  const wrong = await httpRequest(a, '/api/v1/admin/faults/2', 'GET');
  t.equal(wrong.status, 405);
  t.equal(wrong.headers.allow, 'PUT');
  const wrong2 = await httpRequest(a, '/api/v1/admin/faults', 'POST', Buffer.from('{}'));
  t.equal(wrong2.status, 405);

  const b = await serveApi(t, source());
  for (const [method, path] of [
    ['PUT', '/api/v1/admin/faults/2'],
    ['GET', '/api/v1/admin/faults'],
    ['DELETE', '/api/v1/admin/faults'],
  ] as const) {
    const r = await httpRequest(b, path, method, method === 'PUT' ? Buffer.from('{}') : undefined);
    t.equal(r.status, 503, `${method} ${path} without admin`);
    t.match(JSON.parse(r.body), { error: { code: 'ERR_UNAVAILABLE' } });
  }
});
