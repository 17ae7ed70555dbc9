/**
 * Log-line header parsing by a Loghub-style format string, kept apart from template mining: the
 * header fields (date, time, level, component ...) are split off a raw line and only `<Content>`,
 * the message, goes to the miner (`log-templates.ts`).
 *
 * A format names each field in angle brackets, e.g. `<Date> <Time> <Pid> <Level> <Component>: <Content>`.
 * As in Loghub's logparser, the text between fields is a regular expression: a run of spaces matches
 * any run of whitespace, and `[`, `]`, `(`, `)`, `|`, `?` keep their regex meaning, so literal brackets
 * are written `\[` and an optional part `(\[<PID>\])?`. Each field matches as little as it can; the
 * whole trimmed line must match.
 *
 * @see https://github.com/logpai/loghub (the format strings of the Loghub benchmark)
 */
import { InputError } from '../errors.js';

/** The fields of one parsed line by name, e.g. `{ Level: 'INFO', Content: '...' }`; an optional field that did not match is absent. */
export type LogRecord = Readonly<Record<string, string>>;

/** A compiled format string: its field names in order and a parser for lines. */
export interface LogLineFormat {
  /** The format string as given. */
  readonly format: string;
  /** Field names in the order they appear, e.g. `['Date', 'Time', 'Level', 'Content']`. */
  readonly fields: readonly string[];
  /** The fields of `line` (trimmed first), or `undefined` when the line does not match the format. */
  parse(line: string): LogRecord | undefined;
}

const FIELD = /<([^<>]+)>/g;
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Compiles a Loghub-style format string such as `<Date> <Time> <Level> <Component>: <Content>`.
 * Throws `INPUT_INVALID` when the format names no field, a field name is not an identifier or
 * appears twice, or the text between fields is not a valid regular expression.
 */
export function createLogLineFormat(format: string): LogLineFormat {
  const fields: string[] = [];
  let source = '';
  let last = 0;
  for (const match of format.matchAll(FIELD)) {
    const name = match[1] as string;
    if (!FIELD_NAME.test(name)) {
      throw new InputError('INPUT_INVALID', `log format field <${name}> is not a valid name: use letters, digits and _, starting with a letter.`, [
        { path: 'format', message: 'invalid field name', expected: 'an identifier such as <Content>', received: `<${name}>` },
      ]);
    }
    if (fields.includes(name)) {
      throw new InputError('INPUT_INVALID', `log format names the field <${name}> twice; each field may appear once.`, [{ path: 'format', message: 'duplicate field', received: `<${name}>` }]);
    }
    fields.push(name);
    source += `${literal(format.slice(last, match.index))}(?<${name}>.*?)`;
    last = match.index + match[0].length;
  }
  source += literal(format.slice(last));
  if (fields.length === 0) {
    throw new InputError('INPUT_INVALID', 'log format names no field: write the fields in angle brackets, e.g. "<Date> <Time> <Level> <Content>".', [
      { path: 'format', message: 'no field', expected: 'at least one <Field>', received: JSON.stringify(format) },
    ]);
  }
  let pattern: RegExp;
  try {
    pattern = new RegExp(`^${source}$`, 's');
  } catch (error) {
    throw new InputError('INPUT_INVALID', `log format is not a valid pattern (${error instanceof Error ? error.message : String(error)}); escape literal brackets as \\[ and \\].`, [
      { path: 'format', message: 'invalid pattern', received: JSON.stringify(format) },
    ], { cause: error });
  }
  return {
    format,
    fields,
    parse(line) {
      const groups = pattern.exec(line.trim())?.groups;
      if (groups === undefined) return undefined;
      // Object.fromEntries defines own properties, so no field name can reach the prototype.
      return Object.fromEntries(fields.flatMap((field) => (groups[field] === undefined ? [] : [[field, groups[field]]])));
    },
  };
}

/** Text between two fields as a regex source: each run of spaces matches any run of whitespace. */
function literal(text: string): string {
  return text.replace(/ +/g, '\\s+');
}
