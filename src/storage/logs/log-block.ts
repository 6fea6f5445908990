/**
 * log-block.ts — encoding a log block: the log rows of one tenant and time
 * bucket as an immutable columnar block (layout in log-block-format.ts;
 * decoding in log-block-decode.ts). Rows keep the order they were given; a
 * row's ordinal (0, 1, ...) is its id in the term index (term-index.ts).
 * Pure code, no I/O.
 */
import { STORAGE_PACKR } from '../storage-packr.js';
import { OtlpdbError, assert } from '../../errors.js';
import { LogBlockLimits } from '../../limits.js';
import { BlockKind, sealBlock } from '../block.js';
import { ByteWriter, encodeStringColumn } from '../codec/index.js';
import type { LogRow, Resource, Scope } from '../rows.js';
import { SEVERITY_NUMBER_MAX, SPAN_ID_BYTES, TRACE_ID_BYTES } from '../rows.js';
import { resourceToWire, scopeToWire } from '../row-wire.js';
import type { RestTails } from './log-block-rest.js';
import { writeRestSection } from './log-block-rest.js';
import type { StreamLabel } from './log-line.js';
import { logLine, streamLabels } from './log-line.js';
import {
  LOG_BLOCK_VERSION,
  LOG_BLOCK_VERSION_UNPAGED,
  MASK_SPAN,
  MASK_TRACE,
  SEV_BYTES,
  SEV_RUNS,
  TIME_BIG,
  TIME_OFFSETS,
  TIME_OFFSETS_SPAN_NS_MAX,
  U64_MAX,
  packLines,
  writeBigUvarint,
  zigzag,
} from './log-block-format.js';

// ---------------------------------------------------------------- encoding

/** OBSERVED_NUMBER_SPAN_NS bounds (exclusive) an observed-minus-time difference written with number arithmetic (svarint takes |v| <= 2^52). */
const OBSERVED_NUMBER_SPAN_NS = 1n << 52n;

function section(out: ByteWriter, body: Uint8Array): void {
  out.uvarint(body.length);
  out.raw(body);
}

/** STREAM_KEYS memoizes streamKey for frozen label lists only (streamLabels shares one frozen list per resource and level; a mutable list may change). */
const STREAM_KEYS = new WeakMap<readonly StreamLabel[], string>();

/** streamKey is a value key for a label set (labels sorted by name). */
export function streamKey(labels: readonly StreamLabel[]): string {
  const known = Object.isFrozen(labels) ? STREAM_KEYS.get(labels) : undefined;
  if (known !== undefined) return known;
  const key = JSON.stringify(labels.map((l) => [l.name, l.value]));
  if (Object.isFrozen(labels)) STREAM_KEYS.set(labels, key);
  return key;
}

/**
 * encodeLogBlock encodes and seals a block of one tenant's log rows in the
 * current, paged layout (version 3, log-block-format.ts): times apart, every
 * other column in pages of `pageRows` rows. Throws ERR_INVALID_ARGUMENT for
 * no rows, mixed tenants or a string with a lone surrogate,
 * ERR_LIMIT_EXCEEDED past LogBlockLimits. `labels`, when given, is
 * streamLabels of each row (a flush derives them once for the block, its
 * index and its stream table); it must be exactly that. `tails`, when
 * given, are each row's rest-section bytes after its table indexes
 * (log-block-rest.ts, written by a flush in apply order); they must be
 * exactly writeRestTail's. `lineBytes`, when given (rows.length long), is
 * filled with each row's line length in UTF-8 bytes, as the line column
 * measured it (a flush's stream table counts them). `lines`, when given, is
 * logLine of each row (a flush derives them once for the block and its
 * index); it must be exactly that.
 */
export function encodeLogBlock(
  rows: readonly LogRow[],
  pageRows: number = LogBlockLimits.pageRows,
  labels?: RowLabels,
  tails?: RestTails,
  lineBytes?: Uint32Array,
  lines?: RowLines,
): Uint8Array {
  assert(Number.isSafeInteger(pageRows) && pageRows >= 1 && pageRows <= LogBlockLimits.pageRowsMax, 'pageRows in range');
  assert(lineBytes === undefined || lineBytes.length === rows.length, 'a line length per row');
  assert(lines === undefined || lines.length === rows.length, 'a line per row');
  const { tenant, minTimeNs, maxTimeNs } = checkRows(rows);
  const n = rows.length;
  const w = new ByteWriter();
  const out = new ByteWriter();
  writeHeader(out, LOG_BLOCK_VERSION, tenant, n, minTimeNs, maxTimeNs);
  w.reset();
  if (maxTimeNs - minTimeNs < TIME_OFFSETS_SPAN_NS_MAX) {
    w.u8(TIME_OFFSETS);
    let prev = 0;
    for (const row of rows) {
      const off = Number(row.timeUnixNano - minTimeNs);
      w.svarint(off - prev);
      prev = off;
    }
  } else {
    w.u8(TIME_BIG);
    writeBigTimes(w, rows, minTimeNs);
  }
  section(out, w.finish());
  const shared: SharedTables = {
    resources: new Dedup<Resource>(resourceToWire),
    scopes: new Dedup<Scope>(scopeToWire),
    streamIdOf: new Map(),
    streamIdOfList: new Map(),
    streams: [],
  };
  const pages: Uint8Array[] = [];
  for (let first = 0; first < n; first += pageRows) {
    const page = new ByteWriter();
    const end = Math.min(n, first + pageRows);
    const pageTails = tails === undefined ? undefined : { bytes: tails.bytes, starts: tails.starts.subarray(first, end), ends: tails.ends.subarray(first, end) };
    writeColumns(page, w, rows.slice(first, end), shared, labels?.slice(first, end), pageTails, lineBytes?.subarray(first, end), lines?.slice(first, end));
    pages.push(page.finish());
  }
  section(out, STORAGE_PACKR.pack([shared.resources.wires, shared.scopes.wires]));
  w.reset();
  writeStreamTable(w, shared.streams);
  section(out, w.finish());
  out.uvarint(pageRows);
  for (const p of pages) out.uvarint(p.length);
  for (const p of pages) out.raw(p);
  const sealed = sealBlock(BlockKind.logs, out.finish());
  assert(sealed.length > out.length, 'sealed block holds the payload');
  return sealed;
}

/**
 * encodeLogBlockUnpaged encodes a block in version 2's layout (every column
 * whole), which flushes wrote before version 3: readers still read it, and
 * the tests and benches that show they do write it with this.
 */
export function encodeLogBlockUnpaged(rows: readonly LogRow[]): Uint8Array {
  const { tenant, minTimeNs, maxTimeNs } = checkRows(rows);
  const w = new ByteWriter();
  const out = new ByteWriter();
  writeHeader(out, LOG_BLOCK_VERSION_UNPAGED, tenant, rows.length, minTimeNs, maxTimeNs);
  w.reset();
  writeBigTimes(w, rows, minTimeNs);
  section(out, w.finish());
  writeColumns(out, w, rows, null);
  const sealed = sealBlock(BlockKind.logs, out.finish());
  assert(sealed.length > out.length, 'sealed block holds the payload');
  return sealed;
}

function checkRows(rows: readonly LogRow[]): { tenant: string; minTimeNs: bigint; maxTimeNs: bigint } {
  const n = rows.length;
  if (n === 0) throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'a log block holds at least one row');
  if (n > LogBlockLimits.rowsPerBlockMax) {
    throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `${n} log rows exceed LogBlockLimits.rowsPerBlockMax (${LogBlockLimits.rowsPerBlockMax})`);
  }
  const tenant = (rows[0] as LogRow).tenant;
  let minTimeNs = U64_MAX;
  let maxTimeNs = 0n;
  for (let i = 0; i < n; i++) {
    const row = rows[i] as LogRow;
    if (row.tenant !== tenant) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `log row ${i} is of tenant ${row.tenant}, not ${tenant}`, { index: i });
    assert(row.timeUnixNano >= 0n && row.timeUnixNano <= U64_MAX, 'log time is u64');
    assert(Number.isInteger(row.severityNumber) && row.severityNumber >= 0 && row.severityNumber <= SEVERITY_NUMBER_MAX, 'severity in range');
    if (row.timeUnixNano < minTimeNs) minTimeNs = row.timeUnixNano;
    if (row.timeUnixNano > maxTimeNs) maxTimeNs = row.timeUnixNano;
  }
  return { tenant, minTimeNs, maxTimeNs };
}

function writeHeader(out: ByteWriter, version: number, tenant: string, n: number, minTimeNs: bigint, maxTimeNs: bigint): void {
  out.u8(version);
  out.str(tenant);
  out.uvarint(n);
  const head = new Uint8Array(16);
  const view = new DataView(head.buffer);
  view.setBigUint64(0, minTimeNs);
  view.setBigUint64(8, maxTimeNs);
  out.raw(head);
}

function writeBigTimes(w: ByteWriter, rows: readonly LogRow[], minTimeNs: bigint): void {
  let prev = minTimeNs;
  for (const row of rows) {
    writeBigUvarint(w, zigzag(row.timeUnixNano - prev));
    prev = row.timeUnixNano;
  }
}

/** SharedTables are a version 3 block's resource, scope and stream tables, which its pages' rest and stream sections index. */
interface SharedTables {
  readonly resources: Dedup<Resource>;
  readonly scopes: Dedup<Scope>;
  readonly streamIdOf: Map<string, number>;
  /** streamIdOfList finds a stream by its label list's identity first (streamLabels shares one list per resource and level). */
  readonly streamIdOfList: Map<readonly StreamLabel[], number>;
  readonly streams: (readonly StreamLabel[])[];
}

/** RowLabels are streamLabels of each row of a block, in row order (encodeLogBlock's `labels`). */
export type RowLabels = readonly (readonly StreamLabel[])[];

/** RowLines are logLine of each row of a block, in row order (encodeLogBlock's and encodeLogIndex's `lines`). */
export type RowLines = readonly string[];

function writeStreamTable(w: ByteWriter, streams: readonly (readonly StreamLabel[])[]): void {
  w.uvarint(streams.length);
  for (const labels of streams) {
    w.uvarint(labels.length);
    for (const l of labels) {
      w.str(l.name);
      w.str(l.value);
    }
  }
}

/**
 * writeColumns appends sections 1-7 (observed .. rest) of `rows` to `out`,
 * each [uvarint byteLength][bytes]; `w` is scratch. With `shared` tables
 * the rest section's own tables are empty and its rows index the shared ones.
 * `lineBytes`, when given, gets each row's line length in UTF-8 bytes;
 * `lines`, when given, is each row's logLine.
 */
function writeColumns(
  out: ByteWriter,
  w: ByteWriter,
  rows: readonly LogRow[],
  shared: SharedTables | null,
  labelsOf?: RowLabels,
  tails?: RestTails,
  lineBytes?: Uint32Array,
  lines?: RowLines,
): void {
  const n = rows.length;
  // 1 observed time, against the time
  w.reset();
  for (const row of rows) {
    assert(row.observedTimeUnixNano >= 0n && row.observedTimeUnixNano <= U64_MAX, 'observed time is u64');
    const d = row.observedTimeUnixNano - row.timeUnixNano;
    // Below 2^52 in magnitude the zigzag is an exact number, and a number's uvarint is the bigint's bytes.
    if (d > -OBSERVED_NUMBER_SPAN_NS && d < OBSERVED_NUMBER_SPAN_NS) w.svarint(Number(d));
    else writeBigUvarint(w, zigzag(d));
  }
  section(out, w.finish());

  // 2 severity: runs or one byte per row
  w.reset();
  const runs: number[] = [];
  for (let i = 0; i < n; ) {
    const sev = (rows[i] as LogRow).severityNumber;
    let j = i + 1;
    while (j < n && (rows[j] as LogRow).severityNumber === sev) j++;
    runs.push(sev, j - i);
    i = j;
  }
  w.u8(SEV_RUNS);
  w.uvarint(runs.length / 2);
  for (let k = 0; k < runs.length; k += 2) {
    w.u8(runs[k] as number);
    w.uvarint(runs[k + 1] as number);
  }
  if (w.length > 1 + n) {
    w.reset();
    w.u8(SEV_BYTES);
    for (const row of rows) w.u8(row.severityNumber);
  }
  section(out, w.finish());

  // 3 severity text, 4 line
  section(out, encodeStringColumn(rows.map((r) => r.severityText)));
  section(out, packLines(encodeStringColumn(lines ?? rows.map(logLine), undefined, undefined, lineBytes)));

  // 5 streams
  w.reset();
  const streamIdOf = shared?.streamIdOf ?? new Map<string, number>();
  const streamIdOfList = shared?.streamIdOfList ?? new Map<readonly StreamLabel[], number>();
  const streams = shared?.streams ?? [];
  const streamIds = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const labels = labelsOf === undefined ? streamLabels(rows[i] as LogRow) : (labelsOf[i] as readonly StreamLabel[]);
    let id = streamIdOfList.get(labels);
    if (id !== undefined) {
      streamIds[i] = id;
      continue;
    }
    const key = streamKey(labels);
    id = streamIdOf.get(key);
    // A list of another identity with the same labels is the same stream; a mutable list is not remembered by identity.
    if (id !== undefined && Object.isFrozen(labels)) streamIdOfList.set(labels, id);
    if (id === undefined) {
      id = streams.length;
      if (id >= LogBlockLimits.streamsPerBlockMax) {
        throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `a log block of more than ${LogBlockLimits.streamsPerBlockMax} streams`);
      }
      assert(labels.length <= LogBlockLimits.labelsPerStreamMax, 'stream labels within labelsPerStreamMax');
      streamIdOf.set(key, id);
      if (Object.isFrozen(labels)) streamIdOfList.set(labels, id);
      streams.push(labels);
    }
    streamIds[i] = id;
  }
  if (shared === null) writeStreamTable(w, streams);
  for (let i = 0; i < n; i++) w.uvarint(streamIds[i] as number);
  section(out, w.finish());

  // 6 ids
  w.reset();
  for (const row of rows) {
    assert(row.traceId.length === 0 || row.traceId.length === TRACE_ID_BYTES, 'trace id is 0 or 16 bytes');
    assert(row.spanId.length === 0 || row.spanId.length === SPAN_ID_BYTES, 'span id is 0 or 8 bytes');
    w.u8((row.traceId.length > 0 ? MASK_TRACE : 0) | (row.spanId.length > 0 ? MASK_SPAN : 0));
    w.raw(row.traceId);
    w.raw(row.spanId);
  }
  section(out, w.finish());

  // 7 rest, written straight from the rows (log-block-rest.ts)
  const resources = shared?.resources ?? new Dedup<Resource>(resourceToWire);
  const scopes = shared?.scopes ?? new Dedup<Scope>(scopeToWire);
  const resourceIndex = new Uint32Array(n);
  const scopeIndex = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const row = rows[i] as LogRow;
    resourceIndex[i] = resources.index(row.resource);
    scopeIndex[i] = scopes.index(row.scope);
  }
  w.reset();
  writeRestSection(w, rows, resourceIndex, scopeIndex, shared === null ? [resources.wires, scopes.wires] : NO_TABLES, tails);
  section(out, w.finish());
}

/** NO_TABLES is a paged block's rest tables: empty, its rows index the block's (SharedTables). */
const NO_TABLES: readonly [readonly unknown[], readonly unknown[]] = [[], []];

/** Dedup assigns table indexes to values, equal by identity first and by wire bytes second. */
class Dedup<T extends object> {
  readonly wires: unknown[] = [];
  readonly #byRef = new Map<T, number>();
  readonly #byBytes = new Map<string, number>();
  readonly #toWire: (v: T) => unknown;
  /** #last and #lastIndex are the value asked last and its index: the rows of one entry share one resource and scope object. */
  #last: T | null = null;
  #lastIndex = 0;

  constructor(toWire: (v: T) => unknown) {
    this.#toWire = toWire;
  }

  index(v: T): number {
    if (v === this.#last) return this.#lastIndex;
    let i = this.#byRef.get(v);
    if (i !== undefined) return this.#remember(v, i);
    const wire = this.#toWire(v);
    const key = (STORAGE_PACKR.pack(wire) as Buffer).toString('latin1');
    i = this.#byBytes.get(key);
    if (i === undefined) {
      i = this.wires.length;
      this.wires.push(wire);
      this.#byBytes.set(key, i);
    }
    this.#byRef.set(v, i);
    return this.#remember(v, i);
  }

  #remember(v: T, i: number): number {
    this.#last = v;
    this.#lastIndex = i;
    return i;
  }
}
