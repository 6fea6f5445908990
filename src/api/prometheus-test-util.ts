/**
 * prometheus-test-util.ts — a small strict parser of the Prometheus text
 * exposition format 0.0.4, for tests of /metrics. It refuses what
 * `promtool check metrics` refuses that our renderer could get wrong:
 * samples without a preceding TYPE of their family, a family split in two
 * blocks or typed twice, bad names, bad label syntax or escapes, repeated
 * label names, duplicate series, unparsable values, and histograms whose
 * buckets are not cumulative, lack le="+Inf", or disagree with _count.
 */

/** ParsedSample is one sample line. */
export interface ParsedSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** ParsedFamily is one metric family: its TYPE, HELP and samples in order. */
export interface ParsedFamily {
  readonly name: string;
  readonly type: string;
  readonly help: string;
  readonly samples: ParsedSample[];
}

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(s: string, line: string): number {
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new Error(`bad value ${JSON.stringify(s)} in: ${line}`);
  return Number(s);
}

/** parseLabels reads `{a="x",b="y"}` starting at `{`; returns the labels and the index after `}`. */
function parseLabels(line: string, start: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = start + 1;
  while (line[i] !== '}') {
    const eq = line.indexOf('=', i);
    if (eq < 0) throw new Error(`label without = in: ${line}`);
    const name = line.slice(i, eq);
    if (!LABEL_NAME_RE.test(name)) throw new Error(`bad label name ${JSON.stringify(name)} in: ${line}`);
    if (name in labels) throw new Error(`repeated label ${name} in: ${line}`);
    if (line[eq + 1] !== '"') throw new Error(`label value not quoted in: ${line}`);
    let v = '';
    let j = eq + 2;
    for (;;) {
      const c = line[j];
      if (c === undefined) throw new Error(`unterminated label value in: ${line}`);
      if (c === '"') break;
      if (c === '\\') {
        const n = line[j + 1];
        if (n === '\\') v += '\\';
        else if (n === '"') v += '"';
        else if (n === 'n') v += '\n';
        else throw new Error(`bad escape \\${n ?? ''} in: ${line}`);
        j += 2;
        continue;
      }
      v += c;
      j++;
    }
    labels[name] = v;
    i = j + 1;
    if (line[i] === ',') i++;
    else if (line[i] !== '}') throw new Error(`expected , or } after a label in: ${line}`);
  }
  return { labels, end: i + 1 };
}

function familyOf(sample: string, families: ReadonlyMap<string, ParsedFamily>): ParsedFamily | undefined {
  const exact = families.get(sample);
  if (exact !== undefined) return exact;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sample.endsWith(suffix)) continue;
    const f = families.get(sample.slice(0, -suffix.length));
    if (f !== undefined && (f.type === 'histogram' || (f.type === 'summary' && suffix !== '_bucket'))) return f;
  }
  return undefined;
}

function checkHistogram(f: ParsedFamily): void {
  const byLabels = new Map<string, { buckets: [number, number][]; count?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const h = byLabels.get(key) ?? { buckets: [] };
    byLabels.set(key, h);
    if (s.name === `${f.name}_bucket`) {
      if (le === undefined) throw new Error(`${f.name}: bucket without le`);
      h.buckets.push([parseValue(le, `le="${le}"`), s.value]);
    } else if (s.name === `${f.name}_count`) {
      h.count = s.value;
    } else if (s.name !== `${f.name}_sum`) {
      throw new Error(`${f.name}: histogram sample ${s.name}`);
    }
  }
  for (const h of byLabels.values()) {
    for (let i = 1; i < h.buckets.length; i++) {
      const [le0, v0] = h.buckets[i - 1] ?? [0, 0];
      const [le1, v1] = h.buckets[i] ?? [0, 0];
      if (!(le1 > le0)) throw new Error(`${f.name}: le bounds not increasing`);
      if (v1 < v0) throw new Error(`${f.name}: buckets not cumulative`);
    }
    const last = h.buckets[h.buckets.length - 1];
    if (last === undefined || last[0] !== Infinity) throw new Error(`${f.name}: no le="+Inf" bucket`);
    if (h.count === undefined || h.count !== last[1]) throw new Error(`${f.name}: _count differs from the +Inf bucket`);
  }
}

/** parsePrometheusText parses exposition text strictly; it throws an Error naming the first violation. */
export function parsePrometheusText(text: string): Map<string, ParsedFamily> {
  if (!text.endsWith('\n')) throw new Error('text does not end with a line feed');
  const families = new Map<string, ParsedFamily>();
  const helps = new Map<string, string>();
  const series = new Set<string>();
  let current: ParsedFamily | undefined;
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (m === null) continue; // a plain comment
      const [, kind, name = '', rest = ''] = m;
      if (!NAME_RE.test(name)) throw new Error(`bad metric name in: ${line}`);
      if (kind === 'HELP') {
        if (helps.has(name)) throw new Error(`HELP twice for ${name}`);
        helps.set(name, rest);
        continue;
      }
      if (!TYPES.has(rest)) throw new Error(`bad type in: ${line}`);
      if (families.has(name)) throw new Error(`TYPE twice for ${name}`);
      current = { name, type: rest, help: helps.get(name) ?? '', samples: [] };
      families.set(name, current);
      continue;
    }
    const nameEnd = line.search(/[{ ]/);
    if (nameEnd <= 0) throw new Error(`no sample name in: ${line}`);
    const name = line.slice(0, nameEnd);
    if (!NAME_RE.test(name)) throw new Error(`bad metric name in: ${line}`);
    let labels: Record<string, string> = {};
    let i = nameEnd;
    if (line[i] === '{') ({ labels, end: i } = parseLabels(line, i));
    if (line[i] !== ' ') throw new Error(`expected a space before the value in: ${line}`);
    const parts = line.slice(i + 1).split(' ');
    if (parts.length > 2 || parts[0] === undefined) throw new Error(`bad value part in: ${line}`);
    const value = parseValue(parts[0], line);
    const family = familyOf(name, families);
    if (family === undefined) throw new Error(`sample ${name} has no TYPE before it`);
    if (family !== current) throw new Error(`sample ${name} is not in the block of its family ${family.name}`);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (series.has(key)) throw new Error(`duplicate series in: ${line}`);
    series.add(key);
    family.samples.push({ name, labels, value });
  }
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

/** sampleValue finds one sample by name and exact labels, or undefined. */
export function sampleValue(families: ReadonlyMap<string, ParsedFamily>, name: string, labels: Readonly<Record<string, string>>): number | undefined {
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name !== name) continue;
      const keys = Object.keys(s.labels);
      if (keys.length === Object.keys(labels).length && keys.every((k) => s.labels[k] === labels[k])) return s.value;
    }
  }
  return undefined;
}
