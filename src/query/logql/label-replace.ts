/**
 * label-replace.ts — `label_replace(v, "dst", "replacement", "src", "regex")`
 * as Prometheus and Loki define it, over one step's samples. Pure.
 *
 * The regex is fully anchored on the value of `src` (an absent label is the
 * empty value). No match: the sample is unchanged. A match: `dst` is set to
 * the replacement expanded as Go's `Regexp.Expand` does (`$1`, `${1}`,
 * `$name`, `${name}`, `$$` for a dollar; a name is the longest run of
 * letters, digits and `_`, so `$1x` names the group `1x`; an unknown group
 * or one that did not participate is empty; a `$` not followed by a name is
 * kept), and an empty result removes `dst`.
 *
 * Two samples of one step that end up with the same labels are refused
 * (ERR_INVALID_ARGUMENT), as Prometheus does ("vector cannot contain metrics
 * with the same labelset"); Loki keeps both (README "Known differences").
 */
import { OtlpdbError } from '../../errors.js';
import type { LabelReplaceExpr } from './ast.js';
import type { Sample } from './metric.js';
import { labelsKey } from './pipeline.js';
import { compileLogqlRegex } from './regex.js';
import type { LogLabel } from './source.js';

/** LABEL_NAME is a valid LogQL (Prometheus) label name: label_replace refuses any other `dst`. */
export const LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** expandReplacement expands `$1`/`${name}`/`$$` in a replacement against a match, as Go's Regexp.Expand. */
export function expandReplacement(template: string, match: RegExpExecArray): string {
  let out = '';
  let i = 0;
  while (i < template.length) {
    const dollar = template.indexOf('$', i);
    if (dollar < 0) break;
    out += template.slice(i, dollar);
    i = dollar + 1;
    if (template[i] === '$') {
      out += '$';
      i++;
      continue;
    }
    const brace = template[i] === '{';
    const m = /^[\p{L}\p{Nd}_]+/u.exec(template.slice(brace ? i + 1 : i));
    if (m === null || (brace && template[i + 1 + m[0].length] !== '}')) {
      // Malformed: the `$` stays as text.
      out += '$';
      continue;
    }
    const name = m[0];
    i += name.length + (brace ? 2 : 0);
    out += groupValue(name, match);
  }
  return out + template.slice(i);
}

function groupValue(name: string, match: RegExpExecArray): string {
  if (/^[0-9]+$/.test(name) && name.length <= 8 && (name === '0' || name[0] !== '0')) return match[Number(name)] ?? '';
  return match.groups?.[name] ?? '';
}

/** compileLabelReplace compiles a label_replace once into a function over one step's samples. */
export function compileLabelReplace(e: LabelReplaceExpr): (samples: readonly Sample[]) => Sample[] {
  const re = compileLogqlRegex(e.regex, true);
  return (samples) => {
    const out: Sample[] = [];
    const seen = new Set<string>();
    for (const s of samples) {
      const src = s.labels.find((l) => l.name === e.src)?.value ?? '';
      const m = re.exec(src);
      let next: Sample = s;
      if (m !== null) {
        const value = expandReplacement(e.replacement, m);
        const labels: LogLabel[] = s.labels.filter((l) => l.name !== e.dst);
        if (value !== '') {
          labels.push({ name: e.dst, value });
          labels.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        }
        next = { labels, key: labelsKey(labels), value: s.value };
      }
      if (seen.has(next.key)) throw new OtlpdbError('ERR_INVALID_ARGUMENT', `LogQL: label_replace made two series with the same labels ${next.key}`);
      seen.add(next.key);
      out.push(next);
    }
    return out;
  };
}
