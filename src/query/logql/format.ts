/**
 * format.ts — prints an AST as canonical LogQL text: parseLogql(formatLogql(e))
 * equals e. Binary operands that are themselves binary are parenthesized, so
 * printed queries never depend on precedence. The shards receive pushed
 * queries in this form (LogShardEvalRequest.expr).
 */
import type { Grouping, LabelFilterExpr, LogExpr, LogqlExpr, MetricExpr, Stage } from './ast.js';
import { formatDurationNs, formatNumber } from './values.js';

/** quoteLogql prints a string as a double-quoted LogQL literal the lexer reads back exactly. */
export function quoteLogql(s: string): string {
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0) as number;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (code < 0x20 || code === 0x7f) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

function labelFilter(e: LabelFilterExpr, nested: boolean): string {
  switch (e.kind) {
    case 'string':
      return `${e.name}${e.op}${quoteLogql(e.value)}`;
    case 'number':
      return `${e.name}${e.op}${formatNumber(e.value)}`;
    case 'duration':
      return `${e.name}${e.op}${formatDurationNs(e.valueNs)}`;
    case 'bytes':
      return `${e.name}${e.op}${e.value}B`;
    case 'and':
    case 'or': {
      const s = `${labelFilter(e.lhs, true)} ${e.kind} ${labelFilter(e.rhs, true)}`;
      return nested ? `(${s})` : s;
    }
  }
}

function stage(s: Stage): string {
  switch (s.kind) {
    case 'lineFilter':
      return `${s.op} ${s.values.map(quoteLogql).join(' or ')}`;
    case 'json':
      return `| json${s.params.length > 0 ? ` ${s.params.map((p) => `${p.label}=${quoteLogql(p.path)}`).join(', ')}` : ''}`;
    case 'logfmt':
      return `| logfmt${s.strict ? ' --strict' : ''}${s.keepEmpty ? ' --keep-empty' : ''}${s.params.length > 0 ? ` ${s.params.map((p) => `${p.label}=${quoteLogql(p.path)}`).join(', ')}` : ''}`;
    case 'regexp':
      return `| regexp ${quoteLogql(s.pattern)}`;
    case 'pattern':
      return `| pattern ${quoteLogql(s.pattern)}`;
    case 'unpack':
      return '| unpack';
    case 'decolorize':
      return '| decolorize';
    case 'labelFilter':
      return `| ${labelFilter(s.expr, false)}`;
    case 'lineFormat':
      return `| line_format ${quoteLogql(s.template)}`;
    case 'labelFormat':
      return `| label_format ${s.items.map((i) => `${i.dst}=${i.src.kind === 'rename' ? i.src.name : quoteLogql(i.src.template)}`).join(', ')}`;
    case 'drop':
    case 'keep':
      return `| ${s.kind} ${s.items.map((i) => (i.matcher === null ? i.name : `${i.name}${i.matcher.op}${quoteLogql(i.matcher.value)}`)).join(', ')}`;
  }
}

/** formatLogExpr prints a log query: its stream selector and pipeline. */
export function formatLogExpr(e: LogExpr): string {
  const sel = `{${e.matchers.map((m) => `${m.name}${m.op}${quoteLogql(m.value)}`).join(', ')}}`;
  return [sel, ...e.stages.map(stage)].join(' ');
}

function grouping(g: Grouping | null): string {
  return g === null ? '' : ` ${g.without ? 'without' : 'by'} (${g.labels.join(', ')})`;
}

function metric(e: MetricExpr): string {
  switch (e.kind) {
    case 'number':
      return formatNumber(e.value);
    case 'vectorLiteral':
      return `vector(${formatNumber(e.value)})`;
    case 'range': {
      let inner = formatLogExpr(e.log);
      if (e.unwrap !== null) {
        const u = e.unwrap;
        inner += ` | unwrap ${u.conversion === null ? u.label : `${u.conversion}(${u.label})`}`;
        for (const f of u.postFilters) inner += ` | ${labelFilter(f, false)}`;
      }
      inner += ` [${formatDurationNs(e.rangeNs)}]`;
      if (e.offsetNs !== 0n) inner += ` offset ${formatDurationNs(e.offsetNs)}`;
      return `${e.fn}(${e.param === null ? '' : `${formatNumber(e.param)}, `}${inner})${grouping(e.grouping)}`;
    }
    case 'vector':
      return `${e.op}${grouping(e.grouping)} (${e.param === null ? '' : `${e.param}, `}${metric(e.expr)})`;
    case 'binary': {
      const side = (x: MetricExpr): string => (x.kind === 'binary' ? `(${metric(x)})` : metric(x));
      const m = e.matching;
      const group = m === null || m.group === null ? '' : ` group_${m.group.side} (${m.group.include.join(', ')})`;
      const matching = m === null ? '' : ` ${m.on ? 'on' : 'ignoring'} (${m.labels.join(', ')})${group}`;
      return `${side(e.lhs)} ${e.op}${e.bool ? ' bool' : ''}${matching} ${side(e.rhs)}`;
    }
    case 'labelReplace':
      return `label_replace(${metric(e.expr)}, ${[e.dst, e.replacement, e.src, e.regex].map(quoteLogql).join(', ')})`;
  }
}

/** formatLogql prints any LogQL AST as canonical text. */
export function formatLogql(e: LogqlExpr): string {
  return e.kind === 'log' ? formatLogExpr(e) : metric(e);
}
