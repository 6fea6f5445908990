/**
 * functions.ts — PromQL function calls: range-vector functions applied per
 * series per step (range-functions.ts), and the instant-vector and scalar
 * functions (math, clamp, round, time and date, label_replace/label_join,
 * sort, absent, histogram_quantile, vector/scalar/timestamp), with
 * Prometheus's metric-name dropping: every function drops `__name__` but
 * last_over_time, sort, sort_desc, label_replace and label_join.
 */

import type { CallNode, Expr } from './ast.js';
import { unwrapParens } from './ast.js';
import { byValueNaNFirst } from './aggregations.js';
import type { EvalCtx, Grid, MatrixVal, Val } from './eval-types.js';
import { checkAbort, executionError, lowerBound, stepTime, upperBound } from './eval-types.js';
import { histogramQuantile } from './histogram.js';
import type { Sample } from './labels.js';
import { checkUnique, dropMetricName, getLabel, setLabel } from './labels.js';
import { compileAnchored } from './literals.js';
import type { RangeFn } from './range-functions.js';
import { scanRange } from './range-columns.js';
import type { PromLabels } from './source.js';
import { PromqlLimits } from '../../limits.js';
import type { Re2Regex } from '../../re2-guard.js';

const simpleMath: Readonly<Record<string, (v: number) => number>> = {
  abs: Math.abs, ceil: Math.ceil, floor: Math.floor, exp: Math.exp, ln: Math.log, log2: Math.log2, log10: Math.log10, sqrt: Math.sqrt,
  sgn: (v) => (v < 0 ? -1 : v > 0 ? 1 : v),
  acos: Math.acos, acosh: Math.acosh, asin: Math.asin, asinh: Math.asinh, atan: Math.atan, atanh: Math.atanh,
  cos: Math.cos, cosh: Math.cosh, sin: Math.sin, sinh: Math.sinh, tan: Math.tan, tanh: Math.tanh,
  deg: (v) => (v * 180) / Math.PI, rad: (v) => (v * Math.PI) / 180,
};

const dateFns: Readonly<Record<string, (d: Date) => number>> = {
  minute: (d) => d.getUTCMinutes(),
  hour: (d) => d.getUTCHours(),
  day_of_month: (d) => d.getUTCDate(),
  day_of_week: (d) => d.getUTCDay(),
  day_of_year: (d) => Math.floor((Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000) + 1,
  days_in_month: (d) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate(),
  month: (d) => d.getUTCMonth() + 1,
  year: (d) => d.getUTCFullYear(),
};

function scalarAt(v: Val | undefined, i: number): number {
  return v !== undefined && v.type === 'scalar' ? (v.values[i] as number) : NaN;
}

function stringArg(v: Val | undefined): string {
  return v !== undefined && v.type === 'string' ? v.value : '';
}

function vectorAt(v: Val | undefined, i: number): readonly Sample[] {
  return v !== undefined && v.type === 'vector' ? (v.steps[i] ?? []) : [];
}

/** applyCall evaluates a function call over a grid from its evaluated arguments. */
export function applyCall(e: CallNode, vals: readonly Val[], grid: Grid, ctx: EvalCtx): Val {
  const rf = ctx.rangeFunctions.get(e.func);
  if (rf !== undefined) return applyRange(e, rf, vals, grid, ctx);
  if (e.func === 'absent_over_time') {
    const m = vals[0] as MatrixVal;
    const steps: Sample[][] = [];
    for (let i = 0; i < grid.n; i++) {
      const any = m.series.some((s) => upperBound(s.timestampsMs, m.windowEndMs[i] as number) > lowerBound(s.timestampsMs, m.windowStartMs[i] as number));
      steps.push(any ? [] : [{ labels: absentLabels(e.args[0]), value: 1 }]);
    }
    return { type: 'vector', steps };
  }
  switch (e.func) {
    case 'time': return { type: 'scalar', values: Float64Array.from({ length: grid.n }, (_, i) => stepTime(grid, i) / 1000) };
    case 'pi': return { type: 'scalar', values: new Float64Array(grid.n).fill(Math.PI) };
    case 'scalar': return { type: 'scalar', values: Float64Array.from({ length: grid.n }, (_, i) => { const v = vectorAt(vals[0], i); return v.length === 1 ? (v[0] as Sample).value : NaN; }) };
    case 'vector': return { type: 'vector', steps: Array.from({ length: grid.n }, (_, i) => [{ labels: [], value: scalarAt(vals[0], i) }]) };
    default: break;
  }
  const steps: Sample[][] = [];
  for (let i = 0; i < grid.n; i++) {
    if (i % PromqlLimits.abortCheckEvery === 0) checkAbort(ctx.signal);
    const out = instantCall(e, vals, i, grid);
    checkUnique(out);
    ctx.budget.add(out.length);
    steps.push(out);
  }
  return { type: 'vector', steps };
}

function applyRange(e: CallNode, rf: RangeFn, vals: readonly Val[], grid: Grid, ctx: EvalCtx): Val {
  const steps: Sample[][] = Array.from({ length: grid.n }, () => []);
  scanRange(e, rf, vals, grid, ctx, (c) => {
    for (let i = 0; i < grid.n; i++) {
      if (c.present[i] === 1) (steps[i] as Sample[]).push({ labels: c.labels, value: c.values[i] as number, key: c.key });
    }
  });
  return { type: 'vector', steps };
}

/** absentLabels are the labels absent() answers: the selector's equality matchers, minus names matched twice. */
function absentLabels(arg: Expr | undefined): PromLabels {
  if (arg === undefined) return [];
  const u = unwrapParens(arg);
  const sel = u.type === 'vectorSelector' ? u : u.type === 'matrixSelector' ? u.selector : null;
  if (sel === null) return [];
  let ls: PromLabels = [];
  const seen = new Set<string>();
  for (const m of sel.matchers) {
    if (m.name === '__name__') continue;
    if (m.op === '=' && !seen.has(m.name)) {
      ls = setLabel(ls, m.name, m.value);
      seen.add(m.name);
    } else if (seen.has(m.name)) {
      ls = setLabel(ls, m.name, '');
    }
  }
  return ls;
}

function instantCall(e: CallNode, vals: readonly Val[], i: number, grid: Grid): Sample[] {
  const f = e.func;
  const math = simpleMath[f];
  if (math !== undefined) return vectorAt(vals[0], i).map((s) => ({ labels: dropMetricName(s.labels), value: math(s.value) }));
  const date = dateFns[f];
  if (date !== undefined) {
    const vec = vals.length === 0 ? [{ labels: [], value: stepTime(grid, i) / 1000 }] : vectorAt(vals[0], i);
    return vec.map((s) => ({ labels: dropMetricName(s.labels), value: Number.isNaN(s.value) ? NaN : date(new Date(Math.trunc(s.value) * 1000)) }));
  }
  switch (f) {
    case 'clamp': {
      const lo = scalarAt(vals[1], i);
      const hi = scalarAt(vals[2], i);
      if (hi < lo) return [];
      return vectorAt(vals[0], i).map((s) => ({ labels: dropMetricName(s.labels), value: goMax(lo, goMin(hi, s.value)) }));
    }
    case 'clamp_min': { const lo = scalarAt(vals[1], i); return vectorAt(vals[0], i).map((s) => ({ labels: dropMetricName(s.labels), value: goMax(lo, s.value) })); }
    case 'clamp_max': { const hi = scalarAt(vals[1], i); return vectorAt(vals[0], i).map((s) => ({ labels: dropMetricName(s.labels), value: goMin(hi, s.value) })); }
    case 'round': {
      const toNearest = vals.length > 1 ? scalarAt(vals[1], i) : 1;
      const inv = 1 / toNearest;
      return vectorAt(vals[0], i).map((s) => ({ labels: dropMetricName(s.labels), value: Math.floor(s.value * inv + 0.5) / inv }));
    }
    case 'timestamp': {
      const direct = unwrapParens(e.args[0] as Expr).type === 'vectorSelector';
      const t = stepTime(grid, i);
      return vectorAt(vals[0], i).map((s) => ({ labels: dropMetricName(s.labels), value: (direct && s.sampleTimeMs !== undefined ? s.sampleTimeMs : t) / 1000 }));
    }
    case 'sort': return [...vectorAt(vals[0], i)].sort((a, b) => byValueNaNFirst(a.value, b.value));
    case 'sort_desc': return [...vectorAt(vals[0], i)].sort((a, b) => (Number.isNaN(a.value) ? (Number.isNaN(b.value) ? 0 : -1) : Number.isNaN(b.value) ? 1 : b.value - a.value));
    case 'absent': return vectorAt(vals[0], i).length > 0 ? [] : [{ labels: absentLabels(e.args[0]), value: 1 }];
    case 'label_replace': return labelReplace(vectorAt(vals[0], i), stringArg(vals[1]), stringArg(vals[2]), stringArg(vals[3]), stringArg(vals[4]));
    case 'label_join': {
      const dst = stringArg(vals[1]);
      const sep = stringArg(vals[2]);
      const srcs = vals.slice(3).map(stringArg);
      return vectorAt(vals[0], i).map((s) => ({ labels: setLabel(s.labels, dst, srcs.map((n) => getLabel(s.labels, n)).join(sep)), value: s.value }));
    }
    case 'histogram_quantile': return histogramQuantile(scalarAt(vals[0], i), vectorAt(vals[1], i));
    default: throw executionError(`function "${f}" is not supported`);
  }
}

function goMax(a: number, b: number): number {
  return Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b);
}

function goMin(a: number, b: number): number {
  return Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.min(a, b);
}

/** expandTemplate expands `$1`, `${1}`, `$name` and `$$` in a label_replace replacement as Go's regexp.Expand does. */
export function expandTemplate(repl: string, m: RegExpExecArray): string {
  let out = '';
  for (let i = 0; i < repl.length; i++) {
    const c = repl[i];
    if (c !== '$') { out += c; continue; }
    if (repl[i + 1] === '$') { out += '$'; i++; continue; }
    let name: string;
    if (repl[i + 1] === '{') {
      const end = repl.indexOf('}', i + 2);
      if (end < 0) { out += '$'; continue; }
      name = repl.slice(i + 2, end);
      if (!/^[a-zA-Z0-9_]+$/.test(name)) { out += '$'; continue; }
      i = end;
    } else {
      const mm = /^[a-zA-Z0-9_]+/.exec(repl.slice(i + 1));
      if (mm === null) { out += '$'; continue; }
      name = mm[0];
      i += name.length;
    }
    if (/^[0-9]+$/.test(name)) out += m[Number(name)] ?? '';
    else out += m.groups?.[name] ?? '';
  }
  return out;
}

function labelReplace(vec: readonly Sample[], dst: string, repl: string, src: string, regex: string): Sample[] {
  let re: Re2Regex;
  try {
    re = compileAnchored(regex);
  } catch (err) {
    throw executionError(`invalid regular expression in label_replace(): ${regex}: ${(err as Error).message}`);
  }
  return vec.map((s) => {
    const m = re.exec(getLabel(s.labels, src));
    if (m === null) return s;
    return { labels: setLabel(s.labels, dst, expandTemplate(repl, m)), value: s.value };
  });
}
