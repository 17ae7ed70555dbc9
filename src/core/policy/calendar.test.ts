import fc from 'fast-check';
import * as rruleModule from 'rrule';
import { describe, expect, it } from 'vitest';
import { compileCalendar, type Calendar, type CalendarWindowSpec } from './calendar.js';
import { formatDurationMs, parseIsoDuration } from './duration.js';

const RRule: typeof rruleModule.RRule =
  rruleModule.RRule ?? (rruleModule as unknown as { readonly default: typeof rruleModule }).default.RRule;

function calendar(timezone: string, ...windows: CalendarWindowSpec[]): Calendar {
  const result = compileCalendar('c', { timezone, windows });
  if (result.calendar === null) throw new Error(JSON.stringify(result.problems));
  return result.calendar;
}

const at = (iso: string): number => Date.parse(iso);

describe('calendars in Europe/Berlin across daylight-saving changes', () => {
  // Clocks go forward on Sunday 29 March 2026 (02:00 CET -> 03:00 CEST) and back on Sunday 25 October 2026.
  const weekend = (duration: string) => calendar('Europe/Berlin', { rrule: 'FREQ=WEEKLY;BYDAY=FR;BYHOUR=16;BYMINUTE=0', duration });

  it('starts at 16:00 local time in winter and in summer', () => {
    const freeze = weekend('P2DT16H');
    expect(freeze.contains(at('2026-03-20T14:59:59Z'))).toBe(false);
    expect(freeze.contains(at('2026-03-20T15:00:00Z'))).toBe(true); // 16:00 CET
    expect(freeze.contains(at('2026-04-03T13:59:59Z'))).toBe(false);
    expect(freeze.contains(at('2026-04-03T14:00:00Z'))).toBe(true); // 16:00 CEST
  });

  it('ends nominal days at the same wall-clock time (P2DT16H: Monday 08:00 local) across spring forward and fall back', () => {
    const freeze = weekend('P2DT16H');
    expect(freeze.contains(at('2026-03-30T05:59:59Z'))).toBe(true); // 07:59:59 CEST
    expect(freeze.contains(at('2026-03-30T06:00:00Z'))).toBe(false); // 08:00 CEST
    expect(freeze.contains(at('2026-10-26T06:59:59Z'))).toBe(true); // 07:59:59 CET
    expect(freeze.contains(at('2026-10-26T07:00:00Z'))).toBe(false); // 08:00 CET
  });

  it('counts exact hours as elapsed time (PT64H: one hour longer in wall-clock terms in spring, one shorter in autumn)', () => {
    const freeze = weekend('PT64H');
    expect(freeze.contains(at('2026-03-30T06:59:59Z'))).toBe(true); // 08:59:59 CEST
    expect(freeze.contains(at('2026-03-30T07:00:00Z'))).toBe(false);
    expect(freeze.contains(at('2026-10-26T05:59:59Z'))).toBe(true); // 06:59:59 CET
    expect(freeze.contains(at('2026-10-26T06:00:00Z'))).toBe(false);
  });

  it('starts a window whose local start is skipped (02:30 on the spring-forward night) with the offset before the gap', () => {
    const nightly = calendar('Europe/Berlin', { rrule: 'FREQ=DAILY;BYHOUR=2;BYMINUTE=30', duration: 'PT30M' });
    expect(nightly.contains(at('2026-03-28T01:30:00Z'))).toBe(true); // 02:30 CET the day before
    expect(nightly.contains(at('2026-03-29T01:29:59Z'))).toBe(false);
    expect(nightly.contains(at('2026-03-29T01:30:00Z'))).toBe(true); // 02:30 read as CET = 03:30 CEST (RFC 5545 §3.3.5)
    expect(nightly.contains(at('2026-03-29T02:00:00Z'))).toBe(false);
  });

  it('starts a window whose local start is repeated (02:30 on the fall-back night) at its first occurrence', () => {
    const nightly = calendar('Europe/Berlin', { rrule: 'FREQ=DAILY;BYHOUR=2;BYMINUTE=30', duration: 'PT30M' });
    expect(nightly.contains(at('2026-10-25T00:30:00Z'))).toBe(true); // 02:30 CEST
    expect(nightly.contains(at('2026-10-25T01:30:00Z'))).toBe(false); // 02:30 CET, the repetition
  });
});

describe('calendar recurrences', () => {
  it('honours INTERVAL from start, COUNT, and UNTIL in UTC or local time', () => {
    const fortnightly = calendar('UTC', { rrule: 'FREQ=WEEKLY;INTERVAL=2;BYDAY=MO;BYHOUR=9', duration: 'PT1H', start: '2026-01-05T09:00' });
    expect(fortnightly.contains(at('2026-01-05T09:30:00Z'))).toBe(true);
    expect(fortnightly.contains(at('2026-01-12T09:30:00Z'))).toBe(false);
    expect(fortnightly.contains(at('2026-01-19T09:30:00Z'))).toBe(true);
    expect(fortnightly.contains(at('2031-06-30T09:30:00Z'))).toBe(true); // 286 weeks later
    const thrice = calendar('UTC', { rrule: 'FREQ=DAILY;COUNT=3;BYHOUR=0', duration: 'PT1H', start: '2026-01-01T00:00' });
    expect([1, 2, 3, 4].map((day) => thrice.contains(at(`2026-01-0${day}T00:30:00Z`)))).toEqual([true, true, true, false]);
    const untilUtc = calendar('Europe/Berlin', { rrule: 'FREQ=DAILY;BYHOUR=12;UNTIL=20260110T110000Z', duration: 'PT1H' });
    expect(untilUtc.contains(at('2026-01-10T11:30:00Z'))).toBe(true); // 12:00 CET = 11:00Z, the last
    expect(untilUtc.contains(at('2026-01-11T11:30:00Z'))).toBe(false);
    const untilLocal = calendar('Europe/Berlin', { rrule: 'FREQ=DAILY;BYHOUR=12;UNTIL=20260110T115959', duration: 'PT1H' });
    expect(untilLocal.contains(at('2026-01-09T11:30:00Z'))).toBe(true);
    expect(untilLocal.contains(at('2026-01-10T11:30:00Z'))).toBe(false);
  });

  it('answers the same whether the start is near or far: moving the recurrence forward keeps every occurrence', () => {
    // UTC, so the expectation is the library's own occurrences from the original start, no zone conversion.
    const specs: Array<CalendarWindowSpec & { readonly reachMs: number }> = [
      { rrule: 'FREQ=DAILY;BYHOUR=22', duration: 'PT3H', reachMs: 3 * 3_600_000 },
      { rrule: 'FREQ=WEEKLY;BYDAY=FR;BYHOUR=16', duration: 'P2DT16H', reachMs: 64 * 3_600_000 },
      { rrule: 'FREQ=WEEKLY;INTERVAL=3;BYDAY=TU,TH', duration: 'PT8H', start: '2015-03-03T06:00', reachMs: 8 * 3_600_000 },
      { rrule: 'FREQ=MONTHLY;BYMONTHDAY=-1;BYHOUR=20', duration: 'P1D', reachMs: 24 * 3_600_000 },
      { rrule: 'FREQ=MONTHLY', duration: 'PT12H', start: '2015-01-31T08:00', reachMs: 12 * 3_600_000 },
      { rrule: 'FREQ=YEARLY', duration: 'P3D', start: '2016-02-29T00:00', reachMs: 72 * 3_600_000 },
      { rrule: 'FREQ=YEARLY;INTERVAL=2;BYMONTH=12;BYMONTHDAY=20', duration: 'P14D', start: '2015-12-20T00:00', reachMs: 14 * 86_400_000 },
    ];
    for (const spec of specs) {
      const compiled = calendar('UTC', spec);
      const options = RRule.parseString(spec.rrule);
      const start = spec.start === undefined ? Date.UTC(2000, 0, 3) : Date.parse(`${spec.start}Z`);
      const reference = new RRule({ ...options, dtstart: new Date(start) });
      fc.assert(
        fc.property(fc.integer({ min: Date.UTC(2024, 0, 1), max: Date.UTC(2032, 0, 1) }), (time) => {
          const expected = reference.between(new Date(time - spec.reachMs), new Date(time), true).some((occurrence) => time < occurrence.getTime() + spec.reachMs);
          expect(compiled.contains(time), `${spec.rrule} at ${new Date(time).toISOString()}`).toBe(expected);
        }),
        { numRuns: 40, seed: 5545 },
      );
    }
  });

  it('reports every problem of a calendar with the field at fault', () => {
    const result = compileCalendar('c', {
      timezone: 'Mars/Olympus',
      windows: [
        { rrule: 'FREQ=WEEKLY;TZID=Europe/Berlin', duration: 'P1M' },
        { rrule: 'BYDAY=MO', duration: 'PT0S', start: '2026-02-30T00:00' },
        { rrule: 'FREQ=DAILY;COUNT=2;UNTIL=20260101', duration: 'P500D', start: '2026-01-01T00:00' },
      ],
    });
    expect(result.problems.map((problem) => `${problem.field}: ${problem.message}`)).toEqual([
      'timezone: unknown time zone "Mars/Olympus"; use an IANA name such as Europe/Berlin or UTC',
      'windows.0.duration: "P1M" is not an ISO 8601 duration of weeks (P2W) or of days, hours, minutes and seconds (P2DT16H, PT4H, PT30M); years, months and fractions are not accepted',
      "windows.0.rrule: unknown part TZID (set the window's `start` and the calendar's `timezone` instead) in RRULE \"FREQ=WEEKLY;TZID=Europe/Berlin\" (RFC 5545 §3.3.10)",
      'windows.1.duration: "PT0S" is a zero duration; give a positive one',
      "windows.1.start: \"2026-02-30T00:00\" is not a local date-time YYYY-MM-DDTHH:MM[:SS] without offset (it is read in the calendar's time zone)",
      'windows.1.rrule: FREQ is missing in RRULE "BYDAY=MO" (RFC 5545 §3.3.10)',
      'windows.2.duration: a window may last at most 400 days; got P500D',
      'windows.2.rrule: COUNT and UNTIL cannot both be given in RRULE "FREQ=DAILY;COUNT=2;UNTIL=20260101" (RFC 5545 §3.3.10)',
    ]);
  });
});

describe('ISO 8601 durations', () => {
  it('parses weeks, days and time parts, and refuses years, months, fractions and zero', () => {
    expect(parseIsoDuration('P2DT16H')).toEqual({ ok: true, value: { weeks: 0, days: 2, hours: 16, minutes: 0, seconds: 0 } });
    expect(parseIsoDuration('P2W')).toEqual({ ok: true, value: { weeks: 2, days: 0, hours: 0, minutes: 0, seconds: 0 } });
    expect(parseIsoDuration('PT1H30M15S')).toMatchObject({ ok: true, value: { hours: 1, minutes: 30, seconds: 15 } });
    for (const bad of ['P1Y', 'P1M', 'PT1.5H', 'P', 'PT', 'P1DT', '4h', 'PT0S', '-PT1H', 'P1W2D']) expect(parseIsoDuration(bad).ok, bad).toBe(false);
    expect(formatDurationMs(90 * 60_000)).toBe('PT1H30M');
    expect(formatDurationMs(86_400_000 + 1000)).toBe('P1DT1S');
  });
});
