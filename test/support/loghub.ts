// Reading Loghub samples (raw log, corrected structured CSV, Drain settings) for the log template
// tests and `bench/loghub.bench.ts`. Loghub: https://github.com/logpai/loghub (see test/fixtures/loghub/).
import { readFile } from 'node:fs/promises';
import { createLogLineFormat } from '../../src/core/diagnosis/log-format.js';
import type { LogTemplateMinerOptions } from '../../src/core/diagnosis/log-templates.js';

/** Drain's published settings for one Loghub system (logpai/logparser `benchmark.py`). */
export interface DrainSettings {
  /** Loghub format string of the header, e.g. `<Date> <Time> <Level> <Component>: <Content>`. */
  readonly log_format: string;
  /** Regular expressions masked to `<*>` before mining. */
  readonly regex: readonly string[];
  /** Similarity threshold. */
  readonly st: number;
  /** Depth of the prefix tree's leaves. */
  readonly depth: number;
}

/** The miner options that reproduce Drain's published settings: masks to `<*>`, logparser's maxChild 100. */
export function drainOptions(settings: DrainSettings): LogTemplateMinerOptions {
  return { depth: settings.depth, similarityThreshold: settings.st, maxChildren: 100, masking: settings.regex.map((pattern) => ({ pattern })) };
}

/** One labelled Loghub sample, line by line. */
export interface LoghubSample {
  /** Raw log lines (line ends removed). */
  readonly lines: readonly string[];
  /** The `Content` column of the structured CSV: the message as Loghub split it off its header. */
  readonly contents: readonly string[];
  /** The corrected ground-truth `EventTemplate` of each line. */
  readonly templates: readonly string[];
}

/**
 * Records of an RFC 4180 CSV text: fields separated by commas, quoted with `"` when they hold a
 * comma, a quote (doubled) or a line end; records end with LF or CRLF.
 */
export function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  for (let index = 0; index < text.length; index++) {
    const char = text[index] as string;
    if (quoted) {
      if (char !== '"') field += char;
      else if (text[index + 1] === '"') {
        field += '"';
        index++;
      } else quoted = false;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      record.push(field);
      field = '';
    } else if (char === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
    } else if (char !== '\r') field += char;
  }
  if (field !== '' || record.length > 0) records.push([...record, field]);
  return records;
}

/** Reads a Loghub sample: the raw log (ISO-8859-1, as logparser reads it) and its corrected structured CSV. */
export async function readLoghubSample(logPath: string, structuredCsvPath: string): Promise<LoghubSample> {
  const lines = (await readFile(logPath, 'latin1')).split('\n').map((line) => line.replace(/\r$/, '')).filter((line) => line.trim() !== '');
  const [header, ...records] = parseCsv(await readFile(structuredCsvPath, 'utf8'));
  const contentColumn = header?.indexOf('Content') ?? -1;
  const templateColumn = header?.indexOf('EventTemplate') ?? -1;
  if (contentColumn < 0 || templateColumn < 0) throw new Error(`${structuredCsvPath} has no Content or EventTemplate column`);
  if (records.length !== lines.length) throw new Error(`${structuredCsvPath} has ${records.length} records for the ${lines.length} lines of ${logPath}`);
  return {
    lines,
    contents: records.map((record) => record[contentColumn] ?? ''),
    templates: records.map((record) => record[templateColumn] ?? ''),
  };
}

/** The messages of `lines` split off their headers by `format`; a line that does not match gives `undefined`. */
export function messagesOf(lines: readonly string[], format: string): (string | undefined)[] {
  const parser = createLogLineFormat(format);
  return lines.map((line) => parser.parse(line)?.Content);
}
