/**
 * index.ts — the public surface of a run's report: results.json, the HTML
 * page with its SVG timeline, and the writer. Explicit named exports only.
 */
export { buildResults, capAnomalies, countOutcomes } from './results.js';
export type { NemesisEvent, Results, WorkloadResult } from './results.js';
export { faultWindows, renderReportHtml, renderTimelineSvg } from './html.js';
export type { FaultWindow } from './html.js';
export { writeReport } from './write-report.js';
export type { ReportPaths } from './write-report.js';
