/**
 * test-helpers.ts — test-only helpers for the meta state machine: apply
 * commands one entry at a time at consecutive indices. Not exported from index.ts.
 */
import { EntryType } from '../raft/types.js';
import type { Entry } from '../raft/types.js';
import { decodeMetaResult, encodeMetaCommand } from './meta-command.js';
import type { MetaCommand, MetaResult } from './meta-command.js';
import { MetaStateMachine } from './meta-state-machine.js';

/** MetaRunner feeds commands to one state machine as Raft entries of term 1. */
export class MetaRunner {
  readonly sm: MetaStateMachine;

  constructor(sm: MetaStateMachine = new MetaStateMachine()) {
    this.sm = sm;
  }

  /** entry builds the next entry carrying `data`. */
  entry(data: Uint8Array, type: Entry['type'] = EntryType.Normal): Entry {
    return { term: 1, index: this.sm.appliedIndex() + 1, type, data };
  }

  /** raw applies one entry of raw bytes and returns its raw result. */
  raw(data: Uint8Array): Uint8Array {
    const out = this.sm.apply([this.entry(data)]);
    return out[0] ?? new Uint8Array(0);
  }

  /** run applies one command and decodes its result. */
  run(c: MetaCommand): MetaResult {
    return decodeMetaResult(this.raw(encodeMetaCommand(c)));
  }
}
