/**
 * pipeline.ts — a log pipeline compiled once (regexes, templates, patterns)
 * and run per entry: line filters (substring, regex, pattern), parsers,
 * label filters, line_format, decolorize, label_format, drop, keep. Pure; shared by the coordinator (non-pushed
 * queries) and the shards (pushed ones).
 *
 * Label model (README "Labels"): one map per entry of name → value and
 * category — `s` stream label, `m` structured metadata, `p` set by a stage.
 * A stage that sets a label makes it `p` unless it was a stream label. A
 * parser whose key collides with a stream label writes `<key>_extracted`
 * (Loki). Empty values are kept while the pipeline runs (a filter `x=""`
 * sees them) and dropped from every output label set.
 *
 * Errors (Loki's `__error__`): JSONParserErr (json/unpack on a line that is
 * not a JSON object), LogfmtParserErr (--strict), LabelFilterErr (a numeric,
 * duration or bytes filter on a value that does not convert: the entry is
 * kept), SampleExtractionErr (unwrap). The first error of an entry wins.
 * Numeric, duration and bytes filters pass every entry that already has an
 * error; only string filters (`__error__=""`) can remove it.
 */
import { OtlpdbError } from '../../errors.js';
import { LogqlLimits } from '../../limits.js';
import type { CompareOp, LabelFilterExpr, LogExpr, MatchOp, Stage } from './ast.js';
import { scanLogfmt } from './logfmt.js';
import type { PatternPart } from './pattern.js';
import { matchPattern, parseLinePattern, parsePattern, testLinePattern } from './pattern.js';
import { stripAnsi } from './decolorize.js';
import { compileLogqlRegex } from './regex.js';
import type { LogEntry, LogLabel, LogLabels, StreamSelectorMatcher } from './source.js';
import type { TemplatePart } from './template.js';
import { parseTemplate, renderTemplate } from './template.js';
import { parseBytes, parseDurationNs, parseNumber, sanitizeLabelName } from './values.js';
import type { Re2Regex } from '../../re2-guard.js';

/** LabelCategory says where a label came from: `s` stream, `m` structured metadata, `p` a pipeline stage. */
export type LabelCategory = 's' | 'm' | 'p';

/** LabelSlot is one label while a pipeline runs. */
export interface LabelSlot {
  value: string;
  cat: LabelCategory;
}

/** PipelineState is one entry in flight: its (possibly rewritten) line and labels. */
export interface PipelineState {
  line: string;
  readonly labels: Map<string, LabelSlot>;
}

/** ERROR_LABEL is Loki's `__error__`. */
export const ERROR_LABEL = '__error__';

/** labelsKey renders a sorted label set as one string key (for grouping and ordering). */
export function labelsKey(labels: LogLabels): string {
  return JSON.stringify(labels.map((l) => [l.name, l.value]));
}

/** compareLabels orders label sets by their key. */
export function compareLabels(a: LogLabels, b: LogLabels): number {
  const x = labelsKey(a);
  const y = labelsKey(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** sortedLabels builds a sorted label list from pairs, dropping empty values. */
export function sortedLabels(pairs: Iterable<readonly [string, string]>): LogLabel[] {
  const out: LogLabel[] = [];
  for (const [name, value] of pairs) if (value !== '') out.push({ name, value });
  out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return out;
}

/** matchString applies a string matcher (regexes fully anchored, compiled by the caller). */
export function matchString(op: MatchOp, value: string, literal: string, re: Re2Regex | null): boolean {
  switch (op) {
    case '=':
      return value === literal;
    case '!=':
      return value !== literal;
    case '=~':
      return (re as Re2Regex).test(value);
    case '!~':
      return !(re as Re2Regex).test(value);
  }
}

/** compareNumbers applies a numeric comparison. */
export function compareNumbers(op: CompareOp, a: number | bigint, b: number | bigint): boolean {
  switch (op) {
    case '==':
      return a === b;
    case '!=':
      return a !== b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
  }
}

/** compileSelector compiles a stream selector once into a predicate on stream labels (absent label = empty value). */
export function compileSelector(matchers: readonly StreamSelectorMatcher[]): (stream: LogLabels) => boolean {
  const compiled = matchers.map((m) => ({ m, re: m.op === '=~' || m.op === '!~' ? compileLogqlRegex(m.value, true) : null }));
  return (stream) =>
    compiled.every(({ m, re }) => {
      let v = '';
      for (const l of stream) {
        if (l.name === m.name) {
          v = l.value;
          break;
        }
      }
      return matchString(m.op, v, m.value, re);
    });
}

/** selectorMatches says whether stream labels satisfy every matcher of a stream selector (compiles it each call; use compileSelector in loops). */
export function selectorMatches(matchers: readonly StreamSelectorMatcher[], stream: LogLabels): boolean {
  return compileSelector(matchers)(stream);
}

/** mergedLabels is an entry's stream labels and metadata as one sorted set without empty values (a stream label wins a name clash): allLabelsOf of an entry no stage touched. */
export function mergedLabels(entry: LogEntry): LogLabel[] {
  const out: LogLabel[] = [];
  const a = entry.stream;
  const b = entry.metadata;
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = a[i];
    const y = b[j];
    let next: LogLabel;
    if (y === undefined || (x !== undefined && x.name <= y.name)) {
      next = x as LogLabel;
      i++;
      if (y !== undefined && y.name === next.name) j++;
    } else {
      next = y;
      j++;
    }
    if (next.value !== '') out.push(next);
  }
  return out;
}

/** stateOf starts an entry's pipeline state from its stream labels and metadata. */
export function stateOf(entry: LogEntry): PipelineState {
  const labels = new Map<string, LabelSlot>();
  for (const l of entry.metadata) labels.set(l.name, { value: l.value, cat: 'm' });
  for (const l of entry.stream) labels.set(l.name, { value: l.value, cat: 's' });
  return { line: entry.line, labels };
}

/** setLabel sets a label by a stage: it becomes `p` unless it is a stream label. */
export function setLabel(state: PipelineState, name: string, value: string): void {
  const slot = state.labels.get(name);
  state.labels.set(name, { value, cat: slot?.cat === 's' ? 's' : 'p' });
}

/** setError records an entry's first error. */
export function setError(state: PipelineState, error: string): void {
  if (!state.labels.has(ERROR_LABEL)) state.labels.set(ERROR_LABEL, { value: error, cat: 'p' });
}

function setExtracted(state: PipelineState, key: string, value: string): void {
  let name = sanitizeLabelName(key);
  if (name === '' || name === '_') return;
  if (state.labels.get(name)?.cat === 's') name = `${name}_extracted`;
  setLabel(state, name, value);
}

type Step = (s: PipelineState) => boolean;

function compileLabelFilter(e: LabelFilterExpr): Step {
  switch (e.kind) {
    case 'string': {
      const re = e.op === '=~' || e.op === '!~' ? compileLogqlRegex(e.value, true) : null;
      return (s) => matchString(e.op, s.labels.get(e.name)?.value ?? '', e.value, re);
    }
    case 'number':
    case 'duration':
    case 'bytes':
      return (s) => {
        if (s.labels.has(ERROR_LABEL)) return true;
        const slot = s.labels.get(e.name);
        if (slot === undefined) return false;
        const v = e.kind === 'number' ? parseNumber(slot.value) : e.kind === 'duration' ? parseDurationNs(slot.value) : parseBytes(slot.value);
        if (v === null) {
          setError(s, 'LabelFilterErr');
          return true;
        }
        return compareNumbers(e.op, v, e.kind === 'duration' ? e.valueNs : e.value);
      };
    case 'and': {
      const l = compileLabelFilter(e.lhs);
      const r = compileLabelFilter(e.rhs);
      return (s) => l(s) && r(s);
    }
    case 'or': {
      const l = compileLabelFilter(e.lhs);
      const r = compileLabelFilter(e.rhs);
      return (s) => l(s) || r(s);
    }
  }
}

/** compileLabelFilterExpr compiles a label filter for use outside a pipeline (the filters after unwrap). */
export function compileLabelFilterExpr(e: LabelFilterExpr): (s: PipelineState) => boolean {
  return compileLabelFilter(e);
}

function flattenJson(state: PipelineState, obj: Record<string, unknown>, prefix: string): void {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix + k;
    if (v !== null && typeof v === 'object') {
      if (!Array.isArray(v)) flattenJson(state, v as Record<string, unknown>, `${key}_`);
      continue;
    }
    setExtracted(state, key, jsonScalar(v));
  }
}

function jsonScalar(v: unknown): string {
  if (v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

/** parseJsonPath splits `a.b[0]["c d"]` into keys and indexes, or returns null when malformed. */
export function parseJsonPath(path: string): (string | number)[] | null {
  const out: (string | number)[] = [];
  let i = 0;
  while (i < path.length) {
    if (path[i] === '.') {
      if (i === 0) return null;
      i++;
      continue;
    }
    if (path[i] === '[') {
      const m = /^\[(?:(\d+)|"((?:[^"\\]|\\.)*)")\]/.exec(path.slice(i));
      if (m === null) return null;
      if (m[1] !== undefined) out.push(Number(m[1]));
      else {
        try {
          out.push(JSON.parse(`"${m[2] as string}"`) as string);
        } catch {
          return null;
        }
      }
      i += m[0].length;
      continue;
    }
    const m = /^[^.[]+/.exec(path.slice(i));
    if (m === null) return null;
    out.push(m[0]);
    i += m[0].length;
  }
  return out.length === 0 ? null : out;
}

function parseJsonObject(line: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(line);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function compileStage(stage: Stage): Step {
  switch (stage.kind) {
    case 'lineFilter': {
      let anyMatch: (line: string) => boolean;
      if (stage.op === '|~' || stage.op === '!~') {
        const res = stage.values.map((v) => compileLogqlRegex(v, false));
        anyMatch = (line) => res.some((re) => re.test(line));
      } else if (stage.op === '|>' || stage.op === '!>') {
        const patterns = stage.values.map((v) => parseLinePattern(v) as PatternPart[]);
        anyMatch = (line) => patterns.some((p) => testLinePattern(p, line));
      } else anyMatch = (line) => stage.values.some((v) => line.includes(v));
      return stage.op === '|=' || stage.op === '|~' || stage.op === '|>' ? (s) => anyMatch(s.line) : (s) => !anyMatch(s.line);
    }
    case 'json': {
      if (stage.params.length === 0) {
        return (s) => {
          const obj = parseJsonObject(s.line);
          if (obj === null) setError(s, 'JSONParserErr');
          else flattenJson(s, obj, '');
          return true;
        };
      }
      const paths = stage.params.map((p) => ({ label: p.label, path: parseJsonPath(p.path) }));
      return (s) => {
        const obj = parseJsonObject(s.line);
        if (obj === null) {
          setError(s, 'JSONParserErr');
          return true;
        }
        for (const p of paths) {
          if (p.path === null) continue;
          let cur: unknown = obj;
          for (const k of p.path) {
            if (cur === null || typeof cur !== 'object') {
              cur = undefined;
              break;
            }
            cur = typeof k === 'number' ? (Array.isArray(cur) ? (cur[k] as unknown) : undefined) : Array.isArray(cur) ? undefined : (cur as Record<string, unknown>)[k];
          }
          if (cur !== undefined) setExtracted(s, p.label, jsonScalar(cur));
        }
        return true;
      };
    }
    case 'logfmt':
      return (s) => {
        const { pairs, error } = scanLogfmt(s.line, stage.strict, stage.keepEmpty);
        if (stage.params.length === 0) for (const [k, v] of pairs) setExtracted(s, k, v);
        else {
          const byKey = new Map(pairs);
          for (const p of stage.params) {
            const v = byKey.get(p.path);
            if (v !== undefined) setExtracted(s, p.label, v);
          }
        }
        if (error !== null) setError(s, 'LogfmtParserErr');
        return true;
      };
    case 'regexp': {
      const re = compileLogqlRegex(stage.pattern, false);
      return (s) => {
        const m = re.exec(s.line);
        if (m?.groups !== undefined) for (const [k, v] of Object.entries(m.groups)) if (v !== undefined) setExtracted(s, k, v);
        return true;
      };
    }
    case 'pattern': {
      const parts = parsePattern(stage.pattern) as PatternPart[];
      return (s) => {
        const captures = matchPattern(parts, s.line);
        if (captures !== null) for (const [k, v] of captures) setExtracted(s, k, v);
        return true;
      };
    }
    case 'unpack':
      return (s) => {
        const obj = parseJsonObject(s.line);
        if (obj === null) {
          setError(s, 'JSONParserErr');
          return true;
        }
        let entry: string | null = null;
        for (const [k, v] of Object.entries(obj)) {
          if (typeof v !== 'string') continue;
          if (k === '_entry') entry = v;
          else setExtracted(s, k, v);
        }
        if (entry !== null) s.line = entry;
        return true;
      };
    case 'labelFilter':
      return compileLabelFilter(stage.expr);
    case 'lineFormat': {
      const parts = parseTemplate(stage.template) as TemplatePart[];
      return (s) => {
        const line = renderTemplate(parts, (n) => s.labels.get(n)?.value ?? '', s.line);
        checkLineBytes(line);
        s.line = line;
        return true;
      };
    }
    case 'decolorize':
      return (s) => {
        s.line = stripAnsi(s.line);
        return true;
      };
    case 'labelFormat': {
      const items = stage.items.map((i) => ({ dst: i.dst, src: i.src, parts: i.src.kind === 'template' ? (parseTemplate(i.src.template) as TemplatePart[]) : null }));
      return (s) => {
        const before = new Map([...s.labels].map(([k, v]) => [k, v.value] as const));
        const lookup = (n: string): string => before.get(n) ?? '';
        for (const it of items) {
          if (it.src.kind === 'rename') {
            const v = before.get(it.src.name);
            if (v === undefined) continue;
            if (it.src.name !== it.dst) s.labels.delete(it.src.name);
            setLabel(s, it.dst, v);
          } else {
            const v = renderTemplate(it.parts as TemplatePart[], lookup, s.line);
            checkLineBytes(v);
            setLabel(s, it.dst, v);
          }
        }
        return true;
      };
    }
    case 'drop':
    case 'keep': {
      const items = stage.items.map((i) => ({
        name: i.name,
        matcher: i.matcher,
        re: i.matcher !== null && (i.matcher.op === '=~' || i.matcher.op === '!~') ? compileLogqlRegex(i.matcher.value, true) : null,
      }));
      const hits = (name: string, value: string): boolean =>
        items.some((i) => i.name === name && (i.matcher === null || matchString(i.matcher.op, value, i.matcher.value, i.re)));
      if (stage.kind === 'drop') {
        return (s) => {
          for (const [k, v] of [...s.labels]) if (hits(k, v.value)) s.labels.delete(k);
          return true;
        };
      }
      return (s) => {
        for (const [k, v] of [...s.labels]) if (k !== ERROR_LABEL && !hits(k, v.value)) s.labels.delete(k);
        return true;
      };
    }
  }
}

function checkLineBytes(text: string): void {
  if (text.length > LogqlLimits.lineFormatBytesMax / 4 && Buffer.byteLength(text, 'utf8') > LogqlLimits.lineFormatBytesMax) {
    throw new OtlpdbError('ERR_LIMIT_EXCEEDED', `LogQL: a template produced more than LogqlLimits.lineFormatBytesMax (${LogqlLimits.lineFormatBytesMax}) bytes`);
  }
}

/** CompiledPipeline runs one log query's pipeline per entry. */
export interface CompiledPipeline {
  /** run answers the entry's state after the pipeline, or null when a stage dropped it. */
  run(entry: LogEntry): PipelineState | null;
}

/** compilePipeline compiles a log query's stages once (regexes, templates, patterns). */
export function compilePipeline(log: LogExpr): CompiledPipeline {
  const steps = log.stages.map(compileStage);
  return {
    run(entry: LogEntry): PipelineState | null {
      const s = stateOf(entry);
      for (const step of steps) if (!step(s)) return null;
      return s;
    },
  };
}

/**
 * compileLineTest compiles a pipeline made of line filters only into one
 * test of a line (the same compiled stages compilePipeline runs, over one
 * reused state: no allocation per line); null when some stage is not a line
 * filter. A pipeline with no stage tests nothing: `() => true`.
 */
export function compileLineTest(stages: readonly Stage[]): ((line: string) => boolean) | null {
  if (!stages.every((s) => s.kind === 'lineFilter')) return null;
  const steps = stages.map(compileStage);
  const state: PipelineState = { line: '', labels: new Map() };
  return (line) => {
    state.line = line;
    for (const step of steps) if (!step(state)) return false;
    return true;
  };
}

/** outputOf splits a finished state into Loki's answer shape: stream labels (stream and stage labels) and structured metadata, both without empty values. */
export function outputOf(s: PipelineState): { stream: LogLabel[]; metadata: LogLabel[] } {
  const stream: [string, string][] = [];
  const metadata: [string, string][] = [];
  for (const [k, v] of s.labels) (v.cat === 'm' ? metadata : stream).push([k, v.value]);
  return { stream: sortedLabels(stream), metadata: sortedLabels(metadata) };
}

/** allLabelsOf is a finished state's every non-empty label, sorted: the labels of a metric query's sample. */
export function allLabelsOf(s: PipelineState): LogLabel[] {
  return sortedLabels([...s.labels].map(([k, v]) => [k, v.value] as const));
}
