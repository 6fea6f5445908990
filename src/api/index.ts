/**
 * index.ts — the public surface of src/api: the node's HTTP API server and
 * the pure views it serves.
 */
export { ApiServer, errorBody } from './server.js';
export { ApiLimits } from '../limits.js';
export type { ApiServerOptions } from './server.js';
export { bodyLimitFor, isControlPath, parseTtlMs, serveControl } from './control-routes.js';
export { AdminApiLimits, ControlApiLimits } from '../limits.js';
export { isAdminPath, parseFaults, parsePeerId, serveAdmin } from './admin-routes.js';
export type { AdminRequest, AdminResponse } from './admin-routes.js';
export type { ControlRequest, ControlResponse } from './control-routes.js';
export { clusterDocument, readiness } from './views.js';
export { lokiRoute, parseLokiDuration, parseLokiTime, serveLoki, servePush } from './loki-routes.js';
export type { LokiAnswer, LokiRequest, LokiRoute, LokiSource, PushRequest } from './loki-routes.js';
export { LOKI_PUSH_PATH, parsePushJson, parsePushProto, pushToOtlp } from './loki-push.js';
export { escapeLabel, prometheusText, snakeCase } from './prometheus-text.js';
export type { ClusterDocument, Readiness } from './views.js';
export type { AdminSource, ApiSource, ControlSource, GroupView, NodeView, ProposalCounts, WalSyncHistogram } from './types.js';
