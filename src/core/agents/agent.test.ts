import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Principal } from '../identity/identity.js';
import { AgentDefinitionSchema, agentMayUse, ceilingFlags, checkHandOff, governanceReview, startChain, type AgentDefinition, type ChainBudget } from './agent.js';

function agent(name: string, role: AgentDefinition['spec']['role'], spec: Record<string, unknown> = {}): AgentDefinition {
  return AgentDefinitionSchema.parse({ apiVersion: 'interlock.dev/v1', kind: 'Agent', metadata: { name, owner: 'sre-team' }, spec: { role, project: 'shop', instructions: 'Do the job.', ...spec } });
}

const triage = agent('triage', 'triage', { handsOffTo: ['resolver', 'notifier'] });
const resolver = agent('resolver', 'resolution', { handsOffTo: ['governor'], tools: ['supervisor.*', 'nginx.reload', 'prometheus.check'] });
const governor = agent('governor', 'governance', { handsOffTo: ['notifier'] });
const notifier = agent('notifier', 'utility');
const principal = (name: string, roles: Principal['roles'] = { shop: ['operator'] }, kind: Principal['kind'] = 'agent'): Principal => ({ id: randomUUID(), kind, name, groups: [], roles });
const BUDGET: ChainBudget = { maxDepth: 4, maxCalls: 10, maxDurationMs: 600_000, maxTokens: 100_000 };
const T0 = 1_700_000_000_000;

describe('checkHandOff', () => {
  const chain = startChain('mission-1', 'triage', T0);
  const check = (overrides: Partial<Parameters<typeof checkHandOff>[0]> = {}) => checkHandOff({ chain, from: triage, to: resolver, fromPrincipal: principal('triage'), budget: BUDGET, now: T0 + 1000, ...overrides });

  it('allows a listed hand-off in the same project by an agent holding missions:write, and extends the chain', () => {
    expect(check()).toEqual({ ok: true, chain: { id: 'mission-1', origin: 'triage', startedAt: T0, depth: 1, calls: 1, tokens: 0, path: ['triage', 'resolver'] } });
  });

  it('refuses an agent not in handsOffTo, naming those it may hand to', () => {
    expect(check({ to: governor })).toEqual({ ok: false, refusal: { kind: 'not_allowed', reason: 'triage may hand off only to resolver, notifier, not to governor' } });
  });

  it('refuses an agent of another project', () => {
    const elsewhere = agent('resolver', 'resolution', { project: 'ops' });
    expect(check({ to: elsewhere })).toEqual({ ok: false, refusal: { kind: 'not_allowed', reason: 'resolver works in project ops, not shop' } });
  });

  it('refuses without an agent principal (none, or a person of that name), saying how to create it', () => {
    for (const fromPrincipal of [undefined, principal('triage', { shop: ['operator'] }, 'human')]) {
      const result = check({ fromPrincipal });
      expect(result).toMatchObject({ ok: false, refusal: { kind: 'not_allowed' } });
      expect(!result.ok && result.refusal.reason).toContain('interlock principals create triage --kind agent');
    }
  });

  it('refuses a principal without missions:write in the project (RBAC)', () => {
    const result = check({ fromPrincipal: principal('triage', { shop: ['viewer'] }) });
    expect(result).toMatchObject({ ok: false, refusal: { kind: 'not_allowed' } });
    expect(!result.ok && result.refusal.reason).toContain('missions:write');
    expect(check({ fromPrincipal: principal('triage', { ops: ['operator'] }) }).ok).toBe(false);
  });

  it('refuses a cycle: an agent already in the chain', () => {
    const looping = agent('resolver', 'resolution', { handsOffTo: ['triage'] });
    const result = checkHandOff({ chain: { ...chain, depth: 1, calls: 1, path: ['triage', 'resolver'] }, from: looping, to: triage, fromPrincipal: principal('resolver'), budget: BUDGET, now: T0 });
    expect(result).toEqual({ ok: false, refusal: { kind: 'breach', bound: 'cycle', reason: 'triage is already in the chain triage → resolver' } });
  });

  it('refuses a breach of depth, calls, time or tokens, each named', () => {
    expect(check({ chain: { ...chain, depth: 4 } })).toMatchObject({ ok: false, refusal: { kind: 'breach', bound: 'depth', reason: 'the chain would be 5 hand-offs deep, more than 4' } });
    expect(check({ chain: { ...chain, calls: 10 } })).toMatchObject({ ok: false, refusal: { kind: 'breach', bound: 'calls', reason: 'the chain would make 11 hand-offs, more than 10' } });
    expect(check({ now: T0 + 600_001 })).toMatchObject({ ok: false, refusal: { kind: 'breach', bound: 'time', reason: 'the chain has run 600001 ms, more than 600000 ms' } });
    expect(check({ now: T0 + 600_000 }).ok).toBe(true);
    expect(check({ chain: { ...chain, tokens: 100_001 } })).toMatchObject({ ok: false, refusal: { kind: 'breach', bound: 'tokens', reason: 'the chain has spent 100001 tokens, more than 100000' } });
    expect(check({ chain: { ...chain, tokens: 100_000 } }).ok).toBe(true);
  });
});

describe('governanceReview', () => {
  const RISKS: Record<string, 'read' | 'draft' | 'write-low' | 'write-prod'> = {
    'supervisor.restart': 'write-low', 'supervisor.status': 'read', 'nginx.reload': 'write-prod', 'prometheus.check': 'read', 'tickets.draft': 'draft',
  };
  const review = (steps: string[], verify: string[], unavailable: (tool: string) => string | undefined = () => undefined) => governanceReview({
    proposer: resolver, plan: { steps: steps.map((tool) => ({ tool })), verify: verify.map((tool) => ({ tool })) }, riskOf: (tool) => RISKS[tool], unavailable,
  });

  it('approves a write plan of tools in the tool set with a read verification', () => {
    expect(review(['supervisor.restart', 'nginx.reload'], ['prometheus.check'])).toEqual({ approved: true, reasons: [] });
  });

  it('refuses a tool the catalog does not have, and one outside the tool set', () => {
    expect(review(['shell.run', 'tickets.draft'], ['prometheus.check'])).toEqual({
      approved: false,
      reasons: ['step 1 (shell.run): the catalog has no such tool', "step 2 (tickets.draft): not in resolver's tool set"],
    });
  });

  it('refuses a tool unavailable in the project now, with why', () => {
    expect(review(['supervisor.restart'], ['prometheus.check'], (tool) => (tool === 'supervisor.restart' ? 'held for review' : undefined))).toEqual({
      approved: false, reasons: ['step 1 (supervisor.restart): unavailable: held for review'],
    });
  });

  it('refuses a verification that writes or is unknown', () => {
    expect(review(['supervisor.status'], ['supervisor.restart', 'nope.check']).reasons).toEqual([
      'verification 1 (supervisor.restart): verifications must read, this tool is write-low',
      'verification 2 (nope.check): the catalog has no such tool',
    ]);
  });

  it('refuses a plan that writes without a verification, but not a read-only one, nor an empty plan silently', () => {
    expect(review(['supervisor.restart'], [])).toEqual({ approved: false, reasons: ['the plan writes but has no verification that re-observes the system'] });
    expect(review(['supervisor.status'], [])).toEqual({ approved: true, reasons: [] });
    expect(review([], [])).toEqual({ approved: false, reasons: ['the plan has no steps'] });
  });
});

describe('ceilingFlags', () => {
  it('makes suggest a shadow mission and approve a required approval, and leaves auto-notify and auto to policy', () => {
    expect(ceilingFlags('suggest')).toEqual({ shadow: true });
    expect(ceilingFlags('approve')).toEqual({ requireApproval: true });
    expect(ceilingFlags('auto-notify')).toEqual({});
    expect(ceilingFlags('auto')).toEqual({});
  });
});

describe('agentMayUse', () => {
  it('matches a tool by name or by <connector>.*, and nothing else', () => {
    expect(agentMayUse(resolver, 'supervisor.restart')).toBe(true);
    expect(agentMayUse(resolver, 'supervisor.status')).toBe(true);
    expect(agentMayUse(resolver, 'nginx.reload')).toBe(true);
    expect(agentMayUse(resolver, 'nginx.reload-all')).toBe(false);
    expect(agentMayUse(resolver, 'supervisorx.restart')).toBe(false);
    expect(agentMayUse(resolver, 'supervisor')).toBe(false);
    expect(agentMayUse(notifier, 'supervisor.restart')).toBe(false);
  });
});
