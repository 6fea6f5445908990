import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { createHttpServer } from './http-server.js';
import { ApiLimits } from './limits.js';

/** BLOCK_MS is past Node's default keep-alive timeout (5 s, and the socket timeout Node 20 arms at 6 s): how long the test holds the event loop. */
const BLOCK_MS = 6_500;

/**
 * secondAnswer sends two requests on one keep-alive connection to `server`:
 * the second is written shortly after the first answer arrives, and then the
 * process's event loop is held BLOCK_MS (a node busy with a flush or a GC
 * pause). It resolves 'answered' when the second request gets its answer,
 * 'reset' when the server closes the connection instead.
 */
async function secondAnswer(server: http.Server): Promise<'answered' | 'reset'> {
  server.on('request', (req, res) => {
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const request = 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n';
  try {
    return await new Promise<'answered' | 'reset'>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
      let text = '';
      let written = false;
      socket.on('data', (d: Buffer) => {
        text += d.toString('latin1');
        const answers = text.split('HTTP/1.1 200').length - 1;
        if (answers === 1 && !written && text.endsWith('ok')) {
          written = true;
          // Once the server has armed its keep-alive timer (the answer's write completed), write the second request
          // in a check phase and hold the loop there: the next loop turn runs its timers before the poll that would
          // read the request, as on a node whose long task started from an I/O callback.
          setTimeout(() => {
            setImmediate(() => {
              socket.write(request);
              const until = Date.now() + BLOCK_MS;
              while (Date.now() < until) {
                // The server cannot read the request just written.
              }
            });
          }, 50);
        }
        if (answers === 2 && text.endsWith('ok')) {
          socket.destroy();
          resolve('answered');
        }
      });
      socket.on('error', () => resolve('reset'));
      socket.on('close', () => resolve(text.split('HTTP/1.1 200').length - 1 === 2 ? 'answered' : 'reset'));
    });
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

t.test('a request sent on a keep-alive connection is answered even when the node is busy past Node\'s default keep-alive', async (t) => {
  const server = createHttpServer({ requestTimeoutMs: ApiLimits.requestTimeoutMs, headersTimeoutMs: ApiLimits.headersTimeoutMs, connectionsMax: ApiLimits.connectionsMax });
  t.equal(await secondAnswer(server), 'answered', 'the second request is answered');
  // Planted bug: Node's default keep-alive timeout (5 s) closes the connection under the waiting request.
  t.equal(await secondAnswer(http.createServer()), 'reset', 'planted: a server with Node\'s default keep-alive resets it');
});
