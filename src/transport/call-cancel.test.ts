import net from 'node:net';
import t from 'tap';
import { Packr } from 'msgpackr';
import { SeededRand } from '../fs/seeded-rand.js';
import { isOtlpdbError } from '../errors.js';
import { CALL_CANCEL_VERSION, encodeCallCancel, encodeCallRequest, encodeHello } from './codec.js';
import { FrameType } from './frame.js';
import { CLUSTER_ID, startCluster, startNode, waitFor } from './transport-test-util.js';
import type { CallContext } from './transport-types.js';

// Cancelling a unary call over real sockets (DESIGN.md §7.5): the caller's
// signal settles its call and sends a CallCancel frame; the callee's
// handler sees its CallContext.signal abort and stops at its next check.
// Tests count checks, never time.

/** StepHandler is a handler that works in steps (one event-loop turn each), checking its cancel between steps like a shard part between blocks. */
interface StepRun {
  started: number;
  finished: number;
  /** checksAfterAbort sums, over finished runs, the checks each made after its signal fired (1 = it stopped at its first check). */
  checksAfterAbort: number;
  /** checksAfterAbortMax is the most checks one run made after its signal fired (0 when it fired after the last check). */
  checksAfterAbortMax: number;
  aborted: number;
}

/**
 * stepHandler works in steps (one event-loop turn each) until its cancel,
 * checking it between steps like a shard part between blocks; `steps`
 * bounds a run that is never cancelled. A handler that does not honour its
 * cancel (the planted bug) runs on IGNORED_CHECKS more checks after it.
 */
function stepHandler(run: StepRun, steps: number, honourCancel: boolean): (payload: Uint8Array, ctx: CallContext) => Promise<Uint8Array> {
  return async (_payload, ctx) => {
    run.started++;
    let checksAfter = 0;
    try {
      for (let i = 0; i < steps; i++) {
        // The check: a shard part's budget check between blocks.
        if (ctx.signal.aborted) {
          checksAfter++;
          if (honourCancel || checksAfter >= IGNORED_CHECKS) break;
        }
        await new Promise((r) => setImmediate(r));
      }
      return new Uint8Array([1]);
    } finally {
      if (ctx.signal.aborted) run.aborted++;
      run.checksAfterAbort += checksAfter;
      run.checksAfterAbortMax = Math.max(run.checksAfterAbortMax, checksAfter);
      run.finished++;
    }
  };
}

const IGNORED_CHECKS = 50;

/** STEPS bounds a handler nobody cancels: far more event-loop turns than any test waits for its cancel (no test waits on time). */
const STEPS = 10_000_000;

t.test('a cancelled call stops its handler on the peer at its next check; counters and maps agree', async (t) => {
  const nodes = await startCluster(2, 31);
  t.teardown(() => Promise.all(nodes.map((n) => n.transport.stop())));
  const [n1, n2] = nodes;
  if (n1 === undefined || n2 === undefined) throw new Error('two nodes');
  const run: StepRun = { started: 0, finished: 0, checksAfterAbort: 0, checksAfterAbortMax: 0, aborted: 0 };
  n2.transport.handle('steps', stepHandler(run, STEPS, true));
  await waitFor(() => n1.transport.peerStatus(2)?.state === 'connected', 'n1 -> n2 connected');

  const abort = new AbortController();
  const call = n1.transport.call(2, 'steps', new Uint8Array(0), 60_000, abort.signal);
  const settled = call.then(
    () => 'answered',
    (e: unknown) => e,
  );
  await waitFor(() => run.started === 1, 'the handler started');
  abort.abort();
  const err = await settled;
  t.ok(isOtlpdbError(err, 'ERR_UNAVAILABLE') && err.details['cancelled'] === true, 'the call fails at once as cancelled');
  await waitFor(() => run.finished === 1, 'the handler finished');
  t.equal(run.aborted, 1, 'the handler saw its signal abort');
  t.equal(run.checksAfterAbort, 1, 'it stopped at its first check after the cancel');
  const m1 = n1.transport.metrics();
  const m2 = n2.transport.metrics();
  t.equal(m1.callsCancelled, 1, 'the caller counts one cancelled call');
  t.equal(m1.cancelsSent, 1, 'and one cancel frame sent');
  t.equal(m2.cancelsReceived, 1, 'the callee counts one cancel received');
  t.equal(m2.callsServedCancelled, 1, 'and one served call ended by it (no answer sent)');
  t.equal(m2.cancelsUnknown, 0);
  await waitFor(() => n2.transport.callsInFlight().served === 0, 'the callee forgets the call');
  t.same(n1.transport.callsInFlight(), { pending: 0, served: 0 }, 'the caller holds no call');

  // A call whose deadline passes tells the peer too.
  const late = await n1.transport.call(2, 'steps', new Uint8Array(0), 30).catch((e: unknown) => e);
  t.ok(isOtlpdbError(late, 'ERR_TIMEOUT'), 'a call past its deadline times out');
  await waitFor(() => run.finished === 2, 'the timed-out call handler finished');
  t.equal(run.checksAfterAbort, 2, 'and stopped at its first check after the cancel');
  t.equal(n1.transport.metrics().cancelsSent, 2, 'a timeout sends a cancel');

  // An answered call is not cancelled by a later abort.
  const quick = new AbortController();
  n2.transport.handle('echo', (p) => p);
  const echoed = await n1.transport.call(2, 'echo', new Uint8Array([7]), 10_000, quick.signal);
  quick.abort();
  t.same([...echoed], [7], 'answered before the abort');
  t.equal(n1.transport.metrics().callsCancelled, 1, 'an abort after the answer counts nothing');
  // An aborted signal refuses the call before it is sent.
  const pre = await n1.transport.call(2, 'echo', new Uint8Array([7]), 10_000, quick.signal).catch((e: unknown) => e);
  t.ok(isOtlpdbError(pre, 'ERR_UNAVAILABLE'), 'an already-aborted signal refuses the call');
});

t.test('planted: a handler that ignores its cancel runs on, and the check above catches it', async (t) => {
  const nodes = await startCluster(2, 32);
  t.teardown(() => Promise.all(nodes.map((n) => n.transport.stop())));
  const [n1, n2] = nodes;
  if (n1 === undefined || n2 === undefined) throw new Error('two nodes');
  const run: StepRun = { started: 0, finished: 0, checksAfterAbort: 0, checksAfterAbortMax: 0, aborted: 0 };
  n2.transport.handle('steps', stepHandler(run, STEPS, false));
  await waitFor(() => n1.transport.peerStatus(2)?.state === 'connected', 'connected');
  const abort = new AbortController();
  const call = n1.transport.call(2, 'steps', new Uint8Array(0), 60_000, abort.signal).catch(() => undefined);
  await waitFor(() => run.started === 1, 'started');
  abort.abort();
  await call;
  await waitFor(() => run.finished === 1, 'finished');
  t.ok(run.checksAfterAbort > 1, `the ignoring handler made ${run.checksAfterAbort} checks after the cancel: "stopped within one check" fails`);
});

t.test('a call cancelled before its request was written never reaches the peer', async (t) => {
  const n2 = await startNode(2, 33);
  const n1 = await startNode(1, 34);
  t.teardown(() => Promise.all([n1.transport.stop(), n2.transport.stop()]));
  n2.transport.setPeers(new Map([[1, n1.transport.address()]]));
  const run: StepRun = { started: 0, finished: 0, checksAfterAbort: 0, checksAfterAbortMax: 0, aborted: 0 };
  n2.transport.handle('steps', stepHandler(run, 10, true));
  n1.transport.setPeers(new Map([[2, n2.transport.address()]]));
  t.equal(n1.transport.peerStatus(2)?.state, 'connecting', 'the link is still dialing: the request waits in the queue');
  const abort = new AbortController();
  const call = n1.transport.call(2, 'steps', new Uint8Array(0), 60_000, abort.signal).catch((e: unknown) => e);
  t.equal(n1.transport.peerStatus(2)?.queuedFrames, 1, 'queued');
  abort.abort();
  t.equal(n1.transport.peerStatus(2)?.queuedFrames, 0, 'taken off the queue');
  t.ok(isOtlpdbError(await call, 'ERR_UNAVAILABLE'));
  t.equal(n1.transport.metrics().cancelsSent, 0, 'no cancel frame was needed');
  n2.transport.handle('echo', (p) => p);
  await n1.transport.call(2, 'echo', new Uint8Array([1]), 10_000);
  t.equal(n2.transport.metrics().callsServed, 1, 'the peer served only the later call');
  t.equal(run.started, 0, 'the cancelled request never ran');
});

t.test('many calls cancelled at seeded points leave no call behind on either side', async (t) => {
  const nodes = await startCluster(2, 35);
  t.teardown(() => Promise.all(nodes.map((n) => n.transport.stop())));
  const [n1, n2] = nodes;
  if (n1 === undefined || n2 === undefined) throw new Error('two nodes');
  const run: StepRun = { started: 0, finished: 0, checksAfterAbort: 0, checksAfterAbortMax: 0, aborted: 0 };
  n2.transport.handle('steps', stepHandler(run, 40, true));
  await waitFor(() => n1.transport.peerStatus(2)?.state === 'connected', 'connected');
  const rand = new SeededRand(2026);
  const calls: Promise<unknown>[] = [];
  const COUNT = 600;
  for (let i = 0; i < COUNT; i++) {
    const abort = new AbortController();
    calls.push(n1.transport.call(2, 'steps', new Uint8Array(0), 60_000, abort.signal).catch((e: unknown) => e));
    const turns = rand.intn(60);
    // Some abort after the answer (harmless), most while the handler runs, some before it starts.
    void (async () => {
      for (let k = 0; k < turns; k++) await new Promise((r) => setImmediate(r));
      abort.abort();
    })();
  }
  await Promise.all(calls);
  await waitFor(() => run.finished === run.started, 'every started handler finished');
  await waitFor(() => n2.transport.callsInFlight().served === 0, 'the callee holds no call');
  t.same(n1.transport.callsInFlight(), { pending: 0, served: 0 }, 'the caller holds no call');
  const m1 = n1.transport.metrics();
  const m2 = n2.transport.metrics();
  t.ok(m1.callsCancelled > 0 && m1.callsCancelled <= COUNT, `${m1.callsCancelled} calls cancelled`);
  await waitFor(() => {
    const m = n2.transport.metrics();
    return m.cancelsReceived + m.cancelsUnknown === m1.cancelsSent;
  }, 'every cancel sent reached the callee: live, or unknown (answered already)');
  t.pass('every cancel sent reached the callee');
  t.ok(run.aborted > 0, `${run.aborted} handlers saw their cancel`);
  t.equal(run.checksAfterAbortMax, 1, 'every aborted handler stopped at its first check after it');
  t.ok(m2.callsServedCancelled <= m2.cancelsReceived, 'no answer was suppressed without a cancel');
});

/** rawHello opens a session to `port` from 127.0.0.9 (configured as node 9) and says Hello. */
async function rawHello(port: number): Promise<net.Socket> {
  const s = net.connect({ host: '127.0.0.2', port, localAddress: '127.0.0.9' });
  s.on('error', () => {});
  await new Promise<void>((r) => s.once('connect', () => r()));
  s.write(frame(FrameType.Hello, encodeHello(CLUSTER_ID, 9)));
  return s;
}

function frame(type: number, payload: Uint8Array): Buffer {
  const b = Buffer.alloc(5 + payload.length);
  b.writeUInt32BE(payload.length + 1, 0);
  b.writeUInt8(type, 4);
  b.set(payload, 5);
  return b;
}

t.test('malformed, unknown-id and other-version cancels are harmless and counted', async (t) => {
  const packr = new Packr({ useRecords: false });
  const n2 = await startNode(2, 36);
  t.teardown(() => n2.transport.stop());
  n2.transport.setPeers(new Map([[9, { host: '127.0.0.9', port: 1 }]]));
  const port = n2.transport.address().port;
  const run: StepRun = { started: 0, finished: 0, checksAfterAbort: 0, checksAfterAbortMax: 0, aborted: 0 };
  n2.transport.handle('steps', stepHandler(run, STEPS, true));
  n2.transport.handle('echo', (p) => p);

  // Unknown id and another version: counted, ignored, the connection serves on.
  const s = await rawHello(port);
  const answers: Buffer[] = [];
  s.on('data', (c: Buffer) => answers.push(c));
  s.write(frame(FrameType.CallCancel, encodeCallCancel(12345)));
  s.write(frame(FrameType.CallCancel, packr.pack([CALL_CANCEL_VERSION + 1, 5])));
  s.write(frame(FrameType.CallRequest, encodeCallRequest({ callId: 5, method: 'steps', deadlineMs: 60_000, payload: new Uint8Array(0) })));
  await waitFor(() => run.started === 1, 'the raw call runs');
  s.write(frame(FrameType.CallCancel, packr.pack([CALL_CANCEL_VERSION + 1, 5])));
  s.write(frame(FrameType.CallRequest, encodeCallRequest({ callId: 6, method: 'echo', deadlineMs: 60_000, payload: new Uint8Array([3]) })));
  await waitFor(() => answers.length > 0, 'the echo is answered on the same connection');
  t.equal(run.finished, 0, 'a cancel of another version did not stop the call');
  s.write(frame(FrameType.CallCancel, encodeCallCancel(5)));
  await waitFor(() => run.finished === 1, 'a cancel of our version did');
  t.equal(run.checksAfterAbort, 1);
  const m = n2.transport.metrics();
  t.equal(m.cancelsUnknown, 1, 'unknown id counted');
  t.equal(m.cancelsOtherVersion, 2, 'other version counted');
  t.equal(m.cancelsReceived, 1);
  t.equal(Object.keys(m.framesRefused).length, 0, 'nothing refused so far');

  // Malformed: refused like any malformed frame (counted, that connection closed); the node serves on.
  const cases: Array<[string, Uint8Array]> = [
    ['not msgpack', Buffer.from([0xc1])],
    ['a map', packr.pack({ callId: 1 })],
    ['a negative id', packr.pack([CALL_CANCEL_VERSION, -1])],
    ['version 0', packr.pack([0, 1])],
    ['too long', packr.pack([CALL_CANCEL_VERSION, 1, 'x'.repeat(64)])],
  ];
  for (const [name, payload] of cases) {
    const before = n2.transport.metrics().framesRefused['bad_cancel'] ?? 0;
    const bad = await rawHello(port);
    const closed = new Promise<void>((r) => bad.once('close', () => r()));
    bad.write(frame(FrameType.CallCancel, payload));
    await closed;
    t.equal(n2.transport.metrics().framesRefused['bad_cancel'], before + 1, `${name}: refused and counted`);
  }
  // A connection that closes aborts what it was serving.
  const s2 = await rawHello(port);
  s2.write(frame(FrameType.CallRequest, encodeCallRequest({ callId: 7, method: 'steps', deadlineMs: 60_000, payload: new Uint8Array(0) })));
  await waitFor(() => run.started === 2, 'a second raw call runs');
  s2.destroy();
  await waitFor(() => run.finished === 2, 'its handler stops when its connection closes');
  t.equal(run.checksAfterAbort, 2);
  s.destroy();
  await waitFor(() => n2.transport.callsInFlight().served === 0, 'no call left');
});
