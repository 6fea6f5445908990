/**
 * index.ts — the public surface of the real-cluster workloads and their
 * checkers. Explicit named exports only.
 */
export { registerWorkload, registerOutcome, toCheckerHistory, performRegister, REGISTER_KEY_PREFIX } from './register.js';
export type { RegisterValue } from './register.js';
export { setWorkload, spansBody, spanIdsOfTrace, sendSpans, drawSpans } from './set.js';
export type { SetValue } from './set.js';
export { checkSet } from './set-checker.js';
export type { SentRequest, SentSpan, SetCheck, TraceRead } from './set-checker.js';
export { attempt } from './client-http.js';
export type { Attempt } from './client-http.js';
export type { Workload, WorkloadContext } from './types.js';
