/**
 * bench-http.ts — the HTTP steps the query benches share (bench/query-traces,
 * bench/query-logs): a request with a timeout, the bench tenant's ingest
 * limits raised so the token bucket never shapes a load, and the load
 * itself (pre-encoded OTLP bodies over a few connections, retried on 429,
 * 503 and closed connections; a repeat is harmless since the receiver
 * deduplicates by the request's idempotency key, DESIGN.md §1.3).
 */

/** BENCH_TENANT is the tenant every query bench writes and reads. */
export const BENCH_TENANT = 'bench';

/** BenchHttpLimits bound the benches' requests: one request's time, and the retries of one body. */
export const BenchHttpLimits = {
  requestMsMax: 120_000,
  sendRetriesMax: 50,
  retryAfterSecondsMax: 5,
} as const;

/** BenchAnswer is a bench request's answer: status, body text and the Retry-After it named (1 s by default). */
export interface BenchAnswer {
  readonly status: number;
  readonly text: string;
  readonly retryAfterS: number;
}

/** benchRequest fetches `url` with a timeout and reads the whole answer. */
export async function benchRequest(url: string, init: RequestInit = {}, timeoutMs: number = BenchHttpLimits.requestMsMax): Promise<BenchAnswer> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  const retryAfterS = Number(res.headers.get('retry-after') ?? '1');
  return { status: res.status, text, retryAfterS: Number.isFinite(retryAfterS) ? retryAfterS : 1 };
}

/** configureBenchTenant raises BENCH_TENANT's ingest rate and burst (1 GiB/s, 2 GiB) and waits until every node applied it. */
export async function configureBenchTenant(apis: readonly string[], bench: string): Promise<void> {
  const settings = { ingestBytesPerSecondMax: 1024 * 1024 * 1024, ingestBurstBytesMax: 2 * 1024 * 1024 * 1024 };
  const put = await benchRequest(`http://${apis[0] as string}/api/v1/tenants/${BENCH_TENANT}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(settings) });
  if (put.status !== 200) throw new Error(`${bench}: PUT tenant answered ${put.status}: ${put.text}`);
  // A linearizable read on each node returns once that node applied the write.
  for (const api of apis) await benchRequest(`http://${api}/api/v1/tenants/${BENCH_TENANT}`);
}

/** BenchLoad is one load: the bodies, where they go, and how it reports. */
export interface BenchLoad {
  readonly bench: string;
  readonly bodies: readonly Uint8Array[];
  /** path is the OTLP/HTTP path, e.g. `/v1/logs`. */
  readonly path: string;
  readonly targets: readonly string[];
  readonly connections: number;
  /** logEvery logs progress after that many bodies. */
  readonly logEvery: number;
  readonly log: (line: string) => void;
}

/** LoadRetries counts what a load's refusals cost: retried sends by status (0: the connection failed) and the seconds slept before them, summed over connections. */
export interface LoadRetries {
  readonly retries: number;
  readonly byStatus: Readonly<Record<string, number>>;
  readonly sleptSec: number;
}

/**
 * writeAllBodies sends every body once acknowledged (200), `connections` at
 * a time, spread over the targets, and says what the refusals cost: a
 * load's wall time moves with how often the nodes pushed back, so a bench
 * that times a load prints this beside it.
 */
export async function writeAllBodies(load: BenchLoad): Promise<LoadRetries> {
  let next = 0;
  let done = 0;
  let retries = 0;
  let sleptMs = 0;
  const byStatus: Record<string, number> = {};
  const worker = async (w: number): Promise<void> => {
    for (;;) {
      const i = next++;
      const body = load.bodies[i];
      if (body === undefined) return;
      const target = load.targets[(i + w) % load.targets.length] as string;
      for (let attempt = 0; ; attempt++) {
        const init = { method: 'POST', headers: { 'content-type': 'application/x-protobuf', 'x-scope-orgid': BENCH_TENANT }, body };
        const r = await benchRequest(`http://${target}${load.path}`, init).catch((err: unknown): BenchAnswer => {
          load.log(`  request ${i}: ${err instanceof Error ? `${err.message}${err.cause === undefined ? '' : `: ${String(err.cause)}`}` : String(err)}; retrying`);
          return { status: 0, text: String(err), retryAfterS: 1 };
        });
        if (r.status === 200) break;
        if ((r.status !== 0 && r.status !== 429 && r.status !== 503) || attempt >= BenchHttpLimits.sendRetriesMax) {
          throw new Error(`${load.bench}: request ${i} answered ${r.status}: ${r.text.slice(0, 200)}`);
        }
        const waitMs = Math.min(BenchHttpLimits.retryAfterSecondsMax, r.retryAfterS) * 1000;
        retries++;
        byStatus[String(r.status)] = (byStatus[String(r.status)] ?? 0) + 1;
        sleptMs += waitMs;
        await new Promise((res) => setTimeout(res, waitMs));
      }
      done++;
      if (done % load.logEvery === 0) load.log(`  written ${done} of ${load.bodies.length} requests`);
    }
  };
  await Promise.all(Array.from({ length: load.connections }, (_, w) => worker(w)));
  return { retries, byStatus, sleptSec: Math.round(sleptMs / 100) / 10 };
}
