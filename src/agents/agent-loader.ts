import { AgentDefinitionSchema, type AgentDefinition } from '../core/agents/agent.js';
import { InterlockError } from '../core/errors.js';
import type { PolicyIssue } from '../core/policy/policy-errors.js';
import type { ToolCatalog } from '../core/tools/catalog.js';
import { loadYamlDirectory } from '../connectors/shared/yaml-directory.js';

/** A loaded agent directory: the agents by name, the files and the SHA-256 of them all. */
export interface LoadedAgents {
  readonly agents: ReadonlyMap<string, AgentDefinition>;
  readonly files: readonly string[];
  readonly digest: string;
}

/** Which roles an agent of each role may hand work to (DESIGN.md: triage → resolution → governance; utility). */
const HAND_OFF_ROLES: Readonly<Record<AgentDefinition['spec']['role'], readonly AgentDefinition['spec']['role'][]>> = {
  triage: ['resolution', 'utility'],
  resolution: ['governance', 'utility'],
  governance: ['utility'],
  utility: [],
};

/**
 * Reads and checks every agent file of `dir` (docs/agents.md): the schema; that every tool-set entry
 * names a catalog tool (or a connector with tools, `<connector>.*`); that every `handsOffTo` names an
 * agent of the set, of a role this agent's role may hand to (triage → resolution or utility,
 * resolution → governance or utility, governance → utility), in the same project; that an `llm:`
 * reasoner names a configured provider; and that names are unique.
 * @throws InterlockError `AGENT_UNREADABLE`, or `AGENT_INVALID` listing every problem with
 *   `file:line:column` in `details.issues`.
 */
export async function loadAgentDirectory(dir: string, catalog: Pick<ToolCatalog, 'find' | 'list'>, llmProviders: readonly string[] = []): Promise<LoadedAgents> {
  const docs = new Map<string, { issueAt: (path: (string | number)[], message: string) => PolicyIssue }>();
  const loaded = await loadYamlDirectory(dir, {
    noun: 'agent', schema: AgentDefinitionSchema, unreadable: 'AGENT_UNREADABLE', invalid: 'AGENT_INVALID',
    nameOf: (agent) => agent.metadata.name, namePath: ['metadata', 'name'],
    check(agent, doc) {
      docs.set(agent.metadata.name, doc);
      const issues: PolicyIssue[] = [];
      agent.spec.tools.forEach((entry, index) => {
        const known = entry.endsWith('.*') ? catalog.list().some((tool) => tool.name.startsWith(entry.slice(0, -1))) : catalog.find(entry) !== undefined;
        if (!known) issues.push(doc.issueAt(['spec', 'tools', index], `the catalog has no tool ${entry} (is its connector enabled?)`));
      });
      const provider = /^llm:([^/]+)\//.exec(agent.spec.reasoner)?.[1];
      if (provider !== undefined && !llmProviders.includes(provider)) {
        issues.push(doc.issueAt(['spec', 'reasoner'], `no LLM provider "${provider}" is configured (agents.llm.providers has ${llmProviders.join(', ') || 'none'})`));
      }
      return issues;
    },
  });
  const agents = new Map(loaded.values.map((agent) => [agent.metadata.name, agent]));
  const issues: PolicyIssue[] = [];
  for (const agent of loaded.values) {
    const doc = docs.get(agent.metadata.name)!;
    agent.spec.handsOffTo.forEach((name, index) => {
      const target = agents.get(name);
      if (target === undefined) issues.push(doc.issueAt(['spec', 'handsOffTo', index], `no agent named ${name} in ${dir}`));
      else if (!HAND_OFF_ROLES[agent.spec.role].includes(target.spec.role)) issues.push(doc.issueAt(['spec', 'handsOffTo', index], `a ${agent.spec.role} agent hands off to ${HAND_OFF_ROLES[agent.spec.role].join(' or ') || 'no agent'}, not to ${name} (${target.spec.role})`));
      else if (target.spec.project !== agent.spec.project) issues.push(doc.issueAt(['spec', 'handsOffTo', index], `${name} works in project ${target.spec.project}, not ${agent.spec.project}`));
    });
  }
  if (issues.length > 0) {
    throw new InterlockError('AGENT_INVALID', `invalid agent set, ${issues.length === 1 ? '1 problem' : `${issues.length} problems`}: ${issues.map((issue) => `${issue.source} ${issue.path}: ${issue.message}`).join('; ')}`, { details: { issues } });
  }
  return { agents, files: loaded.files, digest: loaded.digest };
}

/**
 * The agent definitions of `dir`, checked against the schema only (no catalog, no hand-off checks):
 * for tools that provision agents' principals before an Interlock with the catalog runs.
 * @throws InterlockError `AGENT_UNREADABLE`, `AGENT_INVALID`
 */
export async function readAgentDefinitions(dir: string): Promise<readonly AgentDefinition[]> {
  const loaded = await loadYamlDirectory(dir, {
    noun: 'agent', schema: AgentDefinitionSchema, unreadable: 'AGENT_UNREADABLE', invalid: 'AGENT_INVALID',
    nameOf: (agent) => agent.metadata.name, namePath: ['metadata', 'name'],
  });
  return loaded.values;
}
