import { z } from 'zod';
import type { Issue } from '../errors.js';
import { RISK_CLASSES } from '../tools/tool.js';
import { toIssues } from '../validation.js';
import type { PolicyInput } from './policy.js';

/**
 * A {@link PolicyInput} as people write it in policy test files and for `interlock policy explain`:
 * every field may be omitted and gets a neutral default, `time` may be an ISO 8601 timestamp, and an
 * unknown field is an error (so a typo cannot silently test something else).
 */

/** The `time` of an input that gives none: Wednesday 2026-01-07 12:00 UTC, outside the example windows. */
export const DEFAULT_INPUT_TIME = '2026-01-07T12:00:00Z';

const labels = z.record(z.string(), z.string()).default({});
const nullableString = z.string().nullable().default(null);

/** The input schema with its defaults; `risk` and `tool.risk` default to each other, then to `read`. */
export const PolicyInputSchema = z
  .strictObject({
    tool: z
      .strictObject({
        name: z.string().min(1).default('test.tool'),
        risk: z.enum(RISK_CLASSES).optional(),
        idempotent: z.boolean().default(false),
        permission: z.string().default(''),
      })
      .prefault({}),
    args: z.record(z.string(), z.unknown()).default({}),
    risk: z.enum(RISK_CLASSES).optional(),
    target: z.strictObject({ service: nullableString, environment: nullableString, tier: nullableString, labels }).prefault({}),
    mission: z
      .strictObject({
        id: z.string().min(1).default('mission-1'),
        project: z.string().min(1).default('default'),
        requester: z.string().min(1).default('tester'),
        agent: nullableString,
        confidence: z.number().min(0).max(1).nullable().default(null),
        hypothesis: nullableString,
        labels,
        blastRadius: z.int().min(0).default(1),
      })
      .prefault({}),
    time: z
      .union([z.iso.datetime({ offset: true }), z.int()], { error: () => 'time must be an ISO 8601 timestamp with offset (2026-03-27T17:00:00Z) or ms since the epoch' })
      .default(DEFAULT_INPUT_TIME)
      .transform((time) => (typeof time === 'number' ? time : Date.parse(time))),
    state: z.record(z.string(), z.unknown()).default({}),
  })
  .transform((input): PolicyInput => {
    const risk = input.risk ?? input.tool.risk ?? 'read';
    return { ...input, risk, tool: { ...input.tool, risk: input.tool.risk ?? risk } };
  });

/**
 * Parses an input with defaults for omitted fields.
 * @returns the input, or every problem (paths prefixed with `prefix`).
 */
export function parsePolicyInput(value: unknown, prefix = 'input'): { readonly ok: true; readonly input: PolicyInput } | { readonly ok: false; readonly issues: readonly Issue[] } {
  const result = PolicyInputSchema.safeParse(value ?? {}, { reportInput: true });
  return result.success ? { ok: true, input: result.data } : { ok: false, issues: toIssues(result.error, prefix) };
}
