/**
 * RFC 3339 timestamps as senders write them (Alertmanager: Go's `time.Time` JSON, with up to nine
 * fraction digits and any offset) to ms since the Unix epoch, UTC.
 */

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/;

/** Go's zero `time.Time`, which Alertmanager sends as `endsAt` of an alert that has no end yet. */
export const GO_ZERO_TIME = '0001-01-01T00:00:00Z';

/**
 * Parses an RFC 3339 date-time (RFC 3339 §5.6; `T` or a space between date and time, `Z` or an
 * offset; fraction digits beyond milliseconds are truncated).
 *
 * @returns ms since the epoch, or undefined when `text` is not an RFC 3339 date-time or names an
 *   impossible date (month 13, February 30, hour 24).
 */
export function parseRfc3339(text: string): number | undefined {
  const match = RFC3339.exec(text);
  if (match === null) return undefined;
  const [, y, mo, d, h, mi, s, fraction = '', offset] = match as unknown as [string, string, string, string, string, string, string, string | undefined, string];
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 60) return undefined;
  const utc = Date.UTC(year, month - 1, day, hour, minute, Math.min(second, 59), Number(fraction.padEnd(3, '0').slice(0, 3)));
  const date = new Date(utc);
  // Date.UTC maps years 0..99 to 1900..1999; set the full year back.
  date.setUTCFullYear(year, month - 1, day);
  if (date.getUTCDate() !== day) return undefined;
  const sign = offset.startsWith('-') ? -1 : 1;
  const offsetMs = /^[Zz]$/.test(offset) ? 0 : sign * (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(4, 6))) * 60_000;
  return date.getTime() - offsetMs;
}
