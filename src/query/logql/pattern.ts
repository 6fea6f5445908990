/**
 * pattern.ts — Loki's `pattern` parser: `<name>` captures and literal text,
 * e.g. `<ip> - - <_> "<method> <uri> <_>"`. `<_>` captures and discards.
 * Matching: a leading literal must start the line; each capture ends at the
 * first occurrence of the literal after it; a trailing capture takes the rest
 * of the line; text after a trailing literal is ignored. A line that does not
 * match extracts nothing (no error label), as in Loki.
 */

/** PatternPart is a literal run or a capture (`null` name for `<_>`). */
export type PatternPart = { readonly kind: 'literal'; readonly text: string } | { readonly kind: 'capture'; readonly name: string | null };

/** parsePattern splits a pattern into parts, or returns why it is invalid (no named capture, two captures in a row). */
export function parsePattern(pattern: string): PatternPart[] | string {
  const parts: PatternPart[] = [];
  const re = /<(_|[A-Za-z_][A-Za-z0-9_]*)>/g;
  let last = 0;
  for (const m of pattern.matchAll(re)) {
    const idx = m.index;
    if (idx > last) parts.push({ kind: 'literal', text: pattern.slice(last, idx) });
    const prev = parts[parts.length - 1];
    if (prev !== undefined && prev.kind === 'capture') return 'two captures in a row need literal text between them';
    parts.push({ kind: 'capture', name: m[1] === '_' ? null : (m[1] as string) });
    last = idx + m[0].length;
  }
  if (last < pattern.length) parts.push({ kind: 'literal', text: pattern.slice(last) });
  if (!parts.some((p) => p.kind === 'capture' && p.name !== null)) return 'at least one named capture <name> is needed';
  return parts;
}

/** matchPattern runs parsed parts over a line: the captures by name, or null when the line does not match. */
export function matchPattern(parts: readonly PatternPart[], line: string): [string, string][] | null {
  const out: [string, string][] = [];
  let pos = 0;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i] as PatternPart;
    if (p.kind === 'literal') {
      if (!line.startsWith(p.text, pos)) return null;
      pos += p.text.length;
      continue;
    }
    const next = parts[i + 1];
    let end: number;
    if (next === undefined) end = line.length;
    else {
      end = line.indexOf((next as { text: string }).text, pos);
      if (end < 0) return null;
    }
    if (p.name !== null) out.push([p.name, line.slice(pos, end)]);
    pos = end;
  }
  return out;
}

/**
 * parseLinePattern parses the pattern of a pattern line filter (`|>`, `!>`):
 * literals and `<_>` only (Loki refuses named captures there), no two
 * captures in a row; the empty pattern is allowed (it matches the empty
 * line only). Returns the parts or why the pattern is invalid.
 */
export function parseLinePattern(pattern: string): PatternPart[] | string {
  const parts: PatternPart[] = [];
  const re = /<(_|[A-Za-z_][A-Za-z0-9_]*)>/g;
  let last = 0;
  for (const m of pattern.matchAll(re)) {
    if (m[1] !== '_') return 'named captures are not allowed in a pattern line filter; use <_>';
    const idx = m.index;
    if (idx > last) parts.push({ kind: 'literal', text: pattern.slice(last, idx) });
    const prev = parts[parts.length - 1];
    if (prev !== undefined && prev.kind === 'capture') return 'two captures in a row need literal text between them';
    parts.push({ kind: 'capture', name: null });
    last = idx + m[0].length;
  }
  if (last < pattern.length) parts.push({ kind: 'literal', text: pattern.slice(last) });
  return parts;
}

/**
 * testLinePattern is Loki's pattern line filter test: each literal is found
 * after the previous one (the first anywhere, a later one not immediately:
 * a capture matches at least one character); a pattern ending on a literal
 * must end the line there, one ending on `<_>` must leave text for it. The
 * empty line matches only the empty pattern.
 */
export function testLinePattern(parts: readonly PatternPart[], line: string): boolean {
  if (line.length === 0 || parts.length === 0) return line.length === 0 && parts.length === 0;
  let off = 0;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i] as PatternPart;
    if (p.kind !== 'literal') continue;
    const j = line.indexOf(p.text, off);
    if (j < 0) return false;
    if (i !== 0 && j === off) return false;
    off = j + p.text.length;
  }
  const endsOnCapture = (parts[parts.length - 1] as PatternPart).kind === 'capture';
  return endsOnCapture === (off !== line.length);
}
