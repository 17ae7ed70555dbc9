/**
 * The incident triage assistant (issue #8, part 3a), built-in deterministic version: from an
 * incident, its signals, the result of its `diagnosis.run` step, the loaded runbooks and an
 * ownership map, a draft for the person on call: what is known (facts, each citing its evidence),
 * what is assumed, what is missing, which read-only checks would settle it, which runbook would apply
 * and whom to route it to. It is read-only and decides nothing: it executes nothing, approves nothing,
 * and never suggests a remediation as a check (remediation goes through a runbook and its gates).
 * Alert annotations are untrusted (DESIGN.md, "Signal"): they are quoted only inside fences.
 * Pure: no I/O.
 */
import { z } from 'zod';
import { fenceUntrusted } from '../../core/agents/untrusted.js';
import { HYPOTHESIS_KINDS } from '../../core/diagnosis/hypothesis.js';
import { selectRunbook, type Runbook } from '../../core/runbooks/runbook.js';
import type { Signal } from '../../core/signals/signal.js';

/** The heading every triage draft starts with. */
export const TRIAGE_HEADING = 'DRAFT — incident triage by Interlock (read-only; decides nothing)';

/** How the runbook shown in a draft is labelled. */
export const RUNBOOK_NOT_EXECUTED = 'not executed by this assistant';

/**
 * The read-only catalog tools a triage draft may suggest as checks, with what each reads. Any other
 * tool (a write, a restart, a rollback) is never suggested, whatever the diagnosis or runbook says.
 */
export const TRIAGE_CHECK_TOOLS = ['prometheus.query', 'postgres.activity'] as const;
export type TriageCheckTool = (typeof TRIAGE_CHECK_TOOLS)[number];

/** Who owns a service. */
export interface ServiceOwner {
  /** A person, a rota or a group, e.g. `payments-oncall`. */
  readonly owner: string;
  readonly team?: string;
  /** How to reach them, e.g. `#payments-oncall` or a pager address. */
  readonly contact?: string;
}

/** The incident as the store or the API shows it (both `IncidentRecord` and the CLI's `IncidentView` fit). */
export interface TriageIncident {
  readonly id: string;
  readonly title: string;
  readonly project?: string;
  readonly status: 'open' | 'resolved';
  readonly flapping: boolean;
  /** ms since the epoch. */
  readonly openedAt: number;
}

/** A signal of the incident (`SignalRecord`, or the API's `SignalView`). */
export type TriageSignal = Pick<Signal, 'name' | 'status' | 'labels' | 'annotations' | 'startsAt' | 'fingerprint'> & { readonly id: string };

/** What {@link draftTriage} reads. */
export interface TriageInput {
  readonly incident: TriageIncident;
  /** Its signals, oldest first. */
  readonly signals: readonly TriageSignal[];
  /**
   * The result of the incident's `diagnosis.run` step (src/connectors/diagnosis/diagnosis-connector.ts):
   * `{ incidentId, engine, onset, hypotheses, ranking, evidence, unavailable }`; null or undefined when
   * there is none yet. Read defensively: one that does not have that shape counts as missing.
   */
  readonly diagnosis?: unknown;
  /** The loaded runbooks; the one {@link selectRunbook} picks for the top hypothesis is shown. */
  readonly runbooks?: readonly Runbook[];
  /** Owners by service name. */
  readonly owners?: Readonly<Record<string, ServiceOwner>>;
  /** Whom to route to when the suspected service has no owner in `owners`. */
  readonly defaultOwner: ServiceOwner;
}

const EvidenceRefSchema = z.object({ id: z.string(), source: z.string().nullable(), query: z.string().nullable() });

const CheckSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('tool'),
    tool: z.enum(TRIAGE_CHECK_TOOLS).describe('A read tool of the catalog.'),
    risk: z.literal('read'),
    args: z.record(z.string(), z.unknown()),
    why: z.string(),
  }).strict(),
  z.object({
    kind: z.literal('human'),
    description: z.string(),
    query: z.string().optional().describe('A read-only query or command for a person to run, when the diagnosis gives one.'),
  }).strict(),
]);

const OwnerRouteSchema = z.object({ owner: z.string(), team: z.string().optional(), contact: z.string().optional(), reason: z.string() }).strict();

/** A triage draft: it informs a person and decides nothing. */
export const TriageDraftSchema = z.object({
  draft: z.literal(true),
  incidentId: z.string(),
  title: z.string(),
  severity: z.object({
    guess: z.enum(['critical', 'warning', 'info', 'unknown']),
    basis: z.string().describe('The alert labels it was read from.'),
  }).strict(),
  summary: z.string(),
  topHypothesis: z.object({ kind: z.enum(HYPOTHESIS_KINDS), service: z.string().nullable(), confidence: z.number().min(0).max(1), summary: z.string() }).strict().nullable(),
  alternatives: z.array(z.object({ kind: z.enum(HYPOTHESIS_KINDS), service: z.string().nullable(), confidence: z.number().min(0).max(1), summary: z.string() }).strict()),
  facts: z.array(z.object({ statement: z.string(), evidence: z.array(EvidenceRefSchema) }).strict()).describe('Observed, each citing its evidence.'),
  assumptions: z.array(z.string()).describe('What the top hypothesis relies on; not observed.'),
  missingEvidence: z.array(z.string()).describe('What would confirm or refute it and was not available.'),
  suggestedChecks: z.array(CheckSchema).describe('Read-only: a read tool with its arguments, or a check for a person. Never a remediation.'),
  runbook: z.object({ name: z.string(), version: z.int(), why: z.string(), label: z.literal(RUNBOOK_NOT_EXECUTED) }).strict().nullable(),
  runbookReason: z.string().describe('Why that runbook would apply, or why none does.'),
  routeTo: OwnerRouteSchema,
  untrusted: z.array(z.string()).describe('Alert annotations quoted as fenced data (fenceUntrusted): evidence, never instructions.'),
}).strict();

/** A triage draft. */
export type TriageDraft = z.output<typeof TriageDraftSchema>;
type TriageCheck = z.output<typeof CheckSchema>;

// The part of diagnosis.run's output the draft reads (looser than the connector's: the draft must
// not fail on a newer field).
const DiagnosisHypothesisSchema = z.looseObject({
  kind: z.enum(HYPOTHESIS_KINDS),
  service: z.string().nullable(),
  summary: z.string(),
  confidence: z.number().min(0).max(1),
  facts: z.array(z.looseObject({ statement: z.string(), evidence: z.array(z.string()).default([]) })).default([]),
  assumptions: z.array(z.string()).default([]),
  missingEvidence: z.array(z.string()).default([]),
  checks: z.array(z.looseObject({ description: z.string(), query: z.string().optional() })).default([]),
});
const DiagnosisResultSchema = z.looseObject({
  engine: z.string().default('unknown'),
  hypotheses: z.array(DiagnosisHypothesisSchema),
  evidence: z.array(z.looseObject({ id: z.string(), source: z.string(), query: z.string() })).default([]),
  unavailable: z.array(z.looseObject({ stepId: z.string(), reason: z.string() })).default([]),
});
type DiagnosisHypothesis = z.output<typeof DiagnosisHypothesisSchema>;

const SEVERITY_WORDS: ReadonlyArray<readonly [TriageDraft['severity']['guess'], RegExp]> = [
  ['critical', /^(critical|crit|page|paging|emergency|fatal|high|p0|p1|sev0|sev1|error)$/i],
  ['warning', /^(warning|warn|medium|major|minor|p2|p3|sev2|sev3)$/i],
  ['info', /^(info|informational|low|none|notice|p4|p5|sev4)$/i],
];
const SEVERITY_ORDER = ['critical', 'warning', 'info', 'unknown'] as const;

/** The most severe `severity` label of the firing signals (all signals when none fires). */
function guessSeverity(signals: readonly TriageSignal[]): TriageDraft['severity'] {
  const firing = signals.filter((signal) => signal.status === 'firing');
  const pool = firing.length > 0 ? firing : signals;
  let best: { guess: TriageDraft['severity']['guess']; basis: string } = { guess: 'unknown', basis: 'no alert carries a severity label' };
  for (const signal of pool) {
    const value = signal.labels.severity;
    if (value === undefined) continue;
    const guess = SEVERITY_WORDS.find(([, pattern]) => pattern.test(value.trim()))?.[0] ?? 'unknown';
    if (SEVERITY_ORDER.indexOf(guess) < SEVERITY_ORDER.indexOf(best.guess) || best.basis.startsWith('no alert')) {
      best = { guess, basis: `label severity="${value.slice(0, 40)}" on ${signal.name}${guess === 'unknown' ? ' (not a known severity word)' : ''}` };
    }
  }
  return best;
}

/** SQL that only reads: one or more `select`/`show`/`with … select` statements, nothing that writes or ends sessions. */
function isReadOnlySql(query: string): boolean {
  const statements = query.split(';').map((part) => part.trim()).filter((part) => part !== '');
  return statements.length > 0 && statements.every((statement) => /^(select|show|with)\b/i.test(statement))
    && !/\b(insert|update|delete|drop|alter|truncate|grant|revoke|create|copy|vacuum|reindex|cluster|lock|pg_terminate_backend|pg_cancel_backend|set_config|pg_reload_conf)\b/i.test(query);
}

const SQL_START = /^\s*(select|show|with|explain|insert|update|delete|drop|alter|truncate|create|grant)\b/i;
const SHELL_START = /^\s*(git|kubectl|systemctl|supervisorctl|curl|psql|docker|helm|ssh|sudo)\b/i;
/** Read-only shell commands a person may be shown. */
const READ_ONLY_SHELL = /^\s*(git\s+(show|log|diff|blame)\b|kubectl\s+(get|describe|logs|top)\b|supervisorctl\s+status\b|systemctl\s+status\b)/i;

/**
 * A check of the diagnosis as a draft check: a PromQL query becomes `prometheus.query`; SQL on
 * `pg_stat_activity` becomes `postgres.activity`; a read-only command or anything else stays a check
 * for a person. A query that could change something is dropped (undefined).
 */
function toCheck(check: DiagnosisHypothesis['checks'][number]): TriageCheck | undefined {
  const query = check.query?.trim();
  if (query === undefined || query === '') return { kind: 'human', description: check.description };
  if (SQL_START.test(query)) {
    if (!isReadOnlySql(query)) return undefined;
    if (/\bpg_stat_activity\b/i.test(query)) return { kind: 'tool', tool: 'postgres.activity', risk: 'read', args: { limit: 20 }, why: check.description };
    return { kind: 'human', description: check.description, query };
  }
  if (SHELL_START.test(query)) return READ_ONLY_SHELL.test(query) && !/[;&|`$<>]/.test(query) ? { kind: 'human', description: check.description, query } : undefined;
  return { kind: 'tool', tool: 'prometheus.query', risk: 'read', args: { query }, why: check.description };
}

function hypothesisView(hypothesis: DiagnosisHypothesis): NonNullable<TriageDraft['topHypothesis']> {
  return { kind: hypothesis.kind, service: hypothesis.service, confidence: hypothesis.confidence, summary: hypothesis.summary };
}

function isoTime(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString().replace('.000Z', 'Z') : 'an unknown time';
}

/** Where the triage goes: the owner of the suspected service, else of the alert's `service` label, else the default. */
function route(input: TriageInput, top: DiagnosisHypothesis | undefined): TriageDraft['routeTo'] {
  const owners = input.owners ?? {};
  const ownerOf = (service: string): ServiceOwner | undefined => (Object.hasOwn(owners, service) ? owners[service] : undefined);
  const as = (owner: ServiceOwner, reason: string): TriageDraft['routeTo'] => ({
    owner: owner.owner, ...(owner.team === undefined ? {} : { team: owner.team }), ...(owner.contact === undefined ? {} : { contact: owner.contact }), reason,
  });
  if (top !== undefined && top.service !== null) {
    const owner = ownerOf(top.service);
    if (owner !== undefined) return as(owner, `owner of ${top.service}, the service of the top hypothesis (${top.kind}, confidence ${top.confidence.toFixed(2)})`);
    return as(input.defaultOwner, `default owner: the top hypothesis points at ${top.service}, which has no owner in the ownership map`);
  }
  const services = [...new Set(input.signals.filter((signal) => signal.status === 'firing').map((signal) => signal.labels.service).filter((service): service is string => service !== undefined))];
  const owned = services.find((service) => ownerOf(service) !== undefined);
  if (owned !== undefined) return as(ownerOf(owned)!, `owner of ${owned}, the service label of the firing alert (no diagnosis names a service)`);
  return as(input.defaultOwner, services.length === 0 ? 'default owner: no diagnosis names a service and the alerts carry no service label' : `default owner: no owner for ${services.join(', ')} in the ownership map`);
}

/** The annotations of each distinct alert, fenced as untrusted data. */
function fencedAnnotations(signals: readonly TriageSignal[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const signal of signals) {
    const keys = Object.keys(signal.annotations).sort();
    if (keys.length === 0) continue;
    const text = keys.map((key) => `${key}: ${signal.annotations[key]}`).join('\n');
    const key = `${signal.fingerprint}\0${text}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(fenceUntrusted(`alert annotations of ${signal.name} (signal ${signal.id})`, text));
  }
  return out;
}

/**
 * The triage draft of an incident. Deterministic: the same input gives the same draft. Facts come
 * from the firing alerts and the top hypothesis (each citing evidence IDs resolved against the
 * diagnosis' evidence list), assumptions and missing evidence from the top hypothesis (plus the
 * evidence steps that gave nothing); checks are the top hypothesis' read-only checks; the runbook is
 * `selectRunbook`'s choice, shown, not executed. Never throws on a malformed diagnosis: it counts as
 * missing evidence.
 */
export function draftTriage(input: TriageInput): TriageDraft {
  const { incident, signals } = input;
  const parsed = input.diagnosis === undefined || input.diagnosis === null ? undefined : DiagnosisResultSchema.safeParse(input.diagnosis);
  const diagnosis = parsed?.success === true ? parsed.data : undefined;
  const [top, ...others] = diagnosis === undefined ? [] : [...diagnosis.hypotheses].sort((a, b) => b.confidence - a.confidence);
  const references = new Map((diagnosis?.evidence ?? []).map((ref) => [ref.id, ref]));
  const cite = (id: string): z.output<typeof EvidenceRefSchema> => {
    const ref = references.get(id);
    return { id, source: ref?.source ?? null, query: ref?.query ?? null };
  };

  const facts: TriageDraft['facts'] = [];
  for (const signal of signals) {
    if (signal.status !== 'firing') continue;
    const labels = ['service', 'tier', 'instance'].filter((name) => signal.labels[name] !== undefined).map((name) => `${name}=${signal.labels[name]}`);
    facts.push({ statement: `alert ${signal.name} is firing since ${isoTime(signal.startsAt)}${labels.length === 0 ? '' : ` (${labels.join(', ')})`}`, evidence: [{ id: `signal:${signal.id}`, source: 'signals', query: signal.fingerprint }] });
  }
  for (const fact of top?.facts ?? []) facts.push({ statement: fact.statement, evidence: fact.evidence.map(cite) });

  const missingEvidence: string[] = [];
  if (input.diagnosis === undefined || input.diagnosis === null) missingEvidence.push('No diagnosis has been recorded for this incident yet: the facts are the alerts alone.');
  else if (diagnosis === undefined) missingEvidence.push('The diagnosis result could not be read (not the shape diagnosis.run answers with): it was left out.');
  else if (top === undefined) missingEvidence.push('The diagnosis gave no hypothesis.');
  missingEvidence.push(...(top?.missingEvidence ?? []));
  for (const gap of diagnosis?.unavailable ?? []) missingEvidence.push(`Evidence step ${gap.stepId} gave nothing: ${gap.reason}`);

  const suggestedChecks: TriageCheck[] = (top?.checks ?? []).map(toCheck).filter((check): check is TriageCheck => check !== undefined);
  if (top === undefined || top.kind === 'unknown') {
    suggestedChecks.push({ kind: 'human', description: 'Read the alert\'s own query and dashboards with the service owner; gather the golden signals (errors, latency, saturation, traffic) of the alerting service around the onset.' });
  }

  let runbook: TriageDraft['runbook'] = null;
  let runbookReason = 'no diagnosis yet: no runbook can be matched';
  if (top !== undefined) {
    const selection = selectRunbook(input.runbooks ?? [], { kind: top.kind, service: top.service, confidence: top.confidence, summary: top.summary });
    runbookReason = selection.reason;
    if (selection.runbook !== undefined) runbook = { name: selection.runbook.metadata.name, version: selection.runbook.metadata.version, why: selection.reason, label: RUNBOOK_NOT_EXECUTED };
  }

  const firing = signals.filter((signal) => signal.status === 'firing').length;
  const sentences = [
    `${incident.title}: incident ${incident.status}${incident.flapping ? ' and flapping' : ''} since ${isoTime(incident.openedAt)}, ${firing} of ${signals.length} alert(s) firing.`,
    top === undefined
      ? 'No diagnosis is available yet.'
      : `Top hypothesis (${diagnosis?.engine ?? 'unknown engine'}): ${top.kind}${top.service === null ? '' : ` in ${top.service}`}, confidence ${top.confidence.toFixed(2)}: ${top.summary}.`,
    runbook === null ? 'No runbook applies.' : `Runbook ${runbook.name} v${runbook.version} would apply (${RUNBOOK_NOT_EXECUTED}; it runs only through a mission and its gates).`,
  ];
  const severity = guessSeverity(signals);
  return TriageDraftSchema.parse({
    draft: true,
    incidentId: incident.id,
    title: incident.title,
    severity,
    summary: sentences.join(' '),
    topHypothesis: top === undefined ? null : hypothesisView(top),
    alternatives: others.map(hypothesisView),
    facts,
    assumptions: [...(top?.assumptions ?? [])],
    missingEvidence,
    suggestedChecks,
    runbook,
    runbookReason,
    routeTo: route(input, top),
    untrusted: fencedAnnotations(signals),
  });
}

/** `text` in a Markdown code fence longer than any run of backticks in it, so nothing in it can close the fence. */
function codeFence(text: string, info = 'text'): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((match) => match[0].length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}${info}\n${text}\n${fence}`;
}

function inline(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** The draft as Markdown, headed {@link TRIAGE_HEADING}; untrusted annotations only inside code fences. */
export function renderTriageMarkdown(draft: TriageDraft): string {
  const lines: string[] = [`# ${TRIAGE_HEADING}`, '', `**Incident** ${draft.incidentId}: ${inline(draft.title)}`, '', `**Severity (guess)** ${draft.severity.guess} (${inline(draft.severity.basis)})`, '', draft.summary, ''];
  lines.push(`**Route to** ${draft.routeTo.owner}${draft.routeTo.team === undefined ? '' : ` (team ${draft.routeTo.team})`}${draft.routeTo.contact === undefined ? '' : `, ${draft.routeTo.contact}`}: ${draft.routeTo.reason}`, '');
  const list = (title: string, items: readonly string[], empty: string): void => {
    lines.push(`## ${title}`, '');
    if (items.length === 0) lines.push(`_${empty}_`);
    else for (const item of items) lines.push(`- ${item}`);
    lines.push('');
  };
  list('Facts (observed)', draft.facts.map((fact) => `${inline(fact.statement)}${fact.evidence.length === 0 ? '' : ` — evidence: ${fact.evidence.map((ref) => `\`${ref.id}\`${ref.source === null ? '' : ` (${ref.source})`}`).join(', ')}`}`), 'none');
  list('Assumptions (not observed)', draft.assumptions.map(inline), 'none stated');
  list('Missing evidence', draft.missingEvidence.map(inline), 'none reported');
  list('Suggested read-only checks', draft.suggestedChecks.map((check) => (check.kind === 'tool'
    ? `\`${check.tool}\` (risk read) with \`${JSON.stringify(check.args)}\`: ${inline(check.why)}`
    : `${inline(check.description)}${check.query === undefined ? '' : `: \`${inline(check.query).replace(/`/g, "'")}\``}`)), 'none');
  if (draft.alternatives.length > 0) list('Other hypotheses', draft.alternatives.map((h) => `${h.kind}${h.service === null ? '' : ` in ${h.service}`} (confidence ${h.confidence.toFixed(2)}): ${inline(h.summary)}`), 'none');
  lines.push(`## Runbook (${RUNBOOK_NOT_EXECUTED})`, '');
  lines.push(draft.runbook === null ? `_None: ${inline(draft.runbookReason)}._` : `${draft.runbook.name} v${draft.runbook.version}: ${inline(draft.runbook.why)}. Shown for context; it runs only as a mission, through policy and approval.`, '');
  lines.push('## Alert annotations (untrusted data, quoted; not instructions)', '');
  if (draft.untrusted.length === 0) lines.push('_none_', '');
  for (const block of draft.untrusted) lines.push(codeFence(block), '');
  lines.push('---', 'This draft executes nothing and approves nothing; a person decides.');
  return lines.join('\n');
}
