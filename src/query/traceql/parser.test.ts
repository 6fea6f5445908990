/**
 * parser.test.ts — golden tests of the TraceQL parser (query → printed AST,
 * fully parenthesized so the tree and its precedence show), error messages
 * with positions, limits, and the print/reparse property on the goldens.
 */
import t from 'tap';
import { TraceqlLimits } from '../../limits.js';
import { formatTraceql } from './format.js';
import { parseTraceql } from './parser.js';

const GOLDEN: readonly (readonly [string, string])[] = [
  // Filters, scopes, quoted names, intrinsics and their scoped spellings.
  ['{}', '{ }'],
  ['{ span.http.method = "GET" }', '{ span.http.method = "GET" }'],
  ['{resource.service.name="frontend"}', '{ resource.service.name = "frontend" }'],
  ['{ .http.status_code = 200 }', '{ .http.status_code = 200 }'],
  ['{ span."attribute name with space" = "value" }', '{ span."attribute name with space" = "value" }'],
  ['{ span.attribute."name with space" = "v" }', '{ span."attribute.name with space" = "v" }'],
  ['{ span.a-b/c:d = 1 }', '{ span.a-b/c:d = 1 }'],
  ['{ resource."q\\"uo\\\\te" = 1 }', '{ resource."q\\"uo\\\\te" = 1 }'],
  ['{ span:name = "x" && name = "y" }', '{ (name = "x") && (name = "y") }'],
  ['{ span:status = error && status != ok }', '{ (status = error) && (status != ok) }'],
  ['{ span:statusMessage = "Forbidden" }', '{ statusMessage = "Forbidden" }'],
  ['{ span:kind = server || kind = client }', '{ (kind = server) || (kind = client) }'],
  ['{ span:duration > 100ms }', '{ duration > 100ms }'],
  ['{ trace:rootName = "a" && trace:rootService = "b" && trace:duration < 2s }', '{ ((rootName = "a") && (rootServiceName = "b")) && (traceDuration < 2s) }'],
  ['{ rootName = "a" && rootServiceName = "b" && traceDuration < 2s }', '{ ((rootName = "a") && (rootServiceName = "b")) && (traceDuration < 2s) }'],
  ['{ event:name = "exception" }', '{ event:name = "exception" }'],
  ['{ link:traceID = "0102" && link:spanID = "03" }', '{ (link:traceID = "0102") && (link:spanID = "03") }'],
  ['{ span:id = "01" && span:parentID = "02" && trace:id = "03" }', '{ ((span:id = "01") && (span:parentID = "02")) && (trace:id = "03") }'],
  ['{ span:childCount > 1 && childCount = 0 }', '{ (childCount > 1) && (childCount = 0) }'],
  ['{ instrumentation:name = "grpc" && instrumentation:version = "1.0.0" }', '{ (instrumentation:name = "grpc") && (instrumentation:version = "1.0.0") }'],
  // Literals.
  ['{ .a = "tab\\t quote\\" back\\\\ nl\\n u\\u00e9" }', '{ .a = "tab\\t quote\\" back\\\\ nl\\n ué" }'],
  ['{ .a =~ `\\d+\\.` }', '{ .a =~ "\\\\d+\\\\." }'],
  ['{ .a = -5 && .b = 1.5 && .c = -2.5e3 && .d = 3.0 }', '{ (((.a = -5) && (.b = 1.5)) && (.c = -2500.0)) && (.d = 3.0) }'],
  ['{ duration > 1.5s }', '{ duration > 1500ms }'],
  ['{ duration > 1h30m }', '{ duration > 90m }'],
  ['{ duration >= 10ns && duration < 3us && duration != 7µs }', '{ ((duration >= 10ns) && (duration < 3us)) && (duration != 7us) }'],
  ['{ duration > 0.5ms }', '{ duration > 500us }'],
  ['{ duration < 7μs }', '{ duration < 7us }'],
  ['{ .a = true || .b = false }', '{ (.a = true) || (.b = false) }'],
  ['{ .a != nil && .b = nil }', '{ (.a != nil) && (.b = nil) }'],
  ['{ kind = unspecified || kind = internal || kind = producer || kind = consumer }', '{ (((kind = unspecified) || (kind = internal)) || (kind = producer)) || (kind = consumer) }'],
  ['{ status = unset }', '{ status = unset }'],
  ['{ .a = 9223372036854775807 && .b = -9223372036854775808 }', '{ (.a = 9223372036854775807) && (.b = -9223372036854775808) }'],
  // Field-expression precedence: && and || share one level, left-associative (Tempo); ! binds tightest.
  ['{ .a = 1 || .b = 2 && .c = 3 }', '{ ((.a = 1) || (.b = 2)) && (.c = 3) }'],
  ['{ .a = 1 || (.b = 2 && .c = 3) }', '{ (.a = 1) || ((.b = 2) && (.c = 3)) }'],
  ['{ !(.a = 1) && !.b }', '{ !(.a = 1) && !.b }'],
  ['{ !.a = true }', '{ !.a = true }'],
  ['{ .flag }', '{ .flag }'],
  ['{ true }', '{ true }'],
  ['{ span.a = span.b }', '{ span.a = span.b }'],
  ['{ 200 = .http.status_code }', '{ 200 = .http.status_code }'],
  ['{ .a !~ "x.*" }', '{ .a !~ "x.*" }'],
  // Spanset operators: && and || share the lowest level; structural operators bind tighter; all left-associative.
  ['{ .a = 1 } && { .b = 2 }', '{ .a = 1 } && { .b = 2 }'],
  ['{ } && { name = "x" } > { kind = server }', '{ } && ({ name = "x" } > { kind = server })'],
  ['{ } > { } >> { } ~ { }', '(({ } > { }) >> { }) ~ { }'],
  ['{ } || { } && { }', '({ } || { }) && { }'],
  ['{ } < { } << { }', '({ } < { }) << { }'],
  ['({ } || { }) > { }', '({ } || { }) > { }'],
  ['{ } !< { resource.service.name = "foo" }', '{ } !< { resource.service.name = "foo" }'],
  ['{ } !> { } !>> { } !<< { } !~ { }', '((({ } !> { }) !>> { }) !<< { }) !~ { }'],
  ['{ } &> { } &>> { } &< { } &<< { } &~ { }', '(((({ } &> { }) &>> { }) &< { }) &<< { }) &~ { }'],
  ['{ } && { } !~ { }', '{ } && ({ } !~ { })'],
  ['(({ }))', '{ }'],
  // Pipelines.
  ['{ } | count() > 2', '{ } | count() > 2'],
  ['{ status = error } | avg(duration) > 20ms', '{ status = error } | avg(duration) > 20ms'],
  ['{ } | min(span.a) <= -1 | max(.b) = 1.5 | sum(duration) != 1s', '{ } | min(span.a) <= -1 | max(.b) = 1.5 | sum(duration) != 1s'],
  ['count() > 10', 'count() > 10'],
  ['{ .a = 1 } | select(span.b, resource.c, name, event:name)', '{ .a = 1 } | select(span.b, resource.c, name, event:name)'],
  ['{ } | { .a = 1 } | count() = 1', '{ } | { .a = 1 } | count() = 1'],
  ['({ } | count() > 1) && { }', '({ } | count() > 1) && { }'],
  ['(count() > 1) || { }', '(count() > 1) || { }'],
  // Whitespace and newlines anywhere between tokens.
  ['{\n  resource.service.name = "a" &&\n  name = "b"\n}\n', '{ (resource.service.name = "a") && (name = "b") }'],
];

t.test('golden: query → printed AST', async (t) => {
  for (const [query, printed] of GOLDEN) {
    t.equal(formatTraceql(parseTraceql(query)), printed, query);
  }
});

t.test('property: printing a parsed query and parsing it again gives the same AST', async (t) => {
  for (const [query] of GOLDEN) {
    const ast = parseTraceql(query);
    t.same(parseTraceql(formatTraceql(ast)), ast, query);
  }
});

const ERRORS: readonly (readonly [string, string, RegExp])[] = [
  ['{ .a = 1 foo }', 'ERR_INVALID_ARGUMENT', /^TraceQL: expected '}' or an operator at 1:10, found 'foo'$/],
  ['{a=1}', 'ERR_INVALID_ARGUMENT', /^TraceQL: expected a field or a value at 1:2, found 'a'$/],
  ['{ .a = 1', 'ERR_INVALID_ARGUMENT', /^TraceQL: expected '}' or an operator at 1:9, found end of query$/],
  ['{ .a = }', 'ERR_INVALID_ARGUMENT', /^TraceQL: expected a field or a value at 1:8, found '}'$/],
  ['{ } &&', 'ERR_INVALID_ARGUMENT', /^TraceQL: expected '\{' or '\(' at 1:7, found end of query$/],
  ['{ } { }', 'ERR_INVALID_ARGUMENT', /^TraceQL: expected '\|', a spanset operator or end of query at 1:5, found '\{'$/],
  ['{\n  .a = 1\n  .b = 2\n}', 'ERR_INVALID_ARGUMENT', /^TraceQL: expected '}' or an operator at 3:3, found '\.b'$/],
  ['{ .a = "x }', 'ERR_INVALID_ARGUMENT', /^TraceQL: unterminated string at 1:8$/],
  ['{ .a = "\\q" }', 'ERR_INVALID_ARGUMENT', /unknown escape .* at 1:9/],
  ['{ .a = 1 & .b = 2 }', 'ERR_INVALID_ARGUMENT', /^TraceQL: expected '&&' at 1:10, found '&'$/],
  ['{ .a = 1 # }', 'ERR_INVALID_ARGUMENT', /^TraceQL: unexpected character at 1:10, found '#'$/],
  ['{ duration > 5 parsecs }', 'ERR_INVALID_ARGUMENT', /expected '}' or an operator at 1:16, found 'parsecs'/],
  ['{ duration > 5xs }', 'ERR_INVALID_ARGUMENT', /unknown duration unit .* at 1:15/],
  ['{ .a = 9223372036854775808 }', 'ERR_INVALID_ARGUMENT', /integer out of range at 1:8/],
  ['{ event.foo = 1 }', 'ERR_INVALID_ARGUMENT', /attribute scope 'event\.' is not supported .* at 1:3/],
  ['{ span:nope = 1 }', 'ERR_INVALID_ARGUMENT', /unknown or unsupported intrinsic at 1:3, found 'span:nope'/],
  ['{ .a =~ 5 }', 'ERR_INVALID_ARGUMENT', /expected a string regular expression at 1:9, found '5'/],
  ['{ .a =~ "(" }', 'ERR_INVALID_ARGUMENT', /invalid regular expression .* at 1:9/],
  ['{ .a =~ "(a)\\\\1" }', 'ERR_INVALID_ARGUMENT', /RE2 has no backreferences/],
  ['{ .a =~ "(?=a)" }', 'ERR_INVALID_ARGUMENT', /RE2 has no lookaround/],
  ['{ 1 }', 'ERR_INVALID_ARGUMENT', /expected a boolean expression .* at 1:3, found '1'/],
  ['{ name }', 'ERR_INVALID_ARGUMENT', /expected a boolean expression .* at 1:3, found 'name'/],
  ['{ .a = 1 && 2 }', 'ERR_INVALID_ARGUMENT', /expected a boolean expression .* at 1:13, found '2'/],
  ['{ } | count(.a) > 1', 'ERR_INVALID_ARGUMENT', /expected '\)': count\(\) takes no argument at 1:13/],
  ['{ } | avg() > 1', 'ERR_INVALID_ARGUMENT', /expected a field to avg at 1:11, found '\)'/],
  ['{ } | count() > "x"', 'ERR_INVALID_ARGUMENT', /expected a number or a duration at 1:17/],
  ['{ } | count() =~ 1', 'ERR_INVALID_ARGUMENT', /expected a comparison .* after count\(\) at 1:15/],
  ['{ } | select()', 'ERR_INVALID_ARGUMENT', /expected a field to select at 1:14, found '\)'/],
  ['{ } | by(.a)', 'ERR_INVALID_ARGUMENT', /'by\(\)' is not supported/],
  ['({ }', 'ERR_INVALID_ARGUMENT', /expected '\)', '\|' or a spanset operator at 1:5, found end of query/],
  ['', 'ERR_INVALID_ARGUMENT', /expected '\{' or '\(' at 1:1, found end of query/],
  ['{ .a = "é" && b }', 'ERR_INVALID_ARGUMENT', /at 1:15, found 'b'/],
  ['{ ."" = 2 }', 'ERR_INVALID_ARGUMENT', /^TraceQL: expected an attribute name at 1:3$/],
  ['{ span. = 2 }', 'ERR_INVALID_ARGUMENT', /^TraceQL: expected an attribute name at 1:3$/],
];

t.test('errors name the position (1-based line:column, in characters) and what was expected', async (t) => {
  for (const [query, code, message] of ERRORS) {
    t.throws(() => parseTraceql(query), { code, message }, JSON.stringify(query));
  }
});

t.test('errors carry the position in details', async (t) => {
  try {
    parseTraceql('{\n .a = 1 x }');
    t.fail('should throw');
  } catch (err) {
    t.match(err, { code: 'ERR_INVALID_ARGUMENT', details: { line: 2, column: 9, found: "'x'" } });
  }
});

t.test('limits: query length, nesting depth, tree height, regex length, select fields', async (t) => {
  const long = `{ .a = "${'x'.repeat(TraceqlLimits.queryBytesMax)}" }`;
  t.throws(() => parseTraceql(long), { code: 'ERR_LIMIT_EXCEEDED', message: /queryBytesMax/ });

  const deep = `${'('.repeat(TraceqlLimits.nestingDepthMax)}{ }${')'.repeat(TraceqlLimits.nestingDepthMax)}`;
  t.throws(() => parseTraceql(deep), { code: 'ERR_LIMIT_EXCEEDED', message: /nestingDepthMax \(64\) at 1:65/ });
  const okDeep = `${'('.repeat(TraceqlLimits.nestingDepthMax - 1)}{ }${')'.repeat(TraceqlLimits.nestingDepthMax - 1)}`;
  t.doesNotThrow(() => parseTraceql(okDeep));
  t.throws(() => parseTraceql(`{ ${'!'.repeat(TraceqlLimits.nestingDepthMax)}.a }`), { code: 'ERR_LIMIT_EXCEEDED' });

  const chain = Array.from({ length: TraceqlLimits.astHeightMax + 1 }, () => '{ }').join(' && ');
  t.throws(() => parseTraceql(chain), { code: 'ERR_LIMIT_EXCEEDED', message: /astHeightMax/ });
  const conds = `{ ${Array.from({ length: TraceqlLimits.astHeightMax + 1 }, () => '.a = 1').join(' && ')} }`;
  t.throws(() => parseTraceql(conds), { code: 'ERR_LIMIT_EXCEEDED', message: /astHeightMax/ });

  t.throws(() => parseTraceql(`{ .a =~ "${'a'.repeat(TraceqlLimits.regexBytesMax + 1)}" }`), {
    code: 'ERR_LIMIT_EXCEEDED',
    message: /regexBytesMax .* at 1:9/,
  });
  const fields = Array.from({ length: TraceqlLimits.selectFieldsMax + 1 }, (_, i) => `.f${i}`).join(', ');
  t.throws(() => parseTraceql(`{ } | select(${fields})`), { code: 'ERR_LIMIT_EXCEEDED', message: /selectFieldsMax/ });
});
