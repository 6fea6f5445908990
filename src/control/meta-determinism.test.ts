/**
 * meta-determinism.test.ts — replicas that apply the same log reach
 * byte-identical snapshots (one of them snapshotting and restoring on the
 * way), and fencing tokens never go backwards. Each checker is shown to
 * catch a planted bug: a subclass that judges leases by a local clock, and
 * one whose snapshot forgets the token counter.
 */
import t from 'tap';
import { SeededRand } from '../fs/seeded-rand.js';
import { EntryType } from '../raft/types.js';
import type { Entry } from '../raft/types.js';
import { decodeMetaCommand, decodeMetaResult, encodeMetaCommand } from './meta-command.js';
import type { MetaCommand } from './meta-command.js';
import { decodeMetaImage, encodeMetaImage } from './meta-snapshot.js';
import { MetaStateMachine } from './meta-state-machine.js';

/** randomCommand draws one command over small key/lock/node spaces so that commands collide often. */
function randomCommand(r: SeededRand, nowMs: number): MetaCommand {
  const key = `k${r.intn(12)}`;
  const rid = r.intn(4) === 0 ? { requestId: `rid-${r.intn(40)}` } : {};
  switch (r.intn(11)) {
    case 0:
    case 1:
      return { op: 'kvPut', key, value: `v${r.intn(5)}`, ...rid };
    case 2:
      return { op: 'kvDelete', key, ...rid };
    case 3:
      return { op: 'kvCas', key, expected: r.intn(3) === 0 ? null : `v${r.intn(5)}`, value: `v${r.intn(5)}`, ...rid };
    case 4:
    case 5:
      return { op: 'lockAcquire', name: `L${r.intn(4)}`, owner: `o${r.intn(3)}`, ttlMs: 100 + r.intn(900), nowMs, ...rid };
    case 6:
      return { op: 'lockRelease', name: `L${r.intn(4)}`, token: r.intn(30), ...rid };
    case 7:
      return { op: 'lockExpire', nowMs, ...rid };
    case 8:
      return { op: 'setNode', node: { id: `n${r.intn(4)}`, peerAddress: 'p', apiAddress: 'a', state: (['joining', 'active', 'leaving'] as const)[r.intn(3)] ?? 'active' }, ...rid };
    case 9:
      return { op: 'setTenant', id: `t${r.intn(3)}`, settings: { queryConcurrencyMax: 1 + r.intn(20) }, ...rid };
    default:
      return r.intn(2) === 0 ? { op: 'removeNode', id: `n${r.intn(4)}`, ...rid } : { op: 'deleteTenant', id: `t${r.intn(3)}`, ...rid };
  }
}

/** randomLog builds `n` entries; the leader's clock mostly advances and sometimes jumps back (a new leader). */
function randomLog(seed: number, n: number): Entry[] {
  const r = new SeededRand(seed);
  const log: Entry[] = [];
  let now = 1_000;
  for (let i = 1; i <= n; i++) {
    now = r.intn(20) === 0 ? Math.max(0, now - r.intn(500)) : now + r.intn(120);
    const kind = r.intn(25);
    const data = kind === 0 ? new Uint8Array(0) : kind === 1 ? r.bytes(1 + r.intn(12)) : encodeMetaCommand(randomCommand(r, now));
    log.push({ term: 1, index: i, type: EntryType.Normal, data });
  }
  return log;
}

type MakeSm = () => MetaStateMachine;

/**
 * divergence applies one log to two replicas — B restores itself from its
 * own snapshot into a fresh instance at random points and applies in random
 * batch sizes — and returns the first difference in results or final
 * snapshots, or null when they agree byte for byte.
 */
function divergence(makeA: MakeSm, makeB: MakeSm, seed: number, n: number): string | null {
  const log = randomLog(seed, n);
  const r = new SeededRand(seed ^ 0x5eed);
  const a = makeA();
  let b = makeB();
  const resA = a.apply(log);
  const resB: Uint8Array[] = [];
  let i = 0;
  while (i < log.length) {
    const k = Math.min(log.length - i, 1 + r.intn(40));
    resB.push(...b.apply(log.slice(i, i + k)));
    i += k;
    if (r.intn(3) === 0) {
      const img = b.snapshot();
      b = makeB();
      b.restore(img, i);
    }
  }
  for (let j = 0; j < log.length; j++) {
    const x = resA[j] as Uint8Array;
    const y = resB[j] as Uint8Array;
    if (Buffer.compare(x, y) !== 0) return `result of entry ${j + 1} differs`;
  }
  const sa = a.snapshot();
  const sb = b.snapshot();
  return Buffer.compare(sa, sb) === 0 ? null : `snapshots differ (${sa.length} vs ${sb.length} bytes)`;
}

/**
 * tokenProblems runs a seeded lock workload, restoring from a snapshot
 * every few commands, and lists every successful acquire whose token is not
 * above every token handed out before it.
 */
function tokenProblems(make: MakeSm, seed: number): string[] {
  const r = new SeededRand(seed);
  let sm = make();
  const problems: string[] = [];
  let highest = 0;
  let now = 0;
  for (let i = 1; i <= 400; i++) {
    now += r.intn(200);
    const name = `L${r.intn(3)}`;
    const c: MetaCommand =
      r.intn(3) === 0 ? { op: 'lockRelease', name, token: sm.lock(name)?.token ?? 0 } : r.intn(4) === 0 ? { op: 'lockExpire', nowMs: now } : { op: 'lockAcquire', name, owner: 'o', ttlMs: 100 + r.intn(300), nowMs: now };
    const [bytes] = sm.apply([{ term: 1, index: sm.appliedIndex() + 1, type: EntryType.Normal, data: encodeMetaCommand(c) }]);
    const res = decodeMetaResult(bytes as Uint8Array);
    if (res.kind === 'lock' && res.ok && c.op === 'lockAcquire') {
      if (res.token <= highest) problems.push(`entry ${i}: token ${res.token} after ${highest}`);
      highest = Math.max(highest, res.token);
    }
    if (r.intn(10) === 0) {
      const img = sm.snapshot();
      sm = make();
      sm.restore(img, i);
    }
  }
  return problems;
}

t.test('replicas applying one log agree byte for byte, across snapshot/restore (20 seeds)', async (t) => {
  for (let seed = 1; seed <= 20; seed++) {
    t.equal(divergence(() => new MetaStateMachine(), () => new MetaStateMachine(), seed, 600), null, `seed ${seed}`);
  }
});

t.test('fencing tokens strictly increase across acquire/expire/release and snapshot/restore (20 seeds)', async (t) => {
  for (let seed = 1; seed <= 20; seed++) t.same(tokenProblems(() => new MetaStateMachine(), seed), [], `seed ${seed}`);
});

/**
 * LocalClockMeta is a planted bug: it judges lock commands by "its own
 * clock" (the stamp plus this machine's skew, as Date.now() on different
 * hosts would be) instead of the leader's stamp in the log.
 */
class LocalClockMeta extends MetaStateMachine {
  readonly #skewMs: number;
  constructor(skewMs: number) {
    super();
    this.#skewMs = skewMs;
  }
  override apply(entries: readonly Entry[]): readonly Uint8Array[] {
    return super.apply(
      entries.map((e) => {
        const c = e.data.length === 0 ? null : decodeMetaCommand(e.data);
        if (c === null || 'kind' in c || (c.op !== 'lockAcquire' && c.op !== 'lockExpire')) return e;
        return { ...e, data: encodeMetaCommand({ ...c, nowMs: c.nowMs + this.#skewMs }) };
      }),
    );
  }
}

/** ForgetfulTokenMeta is a planted bug: its snapshot recomputes the token counter from the locks still held. */
class ForgetfulTokenMeta extends MetaStateMachine {
  override snapshot(): Uint8Array {
    const img = decodeMetaImage(super.snapshot(), this.appliedIndex());
    const held = Math.max(0, ...img.locks.map(([, l]) => l.token));
    return encodeMetaImage({ ...img, lockTokenLast: held });
  }
}

t.test('planted bug: a state machine that reads a local clock makes replicas diverge', async (t) => {
  let caught = 0;
  for (let seed = 1; seed <= 20; seed++) if (divergence(() => new LocalClockMeta(0), () => new LocalClockMeta(250), seed, 600) !== null) caught++;
  t.ok(caught >= 15, `divergence caught the local clock in ${caught}/20 seeds`);
  // Same skew on both: the checker does not cry wolf about the subclass itself.
  t.equal(divergence(() => new LocalClockMeta(250), () => new LocalClockMeta(250), 1, 600), null);
});

t.test('planted bug: a snapshot that forgets the token counter lets tokens go backwards', async (t) => {
  let caught = 0;
  for (let seed = 1; seed <= 20; seed++) if (tokenProblems(() => new ForgetfulTokenMeta(), seed).length > 0) caught++;
  t.ok(caught >= 15, `the token checker caught it in ${caught}/20 seeds`);
  let diverged = 0;
  for (let seed = 1; seed <= 20; seed++) if (divergence(() => new MetaStateMachine(), () => new ForgetfulTokenMeta(), seed, 600) !== null) diverged++;
  t.ok(diverged >= 10, `the determinism check (against a correct replica) caught it in ${diverged}/20 seeds`);
});
