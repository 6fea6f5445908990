/**
 * logql-reference.ts — a naive LogQL evaluator written from the language
 * definition (README.md), for the differential tests only: it scans every
 * raw row for every step, with no source, no pushdown, no hints, no partial
 * states and no incremental windows. It shares with the engine only the
 * parser, the regex compiler and the leaf decoders (logfmt scanner, pattern
 * matcher, template renderer, json path and value conversions); label
 * semantics, filters, windows, aggregations and operators are written
 * again here, as simply as possible.
 */
import { OtlpdbError } from '../../errors.js';
import type { BinaryExpr, Grouping, LabelFilterExpr, LabelReplaceExpr, LogExpr, LogqlExpr, MetricExpr, RangeAggregation, Stage } from './ast.js';
import { scanLogfmt } from './logfmt.js';
import { matchPattern, parsePattern } from './pattern.js';
import type { PatternPart } from './pattern.js';
import { parseJsonPath } from './pipeline.js';
import { stripAnsi } from './decolorize.js';
import { compileLogqlRegex } from './regex.js';
import type { LogEntry, LogLabel, LogqlParams, LogqlResult } from './source.js';
import { parseTemplate, renderTemplate } from './template.js';
import type { TemplatePart } from './template.js';
import { parseBytes, parseDurationNs, parseNumber, sanitizeLabelName } from './values.js';

type Params = Omit<LogqlParams, 'signal'>;

interface St {
  line: string;
  labels: Map<string, { v: string; c: 's' | 'm' | 'p' }>;
}

const key = (labels: readonly LogLabel[]): string => JSON.stringify(labels.map((l) => [l.name, l.value]));

function sorted(pairs: [string, string][]): LogLabel[] {
  return pairs
    .filter(([, v]) => v !== '')
    .map(([name, value]) => ({ name, value }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function strMatch(op: string, v: string, lit: string): boolean {
  if (op === '=') return v === lit;
  if (op === '!=') return v !== lit;
  const m = compileLogqlRegex(lit, true).test(v);
  return op === '=~' ? m : !m;
}

function cmp(op: string, a: number | bigint, b: number | bigint): boolean {
  return op === '==' ? a === b : op === '!=' ? a !== b : op === '>' ? a > b : op === '>=' ? a >= b : op === '<' ? a < b : a <= b;
}

function set(st: St, name: string, v: string): void {
  st.labels.set(name, { v, c: st.labels.get(name)?.c === 's' ? 's' : 'p' });
}

function err(st: St, e: string): void {
  if (!st.labels.has('__error__')) st.labels.set('__error__', { v: e, c: 'p' });
}

function extracted(st: St, k: string, v: string): void {
  let n = sanitizeLabelName(k);
  if (n === '' || n === '_') return;
  if (st.labels.get(n)?.c === 's') n += '_extracted';
  set(st, n, v);
}

function filter(e: LabelFilterExpr, st: St): boolean {
  switch (e.kind) {
    case 'and':
      return filter(e.lhs, st) && filter(e.rhs, st);
    case 'or':
      return filter(e.lhs, st) || filter(e.rhs, st);
    case 'string':
      return strMatch(e.op, st.labels.get(e.name)?.v ?? '', e.value);
    default: {
      if (st.labels.has('__error__')) return true;
      const raw = st.labels.get(e.name);
      if (raw === undefined) return false;
      const v = e.kind === 'number' ? parseNumber(raw.v) : e.kind === 'duration' ? parseDurationNs(raw.v) : parseBytes(raw.v);
      if (v === null) {
        err(st, 'LabelFilterErr');
        return true;
      }
      return cmp(e.op, v, e.kind === 'duration' ? e.valueNs : e.value);
    }
  }
}

function jsonObj(line: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(line);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function scalarText(v: unknown): string {
  return v === null ? '' : typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** patternTest is Loki's pattern line filter: literals in order (a later one not right where the previous ended), the end as the last part says. */
function patternTest(pattern: string, line: string): boolean {
  const parts = pattern.split(/(<_>)/).filter((x) => x !== '');
  if (line === '' || parts.length === 0) return line === '' && parts.length === 0;
  let off = 0;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i] as string;
    if (p === '<_>') continue;
    const j = line.indexOf(p, off);
    if (j < 0 || (i > 0 && j === off)) return false;
    off = j + p.length;
  }
  return (parts[parts.length - 1] === '<_>') === off < line.length;
}

function applyStage(s: Stage, st: St): boolean {
  switch (s.kind) {
    case 'lineFilter': {
      const hit = s.values.some((v) => (s.op === '|=' || s.op === '!=' ? st.line.includes(v) : s.op === '|>' || s.op === '!>' ? patternTest(v, st.line) : compileLogqlRegex(v, false).test(st.line)));
      return s.op === '|=' || s.op === '|~' || s.op === '|>' ? hit : !hit;
    }
    case 'decolorize':
      st.line = stripAnsi(st.line);
      return true;
    case 'json': {
      const o = jsonObj(st.line);
      if (o === null) {
        err(st, 'JSONParserErr');
        return true;
      }
      if (s.params.length === 0) {
        const walk = (obj: Record<string, unknown>, prefix: string): void => {
          for (const [k, v] of Object.entries(obj)) {
            if (Array.isArray(v)) continue;
            if (typeof v === 'object' && v !== null) walk(v as Record<string, unknown>, `${prefix}${k}_`);
            else extracted(st, prefix + k, scalarText(v));
          }
        };
        walk(o, '');
        return true;
      }
      for (const p of s.params) {
        const path = parseJsonPath(p.path);
        if (path === null) continue;
        let cur: unknown = o;
        for (const k of path) {
          if (typeof k === 'number') cur = Array.isArray(cur) ? (cur[k] as unknown) : undefined;
          else cur = typeof cur === 'object' && cur !== null && !Array.isArray(cur) ? (cur as Record<string, unknown>)[k] : undefined;
        }
        if (cur !== undefined) extracted(st, p.label, scalarText(cur));
      }
      return true;
    }
    case 'logfmt': {
      const { pairs, error } = scanLogfmt(st.line, s.strict, s.keepEmpty);
      if (s.params.length === 0) for (const [k, v] of pairs) extracted(st, k, v);
      else
        for (const p of s.params) {
          const last = pairs.filter(([k]) => k === p.path).pop();
          if (last !== undefined) extracted(st, p.label, last[1]);
        }
      if (error !== null) err(st, 'LogfmtParserErr');
      return true;
    }
    case 'regexp': {
      const m = compileLogqlRegex(s.pattern, false).exec(st.line);
      for (const [k, v] of Object.entries(m?.groups ?? {})) if (v !== undefined) extracted(st, k, v);
      return true;
    }
    case 'pattern': {
      for (const [k, v] of matchPattern(parsePattern(s.pattern) as PatternPart[], st.line) ?? []) extracted(st, k, v);
      return true;
    }
    case 'unpack': {
      const o = jsonObj(st.line);
      if (o === null) {
        err(st, 'JSONParserErr');
        return true;
      }
      for (const [k, v] of Object.entries(o)) if (typeof v === 'string' && k !== '_entry') extracted(st, k, v);
      if (typeof o._entry === 'string') st.line = o._entry;
      return true;
    }
    case 'labelFilter':
      return filter(s.expr, st);
    case 'lineFormat':
      st.line = renderTemplate(parseTemplate(s.template) as TemplatePart[], (n) => st.labels.get(n)?.v ?? '', st.line);
      return true;
    case 'labelFormat': {
      const before = new Map([...st.labels].map(([k, v]) => [k, v.v]));
      for (const it of s.items) {
        if (it.src.kind === 'rename') {
          const v = before.get(it.src.name);
          if (v === undefined) continue;
          if (it.src.name !== it.dst) st.labels.delete(it.src.name);
          set(st, it.dst, v);
        } else set(st, it.dst, renderTemplate(parseTemplate(it.src.template) as TemplatePart[], (n) => before.get(n) ?? '', st.line));
      }
      return true;
    }
    case 'drop':
    case 'keep':
      for (const [k, v] of [...st.labels]) {
        const listed = s.items.some((i) => i.name === k && (i.matcher === null || strMatch(i.matcher.op, v.v, i.matcher.value)));
        if (s.kind === 'drop' ? listed : !listed && k !== '__error__') st.labels.delete(k);
      }
      return true;
  }
}

function run(log: LogExpr, row: LogEntry): St | null {
  if (!log.matchers.every((m) => strMatch(m.op, row.stream.find((l) => l.name === m.name)?.value ?? '', m.value))) return null;
  const st: St = { line: row.line, labels: new Map() };
  for (const l of row.metadata) st.labels.set(l.name, { v: l.value, c: 'm' });
  for (const l of row.stream) st.labels.set(l.name, { v: l.value, c: 's' });
  for (const s of log.stages) if (!applyStage(s, st)) return null;
  return st;
}

interface RSample {
  labels: LogLabel[];
  value: number;
}

function grouped(labels: LogLabel[], g: Grouping | null): LogLabel[] {
  if (g === null) return [];
  return labels.filter((l) => g.labels.includes(l.name) !== g.without);
}

function rangeAt(node: RangeAggregation, rows: readonly LogEntry[], t: bigint): RSample[] {
  const end = t - node.offsetNs;
  const groups = new Map<string, { labels: LogLabel[]; pts: [bigint, number][] }>();
  for (const row of rows) {
    if (!(row.timeNs > end - node.rangeNs && row.timeNs <= end)) continue;
    const st = run(node.log, row);
    if (st === null) continue;
    let value = node.fn === 'bytes_over_time' || node.fn === 'bytes_rate' ? Buffer.byteLength(st.line) : 1;
    if (node.unwrap !== null) {
      const raw = st.labels.get(node.unwrap.label)?.v ?? '';
      if (raw === '') continue;
      const c = node.unwrap.conversion;
      const ns = c === 'duration' || c === 'duration_seconds' ? parseDurationNs(raw) : null;
      const v = c === null ? parseNumber(raw) : c === 'bytes' ? parseBytes(raw) : ns === null ? null : Number(ns) / 1e9;
      if (v === null) err(st, 'SampleExtractionErr');
      value = v ?? 0;
      if (!node.unwrap.postFilters.every((f) => filter(f, st))) continue;
      st.labels.delete(node.unwrap.label);
    }
    if (st.labels.has('__error__')) throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'reference: pipeline error');
    let labels = sorted([...st.labels].map(([k, v]) => [k, v.v]));
    if (node.grouping !== null) labels = grouped(labels, node.grouping);
    const k = key(labels);
    if (!groups.has(k)) groups.set(k, { labels, pts: [] });
    groups.get(k)?.pts.push([row.timeNs, value]);
  }
  if (node.fn === 'absent_over_time') {
    return groups.size > 0 ? [] : [{ labels: sorted(node.log.matchers.filter((m) => m.op === '=').map((m) => [m.name, m.value])), value: 1 }];
  }
  const secs = Number(node.rangeNs) / 1e9;
  const out: RSample[] = [];
  for (const g of groups.values()) {
    g.pts.sort((a, b) => (a[0] !== b[0] ? (a[0] < b[0] ? -1 : 1) : a[1] - b[1]));
    const v = g.pts.map((p) => p[1]);
    const sum = v.reduce((a, b) => a + b, 0);
    const mean = sum / v.length;
    const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length;
    const fns: Record<string, () => number> = {
      count_over_time: () => v.length,
      rate: () => sum / secs,
      rate_counter: () => {
        // Loki's extrapolatedRate on nanosecond times read as milliseconds (README "Semantics").
        if (v.length < 2) return 0;
        let inc = (v[v.length - 1] as number) - (v[0] as number);
        for (let i = 1; i < v.length; i++) if ((v[i] as number) < (v[i - 1] as number)) inc += v[i - 1] as number;
        const span = Number((g.pts[g.pts.length - 1] as [bigint, number])[0] - (g.pts[0] as [bigint, number])[0]) / 1000;
        const avg = span / (v.length - 1);
        let toStart = Number(node.rangeNs / 1_000_000n) / 1000;
        if (inc > 0 && (v[0] as number) >= 0) toStart = Math.min(toStart, span * ((v[0] as number) / inc));
        const to = span + (toStart < avg * 1.1 ? toStart : avg / 2) + (0 < avg * 1.1 ? 0 : avg / 2);
        return (inc * (to / span)) / secs;
      },
      bytes_over_time: () => sum,
      bytes_rate: () => sum / secs,
      sum_over_time: () => sum,
      avg_over_time: () => mean,
      min_over_time: () => nanAwareMin(v),
      max_over_time: () => nanAwareMax(v),
      stddev_over_time: () => Math.sqrt(variance),
      stdvar_over_time: () => variance,
      first_over_time: () => v[0] as number,
      last_over_time: () => v[v.length - 1] as number,
      quantile_over_time: () => {
        const phi = node.param as number;
        if (phi < 0) return -Infinity;
        if (phi > 1) return Infinity;
        const s = [...v].sort((a, b) => a - b);
        const rank = phi * (s.length - 1);
        const lo = Math.floor(rank);
        const hi = Math.min(s.length - 1, lo + 1);
        return (s[lo] as number) * (1 - (rank - lo)) + (s[hi] as number) * (rank - lo);
      },
    };
    out.push({ labels: g.labels, value: (fns[node.fn] as () => number)() });
  }
  return out;
}

/** nanAwareMin and nanAwareMax ignore NaN unless every value is NaN (Prometheus). */
function nanAwareMin(v: number[]): number {
  const n = v.filter((x) => !Number.isNaN(x));
  return n.length === 0 ? Number.NaN : Math.min(...n);
}

function nanAwareMax(v: number[]): number {
  const n = v.filter((x) => !Number.isNaN(x));
  return n.length === 0 ? Number.NaN : Math.max(...n);
}

function arith(op: string, a: number, b: number): number {
  const table: Record<string, number> = {
    '+': a + b,
    '-': a - b,
    '*': a * b,
    '/': a / b,
    '%': a % b,
    '^': a ** b,
    '==': a === b ? 1 : 0,
    '!=': a !== b ? 1 : 0,
    '>': a > b ? 1 : 0,
    '>=': a >= b ? 1 : 0,
    '<': a < b ? 1 : 0,
    '<=': a <= b ? 1 : 0,
  };
  return table[op] as number;
}

function binaryAt(e: BinaryExpr, l: RSample[] | number, r: RSample[] | number): RSample[] | number {
  const isCmp = ['==', '!=', '>', '>=', '<', '<='].includes(e.op);
  if (typeof l === 'number' && typeof r === 'number') return arith(e.op, l, r);
  if (typeof l === 'number' || typeof r === 'number') {
    const out: RSample[] = [];
    for (const s of (typeof l === 'number' ? r : l) as RSample[]) {
      const v = typeof l === 'number' ? arith(e.op, l, s.value) : arith(e.op, s.value, r as number);
      if (!isCmp || e.bool) out.push({ labels: s.labels, value: v });
      else if (v === 1) out.push(s);
    }
    return out;
  }
  const sig = (labels: LogLabel[]): string => key(e.matching === null ? labels : labels.filter((x) => (e.matching as { on: boolean; labels: readonly string[] }).labels.includes(x.name) === e.matching?.on));
  if (e.op === 'and') return l.filter((s) => r.some((o) => sig(o.labels) === sig(s.labels)));
  if (e.op === 'unless') return l.filter((s) => !r.some((o) => sig(o.labels) === sig(s.labels)));
  if (e.op === 'or') return [...l, ...r.filter((s) => !l.some((o) => sig(o.labels) === sig(s.labels)))];
  // Vector matching (Loki's vectorBinop): for group_right the sides swap so that `many` is the "many" side.
  const m = e.matching;
  const right = m?.group?.side === 'right';
  const many = right ? r : l;
  const ones = right ? l : r;
  if (new Set(ones.map((o) => sig(o.labels))).size !== ones.length) throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'reference: many-to-many');
  const out: RSample[] = [];
  const results = new Map<string, string[]>();
  for (const s of many) {
    const o = ones.find((x) => sig(x.labels) === sig(s.labels));
    if (o === undefined) continue;
    let labels: LogLabel[];
    if (m === null) labels = s.labels;
    else if (m.group === null) labels = s.labels.filter((x) => m.labels.includes(x.name) === m.on);
    else {
      const inc = m.group.include;
      labels = sorted([...s.labels.filter((x) => !inc.includes(x.name)), ...o.labels.filter((x) => inc.includes(x.name))].map((x) => [x.name, x.value]));
    }
    const seen = results.get(sig(s.labels));
    if (seen !== undefined && (m === null || m.group === null)) throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'reference: many-to-one without group_left');
    if (seen !== undefined && seen.includes(key(labels))) throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'reference: grouping labels not unique');
    results.set(sig(s.labels), [...(seen ?? []), key(labels)]);
    const [a, b] = right ? [o.value, s.value] : [s.value, o.value];
    const v = arith(e.op, a, b);
    if (isCmp && !e.bool && v !== 1) continue;
    out.push({ labels, value: isCmp && !e.bool ? a : v });
  }
  return out;
}

/** expand is Go's Regexp.Expand of a label_replace replacement, written again from its definition. */
function expand(template: string, m: RegExpExecArray): string {
  return template.replace(/\$(?:(\$)|\{([\p{L}\p{Nd}_]+)\}|([\p{L}\p{Nd}_]+))/gu, (_all, dollar: string | undefined, braced: string | undefined, bare: string | undefined) => {
    if (dollar !== undefined) return '$';
    const name = (braced ?? bare) as string;
    const isIndex = /^(0|[1-9][0-9]{0,7})$/.test(name);
    return (isIndex ? m[Number(name)] : m.groups?.[name]) ?? '';
  });
}

function labelReplaceAt(e: LabelReplaceExpr, v: RSample[]): RSample[] {
  const re = compileLogqlRegex(e.regex, true);
  const out = v.map((s) => {
    const m = re.exec(s.labels.find((x) => x.name === e.src)?.value ?? '');
    if (m === null) return s;
    const pairs: [string, string][] = s.labels.filter((x) => x.name !== e.dst).map((x) => [x.name, x.value]);
    pairs.push([e.dst, expand(e.replacement, m)]);
    return { labels: sorted(pairs), value: s.value };
  });
  if (new Set(out.map((s) => key(s.labels))).size !== out.length) throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'reference: label_replace duplicates');
  return out;
}

function metricAt(e: MetricExpr, rows: readonly LogEntry[], t: bigint): RSample[] | number {
  if (e.kind === 'number') return e.value;
  if (e.kind === 'vectorLiteral') return [{ labels: [], value: e.value }];
  if (e.kind === 'range') return rangeAt(e, rows, t);
  if (e.kind === 'binary') return binaryAt(e, metricAt(e.lhs, rows, t), metricAt(e.rhs, rows, t));
  if (e.kind === 'labelReplace') return labelReplaceAt(e, metricAt(e.expr, rows, t) as RSample[]);
  const inner = metricAt(e.expr, rows, t) as RSample[];
  const groups = new Map<string, { labels: LogLabel[]; m: RSample[] }>();
  for (const s of inner) {
    const labels = grouped(s.labels, e.grouping);
    const k = key(labels);
    if (!groups.has(k)) groups.set(k, { labels, m: [] });
    groups.get(k)?.m.push(s);
  }
  const out: RSample[] = [];
  for (const g of groups.values()) {
    const v = g.m.map((s) => s.value);
    const sum = v.reduce((a, b) => a + b, 0);
    const mean = sum / v.length;
    const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length;
    if (e.op === 'sort' || e.op === 'sort_desc') continue;
    if (e.op === 'topk' || e.op === 'bottomk') {
      const sign = e.op === 'topk' ? -1 : 1;
      // NaN ranks last for both; ties by labels.
      const rank = (x: RSample): number => (Number.isNaN(x.value) ? Infinity : sign * x.value);
      const ranked = [...g.m].sort((a, b) => (rank(a) !== rank(b) ? (rank(a) < rank(b) ? -1 : 1) : key(a.labels) < key(b.labels) ? -1 : 1));
      out.push(...ranked.slice(0, e.param as number));
      continue;
    }
    const value = { sum, avg: mean, min: nanAwareMin(v), max: nanAwareMax(v), count: v.length, stddev: Math.sqrt(variance), stdvar: variance }[e.op as 'sum'];
    out.push({ labels: g.labels, value });
  }
  if (e.op === 'sort' || e.op === 'sort_desc') {
    // Groups in label order, each by value (NaN last), ties by labels.
    const sign = e.op === 'sort' ? 1 : -1;
    const rank = (x: RSample): number => (Number.isNaN(x.value) ? Infinity : sign * x.value);
    for (const k of [...groups.keys()].sort()) {
      const members = (groups.get(k) as { m: RSample[] }).m;
      out.push(...[...members].sort((a, b) => (rank(a) !== rank(b) ? (rank(a) < rank(b) ? -1 : 1) : key(a.labels) < key(b.labels) ? -1 : key(a.labels) > key(b.labels) ? 1 : 0)));
    }
  }
  return out;
}

/** referenceEvaluate answers a parsed query over raw rows, as the engine's LogqlResult. */
export function referenceEvaluate(expr: LogqlExpr, rows: readonly LogEntry[], p: Params): LogqlResult {
  if (expr.kind === 'log') {
    const kept: { stream: LogLabel[]; timeNs: bigint; line: string; metadata: LogLabel[] }[] = [];
    for (const row of rows) {
      if (row.timeNs < p.startNs || row.timeNs > p.endNs) continue;
      const st = run(expr, row);
      if (st === null) continue;
      const all = [...st.labels];
      kept.push({
        stream: sorted(all.filter(([, v]) => v.c !== 'm').map(([k, v]) => [k, v.v])),
        timeNs: row.timeNs,
        line: st.line,
        metadata: sorted(all.filter(([, v]) => v.c === 'm').map(([k, v]) => [k, v.v])),
      });
    }
    const dir = p.direction === 'forward' ? 1 : -1;
    const order = (a: (typeof kept)[number], b: (typeof kept)[number]): number =>
      a.timeNs !== b.timeNs ? dir * (a.timeNs < b.timeNs ? -1 : 1) : key(a.stream) !== key(b.stream) ? (key(a.stream) < key(b.stream) ? -1 : 1) : a.line !== b.line ? (a.line < b.line ? -1 : 1) : key(a.metadata) < key(b.metadata) ? -1 : key(a.metadata) > key(b.metadata) ? 1 : 0;
    const top = kept.sort(order).slice(0, p.limit);
    const streams = [...new Set(top.map((e) => key(e.stream)))].sort();
    return {
      kind: 'streams',
      streams: streams.map((k) => ({
        labels: (top.find((e) => key(e.stream) === k) as (typeof kept)[number]).stream,
        entries: top.filter((e) => key(e.stream) === k).map((e) => ({ timeNs: e.timeNs, line: e.line, metadata: e.metadata })),
      })),
    };
  }
  const steps: bigint[] = [];
  if (p.stepNs === 0n) steps.push(p.endNs);
  else for (let t = p.startNs; t <= p.endNs; t += p.stepNs) steps.push(t);
  const at = steps.map((t) => metricAt(expr, rows, t));
  if (p.stepNs === 0n) {
    const v = at[0] as RSample[] | number;
    if (typeof v === 'number') return { kind: 'scalar', timeNs: p.endNs, value: v };
    let top: MetricExpr = expr;
    while (top.kind === 'labelReplace') top = top.expr;
    const byValue = top.kind === 'vector' && (top.op === 'sort' || top.op === 'sort_desc');
    return { kind: 'vector', samples: (byValue ? v : [...v].sort((a, b) => (key(a.labels) < key(b.labels) ? -1 : 1))).map((s) => ({ labels: s.labels, timeNs: p.endNs, value: s.value })) };
  }
  const series = new Map<string, { labels: LogLabel[]; timesNs: bigint[]; values: number[] }>();
  at.forEach((v, i) => {
    for (const s of typeof v === 'number' ? [{ labels: [], value: v }] : v) {
      const k = key(s.labels);
      if (!series.has(k)) series.set(k, { labels: s.labels, timesNs: [], values: [] });
      series.get(k)?.timesNs.push(steps[i] as bigint);
      series.get(k)?.values.push(s.value);
    }
  });
  return { kind: 'matrix', series: [...series.keys()].sort().map((k) => series.get(k) as { labels: LogLabel[]; timesNs: bigint[]; values: number[] }) };
}
