/**
 * index.ts — the public surface of the linearizability checker. Explicit
 * named exports only; see README.md for what it checks and how.
 */
export { checkOperations, CHECKER_CACHE_BYTES_MAX } from './check.js';
export { registerModel, isRegisterInput, isRegisterOutput } from './register-model.js';
export { historyToJsonLines, historyFromJsonLines } from './history-jsonl.js';
export type { RegisterInput, RegisterOutput } from './register-model.js';
export type { HistoryParseOptions } from './history-jsonl.js';
export type {
  CheckOptions,
  CheckOutcome,
  CheckResult,
  Model,
  Operation,
  PartitionResult,
  UnknownReason,
} from './types.js';
