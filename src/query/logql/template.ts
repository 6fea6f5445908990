/**
 * template.ts — the Go text/template subset of `line_format` and
 * `label_format`: text with actions `{{ pipeline }}`, where a pipeline is
 * commands joined by `|` (the previous result becomes the last argument),
 * a command is a function with arguments or one argument, and an argument
 * is `.label` (its value, empty when absent), `__line__` (the current line)
 * or a double-quoted string. Functions: `ToUpper`/`upper`, `ToLower`/`lower`,
 * `TrimSpace`/`trim`, `title`, `default "fallback" x` (x unless empty),
 * `replace "old" "new" x` (every occurrence). Anything else is refused at
 * parse time, never rendered wrong.
 */

/** TemplateArg is one argument of a template command. */
export type TemplateArg = { readonly kind: 'label'; readonly name: string } | { readonly kind: 'line' } | { readonly kind: 'string'; readonly value: string };

/** TemplateCommand is a function call (fn with args) or, with fn null, one argument. */
export interface TemplateCommand {
  readonly fn: string | null;
  readonly args: readonly TemplateArg[];
}

/** TemplatePart is literal text or an action (a pipeline of commands). */
export type TemplatePart = { readonly kind: 'text'; readonly text: string } | { readonly kind: 'action'; readonly pipeline: readonly TemplateCommand[] };

const ARITY: ReadonlyMap<string, number> = new Map([
  ['ToUpper', 1],
  ['upper', 1],
  ['ToLower', 1],
  ['lower', 1],
  ['TrimSpace', 1],
  ['trim', 1],
  ['title', 1],
  ['default', 2],
  ['replace', 3],
]);

/** parseTemplate parses a template, or returns why it is not in the supported subset. */
export function parseTemplate(template: string): TemplatePart[] | string {
  const parts: TemplatePart[] = [];
  let pos = 0;
  while (pos < template.length) {
    const open = template.indexOf('{{', pos);
    if (open < 0) {
      parts.push({ kind: 'text', text: template.slice(pos) });
      break;
    }
    if (open > pos) parts.push({ kind: 'text', text: template.slice(pos, open) });
    const close = template.indexOf('}}', open + 2);
    if (close < 0) return "unclosed action '{{'";
    const pipeline = parsePipeline(template.slice(open + 2, close));
    if (typeof pipeline === 'string') return pipeline;
    parts.push({ kind: 'action', pipeline });
    pos = close + 2;
  }
  return parts;
}

function parsePipeline(src: string): TemplateCommand[] | string {
  const tokens: string[] = [];
  const re = /\s*("(?:[^"\\]|\\.)*"|\||[^\s|"]+)/gy;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(src)) !== null) {
    tokens.push(m[1] as string);
    consumed = re.lastIndex;
  }
  if (src.slice(consumed).trim() !== '') return `cannot read '${src.slice(consumed).trim()}'`;
  const commands: TemplateCommand[] = [];
  let cur: string[] = [];
  const flush = (): string | null => {
    if (cur.length === 0) return 'empty command';
    const head = cur[0] as string;
    const isFn = ARITY.has(head);
    const argTexts = isFn ? cur.slice(1) : cur;
    if (!isFn && cur.length !== 1) return `unknown function '${head}'`;
    const args: TemplateArg[] = [];
    for (const a of argTexts) {
      if (a === '__line__') args.push({ kind: 'line' });
      else if (/^\.[A-Za-z_][A-Za-z0-9_]*$/.test(a)) args.push({ kind: 'label', name: a.slice(1) });
      else if (a.startsWith('"')) {
        try {
          args.push({ kind: 'string', value: JSON.parse(a) as string });
        } catch {
          return `bad string ${a}`;
        }
      } else return `unsupported argument '${a}' (supported: .label, __line__, "string")`;
    }
    const piped = commands.length > 0 ? 1 : 0;
    if (isFn && args.length + piped !== ARITY.get(head)) return `${head} takes ${String(ARITY.get(head))} argument(s)`;
    if (!isFn && piped === 1) return 'only a function can follow |';
    commands.push({ fn: isFn ? head : null, args });
    cur = [];
    return null;
  };
  for (const t of tokens) {
    if (t === '|') {
      const err = flush();
      if (err !== null) return err;
    } else cur.push(t);
  }
  const err = flush();
  if (err !== null) return err;
  return commands;
}

function apply(fn: string, args: readonly string[]): string {
  const a = (i: number): string => args[i] as string;
  switch (fn) {
    case 'ToUpper':
    case 'upper':
      return a(0).toUpperCase();
    case 'ToLower':
    case 'lower':
      return a(0).toLowerCase();
    case 'TrimSpace':
    case 'trim':
      return a(0).trim();
    case 'title':
      return a(0).replace(/(^|\s)(\S)/g, (_m, s: string, c: string) => s + c.toUpperCase());
    case 'default':
      return a(1) === '' ? a(0) : a(1);
    case 'replace':
      return a(2).split(a(0)).join(a(1));
    default:
      return '';
  }
}

/** renderTemplate renders parsed parts with a label lookup (absent → empty) and the current line. */
export function renderTemplate(parts: readonly TemplatePart[], label: (name: string) => string, line: string): string {
  let out = '';
  for (const p of parts) {
    if (p.kind === 'text') {
      out += p.text;
      continue;
    }
    let prev: string | null = null;
    for (const c of p.pipeline) {
      const args = c.args.map((a) => (a.kind === 'label' ? label(a.name) : a.kind === 'line' ? line : a.value));
      if (prev !== null) args.push(prev);
      prev = c.fn === null ? (args[0] as string) : apply(c.fn, args);
    }
    out += prev ?? '';
  }
  return out;
}
