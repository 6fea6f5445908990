/**
 * labels.ts — label-set helpers the evaluator shares: a stable identity key,
 * metric-name dropping, matcher evaluation, Prometheus's label ordering, and
 * Go's float formatting (count_values and `le` values print as Go prints).
 */

import { OtlpdbError } from '../../errors.js';
import { compileAnchored } from './literals.js';
import type { PromLabel, PromLabels, PromMatcher } from './source.js';

/** Sample is one element of an instant vector inside the evaluator; `key` caches labelsKey(labels). */
export interface Sample {
  readonly labels: PromLabels;
  readonly value: number;
  key?: string;
  /** sampleTimeMs is the stored sample's own timestamp, kept for timestamp(selector) (Prometheus answers it, not the step time). */
  readonly sampleTimeMs?: number;
}

/** labelsKey is a label set's identity: equal keys exactly when the sets are equal. */
export function labelsKey(labels: PromLabels): string {
  let s = '';
  for (const l of labels) s += `${l.name}\xff${l.value}\xfe`;
  return s;
}

/** sampleKey is labelsKey(sample.labels), computed once a sample. */
export function sampleKey(s: Sample): string {
  if (s.key === undefined) s.key = labelsKey(s.labels);
  return s.key;
}

/** checkUnique refuses a step's vector that holds one label set twice, as Prometheus does after an operation drops names. */
export function checkUnique(out: readonly Sample[]): void {
  if (out.length < 2) return;
  const seen = new Set<string>();
  for (const s of out) {
    const k = sampleKey(s);
    if (seen.has(k)) throw new OtlpdbError('ERR_INVALID_ARGUMENT', 'vector cannot contain metrics with the same labelset', { promErrorType: 'execution' });
    seen.add(k);
  }
}

/** dropMetricName removes `__name__`, as Prometheus does for most functions and arithmetic. */
export function dropMetricName(labels: PromLabels): PromLabels {
  return labels.some((l) => l.name === '__name__') ? labels.filter((l) => l.name !== '__name__') : labels;
}

/** getLabel is one label's value ('' when absent, as Prometheus reads a missing label). */
export function getLabel(labels: PromLabels, name: string): string {
  for (const l of labels) if (l.name === name) return l.value;
  return '';
}

/** setLabel sets (or, with '', deletes) one label, keeping the set sorted by name. */
export function setLabel(labels: PromLabels, name: string, value: string): PromLabels {
  const out: PromLabel[] = labels.filter((l) => l.name !== name);
  if (value !== '') {
    out.push({ name, value });
    out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
  return out;
}

/** compareLabels orders label sets as Prometheus's labels.Compare does. */
export function compareLabels(a: PromLabels, b: PromLabels): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i] as PromLabel;
    const y = b[i] as PromLabel;
    if (x.name !== y.name) return x.name < y.name ? -1 : 1;
    if (x.value !== y.value) return x.value < y.value ? -1 : 1;
  }
  return a.length - b.length;
}

/** MatcherFn tests one label value. */
export type MatcherFn = (labels: PromLabels) => boolean;

/** compileMatchers builds a predicate over label sets from selector matchers (a missing label reads as ''). */
export function compileMatchers(matchers: readonly PromMatcher[]): MatcherFn {
  const fns = matchers.map((m): MatcherFn => {
    switch (m.op) {
      case '=': return (ls) => getLabel(ls, m.name) === m.value;
      case '!=': return (ls) => getLabel(ls, m.name) !== m.value;
      case '=~': { const re = compileAnchored(m.value); return (ls) => re.test(getLabel(ls, m.name)); }
      case '!~': { const re = compileAnchored(m.value); return (ls) => !re.test(getLabel(ls, m.name)); }
    }
  });
  return (ls) => fns.every((f) => f(ls));
}

/** formatGoFloat prints a float as Go's strconv.FormatFloat(v, 'f', -1, 64): shortest digits, never an exponent. */
export function formatGoFloat(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (Object.is(v, -0)) return '-0';
  const s = String(v);
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(s);
  if (m === null) return s;
  const sign = m[1] ?? '';
  const digits = (m[2] ?? '') + (m[3] ?? '');
  const exp = Number(m[4]);
  if (exp >= 0) {
    const intLen = 1 + exp;
    return intLen >= digits.length ? sign + digits + '0'.repeat(intLen - digits.length) : `${sign}${digits.slice(0, intLen)}.${digits.slice(intLen)}`;
  }
  return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
}
