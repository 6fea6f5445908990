/**
 * query-logs-fts5.ts — the SQLite FTS5 baseline of `bench/query-logs.ts`:
 * the same lines in one SQLite file (better-sqlite3 12.9.0), the one-machine
 * alternative a user might pick.
 *
 * better-sqlite3 is a native addon. It lives in its own package,
 * bench/fts5/ (exact pin and lock file), installed on demand
 * (`npm --prefix bench/fts5 install`, see bench/README.md), not in the main
 * dependencies: its install downloads a prebuilt binary from GitHub, or
 * builds from source with node-gyp, which needs the node headers
 * (`npm_config_nodedir`) and minutes of CPU; without network and headers
 * node-gyp waits on the download for many minutes. The main `npm ci` must not
 * depend on either. loadFts5 returns null with the reason when it is
 * missing, and the bench prints that notice and goes on without FTS5.
 *
 * Schema: logs(id INTEGER PRIMARY KEY in time order, t INTEGER ns, service,
 * env, format, line) with an index on t, and an external-content FTS5 table
 * over line (unicode61 tokenizer, the default). Ownership: Fts5Baseline owns
 * its database file; close() removes nothing (the caller's temp dir does).
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { repoRoot } from './kv-otlpdb.js';
import type { QueryLogsData, StreamKey } from './query-logs-data.js';
import type { CountAnswer, LogAnswer, QuerySpec } from './query-logs-queries.js';
import { COUNT_STEP_S, COUNT_STEP_SQL, LOG_LIMIT } from './query-logs-queries.js';

/** FTS5_INSTALL is the command that installs the baseline (printed in the notice). */
export const FTS5_INSTALL = 'npm_config_nodedir=$(dirname $(dirname $(readlink -f $(which node)))) npm --prefix bench/fts5 install';

interface Statement {
  run(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  get(...params: unknown[]): unknown;
  safeIntegers(on: boolean): Statement;
}
interface Database {
  exec(sql: string): void;
  prepare(sql: string): Statement;
  pragma(s: string): unknown;
  function(name: string, options: { deterministic: boolean }, fn: (...args: unknown[]) => unknown): void;
  transaction<T extends (...args: never[]) => void>(fn: T): T;
  close(): void;
}
type DatabaseCtor = new (file: string) => Database;

/** loadFts5 loads better-sqlite3 from bench/fts5, or says why it cannot. */
export function loadFts5(): { ctor: DatabaseCtor; version: string } | { ctor: null; reason: string } {
  try {
    const req = createRequire(join(repoRoot(), 'bench', 'fts5', 'package.json'));
    const ctor = req('better-sqlite3') as DatabaseCtor;
    const version = (req('better-sqlite3/package.json') as { version: string }).version;
    const probe = new ctor(':memory:');
    probe.exec('CREATE VIRTUAL TABLE p USING fts5(x)');
    const sqlite = (probe.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
    probe.close();
    return { ctor, version: `better-sqlite3 ${version}, SQLite ${sqlite}` };
  } catch (err) {
    return { ctor: null, reason: `better-sqlite3 is not installed in bench/fts5 (${err instanceof Error ? err.message.split('\n')[0] : String(err)}); install it with: ${FTS5_INSTALL}` };
  }
}

/** Fts5Baseline is the loaded SQLite database and its prepared queries. */
export class Fts5Baseline {
  readonly #db: Database;

  private constructor(db: Database) {
    this.#db = db;
  }

  /** load creates the database at `file` and inserts every line in one transaction, then the FTS5 index (timed by the caller). */
  static load(ctor: DatabaseCtor, file: string, d: QueryLogsData): Fts5Baseline {
    const db = new ctor(file);
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    db.exec(`CREATE TABLE logs(id INTEGER PRIMARY KEY, t INTEGER NOT NULL, service TEXT NOT NULL, env TEXT NOT NULL, format TEXT NOT NULL, line TEXT NOT NULL);
             CREATE VIRTUAL TABLE fts USING fts5(line, content='logs', content_rowid='id');`);
    const ins = db.prepare('INSERT INTO logs(id, t, service, env, format, line) VALUES (?, ?, ?, ?, ?, ?)');
    const insFts = db.prepare('INSERT INTO fts(rowid, line) VALUES (?, ?)');
    const all = db.transaction(() => {
      for (let i = 0; i < d.lines.length; i++) {
        const s = d.streams[d.streamOf[i] as number] as StreamKey;
        const t = d.windowStartNs + BigInt(d.offsetsNs[i] as number);
        ins.run(i + 1, t, s.service, s.env, s.format, d.lines[i]);
        insFts.run(i + 1, d.lines[i]);
      }
    });
    all();
    db.exec('CREATE INDEX logs_t ON logs(t)');
    db.function('regexp', { deterministic: true }, (pattern, text) => (new RegExp(String(pattern)).test(String(text)) ? 1 : 0));
    return new Fts5Baseline(db);
  }

  static #column(q: QuerySpec): string {
    return q.selector.label === 'service_name' ? 'service' : q.selector.label;
  }

  static #exact(q: QuerySpec): string {
    return q.needle !== null ? 'instr(logs.line, @needle) > 0' : 'regexp(@regex, logs.line)';
  }

  /** log answers a log query: MATCH prunes, the exact filter checks, newest LOG_LIMIT first. */
  log(q: QuerySpec): LogAnswer {
    const sql = `SELECT logs.t AS t, logs.line AS line FROM fts JOIN logs ON logs.id = fts.rowid
      WHERE fts MATCH @match AND logs.${Fts5Baseline.#column(q)} = @sel AND logs.t BETWEEN @start AND @end AND ${Fts5Baseline.#exact(q)}
      ORDER BY logs.id DESC LIMIT ${LOG_LIMIT}`;
    const rows = this.#db.prepare(sql).safeIntegers(true).all(this.#params(q)) as { t: bigint; line: string }[];
    return { timesNs: rows.map((r) => BigInt(r.t)), lines: rows.map((r) => r.line) };
  }

  /** count answers a count query: per step end, the count (steps with none absent). */
  count(q: QuerySpec): CountAnswer {
    const sql = `SELECT ${COUNT_STEP_SQL.replaceAll(/\bt\b/g, 'logs.t')} AS k, count(*) AS n FROM fts JOIN logs ON logs.id = fts.rowid
      WHERE fts MATCH @match AND logs.${Fts5Baseline.#column(q)} = @sel AND logs.t BETWEEN @start AND @end AND ${Fts5Baseline.#exact(q)}
      GROUP BY k`;
    const out: CountAnswer = new Map();
    const stepNs = BigInt(COUNT_STEP_S) * 1_000_000_000n;
    for (const r of this.#db.prepare(sql).safeIntegers(true).all(this.#params(q)) as { k: bigint; n: bigint }[]) {
      const t = q.startNs + r.k * stepNs;
      if (t <= q.endNs) out.set(t, Number(r.n));
    }
    return out;
  }

  #params(q: QuerySpec): Record<string, unknown> {
    return {
      match: q.ftsMatch,
      sel: q.selector.value,
      start: q.startNs,
      end: q.endNs,
      ...(q.needle !== null ? { needle: q.needle } : { regex: q.regex }),
    };
  }

  /** rows is how many lines the database holds (a check of the load). */
  rows(): number {
    return Number((this.#db.prepare('SELECT count(*) AS n FROM logs').get() as { n: number }).n);
  }

  close(): void {
    this.#db.close();
  }
}
