/**
 * pushdown.test.ts — what extractPushdown hands a planner, when it hands
 * nothing, and (by brute force over random traces) that its conditions are
 * necessary: every span of every result satisfies all of them.
 */
import t from 'tap';
import { evaluateTraceql } from './evaluate.js';
import { formatTraceql } from './format.js';
import { parseTraceql } from './parser.js';
import type { FieldExpr, Pipeline } from './ast.js';
import type { PushdownCondition } from './pushdown.js';
import { extractPushdown } from './pushdown.js';
import { caseRand, randomConjunctionQuery, randomTrace } from './traceql-test-gen.js';

function describe(cs: readonly PushdownCondition[]): string[] {
  return cs.map((c) => {
    if (c.kind === 'durationRange') {
      const lo = c.minNs === null ? '(-inf' : `${c.minInclusive ? '[' : '('}${c.minNs}`;
      const hi = c.maxNs === null ? '+inf)' : `${c.maxNs}${c.maxInclusive ? ']' : ')'}`;
      return `duration in ${lo}, ${hi}`;
    }
    const printed = formatTraceql({ kind: 'pipeline', stages: [{ kind: 'filter', condition: { kind: 'compare', op: '=', lhs: c.field, rhs: { kind: 'literal', value: c.value } } }] });
    return printed.slice(2, -2);
  });
}

t.test('a single filter of ANDs pushes its equalities and one duration range', async (t) => {
  t.same(describe(extractPushdown(parseTraceql('{ resource.service.name = "frontend" && name = "GET" && span.http.status_code = 200 }'))), [
    'resource.service.name = "frontend"',
    'name = "GET"',
    'span.http.status_code = 200',
  ]);
  t.same(describe(extractPushdown(parseTraceql('{ status = error && kind = server && .env = "prod" && statusMessage = "x" }'))), [
    'status = error',
    'kind = server',
    '.env = "prod"',
    'statusMessage = "x"',
  ]);
  t.same(describe(extractPushdown(parseTraceql('{ duration > 100ms && duration <= 2s && 1s > duration && duration >= 100ms }'))), [
    'duration in (100000000, 1000000000)',
  ]);
  t.same(describe(extractPushdown(parseTraceql('{ duration = 5ms }'))), ['duration in [5000000, 5000000]']);
  t.same(describe(extractPushdown(parseTraceql('{ "GET" = name }'))), ['name = "GET"'], 'the literal may be on the left');
  t.same(
    describe(extractPushdown(parseTraceql('{ name = "a" && (.b = 1 || .c = 2) && !(.d = 3) && .e =~ "x" && .f != 1 && .g = nil && .h = .i }'))),
    ['name = "a"'],
    'only the extractable conjuncts are kept',
  );
  t.same(describe(extractPushdown(parseTraceql('{ name = "a" } | count() > 2 | select(.x)'))), ['name = "a"'], 'later stages only narrow');
  t.same(describe(extractPushdown(parseTraceql('{ name = 5 && status = "error" }'))), [], 'a literal of the wrong type for an intrinsic is not pushed');
});

t.test('pushdown returns nothing for OR, negation, structural and other shapes', async (t) => {
  for (const q of [
    '{ }',
    '{ name = "a" || name = "b" }',
    '{ !(name = "a") }',
    '{ name = "a" } >> { name = "b" }',
    '{ name = "a" } > { name = "b" }',
    '{ name = "a" } ~ { name = "b" }',
    '{ name = "a" } !> { name = "b" }',
    '{ name = "a" } &>> { name = "b" }',
    '{ name = "a" } && { name = "b" }',
    '{ name = "a" } || { name = "b" }',
    '({ name = "a" } | count() > 1) && { }',
    'count() > 2',
    '{ name =~ "a.*" }',
    '{ name != "a" }',
    '{ traceDuration > 1s && rootName = "x" }',
  ]) {
    t.same(extractPushdown(parseTraceql(q)), [], q);
  }
});

/** necessityViolation checks an extractor by brute force; it returns the first violation found, or null, and the pairs checked. */
function necessityViolation(extract: (q: Pipeline) => PushdownCondition[]): { violation: string | null; checked: number } {
  let checked = 0;
  for (let c = 0; c < 12000; c++) {
    const r = caseRand(777, c);
    const spans = randomTrace(r);
    const query = randomConjunctionQuery(r);
    const conditions = extract(query);
    if (conditions.length === 0) continue;
    const result = evaluateTraceql(query, spans);
    for (const m of result[0]?.spans ?? []) {
      for (const cond of conditions) {
        // Each condition, as a one-filter query, must hold on the span alone.
        const probe =
          cond.kind === 'equals'
            ? parseTraceql(`{ ${describe([cond])[0] ?? 'true'} }`)
            : parseTraceql(
                `{ ${[
                  cond.minNs === null ? 'true' : `duration ${cond.minInclusive ? '>=' : '>'} ${cond.minNs}`,
                  cond.maxNs === null ? 'true' : `duration ${cond.maxInclusive ? '<=' : '<'} ${cond.maxNs}`,
                ].join(' && ')} }`,
              );
        checked++;
        if (evaluateTraceql(probe, [m.span]).length !== 1) {
          return { violation: `seed 777 case ${c}: ${formatTraceql(query)} pushed ${describe([cond]).join()} but span ${m.index} fails it`, checked };
        }
      }
    }
  }
  return { violation: null, checked };
}

t.test('property: every span of every result satisfies every pushed condition', async (t) => {
  const { violation, checked } = necessityViolation(extractPushdown);
  t.equal(violation, null);
  t.ok(checked > 100, `checked ${checked} (span, condition) pairs`);
});

/** orAsAnd reads every `||` of the first filter as `&&`: a planted bug that pushes conditions out of a disjunction. */
function orAsAnd(q: Pipeline): Pipeline {
  const field = (e: FieldExpr): FieldExpr => (e.kind === 'logical' ? { kind: 'logical', op: '&&', lhs: field(e.lhs), rhs: field(e.rhs) } : e);
  const [first, ...rest] = q.stages;
  if (first?.kind !== 'filter' || first.condition === null) return q;
  return { kind: 'pipeline', stages: [{ kind: 'filter', condition: field(first.condition) }, ...rest] };
}

t.test('the necessity property catches a planted bug: conditions pushed out of an ||', async (t) => {
  const { violation } = necessityViolation((q) => extractPushdown(orAsAnd(q)));
  t.not(violation, null, 'a violation is found');
  t.comment(violation ?? '');
});
