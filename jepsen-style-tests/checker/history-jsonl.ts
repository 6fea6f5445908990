/**
 * history-jsonl.ts — histories as JSON lines, one operation per line, so that
 * real-cluster runs can stream a history to a file and check it later:
 *
 *   {"clientId":1,"call":10,"return":14,"input":{...},"output":{...}}
 *
 * An absent `return` means the client never saw a reply; an absent `output`
 * means the outcome is unknown. (A JSON `null` output is a value, not
 * "unknown".) Blank lines are skipped; anything else malformed is refused.
 */
import { OtlpdbError } from '../../src/errors.js';
import type { Operation } from './types.js';

/** HistoryParseOptions validate the model-specific parts of each line (default: any JSON value). */
export interface HistoryParseOptions<I, O> {
  readonly isInput?: (value: unknown) => value is I;
  readonly isOutput?: (value: unknown) => value is O;
}

const LINE_FIELDS = ['clientId', 'call', 'return', 'input', 'output'] as const;

/** historyToJsonLines renders a history as JSON lines, each ending in a newline. */
export function historyToJsonLines<I, O>(history: readonly Operation<I, O>[]): string {
  return history
    .map((op) => {
      const line: Record<string, unknown> = { clientId: op.clientId, call: op.call };
      if (op.return !== undefined && op.return !== Infinity) line['return'] = op.return;
      line['input'] = op.input;
      if (op.output !== undefined) line['output'] = op.output;
      return `${JSON.stringify(line)}\n`;
    })
    .join('');
}

/**
 * historyFromJsonLines parses JSON lines into a history. It throws
 * ERR_INVALID_ARGUMENT naming the first malformed line (1-based, in
 * `details.line`): not JSON, not an object, an unknown field, a bad clientId,
 * call or return, a return before its call, or an input/output refused by the
 * options' validators.
 */
export function historyFromJsonLines<I, O>(text: string, options: HistoryParseOptions<I, O> = {}): Operation<I, O>[] {
  const history: Operation<I, O>[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, index) => {
    const lineNumber = index + 1;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') return;
    const refuse = (why: string): never => {
      throw new OtlpdbError('ERR_INVALID_ARGUMENT', `history line ${lineNumber}: ${why}`, { line: lineNumber });
    };
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      refuse('not valid JSON');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) refuse('not a JSON object');
    const fields = parsed as Record<string, unknown>;
    for (const name of Object.keys(fields)) {
      if (!(LINE_FIELDS as readonly string[]).includes(name)) refuse(`unknown field ${JSON.stringify(name)}`);
    }
    const { clientId, call, input, output } = fields;
    const ret = fields['return'];
    if (typeof clientId !== 'number' || !Number.isSafeInteger(clientId)) refuse('clientId must be an integer');
    if (typeof call !== 'number' || !Number.isFinite(call)) refuse('call must be a finite number');
    if (ret !== undefined && (typeof ret !== 'number' || !Number.isFinite(ret))) refuse('return must be a finite number');
    if (typeof ret === 'number' && typeof call === 'number' && ret < call) refuse(`return ${ret} is before call ${call}`);
    if (!('input' in fields)) refuse('input is missing');
    if (options.isInput !== undefined && !options.isInput(input)) refuse('input is not valid for the model');
    if ('output' in fields && options.isOutput !== undefined && !options.isOutput(output)) {
      refuse('output is not valid for the model');
    }
    history.push({
      clientId: clientId as number,
      call: call as number,
      return: ret as number | undefined,
      input: input as I,
      output: 'output' in fields ? (output as O) : undefined,
    });
  });
  return history;
}
