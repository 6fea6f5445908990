/**
 * logql-test-gen.ts — seeded generators for the LogQL tests (test code only):
 * a corpus that looks like real logs (web access logs, application logs with
 * multi-line stack traces, JSON logs, logfmt logs; several services, levels
 * and environments; structured metadata with trace ids) and random queries
 * drawn from the grammar as ASTs (log and metric queries covering every
 * stage, range and vector aggregation and binary operator).
 */
import { SeededRand } from '../../fs/seeded-rand.js';
import type { Grouping, LabelFilterExpr, LabelFormatItem, LogExpr, MetricExpr, RangeAggregation, RangeFn, Stage, VectorOp } from './ast.js';
import { sortedLabels } from './pipeline.js';
import type { LogEntry, StreamSelectorMatcher } from './source.js';

/** pick draws one element. */
/**
 * envInt reads a test's size or seed from the environment (a reproduction
 * sets LOGQL_SEED and the case counts), or `fallback`; anything but a
 * non-negative integer is refused loudly.
 */
export function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  return n;
}

export function pick<T>(r: SeededRand, xs: readonly T[]): T {
  return xs[r.intn(xs.length)] as T;
}

function chance(r: SeededRand, percent: number): boolean {
  return r.intn(100) < percent;
}

/** caseRand derives the source of one differential case from a base seed and a case number. */
export function caseRand(baseSeed: number, caseNo: number): SeededRand {
  return new SeededRand((baseSeed ^ Math.imul(caseNo + 1, 0x9e3779b1)) >>> 0);
}

/** CORPUS_START_NS is the corpus' first possible time; entries fall in the 10 minutes after it, on 100 ms ticks (so times tie). */
export const CORPUS_START_NS = 1_795_000_000_000_000_000n;
/** CORPUS_SPAN_NS is the corpus' time span. */
export const CORPUS_SPAN_NS = 600_000_000_000n;
const TICK_NS = 100_000_000n;

const APPS = ['frontend', 'checkout', 'payments', 'nginx'] as const;
const LEVELS = ['info', 'warn', 'error', 'debug'] as const;
const ENVS = ['prod', 'dev'] as const;
const PATHS = ['/api/users', '/api/cart', '/checkout', '/healthz', '/static/app.js'];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE'];
const STATUSES = [200, 201, 301, 404, 500, 503];
const MESSAGES = ['request served', 'db timeout', 'Connection refused', 'payment failed: timeout after 30s', 'cache miss', 'User logged in', 'ERROR retry scheduled'];
const TRACE_IDS = ['4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7aaaa0000bbbb1111', 'deadbeefdeadbeefdeadbeefdeadbeef'];

function accessLine(r: SeededRand): string {
  const ms = r.intn(2000);
  return `10.0.${r.intn(3)}.${r.intn(9)} - - [27/Nov/2026:10:00:00 +0000] "${pick(r, METHODS)} ${pick(r, PATHS)} HTTP/1.1" ${pick(r, STATUSES)} ${r.intn(50_000)} "-" "${pick(r, ['curl/8.0', 'Mozilla/5.0', 'Go-http-client/1.1'])}" ${ms}ms`;
}

function appLine(r: SeededRand, level: string): string {
  // Some application lines colour their level (ANSI escapes), for `| decolorize`.
  const lvl = chance(r, 25) ? `\u001b[${pick(r, ['31', '33', '1;32', '0;36'])}m${level.toUpperCase()}\u001b[0m` : level.toUpperCase();
  const head = `2026-11-27T10:00:0${r.intn(10)}Z ${lvl} [${pick(r, APPS)}] ${pick(r, MESSAGES)}`;
  if (level !== 'error' || !chance(r, 60)) return head;
  const frames = 1 + r.intn(3);
  let out = `${head}\nError: ${pick(r, ['timeout', 'ECONNREFUSED', 'NullPointerException'])}`;
  for (let i = 0; i < frames; i++) out += `\n    at ${pick(r, ['PaymentClient.charge', 'Db.query', 'Router.handle'])} (${pick(r, ['client.js', 'db.ts', 'router.go'])}:${r.intn(200)})`;
  return out;
}

function jsonLine(r: SeededRand, level: string): string {
  const obj: Record<string, unknown> = { level, msg: pick(r, MESSAGES), status: pick(r, STATUSES) };
  if (chance(r, 70)) obj.latency = pick(r, ['250ms', '1.5s', '12ms', '3s', 'fast']);
  if (chance(r, 50)) obj.user = { id: r.intn(5), name: pick(r, ['ann', 'bob', 'čeněk']) };
  if (chance(r, 40)) obj.size = pick(r, ['2KB', '1MiB', '512B', '20MB']);
  if (chance(r, 30)) obj.tags = ['a', 'b'];
  if (chance(r, 20)) obj['http.method'] = pick(r, METHODS);
  if (chance(r, 15)) obj.app = 'shadowed';
  if (chance(r, 10)) obj.ok = chance(r, 50);
  if (chance(r, 10)) return `{"level":"${level}", "msg": "truncated`;
  return JSON.stringify(obj);
}

function logfmtLine(r: SeededRand, level: string): string {
  const parts = [`level=${level}`, `msg="${pick(r, MESSAGES)}"`, `duration=${pick(r, ['1.5s', '250ms', '30s', '12us', 'slow'])}`, `status=${pick(r, STATUSES)}`];
  if (chance(r, 50)) parts.push(`path=${pick(r, PATHS)}`);
  if (chance(r, 40)) parts.push(`size=${pick(r, ['20KB', '1GB', '300B', '2.5MB'])}`);
  if (chance(r, 10)) parts.push('orphan');
  if (chance(r, 8)) parts.push('bad="unterminated');
  if (chance(r, 10)) parts.push(`env=${pick(r, ENVS)}`);
  return parts.join(' ');
}

/** randomCorpus makes `n` entries over several streams: access, application (with stack traces), JSON and logfmt logs. */
export function randomCorpus(r: SeededRand, n: number): LogEntry[] {
  const out: LogEntry[] = [];
  for (let i = 0; i < n; i++) {
    const app = pick(r, APPS);
    const level = pick(r, LEVELS);
    const env = pick(r, ENVS);
    const kind = app === 'nginx' ? 'access' : pick(r, ['app', 'json', 'logfmt', 'json', 'logfmt']);
    const line = kind === 'access' ? accessLine(r) : kind === 'app' ? appLine(r, level) : kind === 'json' ? jsonLine(r, level) : logfmtLine(r, level);
    const metadata: [string, string][] = [];
    if (chance(r, 35)) metadata.push(['trace_id', pick(r, TRACE_IDS)]);
    if (chance(r, 10)) metadata.push(['user_agent', pick(r, ['curl', 'browser'])]);
    out.push({
      stream: sortedLabels([
        ['service_name', app],
        ['level', level],
        ['env', env],
        ['format', kind],
      ]),
      timeNs: CORPUS_START_NS + BigInt(r.intn(Number(CORPUS_SPAN_NS / TICK_NS))) * TICK_NS,
      line,
      metadata: sortedLabels(metadata),
    });
  }
  return out;
}

// ---- queries ----

const WORDS = ['error', 'ERROR', 'timeout', 'GET', 'api', 'Connection', 'at ', '"status":', 'level=', 'payment failed', 'ms', '', 'e', 'a'];
const REGEXES = ['(?i)error', 'time(out)?', 'error.*timeout', 'GET|POST', '(?i)conn(ection)? refused', '\\d{3} \\d+', 'at [A-Z]\\w+\\.', 'status=5\\d\\d', '^\\{', 'db.ts:\\d+', '(?i)(db|cache) (timeout|miss)', 'a+b*c?'];
/** LINE_PATTERNS are pattern line filter (`|>`, `!>`) patterns: `<_>` and literals only. */
const LINE_PATTERNS = ['<_> ERROR <_>', '<_> - - <_> "GET <_>', 'level=<_> msg=<_>', '<_>timeout<_>', '{"level":<_>', '<_>ms', '', '<_>', '<_> [checkout] <_>', '10.0.<_>'];
const LABELS = ['level', 'status', 'msg', 'path', 'service_name', 'env', 'trace_id', 'user_id', 'latency', 'duration', 'size', 'method', 'app', 'app_extracted', '__error__', 'format'];

function selector(r: SeededRand): StreamSelectorMatcher[] {
  const first: StreamSelectorMatcher = pick(r, [
    { name: 'service_name', op: '=', value: pick(r, APPS) },
    { name: 'service_name', op: '=~', value: pick(r, ['front.*|checkout', 'pay.+', '.+']) },
    { name: 'format', op: '=', value: pick(r, ['json', 'logfmt', 'access', 'app']) },
    { name: 'env', op: '=', value: pick(r, ENVS) },
  ] as const);
  const out = [first];
  if (chance(r, 40)) out.push(pick(r, [{ name: 'level', op: '!=', value: 'debug' }, { name: 'level', op: '=~', value: 'error|warn' }, { name: 'env', op: '!~', value: 'de.*' }] as const));
  return out;
}

function labelFilter(r: SeededRand, depth = 0): LabelFilterExpr {
  if (depth < 2 && chance(r, 25)) return { kind: pick(r, ['and', 'or'] as const), lhs: labelFilter(r, depth + 1), rhs: labelFilter(r, depth + 1) };
  const op = pick(r, ['==', '!=', '>', '>=', '<', '<='] as const);
  switch (r.intn(6)) {
    case 0:
      return { kind: 'string', name: pick(r, ['level', 'format', 'method', 'user_name', 'trace_id']), op: pick(r, ['=', '!=', '!=', '=~', '!~'] as const), value: pick(r, ['error', 'json', 'GET', 'ann', 'e.*', '', 'deadbeefdeadbeefdeadbeefdeadbeef']) };
    case 1:
      return { kind: 'string', name: '__error__', op: pick(r, ['=', '!='] as const), value: pick(r, ['', 'JSONParserErr']) };
    case 2:
      return { kind: 'number', name: pick(r, ['status', 'user_id', 'level']), op, value: pick(r, [200, 404, 500, 2, -1, 0.5]) };
    case 3:
      return { kind: 'duration', name: pick(r, ['latency', 'duration', 'msg']), op, valueNs: pick(r, [1_000_000_000n, 250_000_000n, 12_000n, 30_000_000_000n]) };
    case 4:
      return { kind: 'bytes', name: 'size', op, value: pick(r, [1000, 2000, 20_000_000, 1_048_576]) };
    default:
      return { kind: 'string', name: pick(r, LABELS), op: '!=', value: '' };
  }
}

function stage(r: SeededRand): Stage {
  switch (r.intn(15)) {
    case 0:
    case 1: {
      const op = pick(r, ['|=', '!=', '|~', '!~', '|=', '|~', '|>', '!>'] as const);
      const n = chance(r, 25) ? 2 : 1;
      const values = Array.from({ length: n }, () => (op === '|=' || op === '!=' ? pick(r, WORDS) : op === '|>' || op === '!>' ? pick(r, LINE_PATTERNS) : pick(r, REGEXES)));
      return { kind: 'lineFilter', op, values };
    }
    case 14:
      return { kind: 'decolorize' };
    case 2:
      return chance(r, 70) ? { kind: 'json', params: [] } : { kind: 'json', params: [{ label: 'user_name', path: pick(r, ['user.name', 'user["name"]']) }, { label: 'first_tag', path: 'tags[0]' }, ...(chance(r, 50) ? [{ label: 'status', path: 'status' }] : [])] };
    case 3:
      return { kind: 'logfmt', strict: chance(r, 30), keepEmpty: chance(r, 30), params: chance(r, 80) ? [] : [{ label: 'dur', path: 'duration' }, { label: 'status', path: 'status' }] };
    case 4:
      return { kind: 'regexp', pattern: pick(r, ['"(?P<method>[A-Z]+) (?P<path>\\S+)', '(?P<status>\\d{3}) (?P<size>\\d+)', '\\[(?P<app>\\w+)\\] (?P<msg>.*)']) };
    case 5:
      return { kind: 'pattern', pattern: pick(r, ['<ip> - - <_> "<method> <path> <_>" <status> <size> <_>', '<_> <lvl> [<app>] <msg>', 'level=<level> <_>']) };
    case 6:
      return { kind: 'unpack' };
    case 7:
    case 8:
    case 9:
      return { kind: 'labelFilter', expr: labelFilter(r) };
    case 10:
      return { kind: 'lineFormat', template: pick(r, ['{{.level}} {{.msg}}', '{{ .status | upper }}-{{.path}}', '{{ default "none" .trace_id }} {{ __line__ }}', '{{ ToLower .msg }}', '{{ replace "e" "E" .level }}']) };
    case 11: {
      const items: LabelFormatItem[] = [pick(r, [
        { dst: 'lvl', src: { kind: 'rename', name: 'level' } },
        { dst: 'msg', src: { kind: 'template', template: '{{.level}}:{{.status}}' } },
        { dst: 'trace', src: { kind: 'rename', name: 'trace_id' } },
        { dst: 'level', src: { kind: 'template', template: '{{ upper .level }}' } },
      ] as const)];
      return { kind: 'labelFormat', items };
    }
    case 12:
      return { kind: 'drop', items: [{ name: pick(r, LABELS), matcher: null }, ...(chance(r, 50) ? [{ name: pick(r, LABELS), matcher: { op: pick(r, ['=', '=~'] as const), value: pick(r, ['error', 'json', '.*5.*']) } }] : [])] };
    default:
      return { kind: 'keep', items: [{ name: pick(r, LABELS), matcher: null }, { name: pick(r, LABELS), matcher: chance(r, 30) ? { op: '!=', value: 'info' } : null }] };
  }
}

/** randomLogExpr draws a log query with 0..5 stages. */
export function randomLogExpr(r: SeededRand): LogExpr {
  const n = pick(r, [0, 1, 1, 2, 2, 3, 3, 4, 5]);
  return { kind: 'log', matchers: selector(r), stages: Array.from({ length: n }, () => stage(r)) };
}

const RANGES_NS = [30_000_000_000n, 60_000_000_000n, 300_000_000_000n, 10_000_000_000n];
const UNWRAPS = [
  { format: 'logfmt', stages: [{ kind: 'logfmt', strict: false, keepEmpty: false, params: [] }] as Stage[], label: 'duration', conversion: 'duration' as const },
  { format: 'json', stages: [{ kind: 'json', params: [] }] as Stage[], label: 'latency', conversion: 'duration_seconds' as const },
  { format: 'json', stages: [{ kind: 'json', params: [] }] as Stage[], label: 'status', conversion: null },
  { format: 'logfmt', stages: [{ kind: 'logfmt', strict: false, keepEmpty: false, params: [] }] as Stage[], label: 'size', conversion: 'bytes' as const },
  { format: 'access', stages: [{ kind: 'regexp', pattern: '(?P<status>\\d{3}) (?P<size>\\d+)' }] as Stage[], label: 'size', conversion: null },
];

function grouping(r: SeededRand): Grouping {
  return { without: chance(r, 30), labels: [pick(r, ['level', 'service_name', 'env', 'format', 'trace_id', 'path']), ...(chance(r, 30) ? ['env'] : [])].filter((v, i, a) => a.indexOf(v) === i) };
}

/** randomRange draws a range aggregation. */
export function randomRange(r: SeededRand): RangeAggregation {
  const fn = pick(r, ['count_over_time', 'rate', 'bytes_over_time', 'bytes_rate', 'absent_over_time', 'sum_over_time', 'avg_over_time', 'min_over_time', 'max_over_time', 'stddev_over_time', 'stdvar_over_time', 'quantile_over_time', 'first_over_time', 'last_over_time', 'count_over_time', 'avg_over_time', 'rate', 'rate_counter'] as const satisfies readonly RangeFn[]);
  const unwrapped = !['count_over_time', 'rate', 'bytes_over_time', 'bytes_rate', 'absent_over_time'].includes(fn) || (fn === 'rate' && chance(r, 25));
  const log = randomLogExpr(r);
  const u = pick(r, UNWRAPS);
  // Most metric queries select the format their unwrap parses, and keep few filters, so most answers are not empty.
  const matchers: readonly StreamSelectorMatcher[] = unwrapped && chance(r, 80) ? [{ name: 'format', op: '=', value: u.format }] : log.matchers;
  const stages: Stage[] = log.stages.filter((s) => (s.kind === 'lineFilter' || s.kind === 'drop' || s.kind === 'lineFormat' ? chance(r, 60) : chance(r, 15)));
  if (!unwrapped && chance(r, 80) && stages.some((s) => s.kind === 'json' || s.kind === 'logfmt' || s.kind === 'unpack' || s.kind === 'labelFilter')) {
    stages.push({ kind: 'labelFilter', expr: { kind: 'string', name: '__error__', op: '=', value: '' } });
  }
  let unwrap: RangeAggregation['unwrap'] = null;
  if (unwrapped) {
    stages.push(...u.stages);
    unwrap = { label: u.label, conversion: u.conversion, postFilters: chance(r, 85) ? [{ kind: 'string', name: '__error__', op: '=', value: '' }] : [] };
    if (chance(r, 70)) stages.unshift({ kind: 'labelFilter', expr: { kind: 'string', name: '__error__', op: '=', value: '' } });
  }
  // Metric results grouped by every label: drop the line-unique ones most of the time.
  if (chance(r, 70)) stages.push({ kind: 'keep', items: [{ name: 'service_name', matcher: null }, { name: 'level', matcher: null }, { name: 'trace_id', matcher: null }, ...(unwrap === null ? [] : [{ name: unwrap.label, matcher: null }])] });
  const groupable = unwrapped && fn !== 'rate' && fn !== 'rate_counter';
  return {
    kind: 'range',
    fn,
    param: fn === 'quantile_over_time' ? pick(r, [0.5, 0.99, 0, 1, 0.25]) : null,
    log: { kind: 'log', matchers, stages },
    unwrap,
    rangeNs: pick(r, RANGES_NS),
    offsetNs: chance(r, 15) ? 30_000_000_000n : 0n,
    grouping: groupable && chance(r, 40) ? grouping(r) : null,
  };
}

/** randomLabelReplace wraps a metric query in label_replace (matches, misses, named groups, empty results that remove the label, overwrites that may collide). */
function randomLabelReplace(r: SeededRand, expr: MetricExpr): MetricExpr {
  const [src, regex] = pick(r, [
    ['level', '(.*)'],
    ['level', '(e.*)'],
    ['level', '(?P<name>[a-z]+)'],
    ['level', 'err(or)?'],
    ['service_name', '(.)(.*)'],
    ['env', 'p.*'],
    ['missing', '(.*)'],
    ['level', 'x'],
    ['level', 'err'],
    ['service_name', '(pay|check)'],
    ['env', '(d)'],
  ] as const);
  return {
    kind: 'labelReplace',
    expr,
    dst: pick(r, ['lvl', 'lvl', 'tag', 'level', 'service_name']),
    replacement: pick(r, ['$1', '${1}-x', '$1$2', '$name', '${name}_${1}', 'const', '', '$$1', '$1x', '$']),
    src,
    regex,
  };
}

/** groupedBinary draws a many-to-one (group_left) or one-to-many (group_right) operation; the "one" side is unique per level (or per level and service, for an included label). */
function groupedBinary(r: SeededRand): MetricExpr {
  const manyBy = pick(r, [['level', 'env'], ['level', 'format'], ['env', 'level', 'format']]);
  const many: MetricExpr = { kind: 'vector', op: pick(r, ['sum', 'count', 'max'] as const), param: null, grouping: { without: false, labels: manyBy }, expr: randomRange(r) };
  const withService = chance(r, 40);
  const oneRange: RangeAggregation = withService
    ? { kind: 'range', fn: 'count_over_time', param: null, log: { kind: 'log', matchers: [{ name: 'service_name', op: '=', value: pick(r, APPS) }], stages: [] }, unwrap: null, rangeNs: pick(r, RANGES_NS), offsetNs: 0n, grouping: null }
    : randomRange(r);
  const one: MetricExpr = { kind: 'vector', op: pick(r, ['sum', 'min', 'avg'] as const), param: null, grouping: { without: false, labels: withService ? ['level', 'service_name'] : ['level'] }, expr: oneRange };
  const include = withService ? (chance(r, 80) ? ['service_name'] : []) : chance(r, 15) ? ['env'] : [];
  const matching = chance(r, 70) || withService ? { on: true, labels: ['level'] } : { on: false, labels: manyBy.filter((l) => l !== 'level') };
  const op = pick(r, ['/', '*', '-', '>', '+', '<='] as const);
  const side = chance(r, 50) ? ('left' as const) : ('right' as const);
  return {
    kind: 'binary',
    op,
    bool: (op === '>' || op === '<=') && chance(r, 50),
    matching: { ...matching, group: { side, include } },
    lhs: side === 'left' ? many : one,
    rhs: side === 'left' ? one : many,
  };
}

/** randomMetric draws a metric query: range aggregations under vector aggregations (sort too), binary operators (grouped matching too) and label_replace. */
export function randomMetric(r: SeededRand, depth = 0): MetricExpr {
  // An outermost sort orders an instant answer: draw it often enough to matter.
  if (depth === 0 && chance(r, 15)) {
    // Half the time over several series with wide windows, so that the order shows.
    const inner: MetricExpr = chance(r, 50)
      ? randomMetric(r, 1)
      : { kind: 'vector', op: pick(r, ['sum', 'count', 'max'] as const), param: null, grouping: { without: false, labels: [pick(r, ['level', 'service_name', 'env'])] }, expr: { ...randomRange(r), rangeNs: 300_000_000_000n } };
    return { kind: 'vector', op: pick(r, ['sort', 'sort_desc'] as const), param: null, grouping: chance(r, 20) ? grouping(r) : null, expr: inner };
  }
  const k = depth >= 2 ? r.intn(2) : r.intn(7);
  if (k === 0) return randomRange(r);
  if (k === 5) return groupedBinary(r);
  if (k === 6) return randomLabelReplace(r, randomMetric(r, depth + 1));
  if (k === 1 || k === 2) {
    const op = pick(r, ['sum', 'avg', 'min', 'max', 'count', 'stddev', 'stdvar', 'topk', 'bottomk', 'sum', 'sort', 'sort_desc'] as const satisfies readonly VectorOp[]);
    return { kind: 'vector', op, param: op === 'topk' || op === 'bottomk' ? 1 + r.intn(3) : null, grouping: chance(r, 60) ? grouping(r) : null, expr: randomMetric(r, depth + 1) };
  }
  if (k === 3) {
    const op = pick(r, ['+', '-', '*', '/', '>', '<=', '==', '%', '^'] as const);
    const cmp = ['>', '<=', '=='].includes(op);
    const scalarLeft = chance(r, 30);
    const scalar = { kind: 'number' as const, value: pick(r, [0, 1, 2, 0.5, 10]) };
    const vec = randomMetric(r, depth + 1);
    return { kind: 'binary', op, bool: cmp && chance(r, 40), matching: null, lhs: scalarLeft ? scalar : vec, rhs: scalarLeft ? vec : scalar };
  }
  const lhs: MetricExpr = { kind: 'vector', op: pick(r, ['sum', 'max', 'count'] as const), param: null, grouping: { without: false, labels: ['level'] }, expr: randomRange(r) };
  const rhs: MetricExpr = { kind: 'vector', op: pick(r, ['sum', 'min', 'avg'] as const), param: null, grouping: { without: false, labels: pick(r, [['level'], ['level', 'env']]) }, expr: randomRange(r) };
  if (chance(r, 20)) return { kind: 'binary', op: 'or', bool: false, matching: null, lhs, rhs: { kind: 'vectorLiteral', value: pick(r, [0, 1]) } };
  const op = pick(r, ['+', '/', 'and', 'or', 'unless', '>', '-'] as const);
  return { kind: 'binary', op, bool: op === '>' && chance(r, 50), matching: chance(r, 50) ? { on: true, labels: ['level'], group: null } : chance(r, 50) ? { on: false, labels: ['env'], group: null } : null, lhs, rhs };
}
