import { z } from 'zod';
import { ConnectorError } from '../../core/errors.js';
import { HYPOTHESIS_KINDS } from '../../core/diagnosis/hypothesis.js';
import type { Mission, MissionRequestInput, MissionStep } from '../../core/missions/mission.js';
import { renderFollowUp, renderRunbook, RunbookRenderError, selectRunbook, type MatchedHypothesis, type Runbook } from '../../core/runbooks/runbook.js';
import type { ToolContract } from '../../core/tools/tool.js';

/** Where `runbooks.dispatch` reads the diagnosis and the incident, and how it starts a mission. */
export interface RunbookDispatchSources {
  /** The runbooks in force. */
  runbooks(): readonly Runbook[];
  /** `runbooks.vars`: per service, the site's values for `${vars.<key>}`. */
  readonly vars: Readonly<Record<string, Readonly<Record<string, string | number | boolean>>>>;
  getMission(missionId: string): Promise<Mission | undefined>;
  getStep(missionId: string, stepId: string): Promise<MissionStep | undefined>;
  /** The labels of the incident's alerts (to find the service's tier); undefined when there is no such incident. */
  alertLabelsOf(incidentId: string): Promise<ReadonlyArray<Readonly<Record<string, string>>> | undefined>;
  /** Creates (or, for a known idempotency key, returns) a mission; returns its ID. */
  createMission(request: MissionRequestInput): Promise<string>;
}

const Input = z.object({
  incidentId: z.uuid(),
  diagnosisStep: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/).default('diagnose').describe("The step of this mission whose result is diagnosis.run's."),
}).strict();

const Output = z.object({
  runbook: z.object({ name: z.string(), version: z.int() }),
  hypothesis: z.object({ kind: z.enum(HYPOTHESIS_KINDS), service: z.string().nullable(), confidence: z.number(), summary: z.string() }),
  missionId: z.string().describe('The remediation mission the runbook started; it passes review like any other.'),
  followUpMissionId: z.string().nullable().describe('The follow-up mission due later (spec.followUp), or null.'),
  reason: z.string(),
});

function fail(message: string): never {
  throw new ConnectorError('TOOL_FAILED', message, { system: 'runbooks', retryable: false });
}

/** The top hypothesis of a `diagnosis.run` result, or undefined when it has none of the expected shape. */
function topHypothesis(result: unknown): MatchedHypothesis | undefined {
  const list = (result as { hypotheses?: unknown } | null)?.hypotheses;
  if (!Array.isArray(list) || list.length === 0) return undefined;
  const top = list[0] as { kind?: unknown; service?: unknown; confidence?: unknown; summary?: unknown };
  if (typeof top.kind !== 'string' || !(HYPOTHESIS_KINDS as readonly string[]).includes(top.kind) || typeof top.confidence !== 'number') return undefined;
  return {
    kind: top.kind as MatchedHypothesis['kind'],
    service: typeof top.service === 'string' ? top.service : null,
    confidence: top.confidence,
    summary: typeof top.summary === 'string' ? top.summary : top.kind,
  };
}

/** A runbook's plan for a diagnosis: what `runbooks.dispatch` starts, and what a resolution agent proposes. */
export interface RunbookPlan {
  /** The project of the diagnosis mission. */
  readonly project: string;
  readonly hypothesis: MatchedHypothesis;
  readonly runbook: Runbook;
  /** Why this runbook (from `selectRunbook`). */
  readonly reason: string;
  /** The remediation mission, rendered (no project, no idempotency key yet). */
  readonly request: ReturnType<typeof renderRunbook>;
  /** The follow-up mission, when the runbook has one. */
  readonly followUp: ReturnType<typeof renderFollowUp>;
}

/**
 * The plan of the runbook that handles the top hypothesis of the diagnosis in step
 * `args.diagnosisStep` of mission `missionId`: reads the diagnosis, selects the runbook
 * (`selectRunbook`) and renders it with the incident's service, tier and the site's `runbooks.vars`.
 * @throws ConnectorError `TOOL_FAILED` (not retryable) with the reason when no runbook fits: no
 *   diagnosis, no hypothesis, no runbook for it, or a value the runbook needs is missing.
 */
export async function planFromDiagnosis(sources: Omit<RunbookDispatchSources, 'createMission'>, args: { readonly incidentId: string; readonly diagnosisStep: string }, missionId: string): Promise<RunbookPlan> {
  const mission = await sources.getMission(missionId);
  if (mission === undefined) fail(`There is no mission ${missionId}.`);
  const step = await sources.getStep(missionId, args.diagnosisStep);
  if (step?.status !== 'succeeded') fail(`Step ${args.diagnosisStep} of this mission has no diagnosis (${step === undefined ? 'no such step' : `it ${step.status}`}).`);
  const hypothesis = topHypothesis(step.result);
  if (hypothesis === undefined) fail('The diagnosis has no hypothesis to act on; a person must look.');
  const selection = selectRunbook(sources.runbooks(), hypothesis);
  if (selection.runbook === undefined) fail(`No runbook to run: ${selection.reason}; a person must look.`);
  const runbook = selection.runbook;
  const service = hypothesis.service!;
  const alerts = await sources.alertLabelsOf(args.incidentId);
  if (alerts === undefined) fail(`There is no incident ${args.incidentId}.`);
  const tier = alerts.find((labels) => labels.service === service && labels.tier !== undefined)?.tier ?? null;
  let request: ReturnType<typeof renderRunbook>;
  let followUp: ReturnType<typeof renderFollowUp>;
  try {
    const bindings = { incident: args.incidentId, service, tier, hypothesis, vars: sources.vars[service] ?? {} };
    request = renderRunbook(runbook, bindings);
    // Due from when the diagnosis finished (recorded once): a retry renders the same request.
    followUp = renderFollowUp(runbook, bindings, step.finishedAt ?? mission.createdAt);
  } catch (error) {
    if (error instanceof RunbookRenderError) fail(`No runbook to run: ${error.message}.`);
    throw error;
  }
  return { project: mission.project, hypothesis, runbook, reason: selection.reason, request, followUp };
}

/**
 * The runbook connector: `runbooks.dispatch` (risk `draft`: it proposes a remediation mission, which
 * still passes review, approval and verification), the last step of an incident's diagnosis mission.
 * It reads the diagnosis this mission made, picks the runbook for its top hypothesis
 * (`selectRunbook`), renders it with the incident's service, tier and the site's `runbooks.vars`, and
 * starts the remediation mission under this step's idempotency key, so a retry or a recovery after a
 * crash finds the same mission instead of starting a second.
 *
 * A runbook with `spec.followUp` also gets a follow-up mission, due `afterMs` after the diagnosis
 * finished (a durable wait), e.g. to revert a temporary change after a quiet period; it is labelled
 * `followUp: "true"` and `followUpOf: <remediation mission>`.
 *
 * When no runbook fits (no runbook for the pattern, a service not covered, confidence too low, a
 * missing site value) it fails with the reason, not retryable: the diagnosis mission escalates and
 * the incident goes to people with its diagnosis.
 */
export function createRunbooksConnector(sources: RunbookDispatchSources): ToolContract<z.output<typeof Input>, z.output<typeof Output>> {
  return {
    name: 'runbooks.dispatch',
    description: "Starts the remediation mission of the runbook that handles the top hypothesis of this mission's diagnosis; fails with the reason when none does.",
    input: Input,
    output: Output,
    risk: 'draft',
    idempotent: true,
    timeoutMs: 30_000,
    permission: 'runbooks:dispatch',
    async execute(args, context) {
      const plan = await planFromDiagnosis(sources, args, context.missionId);
      const { runbook, hypothesis, request, followUp, project } = plan;
      const agent = `runbook:${runbook.metadata.name}@${runbook.metadata.version}`;
      const missionId = await sources.createMission({ ...request, project, idempotencyKey: context.idempotencyKey, agent });
      // The follow-up is due later (a durable wait in its own mission); the same key on a retry finds it.
      const followUpMissionId = followUp === undefined ? null : await sources.createMission({ ...followUp, labels: { ...followUp.labels, followUpOf: missionId }, project, idempotencyKey: `${context.idempotencyKey}:follow-up`, agent });
      return { runbook: { name: runbook.metadata.name, version: runbook.metadata.version }, hypothesis, missionId, followUpMissionId, reason: plan.reason };
    },
  };
}
