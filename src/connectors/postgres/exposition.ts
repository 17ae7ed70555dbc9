// A strict reader of one gauge in the Prometheus text exposition format (version 0.0.4), which is
// what prom-client serves at /metrics. prom-client writes this format but has no parser, and the
// connector needs one number, so this reads only the lines of the metric asked for. Pure: no I/O.

/** One sample of a metric: its labels and its value (NaN and ±Infinity included). */
export interface Sample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A line of the asked metric that is not valid text exposition format. */
export class ExpositionParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExpositionParseError';
  }
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** A float as Go's strconv.ParseFloat reads it (what Prometheus uses), without hexadecimal forms. */
const FLOAT = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[Ii]nf(?:inity)?|NaN|nan)$/;
const TIMESTAMP = /^-?\d{1,19}$/;

/**
 * The samples of metric `name` in a text exposition: every line `name{labels} value [timestamp]`.
 * Lines of other metrics, `# HELP` lines and blank lines are skipped unread; a `# TYPE name` line
 * must say `gauge` or `untyped`.
 * @throws ExpositionParseError naming the line when a line of `name` is malformed: bad label syntax
 *   or escape, a label given twice, a value that is not a float, a timestamp that is not an integer,
 *   or a `# TYPE` other than gauge or untyped.
 * @see https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
 */
export function parseGauge(text: string, name: string): Sample[] {
  if (!METRIC_NAME.test(name)) throw new TypeError(`${JSON.stringify(name)} is not a metric name.`);
  const samples: Sample[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, index) => {
    const line = raw.replace(/\r$/, '');
    const where = `line ${index + 1}`;
    if (line.startsWith('#')) {
      const type = /^#\s+TYPE\s+(\S+)\s+(\S+)\s*$/.exec(line);
      if (type?.[1] === name && type[2] !== 'gauge' && type[2] !== 'untyped') throw new ExpositionParseError(`${where}: ${name} is a ${type[2]}, not a gauge`);
      return;
    }
    const trimmed = line.replace(/^[ \t]+/, '');
    if (!trimmed.startsWith(name)) return;
    const after = trimmed.charAt(name.length);
    if (after !== '{' && after !== ' ' && after !== '\t') return; // another metric with this prefix
    let rest = trimmed.slice(name.length).replace(/^[ \t]+/, '');
    const labels: Record<string, string> = Object.create(null) as Record<string, string>;
    if (rest.startsWith('{')) {
      rest = readLabels(rest.slice(1), labels, where);
    }
    const fields = rest.trim().split(/[ \t]+/);
    const [value, timestamp, extra] = fields;
    if (value === undefined || value === '' || !FLOAT.test(value)) throw new ExpositionParseError(`${where}: ${name} has the value ${JSON.stringify(value ?? '')}, not a number`);
    if (timestamp !== undefined && !TIMESTAMP.test(timestamp)) throw new ExpositionParseError(`${where}: ${name} has the timestamp ${JSON.stringify(timestamp)}, not an integer`);
    if (extra !== undefined) throw new ExpositionParseError(`${where}: ${name} has text after its value and timestamp`);
    samples.push({ labels, value: toNumber(value) });
  });
  return samples;
}

/** Reads `a="x",b="y"}` into `labels` and returns the text after the `}`. */
function readLabels(text: string, labels: Record<string, string>, where: string): string {
  let i = 0;
  const skipSpaces = (): void => {
    while (text[i] === ' ' || text[i] === '\t') i += 1;
  };
  for (;;) {
    skipSpaces();
    if (text[i] === '}') return text.slice(i + 1);
    const nameMatch = /^[^=\s}]*/.exec(text.slice(i));
    const label = nameMatch?.[0] ?? '';
    if (!LABEL_NAME.test(label)) throw new ExpositionParseError(`${where}: ${JSON.stringify(label)} is not a label name`);
    i += label.length;
    skipSpaces();
    if (text[i] !== '=') throw new ExpositionParseError(`${where}: label ${label} has no "="`);
    i += 1;
    skipSpaces();
    if (text[i] !== '"') throw new ExpositionParseError(`${where}: the value of label ${label} is not quoted`);
    i += 1;
    let value = '';
    for (;;) {
      const c = text[i];
      if (c === undefined) throw new ExpositionParseError(`${where}: the value of label ${label} is not closed`);
      i += 1;
      if (c === '"') break;
      if (c !== '\\') {
        value += c;
        continue;
      }
      const escaped = text[i];
      i += 1;
      if (escaped === '\\' || escaped === '"') value += escaped;
      else if (escaped === 'n') value += '\n';
      else throw new ExpositionParseError(`${where}: label ${label} has the escape \\${escaped ?? ''} (only \\\\, \\" and \\n exist)`);
    }
    if (Object.hasOwn(labels, label)) throw new ExpositionParseError(`${where}: label ${label} is given twice`);
    labels[label] = value;
    skipSpaces();
    if (text[i] === ',') i += 1;
    else if (text[i] !== '}') throw new ExpositionParseError(`${where}: expected "," or "}" after label ${label}`);
  }
}

function toNumber(value: string): number {
  const unsigned = value.replace(/^[+-]/, '');
  if (/^[Ii]nf/.test(unsigned)) return value.startsWith('-') ? -Infinity : Infinity;
  if (/^nan$/i.test(unsigned)) return Number.NaN;
  return Number(value);
}
