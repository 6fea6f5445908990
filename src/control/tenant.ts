/**
 * tenant.ts — per-tenant settings kept in the meta group: ingest limits and
 * retention per signal, with defaults and validation. Pure functions over
 * plain records; the meta state machine stores the resolved record.
 */
import { ControlLimits } from '../limits.js';

/** Signal names the three OTLP signals a tenant's retention is set for. */
export type Signal = 'traces' | 'metrics' | 'logs';

/** SIGNALS lists every Signal in canonical order. */
export const SIGNALS: readonly Signal[] = ['traces', 'metrics', 'logs'];

/** RetentionMs is how long each signal's data is kept, in milliseconds. */
export interface RetentionMs {
  readonly traces: number;
  readonly metrics: number;
  readonly logs: number;
}

/** TenantSettings are one tenant's resolved settings (every field present and valid). */
export interface TenantSettings {
  /** ingestBytesPerSecondMax is the token bucket's refill rate for the tenant's OTLP ingest. */
  readonly ingestBytesPerSecondMax: number;
  /** ingestBurstBytesMax is the token bucket's size; at least the rate. */
  readonly ingestBurstBytesMax: number;
  /** queryConcurrencyMax bounds the tenant's queries running at once. */
  readonly queryConcurrencyMax: number;
  readonly retentionMs: RetentionMs;
  /** traceSampleRatio is the head-sampling ratio of the tenant's spans in [0, 1] (OpenTelemetry's TraceIdRatioBased decision; 1 keeps every span). */
  readonly traceSampleRatio: number;
}

/** TenantSettingsPatch is what a setTenant command carries: fields it omits keep their current (or default) value. */
export interface TenantSettingsPatch {
  readonly ingestBytesPerSecondMax?: number;
  readonly ingestBurstBytesMax?: number;
  readonly queryConcurrencyMax?: number;
  readonly retentionMs?: Partial<RetentionMs>;
  readonly traceSampleRatio?: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** TenantDefaults are the settings of a tenant nobody configured, and the base a new tenant's patch applies to. */
export const TenantDefaults: TenantSettings = Object.freeze({
  ingestBytesPerSecondMax: 16 * 1024 * 1024,
  ingestBurstBytesMax: 32 * 1024 * 1024,
  queryConcurrencyMax: 8,
  retentionMs: Object.freeze({ traces: 7 * DAY_MS, metrics: 30 * DAY_MS, logs: 7 * DAY_MS }),
  traceSampleRatio: 1,
});

const TENANT_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** checkTenantId returns why a tenant id is invalid, or null when it is valid (1..tenantIdBytesMax ASCII of [A-Za-z0-9_.-]). */
export function checkTenantId(id: unknown): string | null {
  if (typeof id !== 'string') return 'tenant id is not a string';
  if (id.length === 0 || id.length > ControlLimits.tenantIdBytesMax) {
    return `tenant id length ${id.length} is outside [1, ${ControlLimits.tenantIdBytesMax}]`;
  }
  if (!TENANT_ID.test(id)) return `tenant id ${JSON.stringify(id)} must match ${String(TENANT_ID)}`;
  return null;
}

function intIn(v: unknown, lo: number, hi: number): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= lo && v <= hi;
}

/**
 * resolveTenantSettings applies a patch to `base` and validates the result.
 * It returns the new settings, or a string naming the first violation. The
 * patch is untrusted (decoded from a command): unknown fields are refused so
 * that a typo is not silently ignored.
 */
export function resolveTenantSettings(base: TenantSettings, patch: unknown): TenantSettings | string {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return 'tenant settings are not an object';
  const p = patch as Record<string, unknown>;
  for (const k of Object.keys(p)) {
    if (!['ingestBytesPerSecondMax', 'ingestBurstBytesMax', 'queryConcurrencyMax', 'retentionMs', 'traceSampleRatio'].includes(k)) {
      return `unknown tenant setting ${JSON.stringify(k)}`;
    }
  }
  const rate = p.ingestBytesPerSecondMax ?? base.ingestBytesPerSecondMax;
  const burst = p.ingestBurstBytesMax ?? base.ingestBurstBytesMax;
  const conc = p.queryConcurrencyMax ?? base.queryConcurrencyMax;
  if (!intIn(rate, 1, ControlLimits.tenantIngestBytesPerSecondMax)) {
    return `ingestBytesPerSecondMax must be an integer in [1, ${ControlLimits.tenantIngestBytesPerSecondMax}]`;
  }
  if (!intIn(burst, rate, 2 * ControlLimits.tenantIngestBytesPerSecondMax)) {
    return `ingestBurstBytesMax must be an integer in [ingestBytesPerSecondMax, ${2 * ControlLimits.tenantIngestBytesPerSecondMax}]`;
  }
  if (!intIn(conc, 1, ControlLimits.tenantQueryConcurrencyMax)) {
    return `queryConcurrencyMax must be an integer in [1, ${ControlLimits.tenantQueryConcurrencyMax}]`;
  }
  const ratio = p.traceSampleRatio ?? base.traceSampleRatio;
  if (typeof ratio !== 'number' || !Number.isFinite(ratio) || ratio < 0 || ratio > 1) return 'traceSampleRatio must be a number in [0, 1]';
  let rp: Record<string, unknown> = {};
  if (p.retentionMs !== undefined) {
    if (typeof p.retentionMs !== 'object' || p.retentionMs === null || Array.isArray(p.retentionMs)) {
      return 'retentionMs is not an object';
    }
    rp = p.retentionMs as Record<string, unknown>;
    for (const k of Object.keys(rp)) if (!(SIGNALS as readonly string[]).includes(k)) return `unknown signal ${JSON.stringify(k)}`;
  }
  const ret: Record<Signal, number> = { traces: 0, metrics: 0, logs: 0 };
  for (const s of SIGNALS) {
    const v = rp[s] ?? base.retentionMs[s];
    if (!intIn(v, ControlLimits.tenantRetentionMsMin, ControlLimits.tenantRetentionMsMax)) {
      return `retentionMs.${s} must be an integer in [${ControlLimits.tenantRetentionMsMin}, ${ControlLimits.tenantRetentionMsMax}]`;
    }
    ret[s] = v;
  }
  // Canonical key order: the snapshot bytes must not depend on the order a client listed the fields in.
  return {
    ingestBytesPerSecondMax: rate,
    ingestBurstBytesMax: burst,
    queryConcurrencyMax: conc,
    retentionMs: { traces: ret.traces, metrics: ret.metrics, logs: ret.logs },
    traceSampleRatio: ratio,
  };
}
