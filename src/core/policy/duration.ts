/**
 * ISO 8601 durations as policy documents write them (`PT4H`, `P2DT16H`, `P1W`): weeks and days are
 * *nominal* (a calendar day, 23 or 25 hours across a daylight-saving change), hours, minutes and
 * seconds are *exact*, as RFC 5545 §3.3.6 defines for iCalendar durations.
 *
 * @see https://www.rfc-editor.org/rfc/rfc5545#section-3.3.6 (RFC 5545, DURATION)
 * @see ISO 8601-1:2019 §5.5.2 (durations)
 */

/** A parsed duration: nominal weeks and days, exact hours, minutes and seconds (non-negative integers). */
export interface IsoDuration {
  readonly weeks: number;
  readonly days: number;
  readonly hours: number;
  readonly minutes: number;
  readonly seconds: number;
}

const MS_PER_SECOND = 1000;
const MS_PER_MINUTE = 60 * MS_PER_SECOND;
const MS_PER_HOUR = 60 * MS_PER_MINUTE;
/** A nominal day counted as 24 hours, where no time zone gives it a length. */
export const MS_PER_DAY = 24 * MS_PER_HOUR;

// P[nW] alone, or P[nD][T[nH][nM][nS]] with at least one part; integers only.
const PATTERN = /^P(?:(\d+)W|(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?)$/;

/**
 * Parses an ISO 8601 duration of weeks (`P2W`) or of days, hours, minutes and seconds (`P1DT4H30M`,
 * `PT90S`). Years and months (`P1Y`, `P1M`) and fractions are not accepted: their length is ambiguous.
 *
 * @returns the duration, or a message saying what is wrong (never throws).
 */
export function parseIsoDuration(text: string): { readonly ok: true; readonly value: IsoDuration } | { readonly ok: false; readonly message: string } {
  const match = PATTERN.exec(text);
  const invalid = {
    ok: false as const,
    message: `"${text}" is not an ISO 8601 duration of weeks (P2W) or of days, hours, minutes and seconds (P2DT16H, PT4H, PT30M); years, months and fractions are not accepted`,
  };
  if (match === null || text === 'P' || text.endsWith('T')) return invalid;
  const [, weeks, days, hours, minutes, seconds] = match;
  const value: IsoDuration = { weeks: int(weeks), days: int(days), hours: int(hours), minutes: int(minutes), seconds: int(seconds) };
  if (value.weeks + value.days + value.hours + value.minutes + value.seconds === 0) return { ok: false, message: `"${text}" is a zero duration; give a positive one` };
  return { ok: true, value };
}

function int(part: string | undefined): number {
  return part === undefined ? 0 : Number(part);
}

/** The nominal part of `duration` in days (weeks × 7 + days). */
export function nominalDays(duration: IsoDuration): number {
  return duration.weeks * 7 + duration.days;
}

/** The exact part of `duration` (hours, minutes, seconds), ms. */
export function exactMs(duration: IsoDuration): number {
  return duration.hours * MS_PER_HOUR + duration.minutes * MS_PER_MINUTE + duration.seconds * MS_PER_SECOND;
}

/** `duration` in ms, counting each nominal day as 24 hours (for expiries, which have no time zone). */
export function durationMs(duration: IsoDuration): number {
  return nominalDays(duration) * MS_PER_DAY + exactMs(duration);
}

/** `ms` as a short ISO 8601 duration (`PT4H`, `P1DT30M`, `PT0.5S` never: whole seconds), for messages and explanations. */
export function formatDurationMs(ms: number): string {
  let rest = Math.round(ms / MS_PER_SECOND);
  const days = Math.floor(rest / 86_400);
  rest -= days * 86_400;
  const hours = Math.floor(rest / 3600);
  rest -= hours * 3600;
  const minutes = Math.floor(rest / 60);
  const seconds = rest - minutes * 60;
  const time = `${hours > 0 ? `${hours}H` : ''}${minutes > 0 ? `${minutes}M` : ''}${seconds > 0 ? `${seconds}S` : ''}`;
  if (days === 0 && time === '') return 'PT0S';
  return `P${days > 0 ? `${days}D` : ''}${time === '' ? '' : `T${time}`}`;
}
