import t from 'tap';
import { checkOperations, historyFromJsonLines, historyToJsonLines, isRegisterInput, isRegisterOutput, registerModel } from './index.js';
import type { Operation, RegisterInput, RegisterOutput } from './index.js';

type Op = Operation<RegisterInput, RegisterOutput>;

const history: Op[] = [
  { clientId: 1, input: { type: 'put', key: 'x', value: 'a' }, call: 0, return: 3, output: { type: 'put' } },
  { clientId: 2, input: { type: 'get', key: 'x' }, call: 1, return: 4, output: { type: 'get', value: null } },
  { clientId: 3, input: { type: 'cas', key: 'x', expected: null, value: 'b' }, call: 2, return: undefined, output: undefined },
  { clientId: 4, input: { type: 'cas', key: 'x', expected: 'a', value: 'c' }, call: 5, return: 6, output: { type: 'cas', ok: false } },
];
const registerValidators = { isInput: isRegisterInput, isOutput: isRegisterOutput };

t.test('a history survives a JSON lines round trip, unknown outcomes included', async (t) => {
  const text = historyToJsonLines(history);
  t.equal(text.split('\n').length, history.length + 1, 'one line per operation, each ending in a newline');
  t.notMatch(text.split('\n')[2] ?? '', /"return"|"output"/, 'an unknown outcome has no return and no output field');
  const back = historyFromJsonLines(text, registerValidators);
  t.same(back, history);
  t.equal(checkOperations(registerModel, back).outcome, checkOperations(registerModel, history).outcome);
  t.same(historyFromJsonLines(text.replace(/\n/g, '\r\n') + '\n\n'), history, 'CRLF and blank lines are accepted');
});

t.test('malformed lines are refused with ERR_INVALID_ARGUMENT naming the line', async (t) => {
  const good = historyToJsonLines(history.slice(0, 2));
  const cases: [string, RegExp][] = [
    ['{"clientId":1,"call":0', /not valid JSON/],
    ['[1,2]', /not a JSON object/],
    ['{"clientId":1,"call":0,"retrun":3,"input":{"type":"get","key":"x"}}', /unknown field "retrun"/],
    ['{"clientId":"1","call":0,"input":{"type":"get","key":"x"}}', /clientId must be an integer/],
    ['{"clientId":1,"input":{"type":"get","key":"x"}}', /call must be a finite number/],
    ['{"clientId":1,"call":5,"return":4,"input":{"type":"get","key":"x"}}', /return 4 is before call 5/],
    ['{"clientId":1,"call":5,"return":"6","input":{"type":"get","key":"x"}}', /return must be a finite number/],
    ['{"clientId":1,"call":5}', /input is missing/],
    ['{"clientId":1,"call":5,"input":{"type":"del","key":"x"}}', /input is not valid for the model/],
    ['{"clientId":1,"call":5,"return":6,"input":{"type":"get","key":"x"},"output":{"type":"get"}}', /output is not valid/],
  ];
  for (const [line, message] of cases) {
    t.throws(
      () => historyFromJsonLines(`${good}${line}\n`, registerValidators),
      { code: 'ERR_INVALID_ARGUMENT', message: new RegExp(`line 3: ${message.source}`), details: { line: 3 } },
      line,
    );
  }
});
