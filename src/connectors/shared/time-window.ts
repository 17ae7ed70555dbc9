import { z } from 'zod';
import { InputError } from '../../core/errors.js';

/**
 * Time windows of the evidence connectors (`changes`, `logs`): an instant as a tool takes it, and
 * the checks of a `[since, until]` window against a connector's `maxRangeMs`.
 */

/** Latest instant a `Date` can hold, ms since the Unix epoch (year 275760). */
const MAX_DATE_MS = 8_640_000_000_000_000;

/** 2000-01-01T00:00:00Z in ms: a smaller integer is almost surely seconds, not ms. */
const MIN_EPOCH_MS = 946_684_800_000;

/**
 * An instant as a tool input: an RFC 3339 date-time with a time zone (`2024-05-01T10:00:00Z`,
 * `2024-05-01T12:00:00.250+02:00`) or an integer of ms since the Unix epoch, from the year 2000 on
 * (a smaller integer is almost surely seconds, and is refused).
 */
export const InstantSchema = z.union([
  z.iso.datetime({ offset: true }),
  z.int().min(MIN_EPOCH_MS, { error: 'ms since the Unix epoch, from the year 2000 on (seconds are refused)' }).max(MAX_DATE_MS),
]).describe('An instant: RFC 3339 with a time zone (2024-05-01T10:00:00Z) or ms since the Unix epoch.');

/** An instant as a tool input (see {@link InstantSchema}). */
export type Instant = z.output<typeof InstantSchema>;

/** ms since the Unix epoch of an {@link Instant}. */
export function instantMs(value: Instant): number {
  return typeof value === 'number' ? value : Date.parse(value);
}

/** An instant in tool output: RFC 3339 in UTC with ms, e.g. `2024-05-01T10:00:00.000Z`. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * How much older than a window's start a record of an append-only file (log line, deploy record) may
 * be before a backward read stops: records appended out of order by less than this (threads,
 * buffered writers, several deploy jobs) are still found.
 */
export const ORDER_TOLERANCE_MS = 5 * 60_000;

/** A window's inputs: `since` required, `until` defaulting to now. */
export interface WindowArgs {
  readonly since: Instant;
  readonly until?: Instant | undefined;
}

/** A resolved window, ms since the Unix epoch, both ends included. */
export interface TimeWindow {
  readonly since: number;
  readonly until: number;
}

/**
 * The problems of a window, as field issues: `since` after `until`, or a range longer than
 * `maxRangeMs`. `until` unset means `now`.
 */
export function windowIssues(args: WindowArgs, maxRangeMs: number, now: number): Array<{ path: string; message: string; expected: string; received: string }> {
  const since = instantMs(args.since);
  const until = args.until === undefined ? now : instantMs(args.until);
  if (since > until) {
    return [{ path: 'since', message: 'is after until', expected: `an instant at or before ${isoTime(until)}`, received: isoTime(since) }];
  }
  if (until - since > maxRangeMs) {
    return [{ path: 'since', message: `the window is longer than ${maxRangeMs} ms (maxRangeMs)`, expected: `an instant at or after ${isoTime(until - maxRangeMs)}`, received: isoTime(since) }];
  }
  return [];
}

/**
 * Adds {@link windowIssues} to a Zod refinement context, so an input schema names the field (used in
 * the `superRefine` of each tool's input).
 */
export function refineWindow(args: WindowArgs, ctx: z.RefinementCtx, maxRangeMs: number, now: number): void {
  // A field that is not a valid instant has its own issue already.
  if (!InstantSchema.safeParse(args.since).success || (args.until !== undefined && !InstantSchema.safeParse(args.until).success)) return;
  for (const issue of windowIssues(args, maxRangeMs, now)) {
    ctx.addIssue({ code: 'custom', path: [issue.path], input: args.since, params: { expected: issue.expected }, message: issue.message });
  }
}

/**
 * The window of a call, `until` defaulting to `now`. Checked again when the call runs (time has passed
 * since its arguments were validated). Throws `TOOL_ARGS_INVALID` naming `since` when it no longer fits.
 */
export function resolveWindow(args: WindowArgs, maxRangeMs: number, now: number): TimeWindow {
  const issues = windowIssues(args, maxRangeMs, now);
  if (issues.length > 0) {
    throw new InputError('TOOL_ARGS_INVALID', `The time window is invalid: ${issues.map((issue) => `${issue.path} ${issue.message}`).join('; ')}; narrow it.`, issues);
  }
  return { since: instantMs(args.since), until: args.until === undefined ? now : instantMs(args.until) };
}
