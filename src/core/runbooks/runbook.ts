/**
 * Runbooks (DESIGN.md, "Runbook"): versioned, reviewable YAML documents that map a diagnosis to a plan
 * of tool calls with its verification. A runbook matches the top hypothesis of an incident's diagnosis
 * by kind, confidence and service; rendering it fills the placeholders of its plan and verification
 * with the incident's values and gives a mission request, which then passes review like any other.
 * Pure: parsing, checking, matching and rendering; reading files is the loader's job.
 */
import { z } from 'zod';
import { HYPOTHESIS_KINDS, type HypothesisKind } from '../diagnosis/hypothesis.js';
import { MAX_VERIFICATION_MS, type MissionRequestInput } from '../missions/mission.js';

const SLUG = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** A `${name}` placeholder: `service`, `incident`, `tier`, `hypothesis.kind`, `hypothesis.summary` or `vars.<key>`. */
const PLACEHOLDER = /\$\{([^}]*)\}/g;

/** The names a placeholder may use besides `vars.<key>`. */
export const RUNBOOK_VARIABLES = ['service', 'incident', 'tier', 'hypothesis.kind', 'hypothesis.summary', 'hypothesis.confidence'] as const;

const VAR_KEY = /^vars\.[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** Every placeholder name in `value` (strings inside objects and arrays too), with its path. */
export function placeholders(value: unknown, path: readonly (string | number)[] = []): Array<{ path: readonly (string | number)[]; name: string }> {
  if (typeof value === 'string') return [...value.matchAll(PLACEHOLDER)].map((match) => ({ path, name: (match[1] ?? '').trim() }));
  if (Array.isArray(value)) return value.flatMap((item, index) => placeholders(item, [...path, index]));
  if (value !== null && typeof value === 'object') return Object.entries(value).flatMap(([key, item]) => placeholders(item, [...path, key]));
  return [];
}

function isKnownPlaceholder(name: string): boolean {
  return (RUNBOOK_VARIABLES as readonly string[]).includes(name) || VAR_KEY.test(name);
}

const StepSchema = z.object({
  id: z.string().regex(SLUG, 'a lowercase slug: letters, digits, "_" or "-", at most 63 characters').optional(),
  tool: z.string().min(1).max(200).describe('A tool in the catalog.'),
  args: z.record(z.string(), z.unknown()).default({}).describe('Arguments; strings may hold ${service}, ${vars.<key>}, ... placeholders.'),
}).strict();

const VerificationSchema = StepSchema.extend({
  windowMs: z.int().min(0).max(MAX_VERIFICATION_MS).default(0),
  intervalMs: z.int().min(100).max(600_000).default(1000),
  timeoutMs: z.int().min(1000).max(MAX_VERIFICATION_MS).default(60_000),
}).strict();

/** A runbook document as written in YAML, checked (placeholders included) but not yet rendered. */
export const RunbookSchema = z.object({
  apiVersion: z.literal('interlock.dev/v1'),
  kind: z.literal('Runbook'),
  metadata: z.object({
    name: z.string().regex(SLUG, 'a lowercase slug: letters, digits, "_" or "-", at most 63 characters'),
    version: z.int().min(1).describe('Bumped with every change; recorded on each mission it starts.'),
    description: z.string().max(2000).optional(),
  }).strict(),
  spec: z.object({
    match: z.object({
      hypothesis: z.enum(HYPOTHESIS_KINDS).describe('The kind of the top hypothesis this runbook handles.'),
      minConfidence: z.number().min(0).max(1).default(0.5).describe('Least confidence of that hypothesis, 0..1.'),
      services: z.array(z.string().min(1).max(200)).max(100).optional().describe('Only these services; any when left out.'),
    }).strict(),
    title: z.string().min(1).max(200).optional().describe('Title of the missions it starts; may hold placeholders.'),
    plan: z.array(StepSchema).min(1).max(20).describe('The tool calls, in order.'),
    verify: z.array(VerificationSchema).max(10).default([]).describe('Checks over a window after the plan ran (read tools answering ok and observed).'),
    followUp: z.object({
      afterMs: z.int().min(60_000).max(7 * 24 * 3_600_000).describe('How long after the remediation the follow-up is due, ms (the quiet period).'),
      title: z.string().min(1).max(200).optional(),
      plan: z.array(StepSchema).min(1).max(20),
      verify: z.array(VerificationSchema).min(1).max(10).describe('Checks after the follow-up ran; when they fail, it is compensated (the remediation\'s state comes back) and escalates.'),
    }).strict().optional().describe('A mission due afterMs after the remediation, e.g. to revert a temporary change after a quiet period.'),
  }).strict(),
}).strict().superRefine((runbook, ctx) => {
  for (const found of placeholders(runbook.spec)) {
    if (!isKnownPlaceholder(found.name)) {
      ctx.addIssue({ code: 'custom', path: ['spec', ...found.path], message: `unknown placeholder \${${found.name}}: use ${RUNBOOK_VARIABLES.map((name) => `\${${name}}`).join(', ')} or \${vars.<key>}` });
    }
  }
  if (runbook.spec.verify.length === 0) {
    ctx.addIssue({ code: 'custom', path: ['spec', 'verify'], message: 'a runbook must verify its outcome (DESIGN.md: a tool\'s own "success" is never proof); add at least one check' });
  }
});

/** A checked runbook. */
export type Runbook = z.output<typeof RunbookSchema>;

/** The hypothesis a runbook is matched against: the top one of a diagnosis. */
export interface MatchedHypothesis {
  readonly kind: HypothesisKind;
  readonly service: string | null;
  readonly confidence: number;
  readonly summary: string;
}

/** Why each runbook did or did not match, for the record. */
export interface RunbookSelection {
  readonly runbook: Runbook | undefined;
  /** In words: which runbook matched, or why none did. */
  readonly reason: string;
}

/**
 * The runbook for a hypothesis: of those whose `match` holds (same kind, confidence at least
 * `minConfidence`, service listed when a list is given), the one with the most specific match (a
 * service list beats none), then the highest `minConfidence`, then the name. None when no runbook
 * matches or the hypothesis names no service.
 */
export function selectRunbook(runbooks: readonly Runbook[], hypothesis: MatchedHypothesis): RunbookSelection {
  const what = `${hypothesis.kind}${hypothesis.service === null ? '' : ` in ${hypothesis.service}`} (confidence ${hypothesis.confidence.toFixed(2)})`;
  const ofKind = runbooks.filter((runbook) => runbook.spec.match.hypothesis === hypothesis.kind);
  if (ofKind.length === 0) return { runbook: undefined, reason: `no runbook handles ${hypothesis.kind}` };
  if (hypothesis.service === null) return { runbook: undefined, reason: `the hypothesis ${what} names no service to act on` };
  const service = hypothesis.service;
  const forService = ofKind.filter((runbook) => runbook.spec.match.services === undefined || runbook.spec.match.services.includes(service));
  if (forService.length === 0) return { runbook: undefined, reason: `no runbook for ${hypothesis.kind} covers service ${service} (${ofKind.map((r) => r.metadata.name).join(', ')} list other services)` };
  const sure = forService.filter((runbook) => hypothesis.confidence >= runbook.spec.match.minConfidence);
  if (sure.length === 0) {
    const least = Math.min(...forService.map((runbook) => runbook.spec.match.minConfidence));
    return { runbook: undefined, reason: `the hypothesis ${what} is below the ${least.toFixed(2)} confidence its runbooks need` };
  }
  const [best] = [...sure].sort((a, b) =>
    Number(b.spec.match.services !== undefined) - Number(a.spec.match.services !== undefined)
    || b.spec.match.minConfidence - a.spec.match.minConfidence
    || a.metadata.name.localeCompare(b.metadata.name));
  return { runbook: best, reason: `runbook ${best!.metadata.name} v${best!.metadata.version} handles ${what}` };
}

/** What fills a runbook's placeholders. */
export interface RunbookBindings {
  readonly incident: string;
  readonly service: string;
  readonly tier: string | null;
  readonly hypothesis: MatchedHypothesis;
  /** Per-site values (`runbooks.vars.<service>` in the configuration): addresses, limits, names. */
  readonly vars: Readonly<Record<string, string | number | boolean>>;
}

/** Thrown by {@link renderRunbook} when a placeholder has no value (a `vars` key the site does not define). */
export class RunbookRenderError extends Error {
  constructor(message: string, readonly missing: readonly string[]) {
    super(message);
    this.name = 'RunbookRenderError';
  }
}

function valueOf(name: string, bindings: RunbookBindings): string | number | boolean | undefined {
  switch (name) {
    case 'service': return bindings.service;
    case 'incident': return bindings.incident;
    case 'tier': return bindings.tier ?? undefined;
    case 'hypothesis.kind': return bindings.hypothesis.kind;
    case 'hypothesis.summary': return bindings.hypothesis.summary;
    case 'hypothesis.confidence': return bindings.hypothesis.confidence;
    default: return name.startsWith('vars.') ? bindings.vars[name.slice('vars.'.length)] : undefined;
  }
}

/**
 * Fills every placeholder. A string that is exactly one placeholder takes the value's type (so
 * `size: ${vars.poolMax}` is a number); inside a longer string the value is written as text.
 * @throws RunbookRenderError naming every placeholder without a value.
 */
function fill(value: unknown, bindings: RunbookBindings, missing: Set<string>): unknown {
  if (typeof value === 'string') {
    const whole = /^\$\{([^}]*)\}$/.exec(value);
    if (whole !== null) {
      const name = (whole[1] ?? '').trim();
      const found = valueOf(name, bindings);
      if (found === undefined) missing.add(name);
      return found ?? value;
    }
    return value.replace(PLACEHOLDER, (text, raw: string) => {
      const found = valueOf(raw.trim(), bindings);
      if (found === undefined) missing.add(raw.trim());
      return found === undefined ? text : String(found);
    });
  }
  if (Array.isArray(value)) return value.map((item) => fill(item, bindings, missing));
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, fill(item, bindings, missing)]));
  return value;
}

/**
 * The follow-up mission request of a runbook (`spec.followUp`), due `afterMs` after `now` (ms), with
 * the same placeholders and labels as the remediation plus `followUp: "true"`; undefined without one.
 * @throws RunbookRenderError when a placeholder has no value.
 */
export function renderFollowUp(runbook: Runbook, bindings: RunbookBindings, now: number): Omit<MissionRequestInput, 'project' | 'idempotencyKey'> | undefined {
  const followUp = runbook.spec.followUp;
  if (followUp === undefined) return undefined;
  const missing = new Set<string>();
  const steps = fill(followUp.plan, bindings, missing) as MissionRequestInput['steps'];
  const verify = fill(followUp.verify, bindings, missing) as MissionRequestInput['verify'];
  const title = fill(followUp.title ?? `${runbook.metadata.name}: follow-up for ${bindings.service}`, bindings, missing) as string;
  if (missing.size > 0) {
    const names = [...missing].sort();
    throw new RunbookRenderError(`the follow-up of runbook ${runbook.metadata.name} v${runbook.metadata.version} needs ${names.map((name) => `\${${name}}`).join(', ')}, which ${names.length === 1 ? 'has' : 'have'} no value for service ${bindings.service} (set runbooks.vars.${bindings.service} in the configuration)`, names);
  }
  const remediation = renderRunbook(runbook, bindings);
  return { title: title.slice(0, 200), steps, verify, labels: { ...remediation.labels, followUp: 'true' }, notBefore: now + followUp.afterMs, hypothesis: remediation.hypothesis, confidence: remediation.confidence };
}

/**
 * The mission request a runbook gives for an incident: its plan and verification with placeholders
 * filled, labelled with the incident, service, tier, runbook name and version and the hypothesis
 * kind, and carrying the hypothesis and its confidence for policy (`mission.confidence`).
 * @throws RunbookRenderError when a placeholder has no value.
 */
export function renderRunbook(runbook: Runbook, bindings: RunbookBindings): Omit<MissionRequestInput, 'project' | 'idempotencyKey'> {
  const missing = new Set<string>();
  const plan = fill(runbook.spec.plan, bindings, missing) as MissionRequestInput['steps'];
  const verify = fill(runbook.spec.verify, bindings, missing) as MissionRequestInput['verify'];
  const title = fill(runbook.spec.title ?? `${runbook.metadata.name}: ${bindings.hypothesis.summary}`, bindings, missing) as string;
  if (missing.size > 0) {
    const names = [...missing].sort();
    throw new RunbookRenderError(`runbook ${runbook.metadata.name} v${runbook.metadata.version} needs ${names.map((name) => `\${${name}}`).join(', ')}, which ${names.length === 1 ? 'has' : 'have'} no value for service ${bindings.service} (set runbooks.vars.${bindings.service} in the configuration)`, names);
  }
  return {
    title: title.slice(0, 200),
    steps: plan,
    verify,
    labels: {
      incident: bindings.incident,
      service: bindings.service,
      ...(bindings.tier === null ? {} : { tier: bindings.tier }),
      runbook: runbook.metadata.name,
      runbookVersion: String(runbook.metadata.version),
      hypothesis: bindings.hypothesis.kind,
    },
    hypothesis: bindings.hypothesis.summary.slice(0, 500),
    confidence: bindings.hypothesis.confidence,
  };
}
