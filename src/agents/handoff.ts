/**
 * `agents.handoff`: the governed hand-off from a triage agent's diagnosis to a resolution agent, which
 * proposes a plan (its reasoner: the built-in runbooks, or an LLM with the built-in as fallback), to a
 * governance agent, which checks the plan before a mission is created from it, and to utility agents
 * (notifications). Each hand-off is authorized (the agents' definitions and RBAC), bounded (the chain's
 * depth, calls, time and tokens) and recorded in the audit log (`agent.handoff`, `agent.verdict`)
 * before the next agent acts; a refusal or a breach fails the step, so the triage mission escalates.
 * The mission created is the resolution agent's own (requester and agent), and passes review,
 * approvals, guards and verification like any other: no agent holds approval or execution rights.
 */
import { z } from 'zod';
import { ceilingFlags, checkHandOff, governanceReview, spendTokens, startChain, type AgentDefinition, type GovernanceVerdict, type HandOffChain } from '../core/agents/agent.js';
import { AUDIT_ENTRY_SCHEMA_VERSION } from '../core/audit/entry.js';
import { ConnectorError } from '../core/errors.js';
import type { Principal } from '../core/identity/identity.js';
import type { MissionRequestInput } from '../core/missions/mission.js';
import type { AuditLog } from '../core/ports.js';
import type { ToolCatalog } from '../core/tools/catalog.js';
import type { ToolContract } from '../core/tools/tool.js';
import { planFromDiagnosis, type RunbookDispatchSources } from '../connectors/runbooks/runbooks-connector.js';

/** A plan an LLM proposed, validated by the LLM reasoner (see docs/reasoners.md). */
export interface LlmPlan {
  readonly title: string;
  readonly hypothesis: string;
  readonly confidence: number;
  readonly rationale: string;
  readonly steps: ReadonlyArray<{ readonly tool: string; readonly args: Record<string, unknown> }>;
  readonly verify: ReadonlyArray<{ readonly tool: string; readonly args: Record<string, unknown>; readonly windowMs?: number; readonly timeoutMs?: number }>;
}

/** What the resolution agent's LLM is asked: the incident, the diagnosis, the evidence and its tools. */
export interface LlmPlanTask {
  readonly agent: { readonly name: string; readonly role: string; readonly instructions: string };
  readonly incident: { readonly id: string; readonly title: string; readonly labels: Record<string, string>; readonly annotations?: Record<string, string> };
  readonly hypotheses: ReadonlyArray<{ readonly kind: string; readonly service: string | null; readonly confidence: number; readonly summary: string }>;
  readonly evidence: ReadonlyArray<{ readonly source: string; readonly text: string }>;
  readonly tools: ReadonlyArray<{ readonly name: string; readonly description: string; readonly risk: string; readonly inputSchema: Record<string, unknown> }>;
}

/** The LLM reasoner of an agent, as the hand-off uses it. */
export interface LlmPlanner {
  /** `llm:<provider>/<model>`. */
  readonly id: string;
  proposePlan(task: LlmPlanTask, options: { readonly signal: AbortSignal; readonly tokenBudget: number; readonly missionId: string }): Promise<
    | { readonly ok: true; readonly value: LlmPlan; readonly usage: { readonly totalTokens: number } }
    | { readonly ok: false; readonly reason: string; readonly message: string; readonly usage: { readonly totalTokens: number } }
  >;
}

/** Where the hand-off reads agents, principals, the diagnosis and the catalog, and how it starts missions. */
export interface AgentHandOffSources extends Omit<RunbookDispatchSources, 'createMission'> {
  /** The agents in force, by name. */
  agents(): ReadonlyMap<string, AgentDefinition>;
  findPrincipal(name: string): Promise<Principal | undefined>;
  readonly catalog: Pick<ToolCatalog, 'find' | 'unavailableIn' | 'describe'>;
  /** The incident's title, group labels and its alerts' annotations, for an LLM's task (fenced there as data). */
  incidentOf(incidentId: string): Promise<{ readonly title: string; readonly labels: Record<string, string>; readonly annotations: Record<string, string> } | undefined>;
  /** The results of this mission's evidence steps, for an LLM's task. */
  evidenceOf(missionId: string): Promise<ReadonlyArray<{ readonly source: string; readonly text: string }>>;
  /** Creates (or, for a known idempotency key, returns) a mission requested by agent `agent`; returns its ID. */
  createMissionAs(request: MissionRequestInput, agent: string): Promise<string>;
  /** The LLM reasoner of `agent`, when its reasoner is `llm:…` and its provider is configured. */
  llmFor?(agent: AgentDefinition): LlmPlanner | undefined;
  /** Tells people about a mission (a utility agent's notification: the ticket's webhooks). */
  notify?(missionId: string, message: string): Promise<void>;
  readonly audit: AuditLog;
  now(): number;
}

const Input = z.strictObject({
  incidentId: z.uuid(),
  diagnosisStep: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/).default('diagnose').describe("The step of this mission whose result is diagnosis.run's."),
  to: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/).describe('The resolution agent to hand the diagnosis to.'),
});

const Output = z.object({
  chain: z.array(z.string()).describe('The agents in order, the triage agent first.'),
  proposal: z.object({
    by: z.string(),
    reasoner: z.string(),
    fellBack: z.boolean().describe('True when the LLM failed or proposed something invalid and the built-in reasoner proposed instead.'),
    fallbackReason: z.string().nullable(),
    tokens: z.int(),
    runbook: z.object({ name: z.string(), version: z.int() }).nullable(),
    steps: z.array(z.string()),
  }),
  verdict: z.object({ by: z.string(), approved: z.boolean(), reasons: z.array(z.string()) }),
  missionId: z.string().describe("The resolution agent's remediation mission; it passes review like any other."),
  followUpMissionId: z.string().nullable(),
  notified: z.array(z.string()).describe('Utility agents that told people.'),
});

type Proposal = { request: Omit<MissionRequestInput, 'project' | 'idempotencyKey'>; followUp: Omit<MissionRequestInput, 'project' | 'idempotencyKey'> | undefined; runbook: { name: string; version: number } | null; reasoner: string; fellBack: boolean; fallbackReason: string | null; tokens: number };

function refused(message: string, details: Record<string, unknown>): never {
  throw new ConnectorError('AGENT_HANDOFF_REFUSED', message, { system: 'agents', retryable: false, details });
}

/** Creates the `agents.handoff` tool (risk `draft`: it proposes a mission, which still passes every gate). */
export function createHandOffTool(sources: AgentHandOffSources): ToolContract<z.output<typeof Input>, z.output<typeof Output>> {
  async function record(kind: 'agent.handoff' | 'agent.verdict', actor: string, missionId: string, data: Record<string, unknown>): Promise<void> {
    await sources.audit.append([{ schemaVersion: AUDIT_ENTRY_SCHEMA_VERSION, kind, actor, missionId, at: sources.now(), data }]);
  }

  /** Hands from `from` to `to`: checked, recorded, then the chain after it; a refusal is recorded, then thrown. */
  async function handOff(chain: HandOffChain, from: AgentDefinition, to: AgentDefinition | undefined, toName: string, budget: AgentDefinition['spec']['budget'], missionId: string, reason: string): Promise<HandOffChain> {
    const now = sources.now();
    const base = { chain: chain.id, from: from.metadata.name, to: toName, depth: chain.depth + 1, calls: chain.calls + 1, elapsedMs: now - chain.startedAt, tokens: chain.tokens };
    if (to === undefined) {
      await record('agent.handoff', from.metadata.name, missionId, { ...base, path: chain.path, outcome: 'not_allowed', reason: `no agent named ${toName}` });
      refused(`${from.metadata.name} cannot hand off to ${toName}: no such agent in agents.dir.`, base);
    }
    const checked = checkHandOff({ chain, from, to, fromPrincipal: await sources.findPrincipal(from.metadata.name), budget, now });
    if (!checked.ok) {
      await record('agent.handoff', from.metadata.name, missionId, { ...base, path: chain.path, outcome: checked.refusal.kind, ...(checked.refusal.kind === 'breach' ? { bound: checked.refusal.bound } : {}), reason: checked.refusal.reason });
      refused(`Hand-off ${from.metadata.name} → ${toName} refused (${checked.refusal.kind === 'breach' ? `chain bound ${checked.refusal.bound} breached` : 'not allowed'}): ${checked.refusal.reason}; the mission escalates.`, { ...base, refusal: checked.refusal });
    }
    await record('agent.handoff', from.metadata.name, missionId, { ...base, path: checked.chain.path, outcome: 'accepted', reason });
    return checked.chain;
  }

  async function propose(resolution: AgentDefinition, args: z.output<typeof Input>, missionId: string, chain: HandOffChain, budget: AgentDefinition['spec']['budget'], signal: AbortSignal): Promise<Proposal> {
    const builtin = async (): Promise<Omit<Proposal, 'reasoner' | 'fellBack' | 'fallbackReason' | 'tokens'>> => {
      const plan = await planFromDiagnosis(sources, args, missionId);
      return { request: plan.request, followUp: plan.followUp, runbook: { name: plan.runbook.metadata.name, version: plan.runbook.metadata.version } };
    };
    const llm = resolution.spec.reasoner === 'builtin' ? undefined : sources.llmFor?.(resolution);
    if (llm === undefined) {
      const reason = resolution.spec.reasoner === 'builtin' ? null : `no LLM reasoner is available for ${resolution.spec.reasoner}`;
      return { ...(await builtin()), reasoner: 'builtin', fellBack: reason !== null, fallbackReason: reason, tokens: 0 };
    }
    const step = await sources.getStep(missionId, args.diagnosisStep);
    const hypotheses = ((step?.result as { hypotheses?: unknown } | null)?.hypotheses ?? []) as LlmPlanTask['hypotheses'];
    const incident = await sources.incidentOf(args.incidentId);
    const tools = sources.catalog.describe({ project: resolution.spec.project }).filter((tool) => resolution.spec.tools.some((entry) => (entry.endsWith('.*') ? tool.name.startsWith(entry.slice(0, -1)) : entry === tool.name)));
    const task: LlmPlanTask = {
      agent: { name: resolution.metadata.name, role: resolution.spec.role, instructions: resolution.spec.instructions },
      incident: { id: args.incidentId, title: incident?.title ?? args.incidentId, labels: incident?.labels ?? {}, annotations: incident?.annotations ?? {} },
      hypotheses: hypotheses.slice(0, 5).map((h) => ({ kind: h.kind, service: h.service, confidence: h.confidence, summary: h.summary })),
      evidence: await sources.evidenceOf(missionId),
      tools: tools.map((tool) => ({ name: tool.name, description: tool.description, risk: tool.risk, inputSchema: tool.inputSchema })),
    };
    const result = await llm.proposePlan(task, { signal, tokenBudget: Math.max(0, budget.maxTokens - chain.tokens), missionId });
    if (result.ok) {
      const plan = result.value;
      const service = task.hypotheses[0]?.service ?? null;
      return {
        request: {
          title: plan.title, hypothesis: plan.hypothesis, confidence: plan.confidence,
          steps: plan.steps.map((s) => ({ tool: s.tool, args: s.args })),
          verify: plan.verify.map((v) => ({ tool: v.tool, args: v.args, ...(v.windowMs === undefined ? {} : { windowMs: v.windowMs }), ...(v.timeoutMs === undefined ? {} : { timeoutMs: v.timeoutMs }) })),
          labels: { incident: args.incidentId, ...(service === null ? {} : { service }) },
        },
        followUp: undefined, runbook: null, reasoner: llm.id, fellBack: false, fallbackReason: null, tokens: result.usage.totalTokens,
      };
    }
    return { ...(await builtin()), reasoner: 'builtin', fellBack: true, fallbackReason: `${llm.id} ${result.reason}: ${result.message}`, tokens: result.usage.totalTokens };
  }

  return {
    name: 'agents.handoff',
    description: "Hands this mission's diagnosis to a resolution agent, whose plan a governance agent checks before the agent's remediation mission starts; fails with the reason (and the mission escalates) when a hand-off is refused or the plan is.",
    input: Input,
    output: Output,
    risk: 'draft',
    idempotent: true,
    timeoutMs: 120_000,
    permission: 'agents:handoff',
    async execute(args, context) {
      const mission = await sources.getMission(context.missionId);
      if (mission === undefined) refused(`There is no mission ${context.missionId}.`, {});
      const agents = sources.agents();
      const triageName = mission.request.agent ?? mission.requester;
      const triage = agents.get(triageName);
      if (triage === undefined) refused(`The mission was requested by ${triageName}, not by an agent of agents.dir; only agents hand off.`, { requester: triageName });
      const budget = triage.spec.budget;
      let chain = startChain(mission.id, triage.metadata.name, mission.createdAt);
      const diagnosis = await sources.getStep(mission.id, args.diagnosisStep);
      const top = ((diagnosis?.result as { hypotheses?: Array<{ kind?: string; service?: string | null; confidence?: number }> } | null)?.hypotheses ?? [])[0];
      const resolution = agents.get(args.to);
      chain = await handOff(chain, triage, resolution, args.to, budget, mission.id, top === undefined ? 'diagnosis without a hypothesis' : `diagnosis ready: ${top.kind} in ${top.service ?? 'an unknown service'} (${(top.confidence ?? 0).toFixed(2)})`);
      const resolver = resolution!;

      const proposal = await propose(resolver, args, mission.id, chain, budget, context.signal);
      chain = spendTokens(chain, proposal.tokens);
      const governanceName = resolver.spec.handsOffTo.find((name) => agents.get(name)?.spec.role === 'governance');
      if (governanceName === undefined) refused(`${resolver.metadata.name} names no governance agent in handsOffTo; a plan is never started without one.`, { chain: chain.path });
      const steps = proposal.request.steps ?? [];
      chain = await handOff(chain, resolver, agents.get(governanceName), governanceName, budget, mission.id, `plan of ${steps.length} step(s) by ${proposal.reasoner}${proposal.fellBack ? ' (fallback)' : ''}: ${steps.map((s) => s.tool).join(', ')}`);
      const governance = agents.get(governanceName)!;

      const verdict: GovernanceVerdict = governanceReview({
        proposer: resolver,
        plan: { steps, verify: proposal.request.verify ?? [] },
        riskOf: (tool) => sources.catalog.find(tool)?.risk,
        unavailable: (tool) => sources.catalog.unavailableIn(tool, mission.project),
      });
      const flags = ceilingFlags(resolver.spec.autonomyCeiling);
      await record('agent.verdict', governance.metadata.name, mission.id, {
        chain: chain.id, proposedBy: resolver.metadata.name, reasoner: proposal.reasoner, fellBack: proposal.fellBack, approved: verdict.approved, reasons: verdict.reasons, steps: steps.map((s) => s.tool), flags,
      });
      if (!verdict.approved) refused(`${governance.metadata.name} refused ${resolver.metadata.name}'s plan: ${verdict.reasons.join('; ')}; the mission escalates.`, { verdict, chain: chain.path });

      const labels = { ...proposal.request.labels, agentChain: chain.path.join('>'), chain: chain.id };
      const missionId = await sources.createMissionAs({ ...proposal.request, ...flags, labels, project: mission.project, idempotencyKey: context.idempotencyKey }, resolver.metadata.name);
      const followUpMissionId = proposal.followUp === undefined ? null : await sources.createMissionAs({
        ...proposal.followUp, ...flags, labels: { ...proposal.followUp.labels, followUpOf: missionId, agentChain: chain.path.join('>'), chain: chain.id }, project: mission.project, idempotencyKey: `${context.idempotencyKey}:follow-up`,
      }, resolver.metadata.name);

      const notified: string[] = [];
      for (const name of governance.spec.handsOffTo.filter((n) => agents.get(n)?.spec.role === 'utility')) {
        chain = await handOff(chain, governance, agents.get(name), name, budget, mission.id, `notify about mission ${missionId}`);
        await sources.notify?.(missionId, `${resolver.metadata.name} proposed "${proposal.request.title}" (${steps.map((s) => s.tool).join(', ')}); ${governance.metadata.name} checked it; mission ${missionId} now passes review.`);
        notified.push(name);
      }
      return {
        chain: [...chain.path],
        proposal: { by: resolver.metadata.name, reasoner: proposal.reasoner, fellBack: proposal.fellBack, fallbackReason: proposal.fallbackReason, tokens: proposal.tokens, runbook: proposal.runbook, steps: steps.map((s) => s.tool) },
        verdict: { by: governance.metadata.name, approved: true, reasons: [...verdict.reasons] },
        missionId, followUpMissionId, notified,
      };
    },
  };
}
