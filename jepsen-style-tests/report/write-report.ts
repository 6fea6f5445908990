/**
 * write-report.ts — writes a run's report directory: results.json,
 * history.jsonl and index.html.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { historyJsonLines } from '../harness/history.js';
import type { HistoryOp } from '../harness/history.js';
import { renderReportHtml } from './html.js';
import type { Results } from './results.js';

/** ReportPaths are the files of one report. */
export interface ReportPaths {
  readonly dir: string;
  readonly results: string;
  readonly history: string;
  readonly html: string;
}

/** writeReport writes the three files of a report into `dir` (created when missing). */
export async function writeReport(dir: string, results: Results, ops: readonly HistoryOp[], title: string): Promise<ReportPaths> {
  await mkdir(dir, { recursive: true });
  const paths = { dir, results: join(dir, 'results.json'), history: join(dir, 'history.jsonl'), html: join(dir, 'index.html') };
  await writeFile(paths.results, `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(paths.history, historyJsonLines(ops));
  await writeFile(paths.html, renderReportHtml(results, ops, title));
  return paths;
}
