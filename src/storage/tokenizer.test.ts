import t from 'tap';
import { SeededRand } from '../fs/seeded-rand.js';
import { StorageLimits } from '../limits.js';
import { OtlpdbError } from '../errors.js';
import { TermIds, tokenize, tokenizeLine, tokenizeLineIds } from './tokenizer.js';

const terms = (line: string): string[] => tokenize(line).terms;

t.test('nginx access line', async (t) => {
  t.same(
    terms('10.1.2.3 - - [27/Nov/2026:04:16:26 +0000] "GET /api/v1/users/42?x=1 HTTP/1.1" 404 153 "-" "curl/8.5.0" rt=0.012'),
    ['10.1.2.3', '27', 'nov', '2026', '04', '16', '26', '0000', 'get', 'api', 'v1', 'users', '42', 'x', '1', 'http', '1.1', '404', '153', 'curl', '8.5.0', 'rt', '0.012'],
  );
});

t.test('JSON log with ids, a UUID and an IPv6 peer', async (t) => {
  const got = terms(
    '{"level":"ERROR","msg":"dial failed","peer":"[2001:DB8::FF00:42:8329]:443","trace_id":"4BF92F3577B34DA6A3CE929D0E0E4736","span_id":"00f067aa0ba902b7","req":"550E8400-E29B-41D4-A716-446655440000"}',
  );
  t.same(got, [
    'level',
    'error',
    'msg',
    'dial',
    'failed',
    'peer',
    '2001:db8::ff00:42:8329',
    '443',
    'trace_id',
    '4bf92f3577b34da6a3ce929d0e0e4736',
    'span_id',
    '00f067aa0ba902b7',
    'req',
    '550e8400-e29b-41d4-a716-446655440000',
  ]);
});

t.test('stack trace and k8s event', async (t) => {
  t.same(terms('\tat com.example.OrderService.place(OrderService.java:118)'), ['at', 'com', 'example', 'orderservice', 'place', 'orderservice', 'java', '118']);
  t.same(terms('Warning  FailedScheduling  pod/web-5d8c7b9f4-abcde  0/3 nodes are available: 3 Insufficient cpu.'), [
    'warning',
    'failedscheduling',
    'pod',
    'web',
    '5d8c7b9f4',
    'abcde',
    '0',
    '3',
    'nodes',
    'are',
    'available',
    '3',
    'insufficient',
    'cpu',
  ]);
});

t.test('IPv6 forms and things that only look like them', async (t) => {
  t.same(terms('::1 fe80::1%eth0 ::ffff:192.0.2.128 1:2:3:4:5:6:7:8'), ['::1', 'fe80::1', 'eth0', '::ffff:192.0.2.128', '1:2:3:4:5:6:7:8']);
  t.same(terms('listening on ::1. ok'), ['listening', 'on', '::1', 'ok'], 'an address ending a sentence');
  t.same(terms('12:34:56 dead:beef a::b::c'), ['12', '34', '56', 'dead', 'beef', 'a', 'b', 'c'], 'times, key:value and two "::" are not addresses');
});

t.test('positions number the tokens for phrase queries', async (t) => {
  const r = tokenize('Connection reset by peer 10.0.0.7');
  t.same(r.positions, [0, 1, 2, 3, 4]);
  const seen: [string, number][] = [];
  tokenizeLine('a b', (term, pos) => seen.push([term, pos]));
  t.same(seen, [
    ['a', 0],
    ['b', 1],
  ]);
});

t.test('Unicode: letters of every script, case folding, emoji as separators', async (t) => {
  t.same(terms('Grüße aus KÖLN — ДОБРЫЙ день 東京🚀Tokyo café'), ['grüße', 'aus', 'köln', 'добрый', 'день', '東京', 'tokyo', 'café']);
  t.same(terms('e\u0301t\u00e9'), ['e\u0301t\u00e9'], 'combining marks stay inside the word');
});

t.test('pathological input stays bounded', async (t) => {
  const long = tokenize('a'.repeat(100 * 1024));
  t.equal(long.tokens, 1);
  t.equal(long.truncatedTokens, 1);
  t.equal(long.terms[0]?.length, StorageLimits.tokenCharsMax);
  const dots = tokenize('.'.repeat(100 * 1024));
  t.equal(dots.tokens, 0);
  const many = tokenize('x '.repeat(50 * 1024));
  t.equal(many.tokens, StorageLimits.tokensPerLineMax);
  t.ok(many.lineTruncated);
  const digits = tokenize('1.'.repeat(50 * 1024));
  t.equal(digits.tokens, 1, 'one dotted number');
  t.ok(digits.terms[0]!.length <= StorageLimits.tokenCharsMax);
  const emoji = tokenize('𝔘'.repeat(200));
  t.equal(emoji.terms[0]?.length, StorageLimits.tokenCharsMax, 'an even cut keeps pairs whole');
  const odd = tokenize('x' + '𝔘'.repeat(200));
  t.equal(odd.terms[0]?.length, StorageLimits.tokenCharsMax - 1, 'an odd cut drops the half pair');
  const colons = tokenize(':'.repeat(100 * 1024) + 'a');
  t.same(colons.terms, ['a']);
});

t.test('random lines: every term is non-empty, lower-case, bounded; the scan is linear', async (t) => {
  const seed = 31337;
  const rand = new SeededRand(seed);
  const alphabet = 'aZ9._:-/ "=\u00e9\u6771\ud83d\ude80fF0';
  let bad = 0;
  for (let i = 0; i < 2000; i++) {
    let line = '';
    const n = rand.intn(300);
    for (let k = 0; k < n; k++) line += alphabet[rand.intn(alphabet.length)];
    const r = tokenize(line);
    for (const term of r.terms) if (term.length === 0 || term.length > StorageLimits.tokenCharsMax || term !== term.toLowerCase()) bad++;
    if (r.tokens !== r.terms.length || r.tokens > StorageLimits.tokensPerLineMax) bad++;
  }
  t.equal(bad, 0, `no bad term (seed ${seed})`);
  const start = performance.now();
  tokenize('ab:12.3-'.repeat(100_000));
  t.ok(performance.now() - start < 2000, '800 KB of mixed punctuation in well under 2 s');
});

/**
 * regexTokenize is the tokenizer as the regexes alone define it (the file
 * comment's rules, no fast paths): the reference the fast scans of
 * tokenizeLine must equal.
 */
function regexTokenize(line: string): { terms: string[]; truncatedTokens: number; lineTruncated: boolean } {
  const re = {
    uuid: /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?![\p{L}\p{N}\p{M}_])/iuy,
    ipv6: /(?:[0-9a-f]{0,4}:){2,8}(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9a-f]{1,4})?(?![\p{L}\p{N}\p{M}_:])/iuy,
    dotted: /\d+(?:\.\d+)+/y,
    word: /[\p{L}\p{N}\p{M}_]+/uy,
  };
  const at = (r: RegExp, i: number): string | undefined => {
    r.lastIndex = i;
    return r.exec(line)?.[0];
  };
  const isIpv6 = (s: string): boolean => {
    const dc = s.indexOf('::');
    if (dc !== s.lastIndexOf('::') || s.includes(':::')) return false;
    if ((s.startsWith(':') && dc !== 0) || (s.endsWith(':') && dc !== s.length - 2)) return false;
    let groups = 0;
    for (const g of s.split(':')) if (g.length > 0) groups += g.includes('.') ? 2 : 1;
    return dc >= 0 ? groups <= 7 : groups === 8;
  };
  const terms: string[] = [];
  let truncatedTokens = 0;
  let lineTruncated = false;
  let noIpv6Before = 0;
  for (let i = 0; i < line.length; ) {
    if (terms.length >= StorageLimits.tokensPerLineMax) {
      lineTruncated = true;
      break;
    }
    const c = line[i] as string;
    let tok: string | undefined;
    if (/[0-9:a-fA-F]/.test(c)) {
      tok = at(re.uuid, i);
      if (tok === undefined && i >= noIpv6Before) {
        const cand = at(re.ipv6, i);
        if (cand !== undefined) {
          if (isIpv6(cand)) tok = cand;
          else noIpv6Before = i + cand.length;
        }
      }
      if (tok === undefined && /[0-9]/.test(c)) tok = at(re.dotted, i);
    }
    tok ??= at(re.word, i);
    if (tok === undefined) {
      i++;
      continue;
    }
    i += tok.length;
    let term = tok.toLowerCase();
    if (term.length > StorageLimits.tokenCharsMax) {
      let cut = StorageLimits.tokenCharsMax;
      const last = term.charCodeAt(cut - 1);
      if (last >= 0xd800 && last <= 0xdbff) cut--;
      term = term.slice(0, cut);
      truncatedTokens++;
    }
    terms.push(term);
  }
  return { terms, truncatedTokens, lineTruncated };
}

/** FRAGMENTS are the pieces random lines are made of: every token kind, near misses of each, separators, non-ASCII. */
const FRAGMENTS = [
  'a', 'F', 'deadbeef', 'DEADBEEF-', '550e8400-e29b-41d4-a716-446655440000', '550e8400-e29b-41d4-a716-44665544000',
  '550E8400-E29B-41D4-A716-446655440000x', '2001:db8::1', 'fe80::', '::1', '1:2:3:4:5:6:7:8', 'a::b::c', '12:34:56', 'abcde:f',
  'abcd:', ':', '::', ':::', '10.0.0.1', '1.2.3.', '1..2', '0.25', '.5', '7', '123', '::ffff:10.0.0.1', '_', '__x_',
  ' ', '  ', '-', '.', '/', '"', '=', ',', '\n', '\t', 'é', 'É', 'ß', 'İ', 'ﬀ', 'Ωmega', '日本', 'x\u0301', '😀', '\ud83d', '\ude00',
  '٣', 'ab٣', '9é', 'A'.repeat(40), 'a'.repeat(300), 'NullPointerException', 'GET', 'HTTP/1.1',
  '06:22:58', 'T06:22:58.123Z', 'a:b:c:d:e:f', '1:2:3:4:5:6:10.0.0.1', '1:2:3:4:5:10.0.0.1', 'ab:'.repeat(25), 'key:value',
  // Runs at the lengths wordFollowerMayClaim cuts at: 7, 8 and 9 hex digits before "-", 4 and 5 before ":", a digit or a letter first before ".".
  'deadbee-', 'DeadBeef-', 'deadbeef0-', 'e29b-', 'abcd:', 'ABCD:1', 'abcde:', 'a1.5', '1a.5', '12345678.9', '9.', 'x.y', '2026-11-27T10:00:08Z',
];

t.test('the fast scans equal the regexes alone on random lines (and a planted difference is seen)', async (t) => {
  const rand = new SeededRand(0x70c3);
  let tokens = 0;
  for (let k = 0; k < 4_000; k++) {
    const parts: string[] = [];
    const count = 1 + rand.intn(24);
    for (let j = 0; j < count; j++) parts.push(FRAGMENTS[rand.intn(FRAGMENTS.length)] as string);
    const line = parts.join('');
    const want = regexTokenize(line);
    const got = tokenize(line);
    tokens += got.terms.length;
    if (JSON.stringify(got.terms) !== JSON.stringify(want.terms) || got.truncatedTokens !== want.truncatedTokens || got.lineTruncated !== want.lineTruncated) {
      t.same({ terms: got.terms, truncatedTokens: got.truncatedTokens, lineTruncated: got.lineTruncated }, want, `line ${JSON.stringify(line)}`);
      return;
    }
  }
  const long = 'x '.repeat(StorageLimits.tokensPerLineMax + 5);
  t.same(tokenize(long).terms, regexTokenize(long).terms, 'past tokensPerLineMax');
  t.equal(tokenize(long).lineTruncated, true, 'a long line is cut');
  t.ok(tokens > 20_000, `${tokens} tokens compared`);
  // The comparison is not vacuous: a reference that differs in one rule (no dotted numbers) is told apart.
  const planted = (line: string): string[] => regexTokenize(line.replace(/(\d)\.(\d)/g, '$1 $2')).terms;
  t.not(JSON.stringify(planted('v 10.0.0.1 up')), JSON.stringify(tokenize('v 10.0.0.1 up').terms), 'a planted rule change is caught');
});

t.test('tokenizeLineIds gives the ids of exactly tokenizeLine\'s terms, one id per distinct term', async (t) => {
  const rand = new SeededRand(0x1d5);
  const ids = new TermIds(1_000_000, 'a test build');
  const seen = new Map<string, number>();
  let tokens = 0;
  for (let k = 0; k < 3_000; k++) {
    const parts: string[] = [];
    const count = 1 + rand.intn(24);
    for (let j = 0; j < count; j++) parts.push(FRAGMENTS[rand.intn(FRAGMENTS.length)] as string);
    const line = parts.join(k % 2 === 0 ? ' ' : '');
    const want = tokenize(line);
    const got: string[] = [];
    const positions: number[] = [];
    const counts = tokenizeLineIds(line, ids, (id, position) => {
      got.push(ids.terms[id] as string);
      positions.push(position);
    });
    tokens += got.length;
    if (JSON.stringify(got) !== JSON.stringify(want.terms) || JSON.stringify(positions) !== JSON.stringify(want.positions) || counts.truncatedTokens !== want.truncatedTokens) {
      t.same(got, want.terms, `line ${JSON.stringify(line)}`);
      return;
    }
    for (const term of got) {
      const id = ids.idOf(term);
      if (seen.has(term) && seen.get(term) !== id) {
        t.fail(`term ${term} has two ids`);
        return;
      }
      seen.set(term, id);
    }
  }
  t.equal(ids.terms.length, seen.size, 'one id per distinct term, none extra');
  t.equal(new Set(ids.terms).size, ids.terms.length, 'ids name distinct terms');
  t.ok(tokens > 20_000 && ids.terms.length > 500, `${tokens} tokens, ${ids.terms.length} distinct terms (the table grew)`);
});

t.test('TermIds refuses a term past its most terms (ERR_LIMIT_EXCEEDED)', async (t) => {
  const ids = new TermIds(3, 'a tiny build');
  tokenizeLineIds('a b c a b c', ids, () => {});
  let code = 'none';
  try {
    tokenizeLineIds('d', ids, () => {});
  } catch (err) {
    code = err instanceof OtlpdbError ? err.code : 'other';
  }
  t.equal(code, 'ERR_LIMIT_EXCEEDED');
  t.same(ids.terms, ['a', 'b', 'c']);
});

t.test('tokenizeLineIds equals the regex reference on random character soup (non-ASCII, long tokens, punctuation runs; a planted difference is seen)', async (t) => {
  const rand = new SeededRand(0x10c20);
  // Pieces by kind: ASCII letters of both cases, digits, the rules' punctuation, separators, non-ASCII letters, marks and astral symbols.
  const kinds = ['abcdefxyzABCDEFXYZ', '0123456789', '-:.', ' "=/[],{}()_', '\u00e9\u00c9\u00df\u0130\ufb00\u6771\u0663', '\u0301\ud83d\ude00\ud83d'];
  const soup = (): string => {
    let line = '';
    const pieces = rand.intn(60);
    for (let p = 0; p < pieces; p++) {
      const kind = kinds[rand.intn(kinds.length)] as string;
      // Mostly short runs, sometimes a run past tokenCharsMax.
      const len = rand.intn(20) === 0 ? StorageLimits.tokenCharsMax - 2 + rand.intn(8) : 1 + rand.intn(9);
      for (let k = 0; k < len; k++) line += kind[rand.intn(kind.length)];
    }
    return line;
  };
  const idsOf = (line: string, ids: TermIds): { terms: string[]; positions: number[]; truncatedTokens: number; lineTruncated: boolean } => {
    const terms: string[] = [];
    const positions: number[] = [];
    const counts = tokenizeLineIds(line, ids, (id, position) => {
      terms.push(ids.terms[id] as string);
      positions.push(position);
    });
    return { terms, positions, truncatedTokens: counts.truncatedTokens, lineTruncated: counts.lineTruncated };
  };
  let ids = new TermIds(1_000_000, 'a test build');
  let tokens = 0;
  let longTokens = 0;
  for (let k = 0; k < 3_000; k++) {
    if (k % 500 === 0) {
      // Each term once: a word seen before (in any case) found its id instead of adding a second.
      if (new Set(ids.terms).size !== ids.terms.length) {
        t.fail(`a term has two ids (line ${k})`);
        return;
      }
      ids = new TermIds(1_000_000, 'a test build');
    }
    const line = soup();
    const want = regexTokenize(line);
    const got = idsOf(line, ids);
    tokens += got.terms.length;
    longTokens += got.truncatedTokens;
    const positionsOk = got.positions.every((p, i) => p === i);
    if (JSON.stringify(got.terms) !== JSON.stringify(want.terms) || !positionsOk || got.truncatedTokens !== want.truncatedTokens || got.lineTruncated !== want.lineTruncated) {
      t.same({ terms: got.terms, truncatedTokens: got.truncatedTokens, lineTruncated: got.lineTruncated }, want, `line ${JSON.stringify(line)}`);
      return;
    }
  }
  t.ok(tokens > 30_000 && longTokens > 50, `${tokens} tokens, ${longTokens} cut to tokenCharsMax, compared`);
  // Not vacuous: a reference that does not lower-case is told apart on the same kind of line.
  const line = 'GET /API/v1 Deadbeef-0 ÉTÉ';
  const planted = regexTokenize(line).terms.map((term, i) => (i % 2 === 0 ? term.toUpperCase() : term));
  t.not(JSON.stringify(idsOf(line, new TermIds(100, 'a test build')).terms), JSON.stringify(planted), 'a planted difference is caught');
});
