import * as rruleModule from 'rrule';
import { exactMs, MS_PER_DAY, nominalDays, parseIsoDuration, type IsoDuration } from './duration.js';

/**
 * Calendars of a policy set: named sets of time windows in an IANA time zone, each window a
 * recurrence (RFC 5545 RRULE) of local start times and a duration. A rule reads them as
 * `calendar.<name>`: true when the decision's `time` falls inside any window of that calendar.
 *
 * Local times are wall-clock times of the calendar's zone, so `FREQ=WEEKLY;BYDAY=FR;BYHOUR=16`
 * starts at 16:00 in Berlin in summer and in winter. Internally a local time is a *floating* instant:
 * the epoch ms whose UTC fields equal the wall-clock fields (no zone), converted to a real instant
 * only at the end.
 *
 * @see https://www.rfc-editor.org/rfc/rfc5545#section-3.3.10 (RFC 5545, RECUR)
 * @see https://www.iana.org/time-zones (IANA time zone database)
 */

// rrule is CommonJS: Node's ES module loader exposes it only as the default export, other loaders
// (tsx in CommonJS mode) as named exports.
const RRule: typeof rruleModule.RRule =
  rruleModule.RRule ?? (rruleModule as unknown as { readonly default: typeof rruleModule }).default.RRule;
type RRuleInstance = InstanceType<typeof RRule>;

/** One window of a calendar as a document declares it (already shape-checked). */
export interface CalendarWindowSpec {
  /** RFC 5545 RRULE value without `RRULE:`, e.g. `FREQ=WEEKLY;BYDAY=FR;BYHOUR=16;BYMINUTE=0`. */
  readonly rrule: string;
  /** ISO 8601 duration of each window, e.g. `P2DT16H`; days nominal, hours exact (RFC 5545 §3.3.6). */
  readonly duration: string;
  /**
   * Local date-time (`YYYY-MM-DDTHH:MM[:SS]`, no offset) the recurrence counts from: the first
   * possible occurrence, and the source of whatever the rule leaves open (the weekday of a WEEKLY rule
   * without BYDAY, the time of day without BYHOUR/BYMINUTE/BYSECOND).
   * @default `2000-01-03T00:00:00` (a Monday, midnight)
   */
  readonly start?: string;
}

/** A compiled calendar: answers whether an instant falls inside one of its windows. */
export interface Calendar {
  readonly name: string;
  /** IANA time zone of the windows' local times, e.g. `Europe/Berlin`. */
  readonly timezone: string;
  /** True when `timeMs` (epoch ms) falls in any window: start inclusive, end exclusive. */
  contains(timeMs: number): boolean;
}

/** A problem with one field of a window, for the loader to place at file:line. */
export interface CalendarProblem {
  /** The field at fault: `timezone`, or `windows.<i>.rrule` / `.duration` / `.start`. */
  readonly field: string;
  readonly message: string;
}

/** Default `start`: Monday 2000-01-03 00:00 local. */
const DEFAULT_START = Date.UTC(2000, 0, 3);
/** Frequencies a window may recur at; finer ones make no sense for maintenance and freeze windows. */
const FREQUENCIES = ['YEARLY', 'MONTHLY', 'WEEKLY', 'DAILY'] as const;
/** RRULE parts accepted (RFC 5545 §3.3.10 minus DTSTART-like parts, which `start` replaces). */
const RRULE_PARTS = new Set(['FREQ', 'INTERVAL', 'COUNT', 'UNTIL', 'BYDAY', 'BYHOUR', 'BYMINUTE', 'BYSECOND', 'BYMONTH', 'BYMONTHDAY', 'BYYEARDAY', 'BYWEEKNO', 'BYSETPOS', 'WKST']);
const WEEKDAY = /^[+-]?\d{0,2}(MO|TU|WE|TH|FR|SA|SU)$/;
/** Longest window accepted, days: bounds the search for occurrences. */
const MAX_WINDOW_DAYS = 400;
/** Largest COUNT accepted (a COUNT rule is iterated from its start). */
const MAX_COUNT = 10_000;
const LOCAL_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/;

/** True when `timezone` names a zone this runtime knows (IANA name such as `Europe/Berlin`, or `UTC`). */
export function isValidTimeZone(timezone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}

/**
 * Validates and compiles a calendar. Problems are returned, not thrown, so the loader can list every
 * one with its position.
 */
export function compileCalendar(
  name: string,
  spec: { readonly timezone: string; readonly windows: readonly CalendarWindowSpec[] },
): { readonly calendar: Calendar; readonly problems: readonly [] } | { readonly calendar: null; readonly problems: readonly CalendarProblem[] } {
  const problems: CalendarProblem[] = [];
  if (!isValidTimeZone(spec.timezone)) problems.push({ field: 'timezone', message: `unknown time zone "${spec.timezone}"; use an IANA name such as Europe/Berlin or UTC` });
  const windows: Window[] = [];
  spec.windows.forEach((window, index) => {
    const compiled = compileWindow(window, `windows.${index}`, problems);
    if (compiled !== null) windows.push(compiled);
  });
  if (problems.length > 0) return { calendar: null, problems };
  const zone = zoneOf(spec.timezone);
  const caches = windows.map(() => ({ from: Number.NaN, to: Number.NaN, intervals: [] as Array<readonly [number, number]> }));
  return {
    problems: [],
    calendar: {
      name,
      timezone: spec.timezone,
      contains(timeMs) {
        return windows.some((window, index) => {
          const cache = caches[index] as (typeof caches)[number];
          if (!(timeMs >= cache.from && timeMs < cache.to)) {
            // Deterministic memo: the intervals of [time - 1 day, time + 7 days), recomputed when time leaves it.
            cache.from = timeMs - MS_PER_DAY;
            cache.to = timeMs + 7 * MS_PER_DAY;
            cache.intervals = intervalsBetween(window, zone, cache.from, cache.to);
          }
          return cache.intervals.some(([start, end]) => timeMs >= start && timeMs < end);
        });
      },
    },
  };
}

/** A compiled window: the recurrence of floating start times and the duration. */
interface Window {
  readonly rule: RRuleInstance;
  /** Floating start the rule counts from. */
  readonly start: number;
  readonly freq: (typeof FREQUENCIES)[number];
  readonly interval: number;
  /** COUNT rules count from `start` and cannot be moved forward. */
  readonly counted: boolean;
  readonly duration: IsoDuration;
  /** Upper bound of the window length in floating ms (nominal days + exact part + one day of slack). */
  readonly reachMs: number;
  /** UNTIL given in UTC (`…Z`): the instant, applied after conversion. */
  readonly untilInstant: number | null;
}

function compileWindow(spec: CalendarWindowSpec, field: string, problems: CalendarProblem[]): Window | null {
  const before = problems.length;
  const duration = parseIsoDuration(spec.duration);
  if (!duration.ok) problems.push({ field: `${field}.duration`, message: duration.message });
  else if (nominalDays(duration.value) + exactMs(duration.value) / MS_PER_DAY > MAX_WINDOW_DAYS) {
    problems.push({ field: `${field}.duration`, message: `a window may last at most ${MAX_WINDOW_DAYS} days; got ${spec.duration}` });
  }
  let start = DEFAULT_START;
  if (spec.start !== undefined) {
    const parsed = parseLocalDateTime(spec.start);
    if (parsed === null) problems.push({ field: `${field}.start`, message: `"${spec.start}" is not a local date-time YYYY-MM-DDTHH:MM[:SS] without offset (it is read in the calendar's time zone)` });
    else start = parsed;
  }
  const rule = parseRule(spec.rrule, spec.start !== undefined, `${field}.rrule`, problems);
  if (problems.length > before || rule === null || !duration.ok) return null;
  let untilInstant: number | null = null;
  let options = { ...rule.options, dtstart: new Date(start) };
  if (rule.untilUtc && options.until !== null && options.until !== undefined) {
    untilInstant = options.until.getTime();
    options = { ...options, until: null };
  }
  return {
    rule: new RRule(options),
    start,
    freq: rule.freq,
    interval: options.interval ?? 1,
    counted: options.count !== null && options.count !== undefined,
    duration: duration.value,
    reachMs: (nominalDays(duration.value) + 1) * MS_PER_DAY + exactMs(duration.value),
    untilInstant,
  };
}

/** `YYYY-MM-DDTHH:MM[:SS]` as a floating instant, or null when malformed or not a real date. */
function parseLocalDateTime(text: string): number | null {
  const match = LOCAL_DATE_TIME.exec(text);
  if (match === null) return null;
  const [year, month, day, hour, minute, second] = match.slice(1).map((part) => Number(part ?? 0)) as [number, number, number, number, number, number];
  const floating = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(floating);
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) return null;
  return floating;
}

type ParsedOptions = Partial<InstanceType<typeof RRule>['origOptions']>;

/** Parses and checks an RRULE value strictly (the library alone accepts `BYHOUR=25` and `BYDAY=XX`). */
function parseRule(
  text: string,
  hasStart: boolean,
  field: string,
  problems: CalendarProblem[],
): { readonly options: ParsedOptions; readonly freq: (typeof FREQUENCIES)[number]; readonly untilUtc: boolean } | null {
  const fail = (message: string): null => {
    problems.push({ field, message: `${message} in RRULE "${text}" (RFC 5545 §3.3.10)` });
    return null;
  };
  const parts = new Map<string, string>();
  for (const part of text.replace(/^RRULE:/i, '').split(';')) {
    const [key, value, ...rest] = part.split('=');
    if (key === undefined || value === undefined || rest.length > 0 || key === '' || value === '') return fail(`"${part}" is not NAME=VALUE`);
    const upper = key.toUpperCase();
    if (!RRULE_PARTS.has(upper)) return fail(`unknown part ${key}${upper === 'DTSTART' || upper === 'TZID' ? ' (set the window\'s `start` and the calendar\'s `timezone` instead)' : ''}`);
    if (parts.has(upper)) return fail(`${upper} given twice`);
    parts.set(upper, value.toUpperCase());
  }
  const freq = parts.get('FREQ');
  if (freq === undefined) return fail('FREQ is missing');
  if (!(FREQUENCIES as readonly string[]).includes(freq)) return fail(`FREQ=${freq} is not supported; use ${FREQUENCIES.join(', ')}`);
  const ranges: Record<string, readonly [number, number]> = {
    INTERVAL: [1, 1000], COUNT: [1, MAX_COUNT], BYHOUR: [0, 23], BYMINUTE: [0, 59], BYSECOND: [0, 59], BYMONTH: [1, 12],
    BYMONTHDAY: [-31, 31], BYYEARDAY: [-366, 366], BYWEEKNO: [-53, 53], BYSETPOS: [-366, 366],
  };
  for (const [key, [min, max]] of Object.entries(ranges)) {
    const value = parts.get(key);
    if (value === undefined) continue;
    for (const item of value.split(',')) {
      const number = /^[+-]?\d+$/.test(item) ? Number(item) : Number.NaN;
      if (!Number.isInteger(number) || number < min || number > max || (number === 0 && min < 0)) return fail(`${key}=${value}: each value must be an integer in ${min}..${max}${min < 0 ? ', not 0' : ''}`);
    }
  }
  const byday = parts.get('BYDAY');
  if (byday !== undefined && !byday.split(',').every((day) => WEEKDAY.test(day))) return fail(`BYDAY=${byday}: expected weekdays MO, TU, WE, TH, FR, SA, SU (optionally with an ordinal, e.g. 1FR or -1SU)`);
  const wkst = parts.get('WKST');
  if (wkst !== undefined && !/^(MO|TU|WE|TH|FR|SA|SU)$/.test(wkst)) return fail(`WKST=${wkst}: expected a weekday MO..SU`);
  const until = parts.get('UNTIL');
  if (until !== undefined && !/^\d{8}(T\d{6}Z?)?$/.test(until)) return fail(`UNTIL=${until}: expected YYYYMMDD or YYYYMMDDTHHMMSS (local) or YYYYMMDDTHHMMSSZ (UTC)`);
  if (parts.has('COUNT') && until !== undefined) return fail('COUNT and UNTIL cannot both be given');
  if (!hasStart && (parts.has('COUNT') || Number(parts.get('INTERVAL') ?? '1') > 1)) {
    return fail(`${parts.has('COUNT') ? 'COUNT' : 'INTERVAL'} counts occurrences from the window's \`start\`; set \`start\` to the local date-time of the first occurrence`);
  }
  let options: ParsedOptions;
  try {
    options = RRule.parseString([...parts].map(([key, value]) => `${key}=${value}`).join(';'));
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error));
  }
  return { options, freq: freq as (typeof FREQUENCIES)[number], untilUtc: until?.endsWith('Z') ?? false };
}

/**
 * The windows of `window` as instant intervals [start, end) that overlap [from, to). Occurrences are
 * searched in floating time with a margin; the recurrence is first moved forward by whole periods
 * (which keeps every occurrence after the new start) so the library does not iterate from `start`.
 */
function intervalsBetween(window: Window, zone: Zone, from: number, to: number): Array<readonly [number, number]> {
  const localFrom = zone.toFloating(from) - window.reachMs;
  const localTo = zone.toFloating(to) + MS_PER_DAY;
  const rule = window.counted ? window.rule : movedForward(window, localFrom);
  const intervals: Array<readonly [number, number]> = [];
  for (const occurrence of rule.between(new Date(localFrom), new Date(localTo), true)) {
    const floating = occurrence.getTime();
    const start = zone.toInstant(floating);
    if (window.untilInstant !== null && start > window.untilInstant) continue;
    const end = zone.toInstant(floating + nominalDays(window.duration) * MS_PER_DAY) + exactMs(window.duration);
    if (end > from && start < to) intervals.push([start, end]);
  }
  return intervals;
}

/** The window's rule with its start moved forward by whole periods to just before `floating`. */
function movedForward(window: Window, floating: number): RRuleInstance {
  if (floating <= window.start) return window.rule;
  const origin = new Date(window.start);
  const target = new Date(floating);
  let periods: number;
  if (window.freq === 'DAILY' || window.freq === 'WEEKLY') {
    const days = window.freq === 'DAILY' ? window.interval : 7 * window.interval;
    periods = Math.floor((floating - window.start) / (days * MS_PER_DAY)) - 1;
    if (periods <= 0) return window.rule;
    return withStart(window.rule, window.start + periods * days * MS_PER_DAY);
  }
  // Months and years: step whole periods, backing off while the start's day does not exist (31st, 29 Feb).
  const months = (target.getUTCFullYear() - origin.getUTCFullYear()) * 12 + (target.getUTCMonth() - origin.getUTCMonth());
  const step = window.freq === 'MONTHLY' ? window.interval : 12 * window.interval;
  for (periods = Math.floor(months / step) - 1; periods > 0; periods--) {
    const shifted = Date.UTC(origin.getUTCFullYear(), origin.getUTCMonth() + periods * step, origin.getUTCDate(), origin.getUTCHours(), origin.getUTCMinutes(), origin.getUTCSeconds());
    if (new Date(shifted).getUTCDate() === origin.getUTCDate()) return withStart(window.rule, shifted);
  }
  return window.rule;
}

function withStart(rule: RRuleInstance, floating: number): RRuleInstance {
  return new RRule({ ...rule.origOptions, dtstart: new Date(floating) });
}

/** Conversions between instants and floating local times of one zone. */
interface Zone {
  /** The wall-clock time of instant `ms` in the zone, as a floating instant. */
  toFloating(ms: number): number;
  /**
   * The instant of floating local time `floating`. A time repeated when clocks go back is its first
   * occurrence; a time skipped when clocks go forward is read with the offset before the gap (so
   * 02:30 on the spring-forward night in Berlin is 03:30 CEST), as RFC 5545 §3.3.5 prescribes.
   */
  toInstant(floating: number): number;
}

const zones = new Map<string, Zone>();

function zoneOf(timezone: string): Zone {
  const known = zones.get(timezone);
  if (known !== undefined) return known;
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone: timezone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
  });
  const toFloating = (ms: number): number => {
    const fields: Record<string, number> = {};
    for (const part of format.formatToParts(ms)) if (part.type !== 'literal') fields[part.type] = Number(part.value);
    const wholeSeconds = Date.UTC(fields.year ?? 1970, (fields.month ?? 1) - 1, fields.day ?? 1, fields.hour ?? 0, fields.minute ?? 0, fields.second ?? 0);
    return wholeSeconds + (((ms % 1000) + 1000) % 1000);
  };
  const offsetAt = (ms: number): number => toFloating(ms) - ms;
  const zone: Zone = {
    toFloating,
    toInstant(floating) {
      const before = offsetAt(floating - MS_PER_DAY);
      const after = offsetAt(floating + MS_PER_DAY);
      const candidates = [floating - before, floating - after].filter((instant) => toFloating(instant) === floating);
      if (candidates.length > 0) return Math.min(...candidates);
      return floating - before; // in a gap: the offset before the transition
    },
  };
  zones.set(timezone, zone);
  return zone;
}
