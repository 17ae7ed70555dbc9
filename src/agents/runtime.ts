/**
 * Agents at run time: the loaded agent set, the `agents.handoff` tool built on it, each agent's LLM
 * reasoner (when its reasoner is `llm:<provider>/<model>`), and which triage agent diagnoses a
 * project's incidents. `main.ts` builds one per worker.
 */
import type { AgentDefinition } from '../core/agents/agent.js';
import type { AuditEntry } from '../core/audit/entry.js';
import type { ToolCatalog } from '../core/tools/catalog.js';
import { loadAgentDirectory, type LoadedAgents } from './agent-loader.js';
import { createHandOffTool, type AgentHandOffSources, type LlmPlanner } from './handoff.js';
import { createProviderModel, parseReasonerSpec, type LlmProvidersConfig } from './reasoners/llm-provider.js';
import { createLlmReasoner } from './reasoners/llm-reasoner.js';

/** The triage agent of a project and the resolution agent it hands its diagnoses to. */
export interface TriageRoute {
  readonly triage: string;
  readonly resolution: string;
}

/** Agents of one worker; see the module comment. */
export class AgentsRuntime {
  #loaded: LoadedAgents | undefined;
  readonly #planners = new Map<string, LlmPlanner>();

  constructor(private readonly options: {
    readonly dir: string;
    readonly llm: LlmProvidersConfig;
    readonly env: Readonly<Record<string, string | undefined>>;
    /** Where model prompts and outputs are recorded (`model.prompt`, `model.output`); fail closed. */
    readonly audit: (entry: AuditEntry) => Promise<void>;
  }) {}

  /** The `agents.handoff` tool on these agents; `sources` gives everything but the agents and the LLMs. */
  handOffTool(sources: Omit<AgentHandOffSources, 'agents' | 'llmFor'>): ReturnType<typeof createHandOffTool> {
    // Layered over `sources` rather than spread: its getters (the catalog, the audit log) are bound
    // late, to objects built after this tool.
    const layered = Object.create(sources, {
      agents: { value: () => this.agents() },
      llmFor: { value: (agent: AgentDefinition) => this.plannerFor(agent) },
    }) as AgentHandOffSources;
    return createHandOffTool(layered);
  }

  /**
   * Reads and checks `dir` against `catalog` (call after every tool is registered).
   * @throws `AGENT_INVALID`, `AGENT_UNREADABLE`
   */
  async load(catalog: Pick<ToolCatalog, 'find' | 'list'>): Promise<LoadedAgents> {
    this.#loaded = await loadAgentDirectory(this.options.dir, catalog, Object.keys(this.options.llm.providers));
    return this.#loaded;
  }

  /** The agents in force, by name (none before {@link AgentsRuntime.load}). */
  agents(): ReadonlyMap<string, AgentDefinition> {
    return this.#loaded?.agents ?? new Map();
  }

  /** The triage agent of `project` and its resolution agent, or undefined when the project has none. */
  triageFor(project: string): TriageRoute | undefined {
    const agents = this.agents();
    for (const agent of agents.values()) {
      if (agent.spec.role !== 'triage' || agent.spec.project !== project) continue;
      const resolution = agent.spec.handsOffTo.find((name) => agents.get(name)?.spec.role === 'resolution');
      if (resolution !== undefined) return { triage: agent.metadata.name, resolution };
    }
    return undefined;
  }

  /** The LLM reasoner of `agent`, or undefined for a built-in one. */
  plannerFor(agent: AgentDefinition): LlmPlanner | undefined {
    if (agent.spec.reasoner === 'builtin') return undefined;
    const cached = this.#planners.get(agent.spec.reasoner);
    if (cached !== undefined) return cached;
    const spec = parseReasonerSpec(agent.spec.reasoner, this.options.llm, `agents ${agent.metadata.name} spec.reasoner`);
    if (spec.kind !== 'llm') return undefined;
    const provider = createProviderModel(spec, this.options.llm, this.options.env);
    const reasoner = createLlmReasoner({
      model: provider.model, modelId: provider.modelId, provider: provider.provider, timeoutMs: provider.timeoutMs, maxRetries: provider.maxRetries,
      ...(provider.costs === undefined ? {} : { costs: provider.costs }), audit: this.options.audit,
    });
    const planner: LlmPlanner = {
      id: agent.spec.reasoner,
      async proposePlan(task, options) {
        const result = await reasoner.proposePlan({ ...task, hypotheses: task.hypotheses.map((h) => ({ ...h, service: h.service ?? 'unknown' })) }, options);
        return result.ok
          ? { ok: true, value: result.value, usage: result.usage }
          : { ok: false, reason: result.reason, message: [result.message, ...result.problems].join('; '), usage: result.usage };
      },
    };
    this.#planners.set(agent.spec.reasoner, planner);
    return planner;
  }
}

/**
 * Creates the principal of every agent of `agents` that has none: kind `agent`, role `operator` in
 * the agent's project (it may create missions there; as an agent it can never decide approvals).
 * For set-ups that provision agents with their definitions (the demo, tests); returns the names
 * created. An existing principal of another kind is left alone (its hand-offs are refused).
 */
export async function ensureAgentPrincipals(
  agents: Iterable<AgentDefinition>,
  identity: { findPrincipal(name: string): Promise<unknown>; createPrincipal(principal: { name: string; kind: 'agent'; groups: string[]; roles: Record<string, Array<'operator'>> }, now: number): Promise<unknown> },
  now: number,
): Promise<string[]> {
  const created: string[] = [];
  for (const agent of agents) {
    if ((await identity.findPrincipal(agent.metadata.name)) !== undefined) continue;
    await identity.createPrincipal({ name: agent.metadata.name, kind: 'agent', groups: [], roles: { [agent.spec.project]: ['operator'] } }, now);
    created.push(agent.metadata.name);
  }
  return created;
}
