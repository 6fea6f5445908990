/**
 * storage-test-util.ts — small helpers the storage tests share. Test code only.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { OtlpdbError } from '../errors.js';
import { ShardDb } from './shard/shard-db.js';

/** codeOf runs `fn` and returns 'ok', or the code of the OtlpdbError it threw (any other error is rethrown). */
export function codeOf(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    if (err instanceof OtlpdbError) return err.code;
    throw err;
  }
}

/** codeOfAsync is codeOf for a promise: 'ok', or the error code it rejected with. */
export async function codeOfAsync(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (err instanceof OtlpdbError) return err.code;
    throw err;
  }
}

/** canon is a key-order-independent text of a value (bigints and bytes spelled out), to compare rows as sets. */
export function canon(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (v instanceof Uint8Array) return `x${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}`;
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${k}:${canon(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** expectCorrupt asserts that `f` throws ERR_CORRUPTION: damaged bytes are refused, never returned as data. */
export function expectCorrupt(t: Test, f: () => unknown, what: string): void {
  try {
    f();
    t.fail(`${what}: decoded without an error`);
  } catch (err) {
    t.ok(err instanceof OtlpdbError && err.code === 'ERR_CORRUPTION', `${what}: ERR_CORRUPTION (${(err as Error).message.slice(0, 80)})`);
  }
}

/** tempShardDb opens a ShardDb in a fresh temp dir (name starting with `prefix`), closed and removed at the test's teardown. */
export async function tempShardDb(t: Test, prefix: string): Promise<ShardDb> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const db = await ShardDb.open(dir);
  t.teardown(async () => {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return db;
}
