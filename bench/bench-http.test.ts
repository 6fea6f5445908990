import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { writeAllBodies } from './bench-http.js';

// Not a timed test: it checks that a load retries what the nodes push back
// (429, 503) and says how often and how long it slept, and stops at a
// refusal that is not retryable.

async function serve(answers: readonly number[]): Promise<{ target: string; seen: () => number; close: () => Promise<void> }> {
  let n = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const status = answers[n++] ?? 200;
      res.writeHead(status, status === 200 ? {} : { 'retry-after': '1' });
      res.end(status === 200 ? '' : 'pushed back');
    });
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const { port } = server.address() as AddressInfo;
  return { target: `127.0.0.1:${port}`, seen: () => n, close: () => new Promise((res) => server.close(() => res())) };
}

t.test('refusals are retried, counted by status, and their sleep summed', async (t) => {
  const s = await serve([503, 429]);
  t.teardown(s.close);
  const bodies = [new Uint8Array([1]), new Uint8Array([2]), new Uint8Array([3])];
  const r = await writeAllBodies({ bench: 'test', bodies, path: '/v1/logs', targets: [s.target], connections: 1, logEvery: 100, log: () => undefined });
  t.same(r, { retries: 2, byStatus: { '503': 1, '429': 1 }, sleptSec: 2 });
  t.equal(s.seen(), 5, 'three bodies, two of the sends refused');
});

t.test('a load without refusals reports none', async (t) => {
  const s = await serve([]);
  t.teardown(s.close);
  const r = await writeAllBodies({ bench: 'test', bodies: [new Uint8Array([1])], path: '/v1/logs', targets: [s.target], connections: 2, logEvery: 100, log: () => undefined });
  t.same(r, { retries: 0, byStatus: {}, sleptSec: 0 });
});

t.test('a refusal that is not retryable fails the load', async (t) => {
  const s = await serve([400]);
  t.teardown(s.close);
  await t.rejects(writeAllBodies({ bench: 'test', bodies: [new Uint8Array([1])], path: '/v1/logs', targets: [s.target], connections: 1, logEvery: 100, log: () => undefined }), /request 0 answered 400/);
});
