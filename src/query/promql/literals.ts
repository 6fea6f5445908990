/**
 * literals.ts — PromQL's literal syntax: durations, numbers, Go-quoted
 * strings, and regexes compiled fully anchored with RE2 spellings
 * translated for JavaScript.
 */
import { buildRe2 } from '../../re2.js';
import type { Re2Regex } from '../../re2-guard.js';

const durationUnitsMs: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };

/** parseDurationMs parses a Prometheus duration (`1h30m`, `500ms`) or a number of seconds into milliseconds. */
export function parseDurationMs(s: string): number | null {
  if (/^[0-9]+(\.[0-9]+)?$/.test(s)) return Math.round(Number(s) * 1000);
  const re = /([0-9]+)(ms|s|m|h|d|w|y)/gy;
  let total = 0;
  let pos = 0;
  for (let m = re.exec(s); m !== null; m = re.exec(s)) {
    total += Number(m[1]) * (durationUnitsMs[m[2] ?? ''] ?? 0);
    pos = re.lastIndex;
  }
  return pos === s.length && pos > 0 ? total : null;
}

/** parseNumber parses a PromQL number literal (decimal, hex, Inf, NaN, or a duration in seconds). */
export function parseNumber(s: string): number | null {
  const l = s.toLowerCase();
  if (l === 'inf' || l === '+inf') return Infinity;
  if (l === '-inf') return -Infinity;
  if (l === 'nan') return NaN;
  if (/^(0x[0-9a-f]+|[0-9]*\.?[0-9]+(e[+-]?[0-9]+)?|[0-9]+\.(e[+-]?[0-9]+)?)$/.test(l)) return Number(l.endsWith('.') ? l.slice(0, -1) : l.replace(/\.e/, 'e'));
  const d = parseDurationMs(s);
  return d === null ? null : d / 1000;
}

/** unquote decodes a PromQL string literal (Go's quoting rules: "..." and '...' with escapes, `...` raw). */
export function unquote(s: string): string | null {
  const q = s[0];
  if (s.length < 2 || s[s.length - 1] !== q) return null;
  const body = s.slice(1, -1);
  if (q === '`') return body;
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i] ?? '';
    if (c !== '\\') { out += c; continue; }
    const e = body[++i] ?? '';
    const simple: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"', "'": "'" };
    const mapped = simple[e];
    if (mapped !== undefined) { out += mapped; continue; }
    const hexLen = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
    if (hexLen > 0) {
      const h = body.slice(i + 1, i + 1 + hexLen);
      if (!new RegExp(`^[0-9a-fA-F]{${hexLen}}$`).test(h)) return null;
      out += String.fromCodePoint(parseInt(h, 16));
      i += hexLen;
      continue;
    }
    if (/^[0-7]{3}$/.test(body.slice(i, i + 3))) { out += String.fromCharCode(parseInt(body.slice(i, i + 3), 8)); i += 2; continue; }
    return null;
  }
  return out;
}

/**
 * compileAnchored compiles a Prometheus (RE2) regex fully anchored, as
 * Prometheus 2.42's matchers and label_replace do, through the RE2
 * translation every language shares (src/re2.ts: flags, named groups,
 * escaped punctuation, literal braces). A pattern RE2 refuses or JavaScript
 * cannot say throws; callers add where it stood. The length bound is the
 * parser's (checkRegex).
 */
export function compileAnchored(re: string): Re2Regex {
  return buildRe2(re, true, 'PromQL');
}
