/**
 * binary.ts — binary operators with Prometheus 2.42's semantics: scalar and
 * vector operands, comparisons filtering or (with `bool`) answering 0/1, the
 * set operators, and vector matching with on/ignoring and
 * group_left/group_right, including its errors (many-to-many matching,
 * duplicate matches).
 */

import type { BinaryNode, BinaryOp, VectorMatching } from './ast.js';
import { isComparisonOp, isSetOp } from './ast.js';
import type { EvalCtx, Grid, Val } from './eval-types.js';
import { executionError } from './eval-types.js';
import type { Sample } from './labels.js';
import { checkUnique, dropMetricName, getLabel, labelsKey, setLabel } from './labels.js';
import type { PromLabel, PromLabels } from './source.js';

/** goPow is Go's math.Pow where it differs from JavaScript's `**` (1 ** NaN, (-1) ** ±Inf). */
export function goPow(x: number, y: number): number {
  if (y === 0) return 1;
  if (x === 1) return 1;
  if (x === -1 && !Number.isFinite(y) && !Number.isNaN(y)) return 1;
  return x ** y;
}

/** arith computes one arithmetic or comparison operator: [value, keep] as Prometheus's vectorElemBinop. */
export function elemBinop(op: BinaryOp, l: number, r: number): [number, boolean] {
  switch (op) {
    case '+': return [l + r, true];
    case '-': return [l - r, true];
    case '*': return [l * r, true];
    case '/': return [l / r, true];
    case '%': return [l % r, true];
    case '^': return [goPow(l, r), true];
    case 'atan2': return [Math.atan2(l, r), true];
    case '==': return [l, l === r];
    case '!=': return [l, l !== r];
    case '>': return [l, l > r];
    case '<': return [l, l < r];
    case '>=': return [l, l >= r];
    case '<=': return [l, l <= r];
    default: throw executionError(`operator "${op}" not allowed here`);
  }
}

function scalarBinop(op: BinaryOp, l: number, r: number): number {
  const [v, keep] = elemBinop(op, l, r);
  return isComparisonOp(op) ? (keep ? 1 : 0) : v;
}

/** shouldDropName says whether op drops `__name__` (arithmetic, except atan2 in Prometheus 2.42). */
function shouldDropName(op: BinaryOp): boolean {
  return !isComparisonOp(op) && !isSetOp(op) && op !== 'atan2';
}

/** evalBinary applies a binary node to its evaluated operands over a grid. */
export function evalBinary(e: BinaryNode, lhs: Val, rhs: Val, grid: Grid, ctx: EvalCtx): Val {
  if (lhs.type === 'scalar' && rhs.type === 'scalar') {
    const out = new Float64Array(grid.n);
    for (let i = 0; i < grid.n; i++) out[i] = scalarBinop(e.op, lhs.values[i] as number, rhs.values[i] as number);
    return { type: 'scalar', values: out };
  }
  const steps: Sample[][] = [];
  for (let i = 0; i < grid.n; i++) {
    let out: Sample[];
    if (lhs.type === 'vector' && rhs.type === 'vector') out = vectorBinop(e, lhs.steps[i] ?? [], rhs.steps[i] ?? []);
    else if (lhs.type === 'vector' && rhs.type === 'scalar') out = vectorScalar(e, lhs.steps[i] ?? [], rhs.values[i] as number, false);
    else if (lhs.type === 'scalar' && rhs.type === 'vector') out = vectorScalar(e, rhs.steps[i] ?? [], lhs.values[i] as number, true);
    else throw executionError('binary expression must contain only scalar and instant vector types');
    checkUnique(out);
    ctx.budget.add(out.length);
    steps.push(out);
  }
  return { type: 'vector', steps };
}

function vectorScalar(e: BinaryNode, vec: readonly Sample[], scalar: number, swap: boolean): Sample[] {
  const out: Sample[] = [];
  for (const s of vec) {
    const l = swap ? scalar : s.value;
    const r = swap ? s.value : scalar;
    let [value, keep] = elemBinop(e.op, l, r);
    if (isComparisonOp(e.op) && swap) value = r;
    if (e.returnBool) {
      value = keep ? 1 : 0;
      keep = true;
    }
    if (!keep) continue;
    out.push({ labels: shouldDropName(e.op) || e.returnBool ? dropMetricName(s.labels) : s.labels, value });
  }
  return out;
}

/** signature is a sample's matching key: the `on` labels, or every label but the `ignoring` ones and the name. */
function signature(labels: PromLabels, m: VectorMatching): string {
  let s = '';
  if (m.on) {
    const names = [...m.labels].sort();
    for (const n of names) s += `${n}\xff${getLabel(labels, n)}\xfe`;
    return s;
  }
  for (const l of labels) {
    if (l.name === '__name__' || m.labels.includes(l.name)) continue;
    s += `${l.name}\xff${l.value}\xfe`;
  }
  return s;
}

const defaultMatching: VectorMatching = { card: 'one-to-one', on: false, labels: [], include: [] };

function labelsString(labels: PromLabels): string {
  return `{${labels.map((l) => `${l.name}="${l.value}"`).join(', ')}}`;
}

function vectorBinop(e: BinaryNode, lhs: readonly Sample[], rhs: readonly Sample[]): Sample[] {
  const m = e.matching ?? defaultMatching;
  if (e.op === 'and' || e.op === 'or' || e.op === 'unless') return setOp(e.op, lhs, rhs, m);
  if (lhs.length === 0 || rhs.length === 0) return [];
  const oneToMany = m.card === 'one-to-many';
  const many = oneToMany ? rhs : lhs;
  const one = oneToMany ? lhs : rhs;
  const oneBySig = new Map<string, Sample>();
  for (const s of one) {
    const sig = signature(s.labels, m);
    const dup = oneBySig.get(sig);
    if (dup !== undefined) {
      const matched = m.on ? m.labels.map((n) => ({ name: n, value: getLabel(s.labels, n) })).filter((l) => l.value !== '') : s.labels.filter((l) => l.name !== '__name__' && !m.labels.includes(l.name));
      throw executionError(`found duplicate series for the match group ${labelsString(matched)} on the ${oneToMany ? 'left' : 'right'} hand-side of the operation: [${labelsString(s.labels)}, ${labelsString(dup.labels)}];many-to-many matching not allowed: matching labels must be unique on one side`);
    }
    oneBySig.set(sig, s);
  }
  const matchedSigs = new Map<string, Set<string> | null>();
  const out: Sample[] = [];
  for (const ms of many) {
    const sig = signature(ms.labels, m);
    const os = oneBySig.get(sig);
    if (os === undefined) continue;
    const l = oneToMany ? os.value : ms.value;
    const r = oneToMany ? ms.value : os.value;
    let [value, keep] = elemBinop(e.op, l, r);
    if (e.returnBool) {
      value = keep ? 1 : 0;
      keep = true;
    }
    if (!keep) continue;
    let metric = resultMetric(ms.labels, os.labels, e.op, m);
    if (e.returnBool) metric = dropMetricName(metric);
    const seen = matchedSigs.get(sig);
    if (m.card === 'one-to-one') {
      if (seen !== undefined) throw executionError('multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)');
      matchedSigs.set(sig, null);
    } else {
      const k = labelsKey(metric);
      let set = seen ?? null;
      if (set === null) {
        set = new Set();
        matchedSigs.set(sig, set);
      } else if (set.has(k)) {
        throw executionError('multiple matches for labels: grouping labels must ensure unique matches');
      }
      set.add(k);
    }
    out.push({ labels: metric, value });
  }
  return out;
}

function resultMetric(many: PromLabels, one: PromLabels, op: BinaryOp, m: VectorMatching): PromLabels {
  let ls: PromLabels = many;
  if (shouldDropName(op)) ls = dropMetricName(ls);
  if (m.card === 'one-to-one') {
    if (m.on) ls = ls.filter((l: PromLabel) => m.labels.includes(l.name));
    else ls = ls.filter((l: PromLabel) => !m.labels.includes(l.name));
  }
  for (const name of m.include) ls = setLabel(ls, name, getLabel(one, name));
  return ls;
}

function setOp(op: 'and' | 'or' | 'unless', lhs: readonly Sample[], rhs: readonly Sample[], m: VectorMatching): Sample[] {
  switch (op) {
    case 'and': {
      if (lhs.length === 0 || rhs.length === 0) return [];
      const right = new Set(rhs.map((s) => signature(s.labels, m)));
      return lhs.filter((s) => right.has(signature(s.labels, m)));
    }
    case 'or': {
      const left = new Set(lhs.map((s) => signature(s.labels, m)));
      return [...lhs, ...rhs.filter((s) => !left.has(signature(s.labels, m)))];
    }
    case 'unless': {
      if (lhs.length === 0 || rhs.length === 0) return [...lhs];
      const right = new Set(rhs.map((s) => signature(s.labels, m)));
      return lhs.filter((s) => !right.has(signature(s.labels, m)));
    }
  }
}
