import { createLogLineFormat } from '../../core/diagnosis/log-format.js';
import { defaultTimeFields, type LogFormatConfig } from './logs-config.js';

/**
 * Splitting a raw log line into its time, level and message, by a configured format: a Loghub
 * pattern (`<Date> <Time> <Level> <Content>`) or JSON Lines with field names. Times are parsed from
 * the forms logs use: RFC 3339 / ISO 8601 (with `T` or a space, `.` or `,` before the fraction, with
 * or without an offset), the common log format of nginx and Apache (`10/Oct/2000:13:55:36 -0700`),
 * and Unix epoch numbers (seconds, ms, µs or ns, told apart by size).
 */

/** A line split by its format. */
export interface ParsedLine {
  /** ms since the Unix epoch. */
  readonly time: number;
  /** The level as written (`INFO`, `warn`; a pino number as its name), or null. */
  readonly level: string | null;
  readonly message: string;
}

/** Splits a raw line, or gives `undefined` when it does not match the format or has no readable time. */
export type LineParser = (line: string) => ParsedLine | undefined;

const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i;
const CLF = /^(\d{2})\/([A-Za-z]{3})\/(\d{4}):(\d{2}):(\d{2}):(\d{2})(?:\s*([+-]\d{4}))?$/;
const EPOCH = /^\d{1,19}(?:\.\d{1,9})?$/;
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
/** pino's numeric levels. */
const PINO_LEVELS: Readonly<Record<number, string>> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/** Minutes east of UTC of `Z`, `+02:00` or `-0530`. */
export function offsetMinutes(offset: string): number {
  if (offset.toUpperCase() === 'Z') return 0;
  const digits = offset.slice(1).replace(':', '');
  const minutes = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4));
  return offset.startsWith('-') ? -minutes : minutes;
}

/**
 * ms since the Unix epoch of a time as logs write it, or `undefined`. A time without an offset is at
 * `defaultOffset` minutes east of UTC. Epoch numbers: below 1e11 seconds, below 1e14 ms, below 1e17
 * µs, else ns.
 */
export function parseLogTime(text: string, defaultOffset = 0): number | undefined {
  const value = text.trim();
  const iso = ISO.exec(value);
  if (iso !== null) {
    const [, year, month, day, hour, minute, second, fraction, offset] = iso;
    const ms = Number(((fraction ?? '') + '000').slice(0, 3));
    const local = Date.UTC(Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second ?? 0), ms);
    const result = local - (offset === undefined ? defaultOffset : offsetMinutes(offset)) * 60_000;
    return Number.isFinite(result) && validDate(Number(year), Number(month), Number(day), Number(hour), Number(minute), Number(second ?? 0)) ? result : undefined;
  }
  const clf = CLF.exec(value);
  if (clf !== null) {
    const [, day, monthName, year, hour, minute, second, offset] = clf;
    const month = MONTHS.indexOf((monthName as string).toLowerCase());
    if (month < 0 || !validDate(Number(year), month + 1, Number(day), Number(hour), Number(minute), Number(second))) return undefined;
    const local = Date.UTC(Number(year), month, Number(day), Number(hour), Number(minute), Number(second));
    return local - (offset === undefined ? defaultOffset : offsetMinutes(offset)) * 60_000;
  }
  if (EPOCH.test(value)) return epochMs(Number(value));
  return undefined;
}

/** ms of a Unix epoch number in s, ms, µs or ns (told apart by size). */
export function epochMs(value: number): number | undefined {
  if (!Number.isFinite(value) || value < 0) return undefined;
  if (value < 1e11) return Math.round(value * 1000);
  if (value < 1e14) return Math.round(value);
  if (value < 1e17) return Math.round(value / 1000);
  return Math.round(value / 1e6);
}

function validDate(year: number, month: number, day: number, hour: number, minute: number, second: number): boolean {
  return month >= 1 && month <= 12 && day >= 1 && day <= new Date(Date.UTC(year, month, 0)).getUTCDate() && hour <= 23 && minute <= 59 && second <= 60;
}

/** The parser of lines in `format`. */
export function createLineParser(format: LogFormatConfig): LineParser {
  const defaultOffset = offsetMinutes(format.utcOffset);
  if (format.type === 'json') {
    const { timeField, levelField, messageField } = format;
    return (line) => {
      if (!line.startsWith('{')) return undefined;
      let record: unknown;
      try {
        record = JSON.parse(line);
      } catch {
        return undefined;
      }
      const rawTime = fieldAt(record, timeField);
      const time = typeof rawTime === 'number' ? epochMs(rawTime) : typeof rawTime === 'string' ? parseLogTime(rawTime, defaultOffset) : undefined;
      if (time === undefined) return undefined;
      const rawLevel = fieldAt(record, levelField);
      const level = typeof rawLevel === 'number' ? (PINO_LEVELS[rawLevel] ?? String(rawLevel)) : typeof rawLevel === 'string' ? rawLevel : null;
      const rawMessage = fieldAt(record, messageField);
      const message = typeof rawMessage === 'string' ? rawMessage : rawMessage === undefined ? line : JSON.stringify(rawMessage);
      return { time, level, message };
    };
  }
  const parser = createLogLineFormat(format.pattern);
  const timeFields = format.time ?? defaultTimeFields(parser.fields) ?? [];
  return (line) => {
    const fields = parser.parse(line);
    if (fields === undefined) return undefined;
    const parts = timeFields.map((field) => fields[field]);
    if (parts.some((part) => part === undefined)) return undefined;
    const time = parseLogTime(parts.join(' '), defaultOffset);
    if (time === undefined) return undefined;
    return { time, level: fields.Level ?? null, message: fields.Content ?? '' };
  };
}

/** The value at a dotted path of own keys of a JSON value. */
function fieldAt(record: unknown, path: string): unknown {
  let node = record;
  for (const key of path.split('.')) {
    if (typeof node !== 'object' || node === null || Array.isArray(node) || !Object.hasOwn(node, key)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}
