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
import { extractPushdown, extractSpanMatch } from './pushdown.js';
import type { SpanMatch } from '../../storage/traces/span-index.js';
import { spanMatchHolds } from '../../storage/traces/span-index.js';
import { caseRand, randomConjunctionQuery, randomQuery, randomTargetedQuery, randomTrace } from './traceql-test-gen.js';

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

// ---------------------------------------------------------------- extractSpanMatch

t.test('extractSpanMatch keeps attribute equalities of every scope, && and ||, and spanset operands', async (t) => {
  const m = (q: string): unknown => extractSpanMatch(parseTraceql(q));
  t.same(m('{ span.customer.id = "c-123" }'), { kind: 'attr', scope: 'span', key: 'customer.id', type: 'string', value: 'c-123' });
  t.same(m('{ .a = 200 }'), { kind: 'attr', scope: 'any', key: 'a', type: 'int', value: '200' });
  t.same(m('{ resource.a = 200.0 }'), { kind: 'attr', scope: 'resource', key: 'a', type: 'int', value: '200' }, 'an integral float takes the int form');
  t.same(m('{ .a = 1ms }'), { kind: 'attr', scope: 'any', key: 'a', type: 'int', value: '1000000' }, 'a duration is its nanoseconds');
  t.same(m('{ .a = 0.5 }'), { kind: 'attr', scope: 'any', key: 'a', type: 'int', value: '0.5' });
  t.same(m('{ .flag }'), { kind: 'attr', scope: 'any', key: 'flag', type: 'bool', value: 'true' }, 'a bare attribute is a test for true');
  t.same(m('{ .a = "x" || (name = "n" && status = error) }'), {
    kind: 'or',
    args: [
      { kind: 'attr', scope: 'any', key: 'a', type: 'string', value: 'x' },
      { kind: 'and', args: [{ kind: 'name', value: 'n' }, { kind: 'status', code: 2 }] },
    ],
  });
  t.same(m('{ .a = "x" && .b != 1 && kind = server }'), { kind: 'and', args: [{ kind: 'attr', scope: 'any', key: 'a', type: 'string', value: 'x' }, { kind: 'spanKind', value: 2 }] });
  t.same(m('{ .a = "x" } >> { .b = "y" }'), { kind: 'attr', scope: 'any', key: 'a', type: 'string', value: 'x' }, 'both sides are needed: the left');
  t.same(m('{ } >> { .b = "y" }'), { kind: 'attr', scope: 'any', key: 'b', type: 'string', value: 'y' }, 'the left says nothing: the right');
  t.same(m('{ .a = "x" } !> { .b = "y" }'), { kind: 'attr', scope: 'any', key: 'b', type: 'string', value: 'y' }, 'negated: the right only');
  t.same(m('{ .a = "x" } || { .b = "y" }'), { kind: 'or', args: [{ kind: 'attr', scope: 'any', key: 'a', type: 'string', value: 'x' }, { kind: 'attr', scope: 'any', key: 'b', type: 'string', value: 'y' }] });
  t.same(m('({ .a = "x" } | count() > 1) && { }'), { kind: 'attr', scope: 'any', key: 'a', type: 'string', value: 'x' }, 'a nested pipeline: its first stage');
  t.same(m('{ .a = error }'), { kind: 'or', args: [] }, 'an attribute is never a status: nothing matches');
  t.same(m('{ false }'), { kind: 'or', args: [] });
  for (const q of ['{ }', '{ !(.a = 1) }', '{ .a != 1 }', '{ .a =~ "x" }', '{ .a = nil }', '{ .a = 1 || .b > 2 }', 'count() > 2', '{ true }', '{ duration > 1s }', '{ .a = .b }']) {
    t.equal(m(q), null, q);
  }
});

/** matchViolation checks a span-match extractor by brute force: every trace with a result must hold a span the match holds on. */
function matchViolation(extract: (q: Pipeline) => SpanMatch | null, cases: number): { violation: string | null; checked: number } {
  let checked = 0;
  for (let c = 0; c < cases; c++) {
    const r = caseRand(778, c);
    const spans = randomTrace(r);
    const query = c % 3 === 0 ? randomConjunctionQuery(r) : c % 3 === 1 ? randomQuery(r) : randomTargetedQuery(r, spans);
    if (query === null) continue;
    const match = extract(query);
    if (match === null) continue;
    if (evaluateTraceql(query, spans).length === 0) continue;
    checked++;
    if (!spans.some((s) => spanMatchHolds(s, match))) return { violation: `seed 778 case ${c}: ${formatTraceql(query)} narrowed to ${JSON.stringify(match)}, which no span of a matching trace holds`, checked };
  }
  return { violation: null, checked };
}

t.test('property: a trace with a result holds a span the span match holds on', async (t) => {
  const { violation, checked } = matchViolation(extractSpanMatch, 20000);
  t.equal(violation, null);
  t.ok(checked > 500, `checked ${checked} (query, trace) pairs with a result and a match`);
});

t.test('the span-match property catches a planted bug: negated structural operators narrowed by their left side', async (t) => {
  const leftOfNegated = (q: Pipeline): SpanMatch | null => {
    const first = q.stages[0];
    if (first?.kind === 'spansetOp' && first.op.startsWith('!')) return extractSpanMatch({ kind: 'pipeline', stages: [first.lhs] });
    return extractSpanMatch(q);
  };
  const { violation } = matchViolation(leftOfNegated, 20000);
  t.not(violation, null, 'a violation is found');
  t.comment(violation ?? '');
});
