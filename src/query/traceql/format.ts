/**
 * format.ts — prints an AST back to canonical TraceQL. Every binary operation
 * is parenthesized, so the printed text shows the tree (the parser golden
 * tests read it) and parsing it again gives an equal tree (a property test
 * checks that).
 */
import type { FieldExpr, FieldRef, LiteralValue, Pipeline, SpansetExpr, Stage, TraceqlQuery } from './ast.js';
import { INTRINSIC_SPELLINGS } from './ast.js';
import { isAttributeChar } from './lexer.js';

/** formatTraceql prints a query as canonical TraceQL text. */
export function formatTraceql(query: TraceqlQuery): string {
  return formatStages(query);
}

function formatStages(pipeline: Pipeline): string {
  return pipeline.stages.map(formatStage).join(' | ');
}

function formatStage(stage: Stage): string {
  switch (stage.kind) {
    case 'select':
      return `select(${stage.fields.map(formatFieldRef).join(', ')})`;
    case 'scalarFilter':
      return `${stage.fn}(${stage.field === null ? '' : formatFieldRef(stage.field)}) ${stage.op} ${formatLiteral(stage.value)}`;
    default:
      return formatSpanset(stage, true);
  }
}

function formatSpanset(expr: SpansetExpr, top: boolean): string {
  switch (expr.kind) {
    case 'filter':
      return expr.condition === null ? '{ }' : `{ ${formatField(expr.condition, true)} }`;
    case 'spansetOp': {
      const text = `${formatSpanset(expr.lhs, false)} ${expr.op} ${formatSpanset(expr.rhs, false)}`;
      return top ? text : `(${text})`;
    }
    case 'pipeline':
      return `(${formatStages(expr)})`;
  }
}

function formatField(expr: FieldExpr, top: boolean): string {
  switch (expr.kind) {
    case 'literal':
      return formatLiteral(expr.value);
    case 'attribute':
    case 'intrinsic':
      return formatFieldRef(expr);
    case 'not':
      return `!${formatField(expr.operand, false)}`;
    case 'compare':
    case 'logical': {
      const text = `${formatField(expr.lhs, false)} ${expr.op} ${formatField(expr.rhs, false)}`;
      return top ? text : `(${text})`;
    }
  }
}

/** formatFieldRef prints a field: `span.x`, `resource."a b"`, `.x`, `name`, `event:name`. */
export function formatFieldRef(field: FieldRef): string {
  if (field.kind === 'intrinsic') return INTRINSIC_SPELLINGS[field.name][0] as string;
  const prefix = field.scope === 'unscoped' ? '.' : `${field.scope}.`;
  const plain = field.name !== '' && [...field.name].every(isAttributeChar);
  return plain ? `${prefix}${field.name}` : `${prefix}"${field.name.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

/** formatLiteral prints a literal so that the lexer reads back the same typed value. */
export function formatLiteral(value: LiteralValue): string {
  switch (value.type) {
    case 'string':
      return formatString(value.value);
    case 'int':
      return value.value.toString();
    case 'float': {
      if (Object.is(value.value, -0)) return '-0.0';
      const s = String(value.value);
      // An integral float needs a '.' or an exponent to be read back as a float.
      return /[.e]/.test(s) ? s : `${s}.0`;
    }
    case 'duration':
      return formatDuration(value.value);
    case 'bool':
      return value.value ? 'true' : 'false';
    case 'status':
    case 'kind':
      return value.value;
    case 'nil':
      return 'nil';
  }
}

const UNITS: readonly (readonly [string, bigint])[] = [
  ['h', 3_600_000_000_000n],
  ['m', 60_000_000_000n],
  ['s', 1_000_000_000n],
  ['ms', 1_000_000n],
  ['us', 1_000n],
];

/** formatDuration prints nanoseconds in the largest unit that divides them exactly (`1500ms`, `2h`, `7ns`). */
export function formatDuration(ns: bigint): string {
  if (ns === 0n) return '0s';
  const sign = ns < 0n ? '-' : '';
  const abs = ns < 0n ? -ns : ns;
  for (const [unit, size] of UNITS) {
    if (abs % size === 0n) return `${sign}${abs / size}${unit}`;
  }
  return `${sign}${abs}ns`;
}

function formatString(s: string): string {
  let out = '"';
  for (const ch of s) {
    switch (ch) {
      case '"':
        out += '\\"';
        break;
      case '\\':
        out += '\\\\';
        break;
      case '\n':
        out += '\\n';
        break;
      case '\t':
        out += '\\t';
        break;
      case '\r':
        out += '\\r';
        break;
      default: {
        const code = ch.codePointAt(0) ?? 0;
        if (code < 0x20 || code === 0x7f) out += `\\u${code.toString(16).padStart(4, '0')}`;
        else if (ch.length === 1 && code >= 0xd800 && code <= 0xdfff) out += `\\u${code.toString(16)}`;
        else out += ch;
      }
    }
  }
  return `${out}"`;
}
