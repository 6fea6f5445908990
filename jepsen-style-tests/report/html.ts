/**
 * html.ts — the report page of a run: the verdict, the counts per workload,
 * and an SVG timeline with one row per workload client, each operation a
 * bar from its start to its end coloured by outcome (ok green, fail red,
 * unknown amber), and the fault windows shaded grey behind them. To look at,
 * not to read: the numbers live in results.json. Pure: data in, text out.
 */
import type { HistoryOp } from '../harness/history.js';
import type { NemesisEvent, Results } from './results.js';

const COLORS: Readonly<Record<string, string>> = { ok: '#2e9e44', fail: '#d33', unknown: '#e6a100' };
const ENDS: Readonly<Record<string, string>> = { kill: 'restart', pause: 'resume', partition: 'heal', 'torn-tail': 'restart', corrupt: 'restart', 'disk-full': 'disk-space', clock: 'clock-reset', join: 'leave' };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** FaultWindow is one shaded span of the timeline, in milliseconds since the run started. */
export interface FaultWindow {
  readonly startMs: number;
  readonly endMs: number;
  readonly label: string;
}

/** faultWindows pairs each fault with the event that healed it; a fault never healed lasts to `endMs`. */
export function faultWindows(events: readonly NemesisEvent[], endMs: number): FaultWindow[] {
  const out: FaultWindow[] = [];
  let open: NemesisEvent | null = null;
  for (const e of events) {
    if (e.fault in ENDS) {
      open = e;
    } else if (open !== null && ENDS[open.fault] === e.fault) {
      out.push({ startMs: open.time, endMs: e.time, label: `${open.fault} ${open.targets.join(',')}` });
      open = null;
    }
  }
  if (open !== null) out.push({ startMs: open.time, endMs: Math.max(open.time, endMs), label: `${open.fault} ${open.targets.join(',')}` });
  return out;
}

/** renderTimelineSvg draws operations by outcome over time with the fault windows shaded. */
export function renderTimelineSvg(ops: readonly HistoryOp[], events: readonly NemesisEvent[]): string {
  const rows = [...new Set(ops.map((o) => `${o.workload} ${o.process < 0 ? 'final' : `client ${o.process}`}`))].sort();
  const endUs = Math.max(1, ...ops.map((o) => o.end), ...events.map((e) => e.time * 1000));
  const left = 130;
  const width = 1000;
  const rowH = 18;
  const top = 24;
  const height = top + rows.length * rowH + 30;
  const x = (us: number): number => left + (us / endUs) * (width - left - 10);
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`];
  for (const w of faultWindows(events, endUs / 1000)) {
    const x0 = x(w.startMs * 1000);
    parts.push(`<rect x="${x0.toFixed(1)}" y="${top - 12}" width="${Math.max(1, x(w.endMs * 1000) - x0).toFixed(1)}" height="${rows.length * rowH + 12}" fill="#bbb" opacity="0.35"><title>${esc(w.label)}</title></rect>`);
    parts.push(`<text x="${(x0 + 2).toFixed(1)}" y="${top - 2}" fill="#555">${esc(w.label)}</text>`);
  }
  rows.forEach((r, i) => parts.push(`<text x="4" y="${top + i * rowH + 12}">${esc(r)}</text>`));
  for (const o of ops) {
    const i = rows.indexOf(`${o.workload} ${o.process < 0 ? 'final' : `client ${o.process}`}`);
    const x0 = x(o.start);
    const w = Math.max(1.5, x(o.end) - x0);
    const title = `${o.workload} ${o.f} ${o.outcome} ${((o.end - o.start) / 1000).toFixed(1)} ms (node ${o.node})`;
    parts.push(`<rect x="${x0.toFixed(1)}" y="${top + i * rowH + 3}" width="${w.toFixed(1)}" height="${rowH - 6}" fill="${COLORS[o.outcome] ?? '#000'}"><title>${esc(title)}</title></rect>`);
  }
  const axisY = top + rows.length * rowH + 16;
  const seconds = Math.ceil(endUs / 1e6);
  const step = Math.max(1, Math.ceil(seconds / 10));
  for (let s = 0; s <= seconds; s += step) parts.push(`<text x="${x(s * 1e6).toFixed(1)}" y="${axisY}" fill="#555">${s}s</text>`);
  parts.push('</svg>');
  return parts.join('\n');
}

/** renderReportHtml is the whole report page. */
export function renderReportHtml(results: Results, ops: readonly HistoryOp[], title: string): string {
  const rows = Object.entries(results.workloads)
    .map(([name, w]) =>
      `<tr><td>${esc(name)}</td><td>${w.valid ? 'valid' : '<b>INVALID</b>'}</td><td>${w.ops}</td><td>${w.ok}</td><td>${w.fail}</td><td>${w.unknown}</td>` +
      `<td>${w.lost}</td><td>${w.unexpected}</td><td>${w.duplicates}</td><td>${w.anomalies.map(esc).join('<br>')}</td></tr>`,
    )
    .join('\n');
  const nemesis = results.nemesis.map((e) => `<li>${(e.time / 1000).toFixed(2)} s: ${esc(e.fault)} ${e.targets.join(',')} ${esc(e.detail ?? '')}</li>`).join('\n');
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}</style></head>
<body><h1>${esc(title)}: ${results.valid ? 'valid' : 'INVALID'}</h1>
<table><tr><th>workload</th><th>verdict</th><th>ops</th><th>ok</th><th>fail</th><th>unknown</th><th>lost</th><th>unexpected</th><th>duplicates</th><th>anomalies</th></tr>
${rows}
</table>
<h2>Timeline</h2><p>Operations by outcome (green ok, red fail, amber unknown); faults shaded.</p>
${renderTimelineSvg(ops, results.nemesis)}
<h2>Nemesis</h2><ul>${nemesis}</ul>
${results.nemesisAnomalies.length === 0 ? '' : `<h2>Fault outcomes that break a promise</h2><ul>${results.nemesisAnomalies.map((a) => `<li>${esc(a)}</li>`).join('\n')}</ul>`}
</body></html>
`;
}
