import t from 'tap';
import { checkOperations, registerModel } from './index.js';
import type { Model, Operation, RegisterInput, RegisterOutput } from './index.js';

type Op = Operation<RegisterInput, RegisterOutput>;

/** put is a completed put, or one with unknown outcome when `ret` is undefined. */
function put(clientId: number, key: string, value: string, call: number, ret: number | undefined): Op {
  return {
    clientId,
    input: { type: 'put', key, value },
    call,
    return: ret,
    output: ret === undefined ? undefined : { type: 'put' },
  };
}
function get(clientId: number, key: string, value: string | null, call: number, ret: number): Op {
  return { clientId, input: { type: 'get', key }, call, return: ret, output: { type: 'get', value } };
}
function cas(
  clientId: number,
  key: string,
  expected: string | null,
  value: string,
  ok: boolean,
  call: number,
  ret: number,
): Op {
  return { clientId, input: { type: 'cas', key, expected, value }, call, return: ret, output: { type: 'cas', ok } };
}

const check = (history: readonly Op[], options?: { searchStepsMax?: number }) =>
  checkOperations(registerModel, history, options);

t.test('linearizable histories are ok', async (t) => {
  t.test('sequential puts and gets, including a read of the absent key', async (t) => {
    const r = check([get(1, 'x', null, 0, 1), put(1, 'x', 'a', 2, 3), get(2, 'x', 'a', 4, 5), put(2, 'x', 'b', 6, 7), get(1, 'x', 'b', 8, 9)]);
    t.equal(r.outcome, 'ok');
    t.equal(r.opsChecked, 5);
    t.match(r.explanation, /^Linearizable/);
  });

  t.test('overlapping puts and gets may see either value', async (t) => {
    const r = check([
      put(1, 'x', 'a', 0, 10),
      put(2, 'x', 'b', 1, 9),
      get(3, 'x', 'b', 2, 3), // b took effect first ...
      get(4, 'x', 'a', 5, 12), // ... then a
      get(5, 'x', 'a', 13, 14),
    ]);
    t.equal(r.outcome, 'ok');
  });

  t.test('a cas race: exactly one of two concurrent cas from the same value wins', async (t) => {
    const r = check([
      put(1, 'x', 'a', 0, 1),
      cas(2, 'x', 'a', 'b', false, 2, 6),
      cas(3, 'x', 'a', 'c', true, 3, 5),
      get(1, 'x', 'c', 7, 8),
    ]);
    t.equal(r.outcome, 'ok');
  });

  t.test('an unknown-outcome put whose value is observed later took effect', async (t) => {
    const r = check([put(1, 'x', 'a', 0, 1), put(2, 'x', 'b', 2, undefined), get(3, 'x', 'b', 50, 51), get(3, 'x', 'b', 52, 53)]);
    t.equal(r.outcome, 'ok');
  });

  t.test('an unknown-outcome put may take effect after the client gave up on it', async (t) => {
    const timedOut: Op = { ...put(2, 'x', 'b', 2, 5), output: undefined }; // the client recorded a timeout at 5
    const r = check([put(1, 'x', 'a', 0, 1), timedOut, get(3, 'x', 'a', 6, 7), get(3, 'x', 'b', 8, 9)]);
    t.equal(r.outcome, 'ok');
  });

  t.test('an unknown-outcome put never observed may never have taken effect', async (t) => {
    const r = check([put(1, 'x', 'a', 0, 1), put(2, 'x', 'b', 2, undefined), get(3, 'x', 'a', 3, 4), get(3, 'x', 'a', 100, 101)]);
    t.equal(r.outcome, 'ok');
  });

  t.test('an old value read while an overlapping write is in flight is ok', async (t) => {
    const r = check([put(1, 'x', 'a', 0, 1), put(2, 'x', 'b', 2, 10), get(3, 'x', 'a', 3, 11), get(3, 'x', 'b', 12, 13)]);
    t.equal(r.outcome, 'ok');
  });

  t.test('equal timestamps are concurrent: a read called when a write returns may still see the old value', async (t) => {
    const r = check([put(1, 'x', 'a', 0, 1), put(2, 'x', 'b', 2, 5), get(3, 'x', 'a', 5, 6)]);
    t.equal(r.outcome, 'ok');
    const strict = check([put(1, 'x', 'a', 0, 1), put(2, 'x', 'b', 2, 5), get(3, 'x', 'a', 6, 7)]);
    t.equal(strict.outcome, 'illegal', 'one tick later the same read is stale');
  });

  t.test('a history of only unknown outcomes is ok', async (t) => {
    const r = check([put(1, 'x', 'a', 0, undefined), put(2, 'x', 'b', 0, undefined)]);
    t.equal(r.outcome, 'ok');
  });

  t.test('an empty history is ok', async (t) => {
    const r = check([]);
    t.equal(r.outcome, 'ok');
    t.equal(r.opsChecked, 0);
  });
});

t.test('non-linearizable histories are illegal and the explanation names the key', async (t) => {
  t.test('a stale read strictly after a completed write', async (t) => {
    const r = check([put(1, 'acct', 'a', 0, 1), put(2, 'acct', 'b', 2, 3), get(3, 'acct', 'a', 4, 5)]);
    t.equal(r.outcome, 'illegal');
    t.match(r.explanation, /key="acct"/);
    t.match(r.explanation, /get\(key="acct"\) -> "a" \(client 3, called 4, returned 5\)/);
    const p = r.partitions[0];
    t.equal(p?.outcome, 'illegal');
    t.same(
      p?.longestPrefix?.map((op) => op.input),
      [
        { type: 'put', key: 'acct', value: 'a' },
        { type: 'put', key: 'acct', value: 'b' },
      ],
      'the longest prefix is both puts',
    );
    t.same(p?.stuckAt?.[0]?.input, { type: 'get', key: 'acct' }, 'the stale get is where the search got stuck');
  });

  t.test('a read of a value never written', async (t) => {
    const r = check([put(1, 'x', 'a', 0, 5), get(2, 'x', 'zzz', 1, 6)]);
    t.equal(r.outcome, 'illegal');
    t.match(r.explanation, /key="x"/);
    t.match(r.explanation, /"zzz"/);
  });

  t.test('two sequential cas from the same expected value both succeed', async (t) => {
    const r = check([put(1, 'x', 'a', 0, 1), cas(2, 'x', 'a', 'b', true, 2, 3), cas(3, 'x', 'a', 'c', true, 4, 5)]);
    t.equal(r.outcome, 'illegal');
    t.match(r.explanation, /cas\(key="x", expected="a", value="c"\) -> swapped/);
  });

  t.test('a read goes back in time', async (t) => {
    const r = check([
      put(1, 'x', 'a', 0, 1),
      put(2, 'x', 'b', 2, 20), // concurrent with both reads
      get(3, 'x', 'b', 3, 4),
      get(4, 'x', 'a', 5, 6), // strictly after the read that saw b
    ]);
    t.equal(r.outcome, 'illegal');
    t.match(r.explanation, /key="x"/);
  });

  t.test('a lost acknowledged write (known put, later reads see the old value) is illegal, unlike an unknown one', async (t) => {
    const r = check([put(1, 'x', 'a', 0, 1), put(2, 'x', 'b', 2, 3), get(3, 'x', 'a', 100, 101)]);
    t.equal(r.outcome, 'illegal');
  });

  t.test('a put that never returned but whose output is known must still take effect', async (t) => {
    const r = check([put(1, 'x', 'a', 0, 1), { ...put(2, 'x', 'b', 2, 3), return: undefined }, get(3, 'x', 'b', 4, 5)]);
    t.equal(r.outcome, 'ok');
    const wrongType: Op = { ...put(2, 'x', 'b', 2, 3), output: { type: 'get', value: null } };
    t.equal(check([wrongType]).outcome, 'illegal', 'a reply of the wrong type is illegal');
  });
});

t.test('histories are checked per key', async (t) => {
  t.test('one violation is found among many ok keys', async (t) => {
    const history: Op[] = [];
    for (let k = 0; k < 200; k++) {
      const key = `k${k}`;
      const base = k % 7;
      history.push(put(1, key, 'a', base, base + 2), put(2, key, 'b', base + 1, base + 5), get(3, key, 'b', base + 3, base + 6));
      history.push(get(4, key, k === 137 ? 'a' : 'b', base + 7, base + 8)); // k137 reads a stale value
    }
    const r = check(history);
    t.equal(r.outcome, 'illegal');
    t.equal(r.partitions.length, 200);
    t.equal(r.opsChecked, 800);
    t.same(
      r.partitions.flatMap((p, i) => (p.outcome === 'illegal' ? [i] : [])),
      [137],
      'exactly the bad key is illegal',
    );
    t.match(r.explanation, /key="k137"/);
    t.notMatch(r.explanation, /key="k136"/);
  });

  t.test('ops on other keys do not enter a key\'s search', async (t) => {
    // 400 writes on distinct keys, all concurrent with each other: as one
    // partition this would be a huge search; per key each is one step.
    const history: Op[] = [];
    for (let k = 0; k < 400; k++) history.push(put(k, `k${k}`, 'v', 0, 1000), get(k, `k${k}`, 'v', 1001, 1002));
    const r = check(history);
    t.equal(r.outcome, 'ok');
    t.ok(
      r.partitions.every((p) => p.searchSteps <= 2),
      'every partition is decided in one step per operation',
    );
  });

  t.test('without a partition function the whole history is one partition', async (t) => {
    const { partition: _partition, ...unpartitioned } = registerModel;
    const model: Model<string | null, RegisterInput, RegisterOutput> = unpartitioned;
    const r = checkOperations(model, [put(1, 'x', 'a', 0, 1), put(1, 'y', 'b', 2, 3), get(1, 'x', 'b', 4, 5)]);
    t.equal(r.partitions.length, 1);
    t.equal(r.outcome, 'ok', 'a single register cannot tell keys apart');
  });
});

t.test('limits', async (t) => {
  t.test('a tiny searchStepsMax gives unknown, never a guess', async (t) => {
    const history: Op[] = [];
    for (let c = 0; c < 12; c++) history.push(put(c, 'x', `v${c}`, 0, 100));
    history.push(get(99, 'x', 'v0', 101, 102));
    const full = check(history);
    t.equal(full.outcome, 'ok');
    t.ok(full.partitions[0]!.searchSteps > 5);
    const r = check(history, { searchStepsMax: 5 });
    t.equal(r.outcome, 'unknown');
    t.equal(r.partitions[0]?.unknownReason, 'search-steps');
    t.equal(r.partitions[0]?.searchSteps, 5);
    t.match(r.explanation, /searchStepsMax=5/);
    t.match(r.explanation, /key="x"/);
  });

  t.test('an illegal key wins over an undecided one', async (t) => {
    const history: Op[] = [];
    for (let c = 0; c < 12; c++) history.push(put(c, 'x', `v${c}`, 0, 100));
    history.push(get(99, 'x', 'v0', 101, 102));
    history.push(get(1, 'y', 'nope', 0, 1));
    const r = check(history, { searchStepsMax: 5 });
    t.equal(r.outcome, 'illegal');
    t.same(
      r.partitions.map((p) => p.outcome),
      ['unknown', 'illegal'],
    );
  });

  t.test('a tiny cacheBytesMax gives unknown', async (t) => {
    const history: Op[] = [];
    for (let c = 0; c < 12; c++) history.push(put(c, 'x', `v${c}`, 0, 100));
    history.push(get(99, 'x', 'v0', 101, 102));
    const r = checkOperations(registerModel, history, { cacheBytesMax: 1000 });
    t.equal(r.outcome, 'unknown');
    t.equal(r.partitions[0]?.unknownReason, 'cache-bytes');
  });

  t.test('a partition past opsPerKeyMax is refused with ERR_LIMIT_EXCEEDED', async (t) => {
    const history: Op[] = [];
    for (let i = 0; i < 11; i++) history.push(put(1, 'x', `v${i}`, 2 * i, 2 * i + 1));
    history.push(put(1, 'y', 'v', 0, 1));
    t.throws(() => checkOperations(registerModel, history, { opsPerKeyMax: 10 }), {
      code: 'ERR_LIMIT_EXCEEDED',
      message: /11 operations, more than opsPerKeyMax=10/,
    });
    t.equal(checkOperations(registerModel, history, { opsPerKeyMax: 11 }).outcome, 'ok');
  });

  t.test('bad limits and bad times are refused with ERR_INVALID_ARGUMENT', async (t) => {
    t.throws(() => check([], { searchStepsMax: 0 }), { code: 'ERR_INVALID_ARGUMENT' });
    t.throws(() => check([], { searchStepsMax: 1.5 }), { code: 'ERR_INVALID_ARGUMENT' });
    t.throws(() => check([put(1, 'x', 'a', 5, 4)]), { code: 'ERR_INVALID_ARGUMENT', message: /operation 0: return 4 is before call 5/ });
    t.throws(() => check([put(1, 'x', 'a', NaN, 4)]), { code: 'ERR_INVALID_ARGUMENT' });
    t.throws(() => check([{ ...put(1, 'x', 'a', 0, 4), return: NaN }]), { code: 'ERR_INVALID_ARGUMENT' });
    t.equal(check([{ ...put(1, 'x', 'a', 0, 4), return: Infinity }]).outcome, 'ok', 'Infinity means never returned');
  });
});

t.test('a model with a lossy stateKey stays sound when it provides equal', async (t) => {
  // Every state has the same key; without `equal` the cache would merge
  // states and wrongly prune the one branch that succeeds.
  const lossy: Model<string | null, RegisterInput, RegisterOutput> = {
    ...registerModel,
    stateKey: () => 0,
    equal: (a, b) => a === b,
  };
  const history = [put(1, 'x', 'a', 0, 10), put(2, 'x', 'b', 0, 10), get(3, 'x', 'a', 11, 12)];
  t.equal(checkOperations(lossy, history).outcome, 'ok');
  t.equal(checkOperations(registerModel, history).outcome, 'ok');
  const { equal: _equal, ...lossyWithoutEqual } = lossy;
  t.equal(checkOperations(lossyWithoutEqual, history).outcome, 'illegal', 'the same model without equal goes wrong');
});

t.test('registerModel steps like a register', async (t) => {
  const m = registerModel;
  t.same(m.step(null, { type: 'get', key: 'x' }, { type: 'get', value: null }), { ok: true, state: null });
  t.same(m.step('a', { type: 'get', key: 'x' }, { type: 'get', value: null }).ok, false);
  t.same(m.step('a', { type: 'get', key: 'x' }, undefined), { ok: true, state: 'a' });
  t.same(m.step('a', { type: 'put', key: 'x', value: 'b' }, { type: 'put' }), { ok: true, state: 'b' });
  t.same(m.step('a', { type: 'cas', key: 'x', expected: 'a', value: 'b' }, { type: 'cas', ok: true }), { ok: true, state: 'b' });
  t.same(m.step('a', { type: 'cas', key: 'x', expected: 'z', value: 'b' }, { type: 'cas', ok: false }), { ok: true, state: 'a' });
  t.same(m.step('a', { type: 'cas', key: 'x', expected: 'z', value: 'b' }, { type: 'cas', ok: true }).ok, false);
  t.same(m.step(null, { type: 'cas', key: 'x', expected: null, value: 'b' }, undefined), { ok: true, state: 'b' });
  t.not(m.stateKey(null), m.stateKey('-1'), 'the absent register cannot collide with a string value');
  t.equal(m.stateKey('a'), m.stateKey('a'));
});
