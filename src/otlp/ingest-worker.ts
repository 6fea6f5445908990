/**
 * ingest-worker.ts — the entry point of one receive worker thread
 * (ingest-workers.ts owns the protocol and the pool). It prepares each job
 * it is sent (prepare-parts.ts, with the production decoders and the item
 * limits of its workerData) in arrival order and answers with the parts'
 * bytes in one transferred ArrayBuffer, or with the failure as plain data.
 *
 * The thread keeps no state between jobs besides its hasher and the
 * module-level scratch of the encoders, which every job leaves as it found it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { assert } from '../errors.js';
import { initHash } from '../partition/hash.js';
import { OTLP_DECODERS } from './decoders.js';
import { encodeJobAnswer, encodeJobFailure, readJob } from './ingest-workers.js';
import type { WorkerData } from './ingest-workers.js';
import { prepareParts } from './prepare-parts.js';
import type { PrepareDeps } from './prepare-parts.js';

const port = parentPort;
assert(port !== null, 'ingest-worker.ts runs as a worker thread');
const data = workerData as WorkerData;
const deps: Promise<PrepareDeps> = initHash().then((hasher) => ({ hasher, decoders: OTLP_DECODERS, itemLimits: data.itemLimits }));

port.on('message', (m: unknown) => {
  // Handlers attach in arrival order to one promise, so jobs run in arrival order.
  void deps.then((d) => {
    const job = readJob(m);
    try {
      const { message, transfer } = encodeJobAnswer(job.id, prepareParts(job.job, d));
      port.postMessage(message, transfer);
    } catch (err) {
      port.postMessage(encodeJobFailure(job.id, err));
    }
  });
});
