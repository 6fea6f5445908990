/**
 * log-test-util.ts — seeded realistic log rows (nginx access lines, JSON
 * lines, application lines, a few non-string bodies) from a handful of
 * services, and the naive query oracle the block index is checked against.
 * Test code only.
 */
import type { SeededRand } from '../../fs/seeded-rand.js';
import type { AnyValue, LogRow, Resource, Scope } from '../rows.js';
import { tokenize } from '../tokenizer.js';
import { logLine, streamLabels } from './log-line.js';
import type { LogQuery } from './term-index.js';

function pick<T>(rand: SeededRand, xs: readonly T[]): T {
  return xs[rand.intn(xs.length)] as T;
}

const PATHS = ['/api/v1/users', '/api/v1/orders', '/healthz', '/static/app.js', '/api/v2/checkout', '/login'];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE'];
const AGENTS = ['curl/8.4.0', 'Mozilla/5.0 (X11; Linux x86_64)', 'Go-http-client/1.1', 'kube-probe/1.29'];
const MESSAGES = [
  'connection refused',
  'request completed',
  'cache miss for key',
  'retrying after timeout',
  'user logged in',
  'payment failed: card declined',
  'slow query detected',
  'starting worker',
];
const SERVICES = ['checkout', 'frontend', 'payments', 'auth'];
const NAMESPACES = ['prod', 'staging'];

function hex(rand: SeededRand, bytes: number): string {
  return Buffer.from(rand.bytes(bytes)).toString('hex');
}

function ip(rand: SeededRand): string {
  return `10.${rand.intn(4)}.${rand.intn(256)}.${rand.intn(256)}`;
}

/** SYNTH_ALPHABET is synthLine's characters: word, digit and separator characters, and letters whose case folding is not one to one (ſ, K, Σ/σ, é). */
const SYNTH_ALPHABET = [...'abcdefXYZ0123456789_-:.. /=",[]ſKΣσ\u00e9'];

/** synthLine is a seeded line of 1..60 characters from SYNTH_ALPHABET: separators and case-folding traps a hint or tokenizer must get right. */
export function synthLine(rand: SeededRand): string {
  const n = 1 + rand.intn(60);
  let s = '';
  for (let i = 0; i < n; i++) s += SYNTH_ALPHABET[rand.intn(SYNTH_ALPHABET.length)] as string;
  return s;
}

/** randomSubstring is 1..24 code points of `line` from a random start (code-point boundaries), each upper-cased at random when `ci`: a literal a hint test looks for. */
export function randomSubstring(rand: SeededRand, line: string, ci: boolean): string {
  const cps = [...line];
  const start = rand.intn(cps.length);
  const end = Math.min(cps.length, start + 1 + rand.intn(24));
  const lit = cps.slice(start, end).join('');
  return ci ? [...lit].map((c) => (rand.intn(2) === 0 ? c.toUpperCase() : c)).join('') : lit;
}

/** randomLine is one realistic log line: nginx combined format, a JSON line, or an application line. */
export function randomLine(rand: SeededRand): string {
  switch (rand.intn(3)) {
    case 0:
      return `${ip(rand)} - - [27/Nov/2026:05:${10 + rand.intn(50)}:${10 + rand.intn(50)} +0000] "${pick(rand, METHODS)} ${pick(rand, PATHS)}/${rand.intn(50)} HTTP/1.1" ${pick(rand, [200, 200, 201, 404, 500, 503])} ${rand.intn(5000)} "-" "${pick(rand, AGENTS)}"`;
    case 1:
      return JSON.stringify({
        level: pick(rand, ['info', 'warn', 'error']),
        msg: pick(rand, MESSAGES),
        user_id: rand.intn(100),
        trace_id: hex(rand, 16),
        duration_ms: rand.intn(2000) / 10,
      });
    default:
      return `${pick(rand, ['INFO', 'WARN', 'ERROR', 'DEBUG'])} [${pick(rand, ['main', 'worker-1', 'worker-2'])}] ${pick(rand, MESSAGES)} id=${rand.intn(30)} host=${ip(rand)} user ${pick(rand, ['alice', 'bob', 'carol'])}`;
  }
}

function otherBody(rand: SeededRand): AnyValue {
  switch (rand.intn(4)) {
    case 0:
      return { type: 'int', value: BigInt(rand.intn(1000)) };
    case 1:
      return { type: 'empty' };
    case 2:
      return { type: 'array', values: [{ type: 'string', value: pick(rand, MESSAGES) }, { type: 'double', value: rand.intn(100) / 4 }] };
    default:
      return {
        type: 'kvlist',
        values: [
          { key: 'msg', value: { type: 'string', value: pick(rand, MESSAGES) } },
          { key: 'ok', value: { type: 'bool', value: rand.intn(2) === 0 } },
        ],
      };
  }
}

/** realisticLogs makes `n` rows of one tenant in time order (millisecond-ish spacing) from a few services. */
export function realisticLogs(rand: SeededRand, n: number, tenant = 'default'): LogRow[] {
  const resources: Resource[] = [];
  for (const svc of SERVICES) {
    for (const ns of NAMESPACES) {
      resources.push({
        attributes: [
          { key: 'service.name', value: { type: 'string', value: svc } },
          { key: 'k8s.namespace.name', value: { type: 'string', value: ns } },
          { key: 'host.name', value: { type: 'string', value: `node-${rand.intn(3)}` } },
        ],
        droppedAttributesCount: 0,
        schemaUrl: '',
      });
    }
  }
  const scope: Scope = { name: 'app', version: '1.0.0', attributes: [], droppedAttributesCount: 0, schemaUrl: '' };
  let t = 1_795_000_000_000_000_000n + BigInt(rand.nextU32());
  const rows: LogRow[] = [];
  for (let i = 0; i < n; i++) {
    t += BigInt(rand.intn(2_000_000));
    const sev = pick(rand, [9, 9, 9, 13, 17, 5, 0]);
    const hasTrace = rand.intn(2) === 0;
    rows.push({
      tenant,
      timeUnixNano: t,
      observedTimeUnixNano: t + BigInt(rand.intn(1000)),
      severityNumber: sev,
      severityText: sev === 0 ? '' : sev >= 17 ? 'ERROR' : sev >= 13 ? 'WARN' : sev >= 9 ? 'INFO' : 'DEBUG',
      body: rand.intn(20) === 0 ? otherBody(rand) : { type: 'string', value: randomLine(rand) },
      attributes: rand.intn(3) === 0 ? [{ key: 'thread', value: { type: 'string', value: `t${rand.intn(4)}` } }] : [],
      droppedAttributesCount: 0,
      traceId: hasTrace ? rand.bytes(16) : new Uint8Array(0),
      spanId: hasTrace ? rand.bytes(8) : new Uint8Array(0),
      flags: hasTrace ? 1 : 0,
      eventName: '',
      resource: pick(rand, resources),
      scope,
    });
  }
  return rows;
}

/** PhraseCheck says whether a phrase's terms occur at consecutive positions of a tokenized line. */
export type OraclePhraseCheck = (terms: readonly string[], phrase: readonly string[]) => boolean;

/** oraclePhrase is the naive phrase check: some start p with terms[p + k] === phrase[k] for every k. */
export const oraclePhrase: OraclePhraseCheck = (terms, phrase) => {
  for (let p = 0; p + phrase.length <= terms.length; p++) {
    let k = 0;
    while (k < phrase.length && terms[p + k] === phrase[k]) k++;
    if (k === phrase.length) return true;
  }
  return false;
};

/** oracleQuery answers a query by tokenizing every line and checking each condition directly. */
export function oracleQuery(rows: readonly LogRow[], q: LogQuery): number[] {
  const out: number[] = [];
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i] as LogRow;
    if (q.minTimeNs !== undefined && row.timeUnixNano < q.minTimeNs) continue;
    if (q.maxTimeNs !== undefined && row.timeUnixNano > q.maxTimeNs) continue;
    const labels = new Map(streamLabels(row).map((l) => [l.name, l.value]));
    let ok = true;
    for (const m of q.streamMatchers ?? []) {
      const v = labels.get(m.name) ?? '';
      if ((m.op === '=') !== (v === m.value)) ok = false;
    }
    if (!ok) continue;
    const terms = tokenize(logLine(row)).terms;
    const set = new Set(terms);
    for (const term of q.terms ?? []) if (!set.has(term)) ok = false;
    for (const phrase of q.phrases ?? []) if (!oraclePhrase(terms, phrase)) ok = false;
    if (ok) out.push(i);
  }
  return out;
}

/** randomQuery draws a query over `rows`: terms and phrases mostly cut from real lines, sometimes absent ones, stream matchers and time bounds. */
export function randomQuery(rand: SeededRand, rows: readonly LogRow[]): LogQuery {
  // Most conditions come from one anchor row, so conjunctions still match something.
  const anchor = pick(rand, rows);
  const sample = (): string[] => tokenize(logLine(rand.intn(4) === 0 ? pick(rand, rows) : anchor)).terms;
  const terms: string[] = [];
  const phrases: string[][] = [];
  for (let k = rand.intn(3); k > 0; k--) {
    const toks = sample();
    if (rand.intn(8) === 0) terms.push(`absent${rand.intn(1000)}`);
    else if (toks.length > 0) terms.push(pick(rand, toks));
  }
  for (let k = rand.intn(3); k > 0; k--) {
    const toks = sample();
    if (toks.length < 2) continue;
    const len = 2 + rand.intn(Math.min(3, toks.length - 1));
    const start = rand.intn(toks.length - len + 1);
    const phrase = toks.slice(start, start + len);
    if (rand.intn(4) === 0) phrase.reverse(); // usually no longer a phrase of any line
    phrases.push(phrase);
  }
  const streamMatchers: { name: string; op: '=' | '!='; value: string }[] = [];
  for (let k = rand.intn(3); k > 0; k--) {
    const name = pick(rand, ['service_name', 'k8s_namespace_name', 'level', 'host_name', 'nope']);
    const own = streamLabels(anchor).find((l) => l.name === name)?.value;
    const value = own !== undefined && rand.intn(2) === 0 ? own : pick(rand, ['checkout', 'payments', 'prod', 'info', 'error', 'warn', 'unknown', 'node-1', '']);
    streamMatchers.push({ name, op: rand.intn(3) === 0 ? '!=' : '=', value });
  }
  const q: { -readonly [K in keyof LogQuery]: LogQuery[K] } = { terms, phrases, streamMatchers };
  if (rand.intn(3) === 0) {
    const a = pick(rand, rows).timeUnixNano;
    const b = pick(rand, rows).timeUnixNano;
    q.minTimeNs = a < b ? a : b;
    q.maxTimeNs = a < b ? b : a;
  } else if (rand.intn(4) === 0) {
    q.minTimeNs = pick(rand, rows).timeUnixNano;
  }
  return q;
}
