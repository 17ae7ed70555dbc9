import { z } from 'zod';
import { EFFECTS } from '../review/decision.js';

/**
 * The policy document format (docs/policy.md), in the spirit of Kubernetes
 * ValidatingAdmissionPolicy: `apiVersion`, `kind`, `metadata`, and a `spec` of named calendars and
 * rules whose `match` is a CEL condition. Shape only; calendars and CEL are checked by the compiler.
 *
 * @see https://kubernetes.io/docs/reference/access-authn-authz/validating-admission-policy/
 */

/** The `apiVersion` of every policy document this version understands. */
export const POLICY_API_VERSION = 'interlock.dev/v1';

/** Policy and rule names: a lowercase DNS label (letters, digits, `-`), at most 63 characters. */
const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** Calendar names are CEL identifiers, so a rule can write `calendar.<name>`. */
const CALENDAR_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
/** Approver group names: letters, digits, `.`, `_`, `-`, `:` and `/` (e.g. `change-board`, `oidc:sre`). */
const GROUP = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;

const name = (what: string) =>
  z.string().regex(NAME, `${what} must be a lowercase DNS label: letters a-z, digits and "-", starting and ending with a letter or digit, at most 63 characters`);

/** A recurring window of a calendar. */
const WindowSchema = z.strictObject({
  rrule: z.string().min(1).describe('RFC 5545 RRULE of the local start times, e.g. FREQ=WEEKLY;BYDAY=FR;BYHOUR=16;BYMINUTE=0'),
  duration: z.string().min(1).describe('ISO 8601 duration of each window, e.g. P2DT16H (days nominal, hours exact)'),
  start: z.string().min(1).optional().describe('Local date-time the recurrence counts from, YYYY-MM-DDTHH:MM[:SS]'),
});

/** A named calendar: windows in one IANA time zone. */
const CalendarSchema = z.strictObject({
  description: z.string().optional(),
  timezone: z.string().min(1).describe('IANA time zone of the windows, e.g. Europe/Berlin'),
  windows: z.array(WindowSchema).min(1, 'a calendar needs at least one window'),
});

/** What a `require_approval` rule asks of the approval. */
const ApprovalSchema = z.strictObject({
  quorum: z.int().min(1).max(100).default(1).describe('Approvals needed (M of M-of-N)'),
  groups: z.array(z.string().regex(GROUP, 'a group name: letters, digits, ".", "_", ":", "/" or "-"')).default([]).describe('Groups whose members may approve; empty: any approver'),
  expiresIn: z.string().min(1).optional().describe('ISO 8601 duration the request stays open, e.g. PT4H'),
});

/** One rule: a CEL condition and the effect it contributes when true. */
const RuleSchema = z.strictObject({
  name: name('a rule name'),
  description: z.string().optional(),
  match: z.string().min(1, 'match must be a CEL condition').describe('CEL condition over the typed environment'),
  effect: z.enum(EFFECTS, { error: () => `effect must be one of ${EFFECTS.join(', ')}` }),
  approval: ApprovalSchema.optional(),
  message: z.string().min(1).optional().describe('Why, in words a person reads on the mission'),
});

/** A policy document, after defaults (`spec.calendars` `{}`, `spec.rules` `[]`, approval quorum 1 and groups `[]`). */
export const PolicyDocumentSchema = z.strictObject({
  apiVersion: z.literal(POLICY_API_VERSION, { error: () => `apiVersion must be ${POLICY_API_VERSION}` }),
  kind: z.literal('Policy', { error: () => 'kind must be Policy' }),
  metadata: z.strictObject({
    name: name('a policy name').refine((value) => value !== 'default', 'the policy name "default" is reserved for the default decisions (rule ids default/<risk>)'),
    description: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
  }),
  spec: z.strictObject({
    calendars: z.record(z.string().regex(CALENDAR_NAME, 'a calendar name must be a CEL identifier (letters, digits and "_", not starting with a digit) so rules can write calendar.<name>'), CalendarSchema).default({}),
    rules: z.array(RuleSchema).default([]),
  }),
});

/** A shape-checked policy document. */
export type PolicyDocument = z.output<typeof PolicyDocumentSchema>;
/** One rule of a {@link PolicyDocument}. */
export type PolicyRuleSpec = PolicyDocument['spec']['rules'][number];
/** One calendar of a {@link PolicyDocument}. */
export type PolicyCalendarSpec = PolicyDocument['spec']['calendars'][string];

/** Every field name of the format, for "did you mean" hints on unknown fields. */
export const DOCUMENT_FIELDS: readonly string[] = [
  'apiVersion', 'kind', 'metadata', 'spec', 'name', 'description', 'labels', 'calendars', 'rules', 'timezone', 'windows', 'rrule', 'duration', 'start',
  'match', 'effect', 'approval', 'message', 'quorum', 'groups', 'expiresIn',
];
