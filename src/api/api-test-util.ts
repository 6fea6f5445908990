/**
 * api-test-util.ts — what the API route tests share: an ApiServer on an
 * ephemeral loopback port stopped at the test's end, and the smallest
 * ApiSource (no nodes, no groups) a route test extends with what it needs.
 */
import type { Test } from 'tap';
import type { HostPort } from '../node-config.js';
import { newMetrics } from '../transport/transport-types.js';
import { ApiServer } from './server.js';
import type { ApiSource } from './types.js';

/** serveApi starts an ApiServer over `source` on 127.0.0.1 (any free port), stopped when `t` ends, and returns its address. */
export async function serveApi(t: Test, source: ApiSource): Promise<HostPort> {
  const api = await ApiServer.start({ host: '127.0.0.1', port: 0, source });
  t.teardown(() => api.stop());
  return api.address();
}

/** bareApiSource is node 1 with no members, no groups and empty transport metrics, plus `extra` (an admin or clock source). */
export function bareApiSource(extra: Partial<ApiSource> = {}): ApiSource {
  return {
    nodeId: 1,
    metaGroup: 0,
    nodes: () => [],
    groups: () => [],
    transportMetrics: () => newMetrics(),
    driverStats: () => ({}),
    ...extra,
  };
}
