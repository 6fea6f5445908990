/**
 * waterfall.ts — a trace drawn as a waterfall of text lines, for
 * `otlpdb trace <id>`. Pure: spans and options in, lines out (no I/O, no
 * clock), so the tests compare golden output.
 *
 * Layout, one row per span in tree order (each span's children follow it,
 * ordered by start time, then span id; indented two columns per level):
 *
 *   trace <id>  <n> spans  <k> services  <duration>  <e> errors
 *      SERVICE   SPAN              0                          250ms  DURATION
 *   !? front     GET /             ████████████████████████████████     250ms
 *      db          SELECT                ██████████                    80.0ms
 *
 * The two mark columns: `!` a span whose status is ERROR; `?` a span drawn at
 * the top level because its parent is not in the trace (an orphan), or
 * because its parents form a cycle. With `color`, error rows are also red.
 * A bar starts at the span's offset from the trace's first start and is as
 * long as its share of the trace's duration (at least one cell).
 *
 * Bounds: at most `spansMax` rows (the rest counted in a footer), at most
 * TraceCliLimits.depthIndentMax indentation levels; the walk is iterative, so
 * a deep trace cannot overflow the stack. Text from the trace is stripped of
 * control and bidi characters before it reaches the terminal.
 *
 * NB: widths are counted in code points; East Asian wide characters and
 * emoji take two terminal columns and push their row's bar to the right.
 */
import { assert } from '../../src/errors.js';
import { TraceCliLimits } from '../../src/limits.js';
import type { WaterfallSpan } from './trace-spans.js';

/** WaterfallOptions configure renderWaterfall. */
export interface WaterfallOptions {
  /** traceIdHex names the trace in the title line. */
  readonly traceIdHex: string;
  /** width is the line width in columns, in [TraceCliLimits.widthMin, widthMax]. */
  readonly width: number;
  /** color draws error rows in red (ANSI); without it only the `!` mark shows them. */
  readonly color: boolean;
  /** spansMax bounds the rows drawn. */
  readonly spansMax: number;
  /** unreadable counts spans of the answer that could not be read (reported in the footer). */
  readonly unreadable?: number;
}

const BAR = '█';
const RED = '\u001b[31m';
const RESET = '\u001b[0m';
const SERVICE_HEADER = 'SERVICE';
const SPAN_HEADER = 'SPAN';
const DURATION_HEADER = 'DURATION';
/** Column widths and gaps, in columns. */
const MARKS_COLUMNS = 2;
const DURATION_COLUMNS = 8;
const SERVICE_COLUMNS_MAX = 20;
const LABEL_COLUMNS_MIN = 8;
/** NAME_COLUMNS_MIN is the part of the label column indentation leaves to the name. */
const NAME_COLUMNS_MIN = 12;
const LABEL_SHARE_OF_WIDTH = 0.35;
const BAR_COLUMNS_MIN = 10;
const GAP = '  ';

// Control characters (C0, DEL, C1) and bidi overrides/isolates would let a span name rewrite the terminal.
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/gu;

/** sanitize replaces characters that could drive the terminal with U+FFFD. */
export function sanitize(s: string): string {
  return s.replace(UNSAFE, '\uFFFD');
}

/** fit cuts `s` to `columns` code points (ending in … when cut) and pads it to exactly that width. */
export function fit(s: string, columns: number): string {
  assert(columns >= 1, 'a column is at least one wide');
  const cps = Array.from(s);
  if (cps.length > columns) return `${cps.slice(0, columns - 1).join('')}…`;
  return s + ' '.repeat(columns - cps.length);
}

/** UNITS: a unit, its size in ns, and the value below which it is used (past it the next unit reads better). */
const UNITS: readonly [string, number, number][] = [
  ['µs', 1e3, 999.5],
  ['ms', 1e6, 999.5],
  ['s', 1e9, 59.995],
];

/** formatDuration writes nanoseconds with a unit and three significant digits: 850ns, 12.3µs, 4.56ms, 1.25s, 2m03s, 1h02m. */
export function formatDuration(ns: bigint): string {
  assert(ns >= 0n, 'a duration is not negative');
  if (ns < 1000n) return `${ns}ns`;
  for (const [unit, scale, below] of UNITS) {
    const x = Number(ns) / scale;
    if (x < below) return `${x >= 99.95 ? x.toFixed(0) : x >= 9.995 ? x.toFixed(1) : x.toFixed(2)}${unit}`;
  }
  const seconds = ns / 1_000_000_000n;
  if (seconds < 3600n) return `${seconds / 60n}m${String(seconds % 60n).padStart(2, '0')}s`;
  return `${seconds / 3600n}h${String((seconds % 3600n) / 60n).padStart(2, '0')}m`;
}

/** Row is one drawn span: its depth in the tree and whether it stands at the top level without its parent. */
interface Row {
  readonly span: WaterfallSpan;
  readonly depth: number;
  readonly orphan: boolean;
}

const byStart = (a: WaterfallSpan, b: WaterfallSpan): number =>
  a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : a.spanId < b.spanId ? -1 : a.spanId > b.spanId ? 1 : 0;

/**
 * treeRows orders spans as the waterfall draws them, at most `rowsMax`:
 * roots and orphans at the top level by start time, each followed by its
 * subtree; spans left over (parents in a cycle) then start top-level trees
 * of their own, marked as orphans. Every span is drawn at most once.
 */
export function treeRows(spans: readonly WaterfallSpan[], rowsMax: number): Row[] {
  assert(Number.isSafeInteger(rowsMax) && rowsMax >= 1, 'rowsMax is a positive count');
  const sorted = [...spans].sort(byStart);
  const ids = new Set(sorted.map((s) => s.spanId));
  const children = new Map<string, WaterfallSpan[]>();
  for (const s of sorted) {
    if (s.parentSpanId === '' || s.parentSpanId === s.spanId) continue;
    let c = children.get(s.parentSpanId);
    if (c === undefined) children.set(s.parentSpanId, (c = []));
    c.push(s);
  }
  const rows: Row[] = [];
  const drawn = new Set<WaterfallSpan>();
  const walk = (top: WaterfallSpan, orphan: boolean): void => {
    // Depth-first with an explicit stack; children pushed in reverse so the earliest comes out first.
    const stack: { span: WaterfallSpan; depth: number }[] = [{ span: top, depth: 0 }];
    while (stack.length > 0 && rows.length < rowsMax) {
      const { span, depth } = stack.pop() as { span: WaterfallSpan; depth: number };
      if (drawn.has(span)) continue;
      drawn.add(span);
      rows.push({ span, depth, orphan: orphan && depth === 0 });
      const kids = children.get(span.spanId) ?? [];
      for (let i = kids.length - 1; i >= 0; i--) {
        const k = kids[i] as WaterfallSpan;
        if (!drawn.has(k)) stack.push({ span: k, depth: depth + 1 });
      }
    }
  };
  for (const s of sorted) {
    if (rows.length >= rowsMax) break;
    const root = s.parentSpanId === '';
    const orphan = !root && (s.parentSpanId === s.spanId || !ids.has(s.parentSpanId));
    if (root || orphan) walk(s, orphan);
  }
  for (const s of sorted) {
    if (rows.length >= rowsMax) break;
    if (!drawn.has(s)) walk(s, true);
  }
  assert(rows.length <= Math.min(rowsMax, spans.length), 'at most one row per span, at most rowsMax');
  return rows;
}

/** barCells draws one span's bar over `cells` cells of a trace from t0 lasting `total` ns. */
function barCells(span: WaterfallSpan, t0: bigint, total: bigint, cells: number): string {
  const n = BigInt(cells);
  let from = total === 0n ? 0 : Number(((span.startNs - t0) * n) / total);
  let to = total === 0n ? 1 : Number(((span.endNs - t0) * n + total - 1n) / total);
  from = Math.min(Math.max(from, 0), cells - 1);
  to = Math.min(Math.max(to, from + 1), cells);
  return ' '.repeat(from) + BAR.repeat(to - from) + ' '.repeat(cells - to);
}

const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;

/** renderWaterfall draws `spans` as the lines described at the top of this file. */
export function renderWaterfall(spans: readonly WaterfallSpan[], o: WaterfallOptions): string[] {
  assert(Number.isSafeInteger(o.width) && o.width >= TraceCliLimits.widthMin && o.width <= TraceCliLimits.widthMax, 'width within TraceCliLimits');
  assert(Number.isSafeInteger(o.spansMax) && o.spansMax >= 1, 'spansMax is a positive count');
  const id = sanitize(o.traceIdHex);
  const unreadable = o.unreadable ?? 0;
  const unreadableLine = unreadable > 0 ? [`${plural(unreadable, 'span', 'spans')} could not be read (bad ids or times) and are not drawn`] : [];
  if (spans.length === 0) return [`trace ${id}: no spans`, ...unreadableLine];

  let t0 = (spans[0] as WaterfallSpan).startNs;
  let t1 = (spans[0] as WaterfallSpan).endNs;
  for (const s of spans) {
    if (s.startNs < t0) t0 = s.startNs;
    if (s.endNs > t1) t1 = s.endNs;
  }
  const total = t1 - t0;
  const rows = treeRows(spans, o.spansMax);
  const services = new Set(spans.map((s) => s.service));
  const errors = spans.filter((s) => s.error).length;
  const orphans = rows.filter((r) => r.orphan).length;

  const names = rows.map((r) => sanitize(r.span.name));
  const labelFor = (i: number, columns: number): string => {
    // Indent two columns per level, but leave the name NAME_COLUMNS_MIN columns (or all it needs); past that the depth is written out.
    const depth = (rows[i] as Row).depth;
    const keep = Math.min(NAME_COLUMNS_MIN, Array.from(names[i] as string).length);
    const room = (used: number): number => Math.max(0, Math.floor((columns - keep - used) / 2));
    let indent = Math.min(depth, TraceCliLimits.depthIndentMax, room(0));
    const prefix = depth > indent ? `[${depth}] ` : '';
    indent = Math.min(indent, room(prefix.length));
    return '  '.repeat(indent) + prefix + (names[i] as string);
  };
  const serviceTexts = rows.map((r) => sanitize(r.span.service === '' ? '-' : r.span.service));
  let serviceColumns = Math.min(SERVICE_COLUMNS_MAX, Math.max(SERVICE_HEADER.length, ...serviceTexts.map((s) => Array.from(s).length)));
  let labelColumns = Math.min(Math.floor(o.width * LABEL_SHARE_OF_WIDTH), Math.max(SPAN_HEADER.length, ...rows.map((_, i) => Array.from(labelFor(i, o.width)).length)));
  const fixed = (): number => MARKS_COLUMNS + 1 + serviceColumns + GAP.length + labelColumns + GAP.length + GAP.length + DURATION_COLUMNS;
  if (o.width - fixed() < BAR_COLUMNS_MIN) labelColumns = Math.max(LABEL_COLUMNS_MIN, labelColumns - (BAR_COLUMNS_MIN - (o.width - fixed())));
  if (o.width - fixed() < BAR_COLUMNS_MIN) serviceColumns = Math.max(SERVICE_HEADER.length, serviceColumns - (BAR_COLUMNS_MIN - (o.width - fixed())));
  const barColumns = Math.max(BAR_COLUMNS_MIN, o.width - fixed());
  const labels = rows.map((_, i) => labelFor(i, labelColumns));

  const title = [
    `trace ${id}`,
    plural(spans.length, 'span', 'spans'),
    plural(services.size, 'service', 'services'),
    formatDuration(total),
    plural(errors, 'error', 'errors'),
    ...(orphans > 0 ? [plural(orphans, 'orphan', 'orphans')] : []),
  ].join(GAP);
  const scale = `0${formatDuration(total).padStart(barColumns - 1)}`;
  const header = `${' '.repeat(MARKS_COLUMNS)} ${fit(SERVICE_HEADER, serviceColumns)}${GAP}${fit(SPAN_HEADER, labelColumns)}${GAP}${scale}${GAP}${DURATION_HEADER.padStart(DURATION_COLUMNS)}`;
  const lines = [title, header];
  rows.forEach((r, i) => {
    const marks = `${r.span.error ? '!' : ' '}${r.orphan ? '?' : ' '}`;
    const line =
      `${marks} ${fit(serviceTexts[i] as string, serviceColumns)}${GAP}${fit(labels[i] as string, labelColumns)}${GAP}` +
      `${barCells(r.span, t0, total, barColumns)}${GAP}${formatDuration(r.span.endNs - r.span.startNs).padStart(DURATION_COLUMNS)}`;
    lines.push(o.color && r.span.error ? `${RED}${line}${RESET}` : line);
  });
  const omitted = spans.length - rows.length;
  if (omitted > 0) lines.push(`… ${plural(omitted, 'more span', 'more spans')} not drawn (at most ${o.spansMax}); --json prints every span`);
  lines.push(...unreadableLine);
  if (errors > 0 || orphans > 0) lines.push(`${errors > 0 ? '! status ERROR' : ''}${errors > 0 && orphans > 0 ? GAP : ''}${orphans > 0 ? '? parent not in the trace (or in a cycle)' : ''}`);
  return lines;
}
