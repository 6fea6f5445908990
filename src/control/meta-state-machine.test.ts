import t from 'tap';
import { initHash } from '../partition/hash.js';
import { computePlacement } from '../partition/placement.js';
import { EntryType } from '../raft/types.js';
import { ControlLimits } from '../limits.js';
import { COMMAND_FORMAT_VERSION, decodeMetaCommand, decodeMetaResult, encodeMetaCommand } from './meta-command.js';
import type { MetaResult } from './meta-command.js';
import { META_SNAPSHOT_VERSION, META_SNAPSHOT_VERSION_V1 } from './meta-snapshot.js';
import { MetaStateMachine } from './meta-state-machine.js';
import { TenantDefaults } from './tenant.js';
import { MetaRunner } from './test-helpers.js';
import { pack } from 'msgpackr';

const refusedCode = (r: MetaResult): string | null => (r.kind === 'refused' ? r.code : null);

t.test('KV put/get/delete/cas with per-key modification index and global revision', async (t) => {
  const m = new MetaRunner();
  const r1 = m.run({ op: 'kvPut', key: 'a', value: '1' }); // index 1
  t.same(r1, { kind: 'kv', ok: true, prev: null, prevModIndex: 0, modIndex: 1, revision: 1 });
  m.run({ op: 'kvPut', key: 'b', value: '2' }); // index 2
  const r3 = m.run({ op: 'kvPut', key: 'a', value: '3' }); // index 3
  t.same(r3, { kind: 'kv', ok: true, prev: '1', prevModIndex: 1, modIndex: 3, revision: 3 });
  t.same(m.sm.get('a'), { key: 'a', value: '3', createIndex: 1, modIndex: 3 }, 'createIndex kept, modIndex moves');
  t.equal(m.sm.get('zz'), null);

  // CAS on a value: mismatch is ok=false (409) and changes nothing, not even the revision.
  const bad = m.run({ op: 'kvCas', key: 'a', expected: '1', value: 'x' }); // index 4
  t.same(bad, { kind: 'kv', ok: false, prev: '3', prevModIndex: 3, modIndex: 3, revision: 3 });
  const good = m.run({ op: 'kvCas', key: 'a', expected: '3', value: 'x' }); // index 5
  t.same(good, { kind: 'kv', ok: true, prev: '3', prevModIndex: 3, modIndex: 5, revision: 5 });
  // CAS on absence.
  t.equal(m.run({ op: 'kvCas', key: 'a', expected: null, value: 'y' }).ok, false, 'absent-CAS fails on a present key');
  t.same(m.run({ op: 'kvCas', key: 'c', expected: null, value: 'y' }), { kind: 'kv', ok: true, prev: null, prevModIndex: 0, modIndex: 7, revision: 7 });
  t.equal(m.run({ op: 'kvCas', key: 'nope', expected: 'v', value: 'y' }).ok, false, 'value-CAS fails on an absent key');

  // Delete: present → ok with prev; absent → ok=false (404), revision unchanged.
  t.same(m.run({ op: 'kvDelete', key: 'b' }), { kind: 'kv', ok: true, prev: '2', prevModIndex: 2, modIndex: 0, revision: 9 });
  t.same(m.run({ op: 'kvDelete', key: 'b' }), { kind: 'kv', ok: false, prev: null, prevModIndex: 0, modIndex: 0, revision: 9 });
  t.equal(m.sm.get('b'), null);
  t.equal(m.sm.kvRevision(), 9);
  // Re-creating a deleted key starts a new createIndex.
  m.run({ op: 'kvPut', key: 'b', value: 'again' }); // index 11
  t.equal(m.sm.get('b')?.createIndex, 11);
});

t.test('KV size limits are refused with codes and change nothing', async (t) => {
  const m = new MetaRunner();
  const bigKey = 'k'.repeat(ControlLimits.kvKeyBytesMax + 1);
  t.equal(refusedCode(m.run({ op: 'kvPut', key: bigKey, value: 'v' })), 'ERR_LIMIT_EXCEEDED');
  // Limits are in UTF-8 bytes: a 2-byte character counts twice.
  t.equal(refusedCode(m.run({ op: 'kvPut', key: 'é'.repeat(ControlLimits.kvKeyBytesMax / 2 + 1), value: 'v' })), 'ERR_LIMIT_EXCEEDED');
  t.equal(m.run({ op: 'kvPut', key: 'k'.repeat(ControlLimits.kvKeyBytesMax), value: 'v' }).ok, true, 'exactly at the limit is fine');
  t.equal(refusedCode(m.run({ op: 'kvPut', key: 'v', value: 'x'.repeat(ControlLimits.kvValueBytesMax + 1) })), 'ERR_LIMIT_EXCEEDED');
  t.equal(refusedCode(m.run({ op: 'kvPut', key: '', value: 'x' })), 'ERR_INVALID_ARGUMENT', 'empty key');
  t.equal(m.run({ op: 'kvPut', key: 'empty-value', value: '' }).ok, true, 'an empty value is allowed');
  t.equal(m.sm.kvSize(), 2);
  t.equal(m.sm.get('v'), null);
});

t.test('KV total keys limit refuses new keys but allows overwrites', async (t) => {
  const m = new MetaRunner();
  const entries = [];
  for (let i = 0; i < ControlLimits.kvKeysMax; i++) {
    entries.push(m.entry(encodeMetaCommand({ op: 'kvPut', key: `k${i}`, value: '' }), EntryType.Normal));
    // entry() numbers from appliedIndex, so apply in chunks.
    if (entries.length === 500) m.sm.apply(entries.splice(0).map((e, j) => ({ ...e, index: m.sm.appliedIndex() + 1 + j })));
  }
  m.sm.apply(entries.map((e, j) => ({ ...e, index: m.sm.appliedIndex() + 1 + j })));
  t.equal(m.sm.kvSize(), ControlLimits.kvKeysMax);
  t.equal(refusedCode(m.run({ op: 'kvPut', key: 'one-more', value: '' })), 'ERR_LIMIT_EXCEEDED');
  t.equal(refusedCode(m.run({ op: 'kvCas', key: 'one-more', expected: null, value: '' })), 'ERR_LIMIT_EXCEEDED');
  t.equal(m.run({ op: 'kvPut', key: 'k7', value: 'new' }).ok, true, 'overwrite at the limit');
  t.equal(m.run({ op: 'kvDelete', key: 'k7' }).ok, true);
  t.equal(m.run({ op: 'kvPut', key: 'one-more', value: '' }).ok, true, 'room again after a delete');
});

t.test('list by prefix, in key order, with a limit', async (t) => {
  const m = new MetaRunner();
  for (const k of ['app/b', 'app/a', 'apq', 'ap', 'app/c', 'b', 'app/']) m.run({ op: 'kvPut', key: k, value: k.toUpperCase() });
  const all = m.sm.list('app/');
  t.same(all.entries.map((e) => e.key), ['app/', 'app/a', 'app/b', 'app/c']);
  t.equal(all.more, false);
  t.equal(all.entries[1]?.value, 'APP/A');
  const page = m.sm.list('app/', 2);
  t.same(page.entries.map((e) => e.key), ['app/', 'app/a']);
  t.equal(page.more, true);
  t.same(m.sm.list('ap', 10).entries.map((e) => e.key), ['ap', 'app/', 'app/a', 'app/b', 'app/c', 'apq']);
  t.same(m.sm.list('zzz').entries, []);
  t.equal(m.sm.list('').entries.length, 7);
  t.throws(() => m.sm.list('a', 0), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => m.sm.list('a', ControlLimits.kvListEntriesMax + 1), { code: 'ERR_INVALID_ARGUMENT' });
});

t.test('locks: acquire, held, expiry by stamped time at the boundary, release with the current token only', async (t) => {
  const m = new MetaRunner();
  const a = m.run({ op: 'lockAcquire', name: 'L', owner: 'alice', ttlMs: 500, nowMs: 1000 });
  t.same(a, { kind: 'lock', ok: true, token: 1, expiresAtMs: 1500 });
  const held = m.run({ op: 'lockAcquire', name: 'L', owner: 'bob', ttlMs: 500, nowMs: 1499 });
  t.same(held, { kind: 'lock', ok: false, token: 0, expiresAtMs: 1500 }, 'held at 1499 (t < expiresAtMs); the token is not disclosed');
  t.same(m.run({ op: 'lockExpire', nowMs: 1499 }), { kind: 'expire', ok: true, expired: 0 }, 'not expired before the boundary');
  const b = m.run({ op: 'lockAcquire', name: 'L', owner: 'bob', ttlMs: 500, nowMs: 1500 });
  t.same(b, { kind: 'lock', ok: true, token: 2, expiresAtMs: 2000 }, 'expired exactly at the boundary: bob takes it over');
  t.same(m.run({ op: 'lockRelease', name: 'L', token: 1 }), { kind: 'lock', ok: false, token: 0, expiresAtMs: 0 }, "alice's old token cannot release");
  t.equal(m.sm.lock('L')?.owner, 'bob');
  t.same(m.run({ op: 'lockRelease', name: 'L', token: 2 }), { kind: 'lock', ok: true, token: 2, expiresAtMs: 2000 });
  t.equal(m.sm.lock('L'), null);
  t.equal(m.run({ op: 'lockRelease', name: 'L', token: 2 }).ok, false, 'release twice');

  // expire drops exactly the locks whose lease ended at or before the stamp.
  m.run({ op: 'lockAcquire', name: 'x', owner: 'o', ttlMs: 100, nowMs: 3000 }); // until 3100
  m.run({ op: 'lockAcquire', name: 'y', owner: 'o', ttlMs: 200, nowMs: 3000 }); // until 3200
  t.same(m.run({ op: 'lockExpire', nowMs: 3100 }), { kind: 'expire', ok: true, expired: 1 });
  t.same(m.sm.locks().map((l) => l.name), ['y']);
  t.equal(m.sm.lockTokenLast(), 4);
});

t.test('locks: the log time never goes backwards (a leader whose clock is behind)', async (t) => {
  const m = new MetaRunner();
  m.run({ op: 'lockAcquire', name: 'L', owner: 'a', ttlMs: 1000, nowMs: 10_000 }); // until 11_000
  // A new leader whose clock reads 5_000: effective time stays 10_000, the lock is still held, and a new lease
  // starts at the log time, not at the lagging stamp.
  t.equal(m.run({ op: 'lockAcquire', name: 'L', owner: 'b', ttlMs: 1000, nowMs: 5_000 }).ok, false);
  t.same(m.run({ op: 'lockAcquire', name: 'M', owner: 'b', ttlMs: 1000, nowMs: 5_000 }), { kind: 'lock', ok: true, token: 2, expiresAtMs: 11_000 });
  t.equal(m.sm.logTimeMs(), 10_000);
});

t.test('locks: invalid TTL, stamp and names are refused; the lock count is bounded', async (t) => {
  const m = new MetaRunner();
  t.equal(refusedCode(m.run({ op: 'lockAcquire', name: 'L', owner: 'a', ttlMs: ControlLimits.lockTtlMsMin - 1, nowMs: 0 })), 'ERR_INVALID_ARGUMENT');
  t.equal(refusedCode(m.run({ op: 'lockAcquire', name: 'L', owner: 'a', ttlMs: ControlLimits.lockTtlMsMax + 1, nowMs: 0 })), 'ERR_INVALID_ARGUMENT');
  t.equal(refusedCode(m.run({ op: 'lockAcquire', name: 'L', owner: 'a', ttlMs: 1000, nowMs: ControlLimits.stampMsMax + 1 })), 'ERR_INVALID_ARGUMENT');
  t.equal(refusedCode(m.run({ op: 'lockAcquire', name: 'n'.repeat(ControlLimits.lockNameBytesMax + 1), owner: 'a', ttlMs: 1000, nowMs: 0 })), 'ERR_LIMIT_EXCEEDED');
  t.equal(m.sm.lockTokenLast(), 0, 'refusals hand out no token');
  for (let i = 0; i < ControlLimits.locksMax; i++) m.run({ op: 'lockAcquire', name: `l${i}`, owner: 'a', ttlMs: 1000, nowMs: 0 });
  t.equal(refusedCode(m.run({ op: 'lockAcquire', name: 'extra', owner: 'a', ttlMs: 1000, nowMs: 999 })), 'ERR_LIMIT_EXCEEDED');
  // Once the leases ended, a full table makes room by dropping expired locks.
  t.same(m.run({ op: 'lockAcquire', name: 'extra', owner: 'a', ttlMs: 1000, nowMs: 1000 }), { kind: 'lock', ok: true, token: ControlLimits.locksMax + 1, expiresAtMs: 2000 });
  t.equal(m.sm.locks().length, 1);
});

t.test('tokens strictly increase across acquire/expire/release cycles and across snapshot/restore', async (t) => {
  let m = new MetaRunner();
  let last = 0;
  let now = 0;
  for (let cycle = 0; cycle < 30; cycle++) {
    now += 250;
    const r = m.run({ op: 'lockAcquire', name: `L${cycle % 3}`, owner: 'o', ttlMs: 200, nowMs: now });
    if (r.kind === 'lock' && r.ok) {
      t.ok(r.token > last, `token ${r.token} > ${last}`);
      last = r.token;
      if (cycle % 2 === 0) m.run({ op: 'lockRelease', name: `L${cycle % 3}`, token: r.token });
    }
    if (cycle % 5 === 0) m.run({ op: 'lockExpire', nowMs: now + 300 });
    if (cycle % 7 === 0) {
      const fresh = new MetaStateMachine();
      fresh.restore(m.sm.snapshot(), m.sm.appliedIndex());
      m = new MetaRunner(fresh);
      t.equal(fresh.lockTokenLast(), last, 'the counter survives restore even when no lock is held');
    }
  }
  t.ok(last >= 20, 'most cycles acquired');
});

t.test('config: nodes, placement validation and membership, tenants with defaults and validation', async (t) => {
  const m = new MetaRunner();
  const node = (id: string, state: 'joining' | 'active' | 'leaving' = 'active') =>
    ({ op: 'setNode', node: { id, peerAddress: `${id}:7000`, apiAddress: `${id}:8080`, state } }) as const;
  t.same(m.run(node('n2', 'joining')), { kind: 'config', ok: true, tenant: null });
  m.run(node('n1'));
  m.run(node('n3'));
  m.run(node('n2', 'active'));
  t.same(m.sm.nodes().map((n) => `${n.id}:${n.state}`), ['n1:active', 'n2:active', 'n3:active']);
  t.equal(m.sm.node('n1')?.apiAddress, 'n1:8080');
  t.equal(refusedCode(m.run({ op: 'setNode', node: { id: 'n4', peerAddress: '', apiAddress: 'x', state: 'active' } })), 'ERR_INVALID_ARGUMENT');

  const h = await initHash();
  const p = computePlacement(h, ['n1', 'n2', 'n3'], 4, 3);
  t.equal(m.run({ op: 'setPlacement', placement: p }).ok, true);
  t.same(m.sm.placement(), p);
  const broken = { ...p, shards: p.shards.slice(1) };
  t.equal(refusedCode(m.run({ op: 'setPlacement', placement: broken })), 'ERR_INVALID_ARGUMENT', 'validatePlacement refuses');
  t.equal(refusedCode(m.run({ op: 'setPlacement', placement: 'nonsense' })), 'ERR_INVALID_ARGUMENT');
  const foreign = computePlacement(h, ['n1', 'n2', 'n9'], 4, 3);
  t.equal(refusedCode(m.run({ op: 'setPlacement', placement: foreign })), 'ERR_INVALID_ARGUMENT', 'a placement naming a non-member is refused');
  t.same(m.sm.placement(), p, 'refusals leave the placement as it was');
  t.equal(refusedCode(m.run({ op: 'removeNode', id: 'n3' })), 'ERR_INVALID_ARGUMENT', 'a node holding replicas cannot be removed');
  m.run(node('n4', 'leaving'));
  t.equal(m.run({ op: 'removeNode', id: 'n4' }).ok, true);
  t.equal(m.run({ op: 'removeNode', id: 'n4' }).ok, false);
  t.same(m.sm.image().retired, ['n4'], 'a removed node id is retired');
  t.equal(refusedCode(m.run(node('n4', 'joining'))), 'ERR_CONFLICT', 'a retired node id is never admitted again (its replicas\' tombstones left with it)');
  t.equal(m.sm.node('n4'), null);

  t.same(m.sm.tenant('acme'), TenantDefaults, 'an unconfigured tenant has the defaults');
  const r = m.run({ op: 'setTenant', id: 'acme', settings: { queryConcurrencyMax: 2, retentionMs: { logs: 2 * 3_600_000 } } });
  t.same(r, {
    kind: 'config',
    ok: true,
    tenant: { ...TenantDefaults, queryConcurrencyMax: 2, retentionMs: { ...TenantDefaults.retentionMs, logs: 7_200_000 } },
  });
  m.run({ op: 'setTenant', id: 'acme', settings: { retentionMs: { traces: 3_600_000 } } });
  t.equal(m.sm.tenant('acme').retentionMs.logs, 7_200_000, 'a later patch keeps earlier fields');
  t.equal(m.sm.tenant('acme').retentionMs.traces, 3_600_000);
  t.equal(refusedCode(m.run({ op: 'setTenant', id: 'acme', settings: { retentionMs: { logs: 1 } } })), 'ERR_INVALID_ARGUMENT', 'retention below the minimum');
  t.equal(refusedCode(m.run({ op: 'setTenant', id: 'acme', settings: { ingestBurstBytesMax: 1 } })), 'ERR_INVALID_ARGUMENT', 'burst below rate');
  t.equal(refusedCode(m.run({ op: 'setTenant', id: 'acme', settings: { colour: 'red' } as never })), 'ERR_INVALID_ARGUMENT', 'unknown field');
  t.equal(refusedCode(m.run({ op: 'setTenant', id: 'bad id!', settings: {} })), 'ERR_INVALID_ARGUMENT');
  t.same(m.sm.tenantIds(), ['acme']);
  t.equal(m.run({ op: 'deleteTenant', id: 'acme' }).ok, true);
  t.same(m.sm.tenant('acme'), TenantDefaults);
});

t.test('idempotent retries: a duplicate request id returns the first result and applies once; memory is bounded', async (t) => {
  const m = new MetaRunner();
  const first = m.run({ op: 'lockAcquire', name: 'L', owner: 'a', ttlMs: 1000, nowMs: 0, requestId: 'req-1' });
  const again = m.run({ op: 'lockAcquire', name: 'L', owner: 'a', ttlMs: 1000, nowMs: 10, requestId: 'req-1' });
  t.same(again, first, 'the retry gets token 1 again, not a 409');
  t.equal(m.sm.lockTokenLast(), 1, 'applied once');
  m.run({ op: 'kvPut', key: 'k', value: 'v1', requestId: 'req-2' });
  m.run({ op: 'kvPut', key: 'k', value: 'v2' });
  const dup = m.run({ op: 'kvPut', key: 'k', value: 'v1', requestId: 'req-2' });
  t.equal(dup.kind === 'kv' && dup.modIndex, 3, 'the remembered result names the first application');
  t.equal(m.sm.get('k')?.value, 'v2', 'the retry did not overwrite a later write');
  // The memory survives snapshot/restore.
  const r2 = new MetaStateMachine();
  r2.restore(m.sm.snapshot(), m.sm.appliedIndex());
  const m2 = new MetaRunner(r2);
  t.same(m2.run({ op: 'lockAcquire', name: 'L', owner: 'a', ttlMs: 1000, nowMs: 20, requestId: 'req-1' }), first);
  // Bounded: after requestIdsRememberedMax newer ids, req-1 is forgotten and a retry applies again.
  for (let i = 0; i < ControlLimits.requestIdsRememberedMax; i++) m2.run({ op: 'kvPut', key: 'x', value: `${i}`, requestId: `fill-${i}` });
  t.equal(m2.sm.rememberedRequests(), ControlLimits.requestIdsRememberedMax);
  const late = m2.run({ op: 'lockAcquire', name: 'L', owner: 'a', ttlMs: 1000, nowMs: 20, requestId: 'req-1' });
  t.same(late, { kind: 'lock', ok: false, token: 0, expiresAtMs: 1000 }, 'forgotten: applied as new (and the lock is held)');
});

t.test('malformed command bytes are refused results, never throws', async (t) => {
  const m = new MetaRunner();
  const cases: [string, Uint8Array][] = [
    ['one byte', Uint8Array.of(COMMAND_FORMAT_VERSION)],
    ['unknown version', Uint8Array.of(99, 0x90)],
    ['truncated msgpack', Uint8Array.of(COMMAND_FORMAT_VERSION, 0x93, 0x01)],
    ['not an array', Uint8Array.of(COMMAND_FORMAT_VERSION, ...pack({ op: 1 }))],
    ['unknown opcode', Uint8Array.of(COMMAND_FORMAT_VERSION, ...pack([77, null, 'k']))],
    ['wrong arity', Uint8Array.of(COMMAND_FORMAT_VERSION, ...pack([1, null, 'k']))],
    ['wrong types', Uint8Array.of(COMMAND_FORMAT_VERSION, ...pack([10, null, 'L', 'o', -5, 1.5]))],
    ['bad request id', Uint8Array.of(COMMAND_FORMAT_VERSION, ...pack([2, 7, 'k']))],
    ['node state out of range', Uint8Array.of(COMMAND_FORMAT_VERSION, ...pack([20, null, 'n', 'p', 'a', 9]))],
    ['reserved 0xc1', Uint8Array.of(COMMAND_FORMAT_VERSION, 0xc1)],
    ['too large', new Uint8Array(ControlLimits.commandBytesMax + 10)],
  ];
  for (const [what, bytes] of cases) {
    let r: MetaResult | null = null;
    t.doesNotThrow(() => {
      r = decodeMetaResult(m.raw(bytes));
    }, what);
    t.equal(r === null ? null : refusedCode(r), what === 'too large' ? 'ERR_LIMIT_EXCEEDED' : 'ERR_INVALID_ARGUMENT', what);
  }
  t.equal(m.sm.appliedIndex(), cases.length, 'every refused entry still advances the applied index');
  // Random garbage (seeded) never throws either.
  let x = 12345;
  for (let i = 0; i < 2000; i++) {
    const len = 1 + (i % 40);
    const b = new Uint8Array(len);
    for (let j = 0; j < len; j++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      b[j] = x >>> 24;
    }
    if (i % 2 === 0) b[0] = COMMAND_FORMAT_VERSION;
    t.doesNotThrow(() => decodeMetaCommand(b));
    m.raw(b);
  }
  t.equal(m.sm.appliedIndex(), cases.length + 2000);
  // Empty and ConfChange entries only advance the applied index.
  const before = m.sm.snapshot();
  t.same(m.sm.apply([m.entry(new Uint8Array(0))]), [new Uint8Array(0)]);
  t.same(m.sm.apply([m.entry(Uint8Array.of(1, 2, 3), EntryType.ConfChange)]), [new Uint8Array(0)]);
  t.equal(m.sm.appliedIndex(), cases.length + 2002);
  t.equal(before.length, m.sm.snapshot().length);
});

t.test('malformed and unknown-version snapshots are refused with ERR_CORRUPTION and change nothing', async (t) => {
  const m = new MetaRunner();
  m.run({ op: 'kvPut', key: 'a', value: '1' });
  m.run({ op: 'lockAcquire', name: 'L', owner: 'o', ttlMs: 1000, nowMs: 5 });
  const good = m.sm.snapshot();
  const target = new MetaRunner();
  target.run({ op: 'kvPut', key: 'keep', value: 'me' });
  const keep = target.sm.snapshot();
  const corrupt = { code: 'ERR_CORRUPTION' };
  const wrongVersion = Uint8Array.from(good);
  wrongVersion[4] = META_SNAPSHOT_VERSION + 1;
  const badMagic = Uint8Array.from(good);
  badMagic[0] = 0;
  const images: [string, Uint8Array, number][] = [
    ['unknown version', wrongVersion, 2],
    ['bad magic', badMagic, 2],
    ['truncated', good.subarray(0, good.length - 3), 2],
    ['header only', good.subarray(0, 5), 2],
    ['wrong index', good, 3],
    ['valid msgpack, wrong shape', Uint8Array.of(...good.subarray(0, 5), ...pack([2, 1])), 2],
    ['token above the counter', Uint8Array.of(...good.subarray(0, 5), ...pack([2, 1, [['a', '1', 1, 1]], 0, 5, [['L', 'o', 1, 5, 1005]], [], null, [], [], []])), 2],
    ['kv indices beyond revision', Uint8Array.of(...good.subarray(0, 5), ...pack([2, 1, [['a', '1', 1, 2]], 1, 5, [], [], null, [], [], []])), 2],
    ['a retired id that is still a member', Uint8Array.of(...good.subarray(0, 5), ...pack([2, 0, [], 0, 0, [], [['n1', 'a:1', 'a:2', 1]], null, [], [], ['n1']])), 2],
    ['a 10-element body in version 2', Uint8Array.of(...good.subarray(0, 5), ...pack([2, 0, [], 0, 0, [], [], null, [], []])), 2],
    ['unsorted keys', Uint8Array.of(...good.subarray(0, 5), ...pack([2, 2, [['b', '1', 1, 1], ['a', '1', 2, 2]], 0, 0, [], [], null, [], [], []])), 2],
  ];
  for (const [what, img, index] of images) {
    t.throws(() => target.sm.restore(img, index), corrupt, what);
    t.same(target.sm.snapshot(), keep, `${what}: the state is untouched`);
  }
  target.sm.restore(good, 2);
  t.same(target.sm.snapshot(), good, 'the good image restores byte-identically');
  target.sm.restore(new Uint8Array(0), 7);
  t.equal(target.sm.appliedIndex(), 7);
  t.equal(target.sm.kvSize(), 0, 'an empty image is the empty state');
});

t.test('a version 1 snapshot (no retired ids) restores, with no retired ids', async (t) => {
  const m = new MetaRunner();
  m.run({ op: 'kvPut', key: 'a', value: '1' });
  const v1 = Uint8Array.of(...m.sm.snapshot().subarray(0, 4), META_SNAPSHOT_VERSION_V1, ...pack([1, 1, [['a', '1', 1, 1]], 0, 0, [], [], null, [], []]));
  const target = new MetaRunner();
  target.sm.restore(v1, 1);
  t.same(target.sm.get('a'), { key: 'a', value: '1', createIndex: 1, modIndex: 1 });
  t.same(target.sm.image().retired, []);
  t.same(target.sm.snapshot(), m.sm.snapshot(), 'and writes the same version 2 image as a replica that never saw version 1');
});
