/**
 * Agents (DESIGN.md, "Agent"): a role with instructions, a tool set, a project, a reasoner, an
 * autonomy ceiling and a named owner, defined in YAML. Agents call each other through governed
 * hand-offs (triage → resolution → governance; utility agents for tickets and notifications), each
 * authorized and recorded like a tool call, and every chain of hand-offs is bounded in depth, calls,
 * time and tokens. The LLM behind an agent never holds approval or execution rights. Pure: no I/O.
 */
import { z } from 'zod';
import { AUTONOMY_LEVELS, type AutonomyLevel } from '../guards/autonomy.js';
import { authorize, type Principal } from '../identity/identity.js';

/** What an agent is for. */
export const AGENT_ROLES = ['triage', 'resolution', 'governance', 'utility'] as const;

/** One of {@link AGENT_ROLES}. */
export type AgentRole = (typeof AGENT_ROLES)[number];

const SLUG = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** `builtin`, or `llm:<provider>/<model>` (a provider configured under `agents.llm.providers`). */
export const REASONER_PATTERN = /^(builtin|llm:[a-z0-9][a-z0-9_-]{0,62}\/[A-Za-z0-9][A-Za-z0-9._:/-]{0,127})$/;

/** A tool-set entry: a catalog tool name, or `<connector>.*` for every tool of a connector. */
const TOOL_ENTRY = /^([a-z0-9][a-z0-9_-]*\.\*|[A-Za-z0-9_.-]{1,200})$/;

/** The bounds of a chain of hand-offs started by this agent; a breach escalates. */
export const ChainBudgetSchema = z.strictObject({
  maxDepth: z.int().min(1).max(10).default(4).describe('Hand-offs in a row, from the agent that started the chain.'),
  maxCalls: z.int().min(1).max(100).default(10).describe('Hand-offs in the whole chain.'),
  maxDurationMs: z.int().min(1000).max(3_600_000).default(600_000).describe('Time from the start of the chain, ms.'),
  maxTokens: z.int().min(0).max(10_000_000).default(100_000).describe('Model tokens the whole chain may spend (0: no model calls).'),
});

/** A chain's bounds. */
export type ChainBudget = z.output<typeof ChainBudgetSchema>;

/** An agent definition as written in YAML (`agents.dir`, docs/agents.md). */
export const AgentDefinitionSchema = z.strictObject({
  apiVersion: z.literal('interlock.dev/v1'),
  kind: z.literal('Agent'),
  metadata: z.strictObject({
    name: z.string().regex(SLUG, 'a lowercase slug').describe('The agent, and the principal (kind agent) it acts as.'),
    owner: z.string().min(1).max(200).describe('The person or team answerable for the agent (routing, review of its track record).'),
    description: z.string().max(500).optional(),
  }),
  spec: z.strictObject({
    role: z.enum(AGENT_ROLES),
    project: z.string().regex(SLUG, 'a project slug').default('default'),
    instructions: z.string().min(1).max(20_000).describe("What the agent does, for its reasoner; an LLM reads it as the system prompt's task."),
    tools: z.array(z.string().regex(TOOL_ENTRY, 'a tool name or <connector>.*')).max(200).default([]).describe('The tools it may propose: a subset of the catalog.'),
    reasoner: z.string().regex(REASONER_PATTERN, 'builtin or llm:<provider>/<model>').default('builtin'),
    autonomyCeiling: z.enum(AUTONOMY_LEVELS).default('approve').describe('The most autonomy its proposals get: approve (a person approves every write), suggest (never executed), auto-notify or auto (policy decides).'),
    handsOffTo: z.array(z.string().regex(SLUG)).max(10).default([]).describe('The agents it may hand work to.'),
    budget: ChainBudgetSchema.prefault({}).describe('Bounds of the chains it starts.'),
  }),
});

/** A validated agent definition. */
export type AgentDefinition = z.output<typeof AgentDefinitionSchema>;

/** True when `tool` is in `agent`'s tool set (by name or by `<connector>.*`). */
export function agentMayUse(agent: AgentDefinition, tool: string): boolean {
  return agent.spec.tools.some((entry) => (entry.endsWith('.*') ? tool.startsWith(entry.slice(0, -1)) : entry === tool));
}

/**
 * A chain of hand-offs in progress: started by `origin` at `startedAt` (ms), `depth` hand-offs deep,
 * `calls` hand-offs so far, `tokens` spent by model calls so far.
 */
export interface HandOffChain {
  /** The chain's ID: the mission that started it. */
  readonly id: string;
  readonly origin: string;
  readonly startedAt: number;
  readonly depth: number;
  readonly calls: number;
  readonly tokens: number;
  /** The agents in order, `origin` first. */
  readonly path: readonly string[];
}

/** Why a hand-off may not happen: not allowed (RBAC, role, project), or a bound of the chain breached. */
export type HandOffRefusal =
  | { readonly kind: 'not_allowed'; readonly reason: string }
  | { readonly kind: 'breach'; readonly bound: 'depth' | 'calls' | 'time' | 'tokens' | 'cycle'; readonly reason: string };

/** Starts a chain at `origin`. */
export function startChain(id: string, origin: string, now: number): HandOffChain {
  return { id, origin, startedAt: now, depth: 0, calls: 0, tokens: 0, path: [origin] };
}

/**
 * Whether `from` (acting as `fromPrincipal`) may hand work to `to` within `chain` at `now`, under the
 * origin's `budget`: `to` must be listed in `from.spec.handsOffTo`, in the same project, not already
 * in the chain (no cycles), and `fromPrincipal` must be an agent holding `missions:write` in the
 * project (RBAC); the chain must stay within depth, calls, time and tokens. Returns the chain after
 * the hand-off, or the refusal.
 */
export function checkHandOff(input: {
  readonly chain: HandOffChain;
  readonly from: AgentDefinition;
  readonly to: AgentDefinition;
  readonly fromPrincipal: Principal | undefined;
  readonly budget: ChainBudget;
  readonly now: number;
}): { readonly ok: true; readonly chain: HandOffChain } | { readonly ok: false; readonly refusal: HandOffRefusal } {
  const { chain, from, to, fromPrincipal, budget, now } = input;
  const notAllowed = (reason: string) => ({ ok: false as const, refusal: { kind: 'not_allowed' as const, reason } });
  const breach = (bound: Extract<HandOffRefusal, { kind: 'breach' }>['bound'], reason: string) => ({ ok: false as const, refusal: { kind: 'breach' as const, bound, reason } });
  if (!from.spec.handsOffTo.includes(to.metadata.name)) return notAllowed(`${from.metadata.name} may hand off only to ${from.spec.handsOffTo.join(', ') || 'no agent'}, not to ${to.metadata.name}`);
  if (from.spec.project !== to.spec.project) return notAllowed(`${to.metadata.name} works in project ${to.spec.project}, not ${from.spec.project}`);
  if (fromPrincipal === undefined || fromPrincipal.kind !== 'agent') return notAllowed(`${from.metadata.name} has no agent principal; create it with interlock principals create ${from.metadata.name} --kind agent`);
  const allowed = authorize(fromPrincipal, 'missions:write', from.spec.project);
  if (!allowed.allowed) return notAllowed(allowed.reason);
  if (chain.path.includes(to.metadata.name)) return breach('cycle', `${to.metadata.name} is already in the chain ${chain.path.join(' → ')}`);
  if (chain.depth + 1 > budget.maxDepth) return breach('depth', `the chain would be ${chain.depth + 1} hand-offs deep, more than ${budget.maxDepth}`);
  if (chain.calls + 1 > budget.maxCalls) return breach('calls', `the chain would make ${chain.calls + 1} hand-offs, more than ${budget.maxCalls}`);
  if (now - chain.startedAt > budget.maxDurationMs) return breach('time', `the chain has run ${now - chain.startedAt} ms, more than ${budget.maxDurationMs} ms`);
  if (chain.tokens > budget.maxTokens) return breach('tokens', `the chain has spent ${chain.tokens} tokens, more than ${budget.maxTokens}`);
  return { ok: true, chain: { ...chain, depth: chain.depth + 1, calls: chain.calls + 1, path: [...chain.path, to.metadata.name] } };
}

/** The chain after a model call spent `tokens`; a breach of the token budget is checked at the next hand-off or call. */
export function spendTokens(chain: HandOffChain, tokens: number): HandOffChain {
  return { ...chain, tokens: chain.tokens + Math.max(0, tokens) };
}

/**
 * What an agent's autonomy ceiling does to a mission it proposes: `suggest` → shadow (reviewed and
 * recorded, never executed); `approve` → a person approves before anything runs; `auto-notify` and
 * `auto` leave the decision to policy and the configured autonomy. It only ever makes a mission
 * stricter.
 */
export function ceilingFlags(ceiling: AutonomyLevel): { readonly shadow?: true; readonly requireApproval?: true } {
  if (ceiling === 'suggest') return { shadow: true };
  if (ceiling === 'approve') return { requireApproval: true };
  return {};
}

/** A plan an agent proposes: the calls and their checks, before any mission exists. */
export interface ProposedPlan {
  readonly steps: ReadonlyArray<{ readonly tool: string }>;
  readonly verify: ReadonlyArray<{ readonly tool: string }>;
}

/** The governance agent's verdict on a proposed plan. */
export interface GovernanceVerdict {
  readonly approved: boolean;
  /** Every problem found (empty when approved), or what was checked. */
  readonly reasons: readonly string[];
}

/**
 * The built-in governance agent's check of `plan`, proposed by `proposer` for `project`, before a
 * mission is created from it (the mission then still passes the engine's review, approvals and
 * guards): every tool is in the proposer's tool set, in the catalog and callable in the project now;
 * verifications use read tools; a plan that writes has at least one verification (DESIGN.md: a
 * tool's own success is never proof).
 */
export function governanceReview(input: {
  readonly proposer: AgentDefinition;
  readonly plan: ProposedPlan;
  /** The risk class of a catalog tool, or undefined when the catalog has no such tool. */
  readonly riskOf: (tool: string) => 'read' | 'draft' | 'write-low' | 'write-prod' | undefined;
  /** Why a tool may not be called in the project now (held, other project), or undefined. */
  readonly unavailable: (tool: string) => string | undefined;
}): GovernanceVerdict {
  const { proposer, plan, riskOf, unavailable } = input;
  const reasons: string[] = [];
  if (plan.steps.length === 0) reasons.push('the plan has no steps');
  for (const [index, step] of plan.steps.entries()) {
    const where = `step ${index + 1} (${step.tool})`;
    if (riskOf(step.tool) === undefined) reasons.push(`${where}: the catalog has no such tool`);
    else if (!agentMayUse(proposer, step.tool)) reasons.push(`${where}: not in ${proposer.metadata.name}'s tool set`);
    else {
      const why = unavailable(step.tool);
      if (why !== undefined) reasons.push(`${where}: unavailable: ${why}`);
    }
  }
  for (const [index, check] of plan.verify.entries()) {
    const risk = riskOf(check.tool);
    if (risk !== 'read') reasons.push(`verification ${index + 1} (${check.tool}): ${risk === undefined ? 'the catalog has no such tool' : `verifications must read, this tool is ${risk}`}`);
  }
  const writes = plan.steps.some((step) => { const risk = riskOf(step.tool); return risk === 'write-low' || risk === 'write-prod'; });
  if (writes && plan.verify.length === 0) reasons.push('the plan writes but has no verification that re-observes the system');
  return { approved: reasons.length === 0, reasons };
}
