/**
 * logfmt.ts — the logfmt scanner of the `logfmt` parser: `key=value`,
 * `key="quoted \"value\""`, `key=` (empty) and a bare `key` (kept as empty
 * only with --keep-empty). Malformed text (a pair without a key, an
 * unterminated quote) is skipped, or with --strict stops the scan with an
 * error. A later duplicate key wins.
 */

/** scanLogfmt reads the pairs of a line in order; `error` is set when --strict met malformed text (pairs before it are kept). */
export function scanLogfmt(line: string, strict: boolean, keepEmpty: boolean): { pairs: [string, string][]; error: string | null } {
  const pairs: [string, string][] = [];
  let i = 0;
  const n = line.length;
  const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r';
  while (i < n) {
    while (i < n && isSpace(line[i])) i++;
    if (i >= n) break;
    const keyStart = i;
    while (i < n && !isSpace(line[i]) && line[i] !== '=' && line[i] !== '"') i++;
    const key = line.slice(keyStart, i);
    if (key === '') {
      if (strict) return { pairs, error: `logfmt syntax error at pos ${i + 1}: unexpected '${line[i] as string}'` };
      while (i < n && !isSpace(line[i])) i++;
      continue;
    }
    if (line[i] !== '=') {
      if (line[i] === '"') {
        if (strict) return { pairs, error: `logfmt syntax error at pos ${i + 1}: unexpected '"'` };
        while (i < n && !isSpace(line[i])) i++;
        continue;
      }
      if (keepEmpty) pairs.push([key, '']);
      continue;
    }
    i++;
    if (line[i] === '"') {
      i++;
      let value = '';
      let closed = false;
      while (i < n) {
        const c = line[i] as string;
        if (c === '\\' && i + 1 < n) {
          const e = line[i + 1] as string;
          value += e === 'n' ? '\n' : e === 't' ? '\t' : e === 'r' ? '\r' : e;
          i += 2;
          continue;
        }
        if (c === '"') {
          i++;
          closed = true;
          break;
        }
        value += c;
        i++;
      }
      if (!closed) {
        if (strict) return { pairs, error: 'logfmt syntax error: unterminated quoted value' };
        break;
      }
      pairs.push([key, value]);
      continue;
    }
    const valueStart = i;
    while (i < n && !isSpace(line[i])) i++;
    const value = line.slice(valueStart, i);
    if (value.includes('"') || value.includes('=')) {
      if (strict) return { pairs, error: `logfmt syntax error: unexpected character in value of ${key}` };
      continue;
    }
    if (value !== '' || keepEmpty) pairs.push([key, value]);
  }
  return { pairs, error: null };
}
