import t from 'tap';
import { KvStore, decodeKvCommand, encodeKvCommand } from './kv.js';
import type { KvCommand } from './kv.js';

t.test('put and cas follow register semantics', async (t) => {
  const kv = new KvStore();
  t.equal(kv.get('a'), null);
  t.same(kv.apply({ clientId: 1, opId: 1, input: { type: 'cas', key: 'a', expected: 'x', value: 'y' } }).output, { type: 'cas', ok: false });
  t.same(kv.apply({ clientId: 1, opId: 2, input: { type: 'cas', key: 'a', expected: null, value: 'y' } }).output, { type: 'cas', ok: true });
  t.equal(kv.get('a'), 'y');
  t.same(kv.apply({ clientId: 2, opId: 1, input: { type: 'put', key: 'a', value: 'z' } }).output, { type: 'put' });
  t.equal(kv.get('a'), 'z');
});

t.test('a duplicated command applies once', async (t) => {
  const kv = new KvStore();
  const put1: KvCommand = { clientId: 1, opId: 1, input: { type: 'put', key: 'k', value: 'one' } };
  kv.apply(put1);
  kv.apply({ clientId: 2, opId: 1, input: { type: 'put', key: 'k', value: 'two' } });
  const again = kv.apply(put1);
  t.equal(again.duplicate, true);
  t.equal(kv.get('k'), 'two', 'the duplicate did not overwrite a later write');
  t.same(kv.resultOf(1, 1), { type: 'put' });
  t.equal(kv.resultOf(1, 2), undefined);
});

t.test('commands round-trip through their encoding', async (t) => {
  const cmds: KvCommand[] = [
    { clientId: 3, opId: 9, input: { type: 'put', key: 'k1', value: 'v"\n' } },
    { clientId: 4, opId: 1, input: { type: 'cas', key: 'k2', expected: null, value: 'v' } },
    { clientId: 4, opId: 2, input: { type: 'cas', key: 'k2', expected: 'v', value: 'w' } },
  ];
  for (const c of cmds) t.same(decodeKvCommand(encodeKvCommand(c)), c);
});

t.test('a snapshot restores the map and the per-client results', async (t) => {
  const kv = new KvStore();
  kv.apply({ clientId: 1, opId: 1, input: { type: 'put', key: 'b', value: '1' } });
  kv.apply({ clientId: 2, opId: 5, input: { type: 'cas', key: 'a', expected: null, value: '2' } });
  const copy = KvStore.restore(kv.snapshot());
  t.equal(copy.get('a'), '2');
  t.equal(copy.get('b'), '1');
  t.same(copy.resultOf(2, 5), { type: 'cas', ok: true });
  t.equal(copy.fingerprint(), kv.fingerprint());
  t.equal(copy.apply({ clientId: 2, opId: 5, input: { type: 'put', key: 'a', value: 'x' } }).duplicate, true);
  t.equal(KvStore.restore(new Uint8Array(0)).size, 0);
  kv.apply({ clientId: 1, opId: 2, input: { type: 'put', key: 'b', value: '3' } });
  t.not(copy.fingerprint(), kv.fingerprint(), 'fingerprints tell different states apart');
});
