/**
 * inbound.ts — admission of the messages a peer sent this node: each is
 * stepped into the RawNode of its group, or refused and counted when it is
 * malformed, names a group this node does not host, claims a sender that is
 * not the peer, comes from a node outside the group, or is refused by the
 * core. Refusals never throw: a peer cannot stop the driver.
 *
 * Invariants: at most DriverLimits.receiveMessagesMax messages of one batch
 * are looked at; the rest are refused as malformed. accepted + refused ===
 * messages.length.
 * Owner: the driver calls stepInbound from `receive`; the groups and the
 * counters are the driver's.
 */
import { OtlpdbError, assert, isOtlpdbError } from '../../errors.js';
import { DriverLimits } from '../../limits.js';
import type { GroupId, Message, NodeId } from '../types.js';
import type { DriverStats, ReceiveResult } from './driver-types.js';
import { isMember } from './group-state.js';
import type { GroupState } from './group-state.js';

/**
 * stepInbound steps a batch of messages from peer `from` into their groups
 * and counts what it refused in `stats`; `onRefusal` hears the error of each
 * message the core refused (the driver keeps the last one for logs).
 */
export function stepInbound(
  groups: ReadonlyMap<GroupId, GroupState>,
  from: NodeId,
  messages: readonly Message[],
  stats: DriverStats,
  onRefusal: (err: OtlpdbError) => void,
  hold: (g: GroupState, m: Message) => boolean = () => false,
): ReceiveResult {
  let accepted = 0;
  let refused = 0;
  for (let k = 0; k < messages.length; k++) {
    if (k >= DriverLimits.receiveMessagesMax) {
      refused += messages.length - k;
      stats.refusedMalformed += messages.length - k;
      break;
    }
    const m = messages[k] as unknown as Message | null;
    if (typeof m !== 'object' || m === null || typeof m.group !== 'number') {
      stats.refusedMalformed++;
      refused++;
      continue;
    }
    const g = groups.get(m.group);
    if (g === undefined) {
      stats.refusedUnknownGroup++;
      refused++;
      continue;
    }
    if (m.from !== from || !isMember(g, from)) {
      stats.refusedUnknownNode++;
      refused++;
      continue;
    }
    if (hold(g, m)) {
      accepted++; // Held back by the driver (a snapshot whose data is being staged); it steps it later.
      continue;
    }
    let err: unknown;
    try {
      err = g.raw.step(m);
    } catch (e) {
      err = e; // The core validates input and returns errors; a throw here is still refused, never propagated.
    }
    if (err !== null) {
      stats.refusedStepErrors++;
      onRefusal(isOtlpdbError(err) ? err : new OtlpdbError('ERR_INTERNAL', `step threw: ${String(err)}`));
      refused++;
      continue;
    }
    accepted++;
  }
  assert(accepted + refused === messages.length, 'every message is accepted or refused');
  stats.messagesReceived += accepted;
  return { accepted, refused };
}
