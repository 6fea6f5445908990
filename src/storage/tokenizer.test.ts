import t from 'tap';
import { SeededRand } from '../fs/seeded-rand.js';
import { StorageLimits } from '../limits.js';
import { tokenize, tokenizeLine } from './tokenizer.js';

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
