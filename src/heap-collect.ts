/**
 * heap-collect.ts — a full garbage collection on demand, for the one moment
 * a node knows most of its old generation has just become garbage: an
 * admin flush (shard-service.ts flushLocal, `POST /api/v1/admin/flush`)
 * has moved every head into blocks, so the heads' rows, columns and
 * interned strings (about 150 MB a node after 2M spans on 3 nodes, R=3)
 * are dead. Left to V8, they went with the first Mark-Compact once the old
 * generation neared its limit, which came during the queries that followed
 * the flush: measured in bench/query-traces at 2M spans (bench/README.md,
 * query-traces, s18), one Mark-Compact per node in the 31 s query phase
 * (44-66 ms final pause, plus incremental and concurrent marking), each
 * inside the slowest search of its kind (938 and 665 ms against p50s of
 * 113-117 ms at load 18-21). Collecting before the flush answers moves that
 * pause into the flush, where nothing waits on it.
 *
 * How: V8's `gc()` extension, enabled at run time
 * (`v8.setFlagsFromString('--expose-gc')` applies to contexts created
 * afterwards) and taken once from a fresh `vm` context, so the node's own
 * global never gets a `gc`. NB: Node documents changing V8 flags after start
 * as unsupported (behaviour may vary between versions); when the extension
 * is not there, collectGarbageNow does nothing and answers false.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let collect: (() => void) | null | undefined;

/** gcFunction is V8's gc(), or null when this runtime does not give it. */
function gcFunction(): (() => void) | null {
  if (collect !== undefined) return collect;
  try {
    setFlagsFromString('--expose-gc');
    const f: unknown = runInNewContext('typeof gc === "function" ? gc : null');
    collect = typeof f === 'function' ? (f as () => void) : null;
  } catch {
    collect = null;
  }
  return collect;
}

/** collectGarbageNow runs a full (Mark-Compact) collection of the node's heap now, synchronously; false when the runtime cannot. */
export function collectGarbageNow(): boolean {
  const f = gcFunction();
  if (f === null) return false;
  f();
  return true;
}
