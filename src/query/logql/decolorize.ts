/**
 * decolorize.ts — the `| decolorize` stage's text function: removes ANSI
 * escape sequences (terminal colours, cursor codes) from a line, with the
 * expression Loki uses (github.com/acarl005/stripansi). Pure.
 */

/** ANSI_ESCAPE matches one ANSI escape sequence (ESC or CSI, parameters, final byte; or an OSC ending in BEL). */
// eslint-disable-next-line no-control-regex -- matching control characters (ESC, CSI, BEL) is the point.
const ANSI_ESCAPE = /[\u001B\u009B][[\]()#;?]*(?:(?:(?:[a-zA-Z\d]*(?:;[a-zA-Z\d]*)*)?\u0007)|(?:(?:\d{1,4}(?:;\d{0,4})*)?[\dA-PRZcf-ntqry=><~]))/g;

/** stripAnsi is a line without its ANSI escape sequences (what `| decolorize` leaves). */
export function stripAnsi(line: string): string {
  return line.includes('\u001B') || line.includes('\u009B') ? line.replace(ANSI_ESCAPE, '') : line;
}
