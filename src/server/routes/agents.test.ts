import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { serializerCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentDefinitionSchema, type AgentDefinition } from '../../core/agents/agent.js';
import type { MissionFacts } from '../../core/agents/track-record.js';
import { AccessError } from '../../core/errors.js';
import type { Principal } from '../../core/identity/identity.js';
import { addAuthentication } from '../auth.js';
import { handleError, handleNotFound, validatorCompiler } from '../errors.js';
import { agentRoutes, type AgentsRoutesOptions } from './agents.js';

const NOW = Date.parse('2026-03-25T03:00:00Z');

const PRINCIPALS: Readonly<Record<string, Principal>> = {
  viewer: { id: randomUUID(), kind: 'human', name: 'viewer', groups: [], roles: { '*': ['viewer'] } },
  'shop-viewer': { id: randomUUID(), kind: 'human', name: 'shop-viewer', groups: [], roles: { shop: ['viewer'] } },
  nobody: { id: randomUUID(), kind: 'human', name: 'nobody', groups: [], roles: {} },
};

function agent(name: string, role: AgentDefinition['spec']['role'], extra: Record<string, unknown> = {}): AgentDefinition {
  return AgentDefinitionSchema.parse({ apiVersion: 'interlock.dev/v1', kind: 'Agent', metadata: { name, owner: 'sre-team' }, spec: { role, project: 'shop', instructions: 'Do the job.', ...extra } });
}

const AGENTS = new Map([
  ['triage', agent('triage', 'triage', { handsOffTo: ['resolver'], tools: ['diagnosis.run'] })],
  ['resolver', agent('resolver', 'resolution', { tools: ['supervisor.*'], autonomyCeiling: 'approve', reasoner: 'llm:local/qwen2.5' })],
  ['ops-triage', agent('ops-triage', 'triage', { project: 'ops' })],
]);

function facts(overrides: Partial<MissionFacts>): MissionFacts {
  return {
    missionId: randomUUID(), project: 'shop', agent: 'resolver', runbook: 'restart-on-leak', runbookVersion: 2, createdAt: NOW - 86_400_000, outcome: 'resolved',
    approvalRequests: 1, approvalsGranted: 1, approvalsDenied: 0, cancelledByPerson: false, verificationSteps: 1, verificationsPassed: 1, verificationFailed: false, ...overrides,
  };
}

const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

async function app(options: AgentsRoutesOptions & { filters?: unknown[] }): Promise<FastifyInstance> {
  const fastify = Fastify({ logger: false });
  fastify.setValidatorCompiler(validatorCompiler);
  fastify.setSerializerCompiler(serializerCompiler);
  fastify.setErrorHandler(handleError);
  fastify.setNotFoundHandler(handleNotFound);
  addAuthentication(fastify, {
    authenticate: (token) => (PRINCIPALS[token] === undefined ? Promise.reject(new AccessError('AUTH_TOKEN_INVALID', 'Unknown token.')) : Promise.resolve(PRINCIPALS[token])),
  });
  await fastify.withTypeProvider<ZodTypeProvider>().register(agentRoutes, { prefix: '/v1', ...options });
  apps.push(fastify);
  return fastify;
}

const get = (fastify: FastifyInstance, url: string, as = 'viewer') => fastify.inject({ method: 'GET', url, headers: { authorization: `Bearer ${as}` } });

describe('GET /v1/agents', () => {
  it('lists the loaded agents by name with role, project, reasoner, ceiling, owner, tools and hand-offs', async () => {
    const fastify = await app({ agents: () => AGENTS });
    const response = await get(fastify, '/v1/agents?project=shop', 'shop-viewer');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      agents: [
        { name: 'resolver', role: 'resolution', project: 'shop', reasoner: 'llm:local/qwen2.5', autonomyCeiling: 'approve', owner: 'sre-team', description: null, tools: ['supervisor.*'], handsOffTo: [] },
        { name: 'triage', role: 'triage', project: 'shop', reasoner: 'builtin', autonomyCeiling: 'approve', owner: 'sre-team', description: null, tools: ['diagnosis.run'], handsOffTo: ['resolver'] },
      ],
    });
    expect((await get(fastify, '/v1/agents')).json<{ agents: unknown[] }>().agents).toHaveLength(3);
  });

  it('answers an empty list without agents, and 403 without missions:read where asked', async () => {
    expect((await get(await app({}), '/v1/agents')).json()).toEqual({ agents: [] });
    const fastify = await app({ agents: () => AGENTS });
    const forbidden = await get(fastify, '/v1/agents', 'shop-viewer');
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.json()).toMatchObject({ error: { code: 'FORBIDDEN', details: { permission: 'missions:read', project: '*' } } });
    expect((await get(fastify, '/v1/agents?project=shop', 'nobody')).statusCode).toBe(403);
  });
});

describe('GET /v1/agents/stats', () => {
  it('answers the track record per agent and per runbook since 30 days by default, with suggestions from the ceilings', async () => {
    const asked: unknown[] = [];
    const fastify = await app({
      agents: () => AGENTS, now: () => NOW,
      trackRecord: { facts: (filter) => { asked.push(filter); return Promise.resolve([...Array.from({ length: 20 }, () => facts({})), facts({ agent: 'gone', runbook: null })]); } },
    });
    const response = await get(fastify, '/v1/agents/stats');
    expect(response.statusCode).toBe(200);
    expect(asked).toEqual([{ since: NOW - 30 * 86_400_000 }]);
    const body = response.json<{ since: number; until: number; agents: Array<Record<string, unknown>>; runbooks: Array<Record<string, unknown>> }>();
    expect(body).toMatchObject({ since: NOW - 30 * 86_400_000, until: NOW });
    expect(body.agents.map((a) => [a.agent, a.autonomyCeiling, a.proposals])).toEqual([['gone', null, 1], ['resolver', 'approve', 20]]);
    expect(body.agents[1]).toMatchObject({ verifiedSuccesses: 20, corrections: 0, successRate: 1, suggestion: { action: 'raise', from: 'approve', to: 'auto-notify', text: 'raise to auto-notify: 20 verified successes, 0 corrections, 0 failed verifications in the last 30 days' } });
    expect(body.runbooks).toEqual([expect.objectContaining({ runbook: 'restart-on-leak', versions: [2], proposals: 20, suggestion: expect.objectContaining({ action: 'supports', to: 'auto-notify' }) })]);
  });

  it('takes since as a duration or an ISO date-time, filters by project, and refuses a future or malformed since', async () => {
    const asked: unknown[] = [];
    const fastify = await app({ now: () => NOW, trackRecord: { facts: (filter) => { asked.push(filter); return Promise.resolve([]); } } });
    expect((await get(fastify, '/v1/agents/stats?since=7d&project=shop', 'shop-viewer')).json()).toEqual({ since: NOW - 7 * 86_400_000, until: NOW, agents: [], runbooks: [] });
    expect((await get(fastify, '/v1/agents/stats?since=2026-03-01T00:00:00Z')).statusCode).toBe(200);
    expect(asked).toEqual([{ since: NOW - 7 * 86_400_000, project: 'shop' }, { since: Date.parse('2026-03-01T00:00:00Z') }]);
    for (const since of ['yesterday', '2027-01-01T00:00:00Z']) {
      const refused = await get(fastify, `/v1/agents/stats?since=${since}`);
      expect(refused.statusCode).toBe(400);
      expect(refused.json()).toMatchObject({ error: { code: 'INPUT_INVALID', details: { issues: [{ path: 'since' }] } } });
    }
    expect((await get(fastify, '/v1/agents/stats', 'shop-viewer')).statusCode).toBe(403);
  });
});
