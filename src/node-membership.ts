/**
 * node-membership.ts — how a node joins a cluster and how members admit and
 * retire nodes, as commands on the meta group. The meta leader's cluster
 * controller (cluster-controller.ts) then does the Raft membership and the
 * replica moves; these functions only record intent:
 *
 * - joinThrough: the joining node asks any member (POST
 *   /api/v1/cluster/nodes) until it is recorded, and learns the members;
 * - admitNode: a member records the joining node as `joining` (idempotent:
 *   a node already recorded with the same addresses is answered again);
 * - retireNode: a member marks a node `leaving`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { JoinRequest } from './api/types.js';
import type { MetaStateMachine } from './control/meta-state-machine.js';
import type { MetaCommand, MetaResult, NodeInfo } from './control/meta-command.js';
import { OtlpdbError } from './errors.js';
import { requestJson } from './http-client.js';
import { NodeDefaults, ReconcileLimits } from './limits.js';
import { formatHostPort, parseHostPort } from './node-config.js';
import type { HostPort } from './node-config.js';
import type { NodeLog } from './node-log.js';
import type { GroupId, NodeId } from './raft/types.js';

/** MembershipDeps is what admitting and retiring need from the node serving the request. */
export interface MembershipDeps {
  /** metaRead passes a linearizable read barrier on the meta group and returns its state machine. */
  readonly metaRead: () => Promise<MetaStateMachine>;
  /** proposeMeta runs a command on the meta group (forwarding to its leader). */
  readonly proposeMeta: (c: MetaCommand) => Promise<MetaResult>;
  readonly log: NodeLog;
  readonly metaGroup: GroupId;
}

/**
 * joinThrough asks the member at `api` to record this node, retrying within
 * joinDeadlineMs (a refusal, 4xx but 429, ends it at once with
 * ERR_INVALID_ARGUMENT), and resolves with the members it answered with.
 */
export async function joinThrough(api: HostPort, req: JoinRequest, stopping: () => boolean): Promise<Map<NodeId, HostPort>> {
  const body = JSON.stringify(req);
  const end = performance.now() + ReconcileLimits.joinDeadlineMs;
  let last = '';
  while (performance.now() < end && !stopping()) {
    try {
      const r = await requestJson(api, 'POST', '/api/v1/cluster/nodes', body, ReconcileLimits.joinRequestTimeoutMs);
      if (r.status === 200) {
        const doc = r.json as { nodes?: { id: string; peerAddress: string }[] };
        const peers = new Map<NodeId, HostPort>();
        for (const n of doc.nodes ?? []) {
          const id = Number(n.id);
          if (id !== req.id && Number.isSafeInteger(id)) peers.set(id, parseHostPort('peer', n.peerAddress, NodeDefaults.peerPort));
        }
        return peers;
      }
      last = `${r.status} ${JSON.stringify(r.json)}`;
      if (r.status >= 400 && r.status < 500 && r.status !== 429) {
        throw new OtlpdbError('ERR_INVALID_ARGUMENT', `${formatHostPort(api)} refused the join: ${last}`);
      }
    } catch (err) {
      if (err instanceof OtlpdbError && err.code === 'ERR_INVALID_ARGUMENT') throw err;
      last = String(err);
    }
    await sleep(ReconcileLimits.joinRetryMs);
  }
  throw new OtlpdbError('ERR_UNAVAILABLE', `could not join through ${formatHostPort(api)} within ${ReconcileLimits.joinDeadlineMs} ms: ${last}`);
}

/**
 * admitNode records a joining node (state `joining`) unless it is recorded
 * already with the same addresses, and returns the recorded nodes after a
 * read barrier. A node id or address in use by another node, or a node on
 * its way out, is ERR_CONFLICT; a cluster still bootstrapping is
 * ERR_UNAVAILABLE (retry).
 */
export async function admitNode(d: MembershipDeps, req: JoinRequest): Promise<NodeInfo[]> {
  if (!Number.isSafeInteger(req.id) || req.id < 1 || req.id > NodeDefaults.nodeIdMax) {
    throw new OtlpdbError('ERR_INVALID_ARGUMENT', `node id must be an integer in [1, ${NodeDefaults.nodeIdMax}]`, { id: req.id });
  }
  const peer = formatHostPort(parseHostPort('peer', req.peer, NodeDefaults.peerPort));
  const api = formatHostPort(parseHostPort('api', req.api, NodeDefaults.apiPort));
  let sm = await d.metaRead();
  if (sm.placement() === null) throw new OtlpdbError('ERR_UNAVAILABLE', 'the cluster is still bootstrapping; retry', {});
  const id = String(req.id);
  for (const n of sm.nodes()) {
    if (n.id !== id && n.peerAddress === peer) throw new OtlpdbError('ERR_CONFLICT', `node ${n.id} already has the peer address ${peer}`, { id: n.id });
  }
  const cur = sm.node(id);
  if (cur?.state === 'leaving') throw new OtlpdbError('ERR_CONFLICT', `node ${id} is being removed; wait until it is gone`, { id });
  if (cur !== null && cur.peerAddress !== peer) {
    throw new OtlpdbError('ERR_CONFLICT', `node ${id} is recorded with the peer address ${cur.peerAddress}, not ${peer}`, { id });
  }
  if (cur === null || cur.apiAddress !== api) {
    const r = await d.proposeMeta({ op: 'setNode', node: { id, peerAddress: peer, apiAddress: api, state: cur?.state ?? 'joining' } });
    if (r.kind === 'refused') throw new OtlpdbError(r.code, r.message, { id });
    d.log.event('node_admitted', { id, peer, api }, d.metaGroup);
    sm = await d.metaRead();
  }
  return sm.nodes();
}

/**
 * retireNode marks a recorded node `leaving`; the meta leader's controller
 * then moves its replicas away and forgets it. The last member cannot leave
 * (ERR_CONFLICT); an unknown node is ERR_NOT_FOUND; a node already leaving
 * is answered as it is.
 */
export async function retireNode(d: MembershipDeps, idNum: NodeId): Promise<NodeInfo> {
  const id = String(idNum);
  const sm = await d.metaRead();
  const cur = sm.node(id);
  if (cur === null) throw new OtlpdbError('ERR_NOT_FOUND', `node ${id} is not a member`, { id });
  if (cur.state === 'leaving') return cur;
  const staying = sm.nodes().filter((n) => n.id !== id && n.state !== 'leaving');
  if (staying.length === 0) throw new OtlpdbError('ERR_CONFLICT', `node ${id} is the last member; it cannot leave`, { id });
  const next: NodeInfo = { ...cur, state: 'leaving' };
  const r = await d.proposeMeta({ op: 'setNode', node: next });
  if (r.kind === 'refused') throw new OtlpdbError(r.code, r.message, { id });
  d.log.event('node_leaving', { id }, d.metaGroup);
  return next;
}
