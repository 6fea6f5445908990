/**
 * oracle-corpus.ts — the PromQL queries the oracle runs against Prometheus
 * and against otlpdb, over the oracle dataset's metrics (node_temp_celsius
 * gauges, http_requests_total counters, request_duration_seconds
 * histograms). Each feature the engine claims appears at least once; every
 * query runs as an instant query and, when its type allows, as a range
 * query.
 */

import { SeededRand } from '../../fs/seeded-rand.js';

const G = 'node_temp_celsius';
const C = 'http_requests_total';
const H = 'request_duration_seconds';

/** OracleCorpus is the query list (at least 200 distinct queries). */
export const OracleCorpus: readonly string[] = [
  // selectors, matchers, lookback, offset, @
  G, `${G}{job="api"}`, `${G}{job!="api"}`, `${G}{instance=~"i[12]"}`, `${G}{instance!~"i1|i3"}`, `{__name__=~"node_.*", zone="b"}`,
  `${G} offset 5m`, `${G} offset -2m`, `${G} @ 1700003000`, `${G} @ start()`, `${G} @ end()`, `${G} @ 1700003000 offset 10m`,
  `${C}{method="GET", code="200"}`, `${H}_bucket{le="+Inf"}`, `${G}{job="db", instance="i3", zone="a"}`, `${G}{zone=""}`, `${G}{nonexistent=""}`,
  `nonexistent_metric`, `${G}{job=~".+"}`, `${G}{job=~"API"}`, `${G}{job=~"(?i)API"}`, `label_replace(${G}, "n", "$n", "instance", "(?P<n>i)[0-9]")`,
  // range selectors and subqueries as instant results
  `${G}[2m]`, `${C}{job="api", instance="i1"}[1m]`, `${G}[5m:1m]`, `rate(${C}[5m])[10m:2m]`, `${G}[3m] offset 1m`,
  // rate family
  `rate(${C}[5m])`, `rate(${C}[1m])`, `rate(${C}[15m])`, `rate(${C}[30s])`, `rate(${C}[5m] offset 10m)`, `rate(${C}[5m] @ 1700003000)`,
  `increase(${C}[5m])`, `increase(${C}[1h])`, `irate(${C}[5m])`, `irate(${C}[30s])`, `delta(${G}[5m])`, `delta(${G}[20m])`,
  `idelta(${G}[5m])`, `deriv(${G}[10m])`, `deriv(${C}[5m])`, `predict_linear(${G}[10m], 600)`, `predict_linear(${G}[30m], -300)`,
  `resets(${C}[1h])`, `resets(${C}[10m])`, `changes(${G}[10m])`, `changes(${C}[5m])`, `rate(${H}_count[5m])`, `rate(${H}_sum[5m])`,
  `rate(${G}[5m])`, `increase(${C}{code="500"}[2m])`,
  // *_over_time
  `avg_over_time(${G}[5m])`, `min_over_time(${G}[10m])`, `max_over_time(${G}[10m])`, `sum_over_time(${G}[2m])`, `count_over_time(${G}[5m])`,
  `count_over_time(${G}[1h])`, `quantile_over_time(0.9, ${G}[10m])`, `quantile_over_time(0, ${G}[10m])`, `quantile_over_time(1.5, ${G}[10m])`,
  `stddev_over_time(${G}[10m])`, `stdvar_over_time(${G}[10m])`, `last_over_time(${G}[5m])`, `present_over_time(${G}[5m])`,
  `avg_over_time(${G}[5m] offset 1h)`, `max_over_time(rate(${C}[5m])[30m:1m])`, `avg_over_time(${G}[10m:30s])`, `min_over_time(${G}[10m:])`,
  `sum_over_time(${C}[5m:1m] offset 3m)`, `count_over_time(${G}[7m:2m] @ 1700004000)`, `last_over_time(${C}[10m])`,
  // aggregations
  `sum(${G})`, `sum by (job) (${G})`, `sum without (zone) (${G})`, `sum by (job, zone) (${G})`, `sum(${G}) by (instance)`,
  `avg(${G})`, `avg by (job) (${G})`, `min(${G})`, `min by (zone) (${G})`, `max(${G})`, `max without (instance) (${G})`,
  `count(${G})`, `count by (job) (${C})`, `count without (method, code) (${C})`, `group(${G})`, `group by (job) (${C})`,
  `stddev(${G})`, `stddev by (job) (${G})`, `stdvar(${G})`, `stdvar without (zone) (${G})`,
  `quantile(0.5, ${G})`, `quantile by (job) (0.9, ${G})`, `quantile(0, ${G})`, `quantile(2, ${G})`,
  `topk(3, ${G})`, `topk by (job) (2, ${G})`, `bottomk(2, ${G})`, `bottomk without (zone) (1, ${G})`, `topk(0, ${G})`,
  `count_values("value", ${C}{code="500"})`, `count_values by (job) ("v", floor(${G} / 10))`, `count_values("temp", round(${G}))`,
  `sum by (job) (rate(${C}[5m]))`, `sum by (job, code) (increase(${C}[10m]))`, `avg by (instance) (rate(${C}[5m]))`,
  `max by (job) (max_over_time(${G}[10m]))`, `min without (zone) (min_over_time(${G}[10m]))`, `count by (job) (rate(${C}[5m]) > 0.5)`,
  `topk(2, sum by (instance) (rate(${C}[5m])))`, `bottomk(3, rate(${C}[5m]))`, `sum(sum by (job) (${G}))`, `group by (zone) (${G} offset 1h)`,
  `sum by (__name__) ({__name__=~"http_.*|node_.*"})`, `count(count by (job) (${G}))`, `avg(avg_over_time(${G}[5m]))`,
  // binary: arithmetic, scalar/vector
  `${G} + 1`, `1 - ${G}`, `${G} * 2`, `${G} / 3`, `${G} % 7`, `${G} ^ 2`, `2 ^ 3 ^ 2`, `-${G}`, `+${G}`, `-(${G} + 1)`,
  `1 + 2 * 3`, `(1 + 2) * 3`, `10 % 3`, `2 atan2 3`, `${G} atan2 1`, `${G} / 0`, `-${G} / 0`, `0 / 0`, `${G} - ${G}`,
  `${G} * on (job, instance, zone) ${G}`, `${G} + ignoring (zone) group_left ${G}{zone="a"}`,
  `rate(${C}[5m]) / on (job, instance, method, code) rate(${C}[10m])`,
  `sum by (job, instance) (rate(${C}[5m])) / on (job, instance) group_left sum by (job, instance) (rate(${C}[5m]))`,
  `${C} / on (job, instance) group_left (zone) ${G}{zone="a"}`, `${G}{zone="a"} * on (job, instance) group_right ${C}`,
  `${C} * ignoring (method, code) group_left ${G}{zone="b"}`,
  `${H}_sum / ${H}_count`, `rate(${H}_sum[5m]) / rate(${H}_count[5m])`,
  `sum by (job) (${C}) / on (job) group_left sum by (job) (${G})`,
  // precedence and postfix binding
  `-2 ^ 2`, `-${G} ^ 2`, `1 - -1`, `2 * 3 % 4`, `10 / 2 / 5`, `2 ^ -1`, `${G} offset 5m + 1`, `1 + ${G} offset 5m`, `1 + ${G}[5m:1m] offset 5m`,
  `${G} > 20 and ${G} < 25 or ${G} > 29`, `${G} unless ${G} > 25 or ${G} < 22`, `${G} + 1 > ${G} * 1.02`, `sum(${G}) by (job) * 2`,
  `1 + -${G} offset 1m`, `${G} * -1 ^ 2`, `(((${G})))`, `-(-${G})`, `${G} - ${G} offset 5m - 1`,
  // comparisons and bool
  `${G} > 25`, `${G} < 20`, `${G} >= 25`, `${G} <= 25`, `${G} == 25`, `${G} != 25`, `30 > ${G}`, `${G} > bool 25`, `30 < bool ${G}`,
  `${G} > ${G} offset 5m`, `${G} > bool ${G} offset 5m`, `${G} == bool ${G}`, `1 > bool 2`, `1 <= bool 1`, `rate(${C}[5m]) > 0.5`,
  `sum by (job) (${G}) > on (job) sum by (job) (${G} offset 10m)`, `${G} > 20 < 30`,
  // set operators
  `${G} and ${G} > 25`, `${G} or ${G} offset 1h`, `${G} unless ${G} > 25`, `${G}{zone="a"} and on (job, instance) ${G}{zone="b"} > 25`,
  `${G}{zone="a"} unless on (job) ${G}{job="db"}`, `${C} or ${G}`, `nonexistent_metric or ${G}`, `${G} and nonexistent_metric`,
  `${G} unless ignoring (zone) ${G}{zone="a"}`, `(${G} > 25) or (${G} < 20)`,
  // matching errors
  `${G} + ${C}`, `{__name__=~"${H}_sum|${H}_count"} * 2`, `-{__name__=~"${H}_sum|${H}_count"}`, `rate({__name__=~"${H}_sum|${H}_count"}[5m])`,
  `last_over_time({__name__=~"${H}_sum|${H}_count"}[5m])`, `${G} * on (job) ${G}`, `${C} * on (job, instance) group_left ${G}`, `${G} + on (job) group_left ${G}`,
  // functions: math
  `abs(${G} - 25)`, `ceil(${G})`, `floor(${G})`, `round(${G})`, `round(${G}, 5)`, `round(${G}, 0.1)`, `exp(${G} / 10)`, `ln(${G})`, `log2(${G})`,
  `log10(${G})`, `sqrt(${G})`, `sgn(${G} - 25)`, `clamp(${G}, 20, 30)`, `clamp(${G}, 30, 20)`, `clamp_min(${G}, 25)`, `clamp_max(${G}, 25)`,
  `ln(-${G})`, `sqrt(-1 * ${G})`,
  // time and date
  `time()`, `timestamp(${G})`, `timestamp(${G} offset 5m)`, `timestamp(rate(${C}[5m]))`, `time() - timestamp(${G})`,
  `minute()`, `hour()`, `day_of_month()`, `day_of_week()`, `day_of_year()`, `days_in_month()`, `month()`, `year()`,
  `minute(timestamp(${G}))`, `hour(vector(1700000000))`, `day_of_week(vector(1699999200))`, `month(vector(1709251200))`, `days_in_month(vector(1709251200))`,
  `year(vector(1709251200))`, `day_of_year(vector(1703980800))`,
  // vector, scalar, sort, labels, absent
  `vector(1)`, `vector(time())`, `scalar(${G}{job="api", instance="i1", zone="a"})`, `scalar(${G})`, `${G} * scalar(sum(${G}))`,
  `sort(${G})`, `sort_desc(${G})`, `sort(rate(${C}[5m]))`,
  `label_replace(${G}, "host", "$1", "instance", "i(.*)")`, `label_replace(${G}, "job", "x-$1-$\{1}", "job", "(.*)")`,
  `label_replace(${G}, "zone", "", "zone", ".*")`, `label_replace(${G}, "new", "v", "nonexistent", "")`, `label_replace(${G}, "new", "v", "job", "nomatch")`,
  `label_replace(${G}, "dst", "$1", "instance", "(")`,
  `label_join(${G}, "combo", "-", "job", "instance", "zone")`, `label_join(${G}, "job", "", "zone")`,
  `absent(${G})`, `absent(nonexistent_metric)`, `absent(nonexistent_metric{job="x", instance="y"})`, `absent(nonexistent_metric{job=~"x"})`,
  `absent(sum(nonexistent_metric))`, `absent_over_time(${G}[5m])`, `absent_over_time(nonexistent_metric{job="z"}[5m])`,
  `absent_over_time(${G}{job="db", instance="i3", zone="a"}[1m])`,
  // histograms
  `histogram_quantile(0.9, ${H}_bucket)`, `histogram_quantile(0.5, rate(${H}_bucket[5m]))`, `histogram_quantile(0.99, sum by (le) (rate(${H}_bucket[5m])))`,
  `histogram_quantile(0.5, sum by (job, le) (rate(${H}_bucket[10m])))`, `histogram_quantile(0, ${H}_bucket)`, `histogram_quantile(1, ${H}_bucket)`,
  `histogram_quantile(1.5, ${H}_bucket)`, `histogram_quantile(0.9, ${H}_bucket{le!="+Inf"})`, `histogram_quantile(0.75, sum without (instance) (increase(${H}_bucket[1h])))`,
  // subqueries and nesting
  `max_over_time(sum(rate(${C}[5m]))[30m:5m])`, `rate(${C}[5m:30s])`, `avg_over_time(${G}[20m:1m] offset 5m)`, `deriv(avg_over_time(${G}[5m])[20m:1m])`,
  `sum_over_time(count(${G})[10m:1m])`, `max_over_time(${G}[10m:1m] @ 1700003000)`, `min_over_time(max_over_time(${G}[5m:1m])[15m:3m])`,
  `quantile_over_time(0.5, rate(${C}[2m])[10m:1m])`, `last_over_time(${G}[10m:1m] @ end())`, `sum(rate(${C}[5m] @ start()))`,
  // literals
  `"hello"`, `42`, `-1.5`, `Inf`, `NaN`, `0x10`, `1e3`, `vector(NaN)`, `${G} * Inf`, `${G} > NaN`,
  // parse/type errors (both must refuse)
  `rate(${G})`, `sum(${G}[5m])`, `${G}[5m] + 1`, `1 > 2`, `${G} and 1`, `sum(${G}) bool`, `foo{`, `rate(${C}[5m]`, `unknown_fn(${G})`,
  `label_replace(${G}, "1bad", "", "", "")`, `topk(${G})`, `${G} offset 5m offset 1m`, `(${G} + 1) offset 5m`, `{job=""}`,
];

/**
 * randomOracleQueries draws n seeded random queries over the oracle dataset:
 * selectors with offset/@, range functions, aggregations, binary and set
 * operators, math functions, subqueries, quantile and histogram_quantile,
 * nested a few levels. topk/bottomk apply to selectors only: over a computed
 * vector in a range query Prometheus 2.42 breaks ties in Go's random map
 * order, so no engine can match it there.
 */
export function randomOracleQueries(seed: number, n: number): string[] {
  const r = new SeededRand(seed);
  const pick = <T>(xs: readonly T[]): T => xs[r.intn(xs.length)] as T;
  const sel = (): string => pick([G, C, `${G}{job="db"}`, `${C}{code="500"}`, `${H}_bucket`, `${H}_count`]);
  const dur = (): string => pick(['30s', '1m', '2m', '5m', '7m', '15m', '1h']);
  const vec = (d: number): string => {
    switch (d > 2 ? 0 : r.intn(13)) {
      case 9: return `${vec(d + 1)} ${pick(['*', '/', '-', '>', '< bool'])} on (job, instance) group_left ${pick(['sum', 'max', 'count'])} by (job, instance) (${vec(d + 1)})`;
      case 10: {
        const f = pick(['clamp', 'clamp_min', 'clamp_max', 'round', 'predict_linear']);
        if (f === 'predict_linear') return `predict_linear(${sel()}[${dur()}], ${pick(['60', '-30'])})`;
        if (f === 'clamp') return `clamp(${vec(d + 1)}, ${pick(['1', '20'])}, ${pick(['30', '0.5'])})`;
        return `${f}(${vec(d + 1)}${f === 'round' ? pick(['', ', 0.5', ', 3']) : pick([', 20', ', 0.5'])})`;
      }
      case 11: {
        const f = pick(['label_replace', 'timestamp', 'absent', 'scalar', 'sort']);
        if (f === 'label_replace') return `label_replace(${vec(d + 1)}, "x", "$1", "instance", "i(.)")`;
        return f === 'scalar' ? `${vec(d + 1)} * scalar(${vec(d + 1)})` : `${f}(${vec(d + 1)})`;
      }
      case 12: return r.intn(2) === 0
        ? `${pick(['quantile_over_time(0.3, ', 'absent_over_time(', 'count_values("v", '])}${pick([`${sel()}[${dur()}]`, vec(d + 1)])})`
        : `${pick(['vector(time()) - ', 'time() - ', '-'])}${vec(d + 1)}`;
      case 0: return sel() + pick(['', ' offset 3m', ' offset 90s', ' @ 1700004321.5']);
      case 1: return `${pick(['rate', 'irate', 'increase', 'delta', 'idelta', 'deriv', 'resets', 'changes', 'avg_over_time', 'min_over_time', 'max_over_time', 'sum_over_time', 'count_over_time', 'stddev_over_time', 'stdvar_over_time', 'last_over_time', 'present_over_time'])}(${sel()}[${dur()}]${pick(['', ' offset 2m'])})`;
      case 2: return `${pick(['sum', 'avg', 'min', 'max', 'count', 'group', 'stddev', 'stdvar'])}${pick(['', ' by (job)', ' without (instance)', ' by (job, le)'])} (${vec(d + 1)})`;
      case 3: return `${vec(d + 1)} ${pick(['+', '-', '*', '/', '>', '<', '>= bool', 'and', 'or', 'unless'])} ${pick([vec(d + 1), '3', '0.5'])}`;
      case 4: return `${pick(['abs', 'ceil', 'floor', 'sqrt', 'ln', 'exp', 'sgn'])}(${vec(d + 1)})`;
      case 5: return `${pick(['max_over_time', 'avg_over_time', 'rate', 'deriv', 'count_over_time'])}((${vec(d + 1)})[${dur()}:${pick(['', '30s', '1m', '45s'])}])`;
      case 6: return `${pick(['topk', 'bottomk'])}(${1 + r.intn(4)}, ${sel()})`;
      case 7: return `quantile(${pick(['0.1', '0.5', '0.99'])}, ${vec(d + 1)})`;
      default: return `histogram_quantile(${pick(['0.5', '0.9'])}, ${pick(['sum by (le) ', 'sum by (job, le) ', ''])}(rate(${H}_bucket[${dur()}])))`;
    }
  };
  return Array.from({ length: n }, () => vec(0));
}
