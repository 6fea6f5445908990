import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ControlLimits } from '../limits.js';
import { OtlpdbNode } from '../node.js';
import type { HostPort } from '../node-config.js';
import { clusterAddresses, httpRequest, pollUntil } from '../node-test-util.js';
import type { HttpResult } from '../node-test-util.js';
import { parseTtlMs } from './control-routes.js';

// Three real nodes in this process (as in src/node.test.ts). No assertion is
// about speed: every wait is a bounded number of polls.

const NODES = [1, 2, 3] as const;
const TICK_MS = 20;
const POLLS_MAX = 1500;
const POLL_MS = 20;

interface ErrorDoc {
  readonly error: { readonly code: string; readonly message: string };
}

t.test('parseTtlMs accepts ms, s and m within the lock TTL bounds', async (t) => {
  t.equal(parseTtlMs('10s'), 10_000);
  t.equal(parseTtlMs('250ms'), 250);
  t.equal(parseTtlMs('2m'), 120_000);
  for (const bad of [null, '', '10', 's', '1.5s', '-1s', '10h', '1ms', `${ControlLimits.lockTtlMsMax + 1}ms`]) {
    t.throws(() => parseTtlMs(bad), { code: 'ERR_INVALID_ARGUMENT' }, `refuses ${String(bad)}`);
  }
});

t.test('the control KV and locks are served by every node of a three-node cluster', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'otlpdb-kv-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const { peers, apis } = await clusterAddresses(NODES.length);
  const nodes = new Map<number, OtlpdbNode>();
  t.teardown(async () => {
    for (const n of nodes.values()) await n.stop();
  });
  for (const id of NODES) {
    nodes.set(
      id,
      await OtlpdbNode.start({
        id,
        dataDir: join(root, `n${id}`),
        peer: peers.get(id) as HostPort,
        api: apis.get(id) as HostPort,
        initialCluster: peers,
        shards: 1,
        tickMs: TICK_MS,
        seed: 200 + id,
      }),
    );
  }
  const api = (id: number): HostPort => apis.get(id) as HostPort;
  const req = (id: number, path: string, method = 'GET', body?: string, headers: Record<string, string> = {}): Promise<HttpResult> =>
    httpRequest(api(id), path, method, body === undefined ? undefined : Buffer.from(body, 'utf8'), headers);
  const json = <T>(r: HttpResult): T => JSON.parse(r.body) as T;
  const code = (r: HttpResult): string => json<ErrorDoc>(r).error.code;

  for (const id of NODES) {
    t.ok(await pollUntil(async () => (await req(id, '/readyz')).status === 200, POLLS_MAX, POLL_MS), `node ${id} becomes ready`);
  }
  const leader = (): number => [...nodes.values()].find((n) => n.groups().find((g) => g.group === 0)?.isLeader === true)?.nodeId ?? 0;
  t.ok(await pollUntil(async () => leader() !== 0, POLLS_MAX, POLL_MS), 'the meta group has a leader');
  const lead = leader();
  t.ok(lead !== 0, `node ${lead} leads the meta group`);

  // A write through every node (the leader and both followers) reads back through every node.
  let lastRevision = 0;
  for (const w of NODES) {
    const key = `cfg/from-${w}`;
    const put = await req(w, `/api/v1/kv/${encodeURIComponent(key)}`, 'PUT', `value ${w} é`);
    t.equal(put.status, 200, `PUT through node ${w} (${w === lead ? 'leader' : 'follower'})`);
    const doc = json<{ key: string; value: string; modIndex: number; revision: number }>(put);
    t.equal(doc.key, key);
    t.equal(doc.value, `value ${w} é`);
    t.ok(doc.modIndex > 0 && doc.revision >= doc.modIndex, 'modIndex and revision are set');
    t.ok(doc.revision > lastRevision, 'the revision grows');
    lastRevision = doc.revision;
    for (const r of NODES) {
      const got = await req(r, `/api/v1/kv/${encodeURIComponent(key)}`);
      t.equal(got.status, 200, `GET of node ${w}'s write through node ${r}`);
      t.equal(json<{ value: string }>(got).value, `value ${w} é`);
    }
  }

  const list = await req(2, '/api/v1/kv/?prefix=cfg/&limit=2');
  t.equal(list.status, 200);
  const page = json<{ entries: { key: string }[]; more: boolean }>(list);
  t.same(
    page.entries.map((e) => e.key),
    ['cfg/from-1', 'cfg/from-2'],
  );
  t.equal(page.more, true);

  // A retry with the same Idempotency-Key is answered with the first result and applied once, through any node.
  const firstIdem = await req(2, '/api/v1/kv/idem', 'PUT', 'one', { 'idempotency-key': 'retry-1' });
  t.equal(firstIdem.status, 200);
  t.equal((await req(1, '/api/v1/kv/idem', 'PUT', 'two')).status, 200, 'another write in between');
  const retry = await req(3, '/api/v1/kv/idem', 'PUT', 'one', { 'idempotency-key': 'retry-1' });
  t.equal(retry.status, 200);
  t.equal(json<{ modIndex: number }>(retry).modIndex, json<{ modIndex: number }>(firstIdem).modIndex, 'the retry answers the first result');
  t.equal(json<{ value: string }>(await req(2, '/api/v1/kv/idem')).value, 'two', 'and is not applied again');
  const badKey = await req(1, '/api/v1/kv/idem', 'PUT', 'x', { 'idempotency-key': 'has space' });
  t.equal(badKey.status, 400);
  t.equal(code(badKey), 'ERR_INVALID_ARGUMENT');

  // Tenant settings: written through one node, read through another, applied by every node's meta replica.
  const setT = await req(1, '/api/v1/tenants/acme', 'PUT', JSON.stringify({ queryConcurrencyMax: 3, retentionMs: { logs: 3_600_000 } }));
  t.equal(setT.status, 200, `PUT /api/v1/tenants/acme (${setT.body})`);
  const gotT = json<{ configured: boolean; settings: { queryConcurrencyMax: number; retentionMs: { logs: number; traces: number } } }>(
    await req(3, '/api/v1/tenants/acme'),
  );
  t.equal(gotT.configured, true);
  t.equal(gotT.settings.queryConcurrencyMax, 3);
  t.equal(gotT.settings.retentionMs.logs, 3_600_000);
  t.ok(gotT.settings.retentionMs.traces > 0, 'unpatched fields keep their defaults');
  t.same(json<{ tenants: string[] }>(await req(2, '/api/v1/tenants')).tenants, ['acme']);
  t.ok(
    await pollUntil(
      async () =>
        [...nodes.values()].every((n) => {
          const sm = n.driver.stateMachine(0) as unknown as { tenant(id: string): { queryConcurrencyMax: number } };
          return sm.tenant('acme').queryConcurrencyMax === 3;
        }),
      POLLS_MAX,
      POLL_MS,
    ),
    'every node applied the setting from its own meta replica',
  );
  const badT = await req(2, '/api/v1/tenants/acme', 'PUT', JSON.stringify({ queryConcurrencyMax: -1 }));
  t.equal(badT.status, 400, 'a bad setting is refused');
  t.equal((await req(2, '/api/v1/tenants/bad%20id')).status, 400, 'a bad tenant id is refused');
  t.equal((await req(2, '/api/v1/tenants/acme', 'DELETE')).status, 200);
  t.equal(json<{ configured: boolean }>(await req(1, '/api/v1/tenants/acme')).configured, false, 'back to the defaults');

  // Compare-and-set and create-only.
  const follower = NODES.find((id) => id !== lead) as number;
  for (const id of [lead, follower]) {
    const key = `/api/v1/kv/cas-${id}`;
    t.equal((await req(id, `${key}?prevExist=false`, 'PUT', 'a')).status, 200, 'create-only on an absent key');
    const again = await req(id, `${key}?prevExist=false`, 'PUT', 'b');
    t.equal(again.status, 409, 'create-only on a present key');
    t.equal(code(again), 'ERR_CONFLICT');
    const wrong = await req(id, `${key}?prevValue=zzz`, 'PUT', 'b');
    t.equal(wrong.status, 409, 'CAS with a wrong expectation');
    t.equal(code(wrong), 'ERR_CONFLICT');
    t.equal((await req(id, `${key}?prevValue=a`, 'PUT', 'b')).status, 200, 'CAS with the right expectation');
    t.equal(json<{ value: string }>(await req(id, key)).value, 'b');
    // Delete, then 404 for reads and deletes.
    t.equal((await req(id, key, 'DELETE')).status, 200, 'delete a present key');
    for (const r of NODES) {
      const gone = await req(r, key);
      t.equal(gone.status, 404, `deleted key is absent through node ${r}`);
      t.equal(code(gone), 'ERR_NOT_FOUND');
    }
    const twice = await req(id, key, 'DELETE');
    t.equal(twice.status, 404, 'delete of an absent key');
    t.equal(code(twice), 'ERR_NOT_FOUND');
  }

  // Limits and malformed input.
  const big = await req(follower, '/api/v1/kv/big', 'PUT', 'x'.repeat(ControlLimits.kvValueBytesMax + 1));
  t.equal(big.status, 413, 'a value over kvValueBytesMax');
  t.equal(code(big), 'ERR_LIMIT_EXCEEDED');
  t.equal((await req(follower, '/api/v1/kv/big', 'PUT', 'x'.repeat(ControlLimits.kvValueBytesMax))).status, 200, 'a value of exactly kvValueBytesMax');
  const longKey = await req(lead, `/api/v1/kv/${'k'.repeat(ControlLimits.kvKeyBytesMax + 1)}`, 'PUT', 'v');
  t.equal(longKey.status, 413, 'a key over kvKeyBytesMax');
  t.equal((await req(lead, '/api/v1/kv/%zz', 'GET')).status, 400, 'a key that is not percent-encoding');
  t.equal((await req(lead, '/api/v1/kv/x', 'POST')).status, 405, 'POST on a key');

  // Locks: acquire, a second acquirer is refused, release with the token, acquire again with a larger token.
  const acquire = (id: number, owner: string, ttl = '30s'): Promise<HttpResult> =>
    req(id, `/api/v1/locks/leader-election?ttl=${ttl}`, 'POST', undefined, { 'x-otlpdb-owner': owner });
  const first = await acquire(follower, 'alice');
  t.equal(first.status, 200, 'acquire through a follower');
  const held = json<{ token: number; expiresAtMs: number }>(first);
  t.ok(held.token >= 1 && held.expiresAtMs > 0, 'a token and a lease end');
  const second = await acquire(lead, 'bob');
  t.equal(second.status, 409, 'a second acquirer is refused while the lock is held');
  t.equal(code(second), 'ERR_CONFLICT');
  const stale = await req(lead, `/api/v1/locks/leader-election?token=${held.token + 1000}`, 'DELETE');
  t.equal(stale.status, 409, 'release with a wrong token');
  t.equal((await req(lead, `/api/v1/locks/leader-election?token=${held.token}`, 'DELETE')).status, 200, 'release with the token');
  const third = await acquire(follower, 'bob');
  t.equal(third.status, 200, 'acquire after the release');
  t.ok(json<{ token: number }>(third).token > held.token, 'the new token is larger');

  const badTtl = await acquire(lead, 'carol', '10h');
  t.equal(badTtl.status, 400, 'a TTL with an unknown unit');
  t.equal(code(badTtl), 'ERR_INVALID_ARGUMENT');
  t.equal((await req(lead, '/api/v1/locks/x', 'POST')).status, 400, 'an acquire without a TTL');
  t.equal((await req(lead, '/api/v1/locks/x?token=abc', 'DELETE')).status, 400, 'a release with a malformed token');

  // A short lease ends and the leader's lockExpire drops it (bounded polling, no timing assertion).
  t.equal((await req(follower, '/api/v1/locks/short?ttl=100ms', 'POST')).status, 200, 'acquire a short lease');
  const leadNode = nodes.get(lead) as OtlpdbNode;
  const expired = await pollUntil(
    async () => {
      await leadNode.control.kvGet('cfg/from-1'); // a read barrier, so the local state is current
      const sm = leadNode.driver.stateMachine(0) as unknown as { lock(name: string): unknown };
      return sm.lock('short') === null;
    },
    POLLS_MAX,
    POLL_MS,
  );
  t.ok(expired, 'the meta leader expires an ended lease');

  for (const n of nodes.values()) t.equal(n.driver.failure, null, `node ${n.nodeId} never failed`);
});
