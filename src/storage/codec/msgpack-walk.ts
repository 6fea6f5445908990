/**
 * msgpack-walk.ts — MsgpackWalk reads msgpack headers and passes over whole
 * values between two offsets without building them, so a reader can find
 * where values sit in stored bytes (a shard entry's spans, entry-spans.ts) or
 * count what a page holds (log-count-page.ts) without unpacking it.
 *
 * Only plain msgpack is walked: what STORAGE_PACKR writes with records off,
 * so every value is one of the format's base types (nil, booleans, ints,
 * floats, str, bin, ext, arrays, maps). The unused byte 0xc1, a length that
 * runs past `end`, or more pending values than bytes left is ERR_CORRUPTION,
 * named with the walk's `what` and the offset; a walk never reads outside
 * [start, end).
 *
 * Invariant: start <= pos <= end <= bytes.length.
 */
import { assert } from '../../errors.js';
import { corrupt } from './bits.js';

/** MsgpackWalk is a bounds-checked cursor over msgpack values (see the file comment). */
export class MsgpackWalk {
  readonly #b: Uint8Array;
  #pos: number;
  readonly #end: number;
  readonly #what: string;

  /** `what` names the walked bytes in errors ("shard entry", "log block rest section"). */
  constructor(bytes: Uint8Array, start: number, end: number, what: string) {
    assert(start >= 0 && start <= end, 'a walk starts before its end');
    assert(end <= bytes.length, 'a walk ends inside its bytes');
    this.#b = bytes;
    this.#pos = start;
    this.#end = end;
    this.#what = what;
  }

  /** pos is the offset of the next value. */
  get pos(): number {
    return this.#pos;
  }

  /** done is true when the walk has reached its end. */
  get done(): boolean {
    return this.#pos === this.#end;
  }

  #corrupt(message: string, at: number): Error {
    return corrupt(`${this.#what}: ${message}`, { at });
  }

  #take(n: number): number {
    if (n > this.#end - this.#pos) throw this.#corrupt('a value runs past its bytes', this.#pos);
    const at = this.#pos;
    this.#pos += n;
    return at;
  }

  #uint(bytes: 1 | 2 | 4): number {
    const at = this.#take(bytes);
    const b = this.#b;
    if (bytes === 1) return b[at] as number;
    if (bytes === 2) return ((b[at] as number) << 8) | (b[at + 1] as number);
    return (b[at] as number) * 0x1000000 + (((b[at + 1] as number) << 16) | ((b[at + 2] as number) << 8) | (b[at + 3] as number));
  }

  /** arrayLength reads an array header and answers its element count (ERR_CORRUPTION when the next value is not an array). */
  arrayLength(): number {
    const at = this.#take(1);
    const t = this.#b[at] as number;
    if (t >= 0x90 && t <= 0x9f) return t - 0x90;
    if (t === 0xdc) return this.#uint(2);
    if (t === 0xdd) return this.#uint(4);
    throw this.#corrupt(`0x${t.toString(16)} where an array was expected`, at);
  }

  /** skip passes over `count` whole values (nested arrays and maps included), without recursion. */
  skip(count = 1): void {
    assert(Number.isSafeInteger(count) && count >= 0, 'skip takes a count of values');
    let pending = count;
    while (pending > 0) {
      // Every value takes at least one byte: more pending values than bytes left is damage.
      if (pending > this.#end - this.#pos) throw this.#corrupt('more values than bytes', this.#pos);
      pending--;
      const at = this.#take(1);
      const t = this.#b[at] as number;
      if (t <= 0x7f || t >= 0xe0 || t === 0xc0 || t === 0xc2 || t === 0xc3) continue; // fixints, nil, booleans
      if (t <= 0x8f) pending += 2 * (t - 0x80); // fixmap
      else if (t <= 0x9f) pending += t - 0x90; // fixarray
      else if (t <= 0xbf) this.#take(t - 0xa0); // fixstr
      else {
        switch (t) {
          case 0xc4: // bin 8/16/32, str 8/16/32
          case 0xd9:
            this.#take(this.#uint(1));
            break;
          case 0xc5:
          case 0xda:
            this.#take(this.#uint(2));
            break;
          case 0xc6:
          case 0xdb:
            this.#take(this.#uint(4));
            break;
          case 0xc7: // ext 8/16/32: length, type byte, data
            this.#take(this.#uint(1) + 1);
            break;
          case 0xc8:
            this.#take(this.#uint(2) + 1);
            break;
          case 0xc9:
            this.#take(this.#uint(4) + 1);
            break;
          case 0xcc: // uint 8, int 8
          case 0xd0:
            this.#take(1);
            break;
          case 0xcd: // uint 16, int 16
          case 0xd1:
            this.#take(2);
            break;
          case 0xca: // float 32, uint 32, int 32
          case 0xce:
          case 0xd2:
            this.#take(4);
            break;
          case 0xcb: // float 64, uint 64, int 64
          case 0xcf:
          case 0xd3:
            this.#take(8);
            break;
          case 0xd4: // fixext 1/2/4/8/16: type byte, data
          case 0xd5:
          case 0xd6:
          case 0xd7:
          case 0xd8:
            this.#take(1 + (1 << (t - 0xd4)));
            break;
          case 0xdc: // array 16/32
            pending += this.#uint(2);
            break;
          case 0xdd:
            pending += this.#uint(4);
            break;
          case 0xde: // map 16/32
            pending += 2 * this.#uint(2);
            break;
          case 0xdf:
            pending += 2 * this.#uint(4);
            break;
          default:
            throw this.#corrupt(`the unused msgpack byte 0x${t.toString(16)}`, at);
        }
      }
    }
  }
}
