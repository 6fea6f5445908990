/**
 * Scan.attributes while `utf8` is false (issue 5, s22): the fixstr, fixint,
 * nil and boolean forms are stepped over inline instead of by a call per
 * value. What a user relies on: an attribute list reads exactly as the
 * per-value reads (string(), number()) read it — the same verdict and `bad`,
 * and for a list taken the same end position and pair count — over seeded lists of every form, cut
 * anywhere and with bytes changed.
 */
import t from 'tap';
import { SeededRand } from '../fs/seeded-rand.js';
import { StorageLimits as L } from '../limits.js';
import { STORAGE_PACKR } from './storage-packr.js';
import { Scan } from './entry-scan.js';

/** reference is `attributes` as it reads without the inline forms (the per-value loop), with utf8 off. */
function reference(s: Scan): boolean {
  const n = s.arrayHeader();
  if (n < 0 || n % 2 !== 0 || n / 2 > L.attributesPerListMax) return false;
  for (let i = 0; i < n; i += 2) {
    if (!s.string()) return false;
    const t = s.at < s.end ? (s.b[s.at] as number) : -1;
    if (t === 0xc0 || t === 0xc2 || t === 0xc3) s.at++;
    else if ((t >= 0xa0 && t <= 0xbf) || (t >= 0xd9 && t <= 0xdb)) {
      if (!s.string()) return false;
    } else if (!s.number()) return false;
  }
  s.pairs = n / 2;
  return true;
}

function value(rand: SeededRand): unknown {
  switch (rand.intn(12)) {
    case 0:
      return null;
    case 1:
      return rand.intn(2) === 0;
    case 2:
      return rand.intn(128); // positive fixint
    case 3:
      return -1 - rand.intn(32); // negative fixint
    case 4:
      return rand.intn(70_000) - 35_000;
    case 5:
      return rand.intn(1000) / 7;
    case 6:
      return BigInt(rand.intn(1 << 30)) * 1_000_000_000n;
    case 7:
      return 'x'.repeat(rand.intn(40)); // fixstr or str8
    case 8:
      return Buffer.from([0xff, 0xfe]).toString('latin1') + 'é'; // not ASCII
    case 9:
      return [1, 2]; // not a value of the grammar
    case 10:
      return Uint8Array.of(1, 2, 3); // bin: refused
    default:
      return 'v'.repeat(rand.intn(5));
  }
}

t.test('attributes with utf8 off read as the per-value reads do, over every form, cut and damaged', async (t) => {
  const rand = new SeededRand(2201);
  let wrong = 0;
  let taken = 0;
  let cases = 0;
  for (let i = 0; i < 3000; i++) {
    const items: unknown[] = [];
    const pairs = rand.intn(6);
    for (let k = 0; k < pairs; k++) items.push(rand.intn(10) === 0 ? value(rand) : `k${'e'.repeat(rand.intn(34))}`, value(rand));
    if (rand.intn(10) === 0) items.push('odd');
    const whole = STORAGE_PACKR.pack(items);
    // The whole list, every cut of it, and copies with one byte changed, each followed by a byte the list does not own.
    const variants: Uint8Array[] = [whole];
    for (let c = 0; c < whole.length; c++) variants.push(whole.subarray(0, c));
    for (let d = 0; d < 4 && whole.length > 0; d++) {
      const b = Uint8Array.from(whole);
      b[rand.intn(b.length)] = rand.intn(256);
      variants.push(b);
    }
    for (const v of variants) {
      const bytes = Uint8Array.from([...v, 0x90]);
      const a = new Scan(bytes);
      const r = new Scan(bytes);
      a.utf8 = false;
      r.utf8 = false;
      const got = a.attributes();
      const want = reference(r);
      cases++;
      // Where a refused list stops is not part of the contract (every caller rewinds); the verdict and `bad` are.
      if (got !== want || a.bad !== r.bad || (got && (a.at !== r.at || a.pairs !== r.pairs))) wrong++;
      if (got) taken++;
    }
  }
  t.equal(wrong, 0, `${cases} lists, ${taken} taken: every verdict and bad flag, and every taken list's end and pair count, as the per-value reads give`);
  t.ok(taken > 2000 && cases - taken > 10_000, 'both verdicts exercised');
});
