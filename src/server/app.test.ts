import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AccessError, InputError, type Issue } from '../core/errors.js';
import type { Principal } from '../core/identity/identity.js';
import type { KillSwitch } from '../core/guards/kill-switch.js';
import { MissionRequestSchema, type Mission, type MissionDetail } from '../core/missions/mission.js';
import { isTerminalStage } from '../core/missions/stages.js';
import type { ApprovalService, Authenticator, Caller, EngineHealth, MissionFilter, MissionService } from '../core/ports.js';
import { ToolCatalog } from '../core/tools/catalog.js';
import type { ToolContract } from '../core/tools/tool.js';
import { toIssues } from '../core/validation.js';
import { buildApp, type AppDeps } from './app.js';
import { createMetrics } from './metrics.js';
import type { GovernanceRoutesOptions } from './routes/governance.js';

/** In-memory fake of the MissionService port: validates like the engine, keeps missions in a Map. */
class FakeMissionService implements MissionService {
  readonly missions = new Map<string, MissionDetail>();
  /** Every request `create` received, exactly as passed. */
  readonly received: unknown[] = [];
  /** Every caller `create` received. */
  readonly callers: Caller[] = [];
  lastFilter: MissionFilter | undefined;
  failWith: Error | undefined;
  #clock = 1_700_000_000_000;

  constructor(private readonly catalog: ToolCatalog) {}

  create(request: unknown, caller?: Caller): Promise<{ mission: MissionDetail; created: boolean }> {
    this.received.push(request);
    if (caller !== undefined) this.callers.push(caller);
    if (this.failWith !== undefined) return Promise.reject(this.failWith);
    const parsed = MissionRequestSchema.safeParse(request);
    if (!parsed.success) return Promise.reject(new InputError('INPUT_INVALID', 'invalid mission request', toIssues(parsed.error)));
    const unknownTools = parsed.data.steps.flatMap((step, index): Issue[] =>
      this.catalog.find(step.tool) === undefined ? [{ path: `steps.${index}.tool`, message: 'unknown tool', received: JSON.stringify(step.tool) }] : [],
    );
    if (unknownTools.length > 0) return Promise.reject(new InputError('TOOL_UNKNOWN', 'Unknown tool; list the catalog with GET /v1/tools.', unknownTools));
    const request_ = parsed.data;
    const existing = [...this.missions.values()].find((m) => m.idempotencyKey !== null && m.idempotencyKey === request_.idempotencyKey && m.project === request_.project);
    if (existing !== undefined) return Promise.resolve({ mission: existing, created: false });
    const at = (this.#clock += 1000);
    const mission: MissionDetail = {
      id: randomUUID(),
      title: request_.title,
      project: request_.project,
      requester: caller?.name ?? request_.requester,
      idempotencyKey: request_.idempotencyKey ?? null,
      labels: request_.labels,
      request: request_,
      stage: 'intake',
      outcome: null,
      waitingFor: null,
      risk: 'read',
      decision: null,
      escalation: null,
      workflowVersion: 'test',
      cancelRequested: false,
      createdAt: at,
      updatedAt: at,
      finishedAt: null,
      steps: [],
      history: [{ seq: 1, from: null, to: 'intake', reason: 'created', at }],
    };
    this.missions.set(mission.id, mission);
    return Promise.resolve({ mission, created: true });
  }

  get(id: string): Promise<MissionDetail> {
    const mission = this.missions.get(id);
    return mission === undefined
      ? Promise.reject(new InputError('MISSION_NOT_FOUND', `No mission has ID ${id}.`, [], { details: { id } }))
      : Promise.resolve(mission);
  }

  list(filter: MissionFilter): Promise<Mission[]> {
    this.lastFilter = filter;
    let all = [...this.missions.values()].sort((a, b) => b.createdAt - a.createdAt);
    if (filter.before !== undefined) {
      const before = this.missions.get(filter.before);
      all = all.filter((m) => before !== undefined && m.createdAt < before.createdAt);
    }
    if (filter.stage !== undefined) all = all.filter((m) => m.stage === filter.stage);
    return Promise.resolve(all.slice(0, filter.limit ?? 50));
  }

  async cancel(id: string): Promise<MissionDetail> {
    const mission = await this.get(id);
    if (isTerminalStage(mission.stage)) {
      throw new InputError('MISSION_ALREADY_FINISHED', `Mission ${id} has already finished.`, [], { details: { id, outcome: mission.outcome } });
    }
    const cancelled = { ...mission, cancelRequested: true };
    this.missions.set(id, cancelled);
    return cancelled;
  }

  health(): Promise<EngineHealth> {
    return Promise.resolve({ ready: true, workerId: 'w1', workflowVersion: 'test', queueDepth: 0 });
  }

  /** Puts a mission straight into a stage, as the engine would have. */
  move(id: string, patch: Partial<Pick<Mission, 'stage' | 'outcome'>>): void {
    const mission = this.missions.get(id);
    if (mission === undefined) throw new Error(`no mission ${id}`);
    this.missions.set(id, { ...mission, ...patch });
  }
}

const echo: ToolContract<{ text: string }, { text: string }> = {
  name: 'demo.echo',
  description: 'Returns its input.',
  input: z.object({ text: z.string() }).strict(),
  output: z.object({ text: z.string() }),
  risk: 'read',
  idempotent: true,
  timeoutMs: 1000,
  permission: 'demo:echo',
  execute: (args) => Promise.resolve(args),
};

const validRequest = { title: 'Restart the checkout service', steps: [{ tool: 'demo.echo', args: { text: 'hi' } }] };

/** The principals of the fake authenticator; each one's token is its name. */
const PRINCIPALS: Readonly<Record<string, Principal>> = {
  admin: { id: randomUUID(), kind: 'human', name: 'admin', groups: [], roles: { '*': ['admin'] } },
  viewer: { id: randomUUID(), kind: 'human', name: 'viewer', groups: [], roles: { '*': ['viewer'] } },
  'shop-operator': { id: randomUUID(), kind: 'human', name: 'shop-operator', groups: [], roles: { shop: ['operator'] } },
  'triage-agent': { id: randomUUID(), kind: 'agent', name: 'triage-agent', groups: [], roles: { '*': ['operator'] } },
};

/** Fake of the Authenticator port: a token is a principal's name; `revoked-*` and `expired-*` tokens are refused as such. */
const authenticator: Authenticator = {
  authenticate(token) {
    if (token.startsWith('revoked-')) return Promise.reject(new AccessError('AUTH_TOKEN_REVOKED', 'The token was revoked.'));
    if (token.startsWith('expired-')) return Promise.reject(new AccessError('AUTH_TOKEN_EXPIRED', 'The token has expired.'));
    const principal = PRINCIPALS[token];
    return principal === undefined ? Promise.reject(new AccessError('AUTH_TOKEN_INVALID', 'Unknown token.')) : Promise.resolve(principal);
  },
};

/** The approval routes are tested against the real module (test/approvals); here they find nothing. */
const noApprovals: ApprovalService = {
  list: () => Promise.resolve([]),
  get: (id) => Promise.reject(new InputError('APPROVAL_NOT_FOUND', `No approval request has ID ${id}.`)),
  vote: (id) => Promise.reject(new InputError('APPROVAL_NOT_FOUND', `No approval request has ID ${id}.`)),
};

/** No audit log: the audit routes are tested against the real one in test/engine/audit-api.int.test.ts. */
const noAudit: AppDeps['audit'] = {
  origin: 'interlock/audit',
  verifierKey: () => Promise.reject(new Error('no audit log in this test')),
  query: () => Promise.resolve({ entries: [], next: null }),
  latestCheckpoint: () => Promise.resolve(undefined),
  checkpoint: () => Promise.reject(new Error('no audit log in this test')),
  proof: () => Promise.reject(new Error('no audit log in this test')),
  consistencyProof: () => Promise.reject(new Error('no audit log in this test')),
};

/**
 * The app under test, injecting as principal `as` (its token is its name; `admin` by default), or with
 * no Authorization header when `as` is null, or with the raw `authorization` header given.
 */
interface TestApp {
  inject(options: InjectOptions & { as?: string | null }): Promise<LightMyRequestResponse>;
}

interface Harness {
  app: TestApp;
  missions: FakeMissionService;
  deps: AppDeps;
  logs: string[];
}

const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

/** An in-memory fake of the kill switches and policy source (fakes of ports are fine in unit tests). */
function fakeGovernance(): GovernanceRoutesOptions & { reloadResult: Awaited<ReturnType<GovernanceRoutesOptions['policy']['reload']>> } {
  const switches = new Map<string, KillSwitch>();
  const fake = {
    reloadResult: { ok: true as const, changed: false, digest: 'd'.repeat(64), files: [] as string[] } as Awaited<ReturnType<GovernanceRoutesOptions['policy']['reload']>>,
    killSwitches: {
      engageKillSwitch: (scope: string, by: string, reason: string) => {
        const engaged: KillSwitch = { scope, engaged: true, reason, engagedBy: by, engagedAt: 1, releasedBy: null, releasedAt: null };
        switches.set(scope, engaged);
        return Promise.resolve(engaged);
      },
      releaseKillSwitch: (scope: string, by: string) => {
        const current = switches.get(scope);
        if (current?.engaged !== true) return Promise.resolve(undefined);
        const released = { ...current, engaged: false, releasedBy: by, releasedAt: 2 };
        switches.set(scope, released);
        return Promise.resolve(released);
      },
      listKillSwitches: () => Promise.resolve([...switches.values()]),
    },
    policy: { reload: () => Promise.resolve(fake.reloadResult) },
  };
  return fake;
}

async function harness(overrides: Partial<AppDeps> = {}): Promise<Harness> {
  const catalog = new ToolCatalog([echo]);
  const missions = new FakeMissionService(catalog);
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logs.push(chunk.toString('utf8'));
      callback();
    },
  });
  const deps: AppDeps = {
    missions,
    authenticator,
    approvals: noApprovals,
    audit: noAudit,
    governance: fakeGovernance(),
    catalog,
    metrics: createMetrics(),
    logger: pino({ level: 'info' }, sink),
    version: '1.2.3-test',
    ready: () => Promise.resolve({ ready: true, checks: { database: { ok: true } } }),
    ...overrides,
  };
  const fastify = await buildApp(deps);
  apps.push(fastify);
  const app: TestApp = {
    inject({ as = 'admin', ...options }) {
      const headers = { ...(as === null ? {} : { authorization: `Bearer ${as}` }), ...(options.headers ?? {}) };
      return fastify.inject({ ...options, headers });
    },
  };
  return { app, missions, deps, logs };
}

interface ErrorJson {
  error: { code: string; message: string; details: { issues?: Issue[]; [key: string]: unknown } };
}

function issuePaths(body: ErrorJson): string[] {
  return (body.error.details.issues ?? []).map((issue) => issue.path);
}

describe('POST /v1/missions', () => {
  it('creates a mission (201), then returns the same one (200) for the same Idempotency-Key header', async () => {
    const { app, missions } = await harness();
    const first = await app.inject({ method: 'POST', url: '/v1/missions', headers: { 'idempotency-key': 'incident-42' }, payload: validRequest });
    expect(first.statusCode).toBe(201);
    const created = first.json<{ mission: MissionDetail }>().mission;
    expect(created.title).toBe(validRequest.title);
    expect(created.idempotencyKey).toBe('incident-42');

    const again = await app.inject({ method: 'POST', url: '/v1/missions', headers: { 'idempotency-key': 'incident-42' }, payload: validRequest });
    expect(again.statusCode).toBe(200);
    expect(again.json<{ mission: MissionDetail }>().mission.id).toBe(created.id);
    expect(missions.missions.size).toBe(1);
  });

  it('passes the body as sent to the service (no defaults applied), with the header key and the caller as requester copied in', async () => {
    const { app, missions } = await harness();
    await app.inject({ method: 'POST', url: '/v1/missions', headers: { 'idempotency-key': 'k1' }, payload: validRequest });
    expect(missions.received).toEqual([{ ...validRequest, idempotencyKey: 'k1', requester: 'admin' }]);
  });

  it('refuses a header key that differs from the body key, naming the header', async () => {
    const { app, missions } = await harness();
    const response = await app.inject({
      method: 'POST',
      url: '/v1/missions',
      headers: { 'idempotency-key': 'header-key' },
      payload: { ...validRequest, idempotencyKey: 'body-key' },
    });
    expect(response.statusCode).toBe(400);
    expect(issuePaths(response.json<ErrorJson>())).toEqual(['headers.idempotency-key']);
    expect(missions.received).toHaveLength(0);
  });

  it('answers 400 INPUT_INVALID naming body.title when the title is missing', async () => {
    const { app, missions } = await harness();
    const response = await app.inject({ method: 'POST', url: '/v1/missions', payload: { steps: validRequest.steps } });
    expect(response.statusCode).toBe(400);
    const body = response.json<ErrorJson>();
    expect(body.error.code).toBe('INPUT_INVALID');
    expect(body.error.details.issues).toContainEqual(expect.objectContaining({ path: 'body.title', expected: 'string' }));
    expect(body.error.message).toContain('body.title');
    expect(missions.received).toHaveLength(0);
  });

  it('rejects an unknown field and names it, at the top level and inside a step', async () => {
    const { app } = await harness();
    const response = await app.inject({
      method: 'POST',
      url: '/v1/missions',
      payload: { ...validRequest, colour: 'red', steps: [{ tool: 'demo.echo', args: {}, retries: 3 }] },
    });
    expect(response.statusCode).toBe(400);
    const body = response.json<ErrorJson>();
    expect(issuePaths(body).sort()).toEqual(['body.colour', 'body.steps.0.retries']);
    expect(body.error.details.issues).toContainEqual(expect.objectContaining({ path: 'body.colour', received: '"red"' }));
  });

  it('prefixes the issue paths of errors raised by the service with body (TOOL_UNKNOWN)', async () => {
    const { app } = await harness();
    const response = await app.inject({ method: 'POST', url: '/v1/missions', payload: { title: 't', steps: [{ tool: 'shell.run' }] } });
    expect(response.statusCode).toBe(400);
    const body = response.json<ErrorJson>();
    expect(body.error.code).toBe('TOOL_UNKNOWN');
    expect(issuePaths(body)).toEqual(['body.steps.0.tool']);
  });

  it('answers 400 naming body and "valid JSON" when the body does not parse', async () => {
    const { app } = await harness();
    const response = await app.inject({ method: 'POST', url: '/v1/missions', headers: { 'content-type': 'application/json' }, payload: '{"title": "x",' });
    expect(response.statusCode).toBe(400);
    const body = response.json<ErrorJson>();
    expect(body.error.code).toBe('INPUT_INVALID');
    expect(body.error.details.issues).toEqual([expect.objectContaining({ path: 'body', expected: 'valid JSON' })]);
  });

  it('answers 415 for a body that is not JSON', async () => {
    const { app } = await harness();
    const response = await app.inject({ method: 'POST', url: '/v1/missions', headers: { 'content-type': 'text/plain' }, payload: 'restart it' });
    expect(response.statusCode).toBe(415);
    expect(response.json<ErrorJson>().error).toMatchObject({ code: 'MEDIA_TYPE_UNSUPPORTED', details: { expected: 'application/json' } });
  });

  it('answers 413 for a body over the configured limit, stating the limit', async () => {
    const { app, missions } = await harness({ bodyLimitBytes: 1024 });
    const response = await app.inject({ method: 'POST', url: '/v1/missions', payload: { ...validRequest, title: 'x'.repeat(2000) } });
    expect(response.statusCode).toBe(413);
    expect(response.json<ErrorJson>().error).toMatchObject({ code: 'BODY_TOO_LARGE', details: { limitBytes: 1024 } });
    expect(missions.received).toHaveLength(0);
  });

  it('answers 409 IDEMPOTENCY_KEY_REUSED with the status registered for the code', async () => {
    const { app, missions } = await harness();
    missions.failWith = new InputError('IDEMPOTENCY_KEY_REUSED', 'The key was used for a different request.');
    const response = await app.inject({ method: 'POST', url: '/v1/missions', payload: validRequest });
    expect(response.statusCode).toBe(409);
    expect(response.json<ErrorJson>().error.code).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('answers 500 INTERNAL without leaking an unexpected error, and logs it', async () => {
    const { app, missions, logs } = await harness();
    missions.failWith = new Error('connect ECONNREFUSED postgres://admin:hunter2@db');
    const response = await app.inject({ method: 'POST', url: '/v1/missions', payload: validRequest });
    expect(response.statusCode).toBe(500);
    const body = response.json<ErrorJson>();
    expect(body.error.code).toBe('INTERNAL');
    expect(response.body).not.toContain('hunter2');
    expect(body.error.details.requestId).toEqual(expect.any(String));
    expect(logs.join('')).toContain('hunter2');
  });
});

describe('response contract', () => {
  it('answers 500 INTERNAL when the service returns a mission the API schema does not describe', async () => {
    const { app, missions, logs } = await harness();
    const created = (await app.inject({ method: 'POST', url: '/v1/missions', payload: validRequest })).json<{ mission: MissionDetail }>().mission;
    missions.missions.set(created.id, { ...created, stage: 'paused' as MissionDetail['stage'] });
    const response = await app.inject({ method: 'GET', url: `/v1/missions/${created.id}` });
    expect(response.statusCode).toBe(500);
    expect(response.json<ErrorJson>().error.code).toBe('INTERNAL');
    expect(response.body).not.toContain('paused');
    expect(logs.join('')).toContain('ResponseSerializationError');
  });
});

describe('GET /v1/missions', () => {
  it('pages newest first: next is the last ID of a full page and null on the last page', async () => {
    const { app } = await harness();
    const ids: string[] = [];
    for (const title of ['one', 'two', 'three']) {
      const created = await app.inject({ method: 'POST', url: '/v1/missions', payload: { ...validRequest, title } });
      ids.push(created.json<{ mission: MissionDetail }>().mission.id);
    }
    const first = (await app.inject({ method: 'GET', url: '/v1/missions?limit=2' })).json<{ missions: Mission[]; next: string | null }>();
    expect(first.missions.map((m) => m.title)).toEqual(['three', 'two']);
    expect(first.next).toBe(ids[1]);

    const second = (await app.inject({ method: 'GET', url: `/v1/missions?limit=2&before=${first.next}` })).json<{ missions: Mission[]; next: string | null }>();
    expect(second.missions.map((m) => m.title)).toEqual(['one']);
    expect(second.next).toBeNull();
  });

  it('parses the filters: enums as given, running as a boolean, limit as a number', async () => {
    const { app, missions } = await harness();
    const response = await app.inject({ method: 'GET', url: '/v1/missions?project=shop&stage=review&outcome=denied&running=false&limit=7' });
    expect(response.statusCode).toBe(200);
    expect(missions.lastFilter).toEqual({ project: 'shop', stage: 'review', outcome: 'denied', running: false, limit: 7 });
  });

  it.each([
    ['stage=bogus', 'query.stage'],
    ['limit=0', 'query.limit'],
    ['limit=501', 'query.limit'],
    ['running=yes', 'query.running'],
    ['before=42', 'query.before'],
    ['stagee=plan', 'query.stagee'],
  ])('answers 400 INPUT_INVALID for %s, naming %s', async (query, path) => {
    const { app } = await harness();
    const response = await app.inject({ method: 'GET', url: `/v1/missions?${query}` });
    expect(response.statusCode).toBe(400);
    const body = response.json<ErrorJson>();
    expect(body.error.code).toBe('INPUT_INVALID');
    expect(issuePaths(body)).toEqual([path]);
  });

  it('says what a bad enum value should have been', async () => {
    const { app } = await harness();
    const body = (await app.inject({ method: 'GET', url: '/v1/missions?stage=bogus' })).json<ErrorJson>();
    expect(body.error.details.issues?.[0]).toMatchObject({ received: '"bogus"', expected: expect.stringContaining('"review"') });
  });
});

describe('GET /v1/missions/:id and POST /v1/missions/:id/cancel', () => {
  it('returns the mission with steps and history', async () => {
    const { app } = await harness();
    const created = (await app.inject({ method: 'POST', url: '/v1/missions', payload: validRequest })).json<{ mission: MissionDetail }>().mission;
    const response = await app.inject({ method: 'GET', url: `/v1/missions/${created.id}` });
    expect(response.statusCode).toBe(200);
    const mission = response.json<{ mission: MissionDetail }>().mission;
    expect(mission.id).toBe(created.id);
    expect(mission.history.map((t) => t.to)).toEqual(['intake']);
    expect(mission.request.project).toBe('default');
  });

  it('answers 400 naming params.id for an ID that is not a UUID', async () => {
    const { app } = await harness();
    const response = await app.inject({ method: 'GET', url: '/v1/missions/not-a-uuid' });
    expect(response.statusCode).toBe(400);
    expect(issuePaths(response.json<ErrorJson>())).toEqual(['params.id']);
  });

  it('answers 404 MISSION_NOT_FOUND for an unknown mission', async () => {
    const { app } = await harness();
    const response = await app.inject({ method: 'GET', url: `/v1/missions/${randomUUID()}` });
    expect(response.statusCode).toBe(404);
    expect(response.json<ErrorJson>().error.code).toBe('MISSION_NOT_FOUND');
  });

  it('cancels a running mission (202) and refuses a finished one (409)', async () => {
    const { app, missions } = await harness();
    const created = (await app.inject({ method: 'POST', url: '/v1/missions', payload: validRequest })).json<{ mission: MissionDetail }>().mission;
    const cancelled = await app.inject({ method: 'POST', url: `/v1/missions/${created.id}/cancel` });
    expect(cancelled.statusCode).toBe(202);
    expect(cancelled.json<{ mission: MissionDetail }>().mission.cancelRequested).toBe(true);

    missions.move(created.id, { stage: 'close', outcome: 'resolved' });
    const refused = await app.inject({ method: 'POST', url: `/v1/missions/${created.id}/cancel` });
    expect(refused.statusCode).toBe(409);
    expect(refused.json<ErrorJson>().error.code).toBe('MISSION_ALREADY_FINISHED');
  });
});

describe('other routes', () => {
  it('answers 404 ROUTE_NOT_FOUND for an unknown route, naming method and path', async () => {
    const { app } = await harness();
    const response = await app.inject({ method: 'DELETE', url: '/v1/missions?x=1' });
    expect(response.statusCode).toBe(404);
    expect(response.json<ErrorJson>().error).toMatchObject({ code: 'ROUTE_NOT_FOUND', details: { method: 'DELETE', path: '/v1/missions' } });
  });

  it('lists the tool catalog with JSON Schemas', async () => {
    const { app } = await harness();
    const response = await app.inject({ method: 'GET', url: '/v1/tools' });
    expect(response.statusCode).toBe(200);
    const tools = response.json<{ tools: Array<{ name: string; risk: string; inputSchema: { properties?: Record<string, unknown> } }> }>().tools;
    expect(tools.map((t) => t.name)).toEqual(['demo.echo']);
    expect(tools[0]?.inputSchema.properties).toHaveProperty('text');
  });

  it('answers /healthz with the version', async () => {
    const { app } = await harness();
    const response = await app.inject({ method: 'GET', url: '/healthz' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'ok', version: '1.2.3-test' });
  });

  it('answers /readyz 200 when ready and 503 with the failing check when not', async () => {
    const ready = await harness();
    expect((await ready.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);

    const { app } = await harness({
      ready: () => Promise.resolve({ ready: false, checks: { database: { ok: false, detail: 'connection refused' }, engine: { ok: true } } }),
    });
    const response = await app.inject({ method: 'GET', url: '/readyz' });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toEqual({ status: 'not_ready', checks: { database: { ok: false, detail: 'connection refused' }, engine: { ok: true } } });
  });

  it('answers /readyz 503 when the readiness check itself throws', async () => {
    const { app } = await harness({ ready: () => Promise.reject(new Error('pool exhausted')) });
    const response = await app.inject({ method: 'GET', url: '/readyz' });
    expect(response.statusCode).toBe(503);
    expect(response.json<{ status: string }>().status).toBe('not_ready');
    expect(response.body).not.toContain('pool exhausted');
  });
});

describe('GET /openapi.json', () => {
  it('is an OpenAPI 3.1 document with the four mission operations and the request body schema', async () => {
    const { app } = await harness();
    const response = await app.inject({ method: 'GET', url: '/openapi.json' });
    expect(response.statusCode).toBe(200);
    const doc = response.json<{
      openapi: string;
      info: { version: string };
      paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { $ref?: string } }> }; responses: Record<string, unknown> }>>;
      components: { schemas: Record<string, { required?: string[]; properties?: Record<string, unknown>; additionalProperties?: unknown }> };
    }>();
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc.info.version).toBe('1.2.3-test');
    expect(Object.keys(doc.paths['/v1/missions'] ?? {}).sort()).toEqual(['get', 'post']);
    expect(doc.paths['/v1/missions/{id}']).toHaveProperty('get');
    expect(doc.paths['/v1/missions/{id}/cancel']).toHaveProperty('post');

    const create = doc.paths['/v1/missions']?.post;
    expect(Object.keys(create?.responses ?? {})).toEqual(expect.arrayContaining(['200', '201', '400', '409', '413', '415']));
    const ref = create?.requestBody?.content['application/json']?.schema.$ref ?? '';
    const requestSchema = doc.components.schemas[ref.replace('#/components/schemas/', '')];
    expect(requestSchema?.required).toEqual(expect.arrayContaining(['title', 'steps']));
    expect(requestSchema?.properties).toHaveProperty('idempotencyKey');
    expect(requestSchema?.additionalProperties).toBe(false);
  });

  it('lists only components that some operation references', async () => {
    const { app } = await harness();
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json<{ components: { schemas: Record<string, unknown> } }>();
    const text = JSON.stringify(doc);
    for (const name of Object.keys(doc.components.schemas)) expect(text).toContain(`"#/components/schemas/${name}"`);
    expect(doc.components.schemas).toHaveProperty('MissionDetail');
  });
});

describe('GET /metrics', () => {
  it('exposes the Interlock metrics in Prometheus text format, HTTP requests by route pattern', async () => {
    const { app, deps } = await harness();
    deps.metrics.setCollectors({
      countByStage: () => Promise.resolve([{ stage: 'review', outcome: null, count: 2 }]),
      queueDepth: () => Promise.resolve(4),
    });
    const id = randomUUID();
    await app.inject({ method: 'GET', url: `/v1/missions/${id}` });
    const response = await app.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toContain('text/plain');
    const text = response.body;
    for (const name of [
      'interlock_missions',
      'interlock_missions_finished_total',
      'interlock_stage_transitions_total',
      'interlock_step_duration_seconds',
      'interlock_queue_depth',
      'interlock_http_request_duration_seconds',
      'interlock_process_cpu_seconds_total',
    ]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
    expect(text).toContain('interlock_missions{stage="review",outcome="none"} 2');
    expect(text).toContain('interlock_queue_depth 4');
    expect(text).toContain('interlock_http_request_duration_seconds_count{method="GET",route="/v1/missions/:id",status_code="404"} 1');
    expect(text).not.toContain(id);
  });
});

describe('authentication', () => {
  it.each([
    [null, undefined, 'AUTH_REQUIRED'],
    [null, 'Basic YWRtaW46YWRtaW4=', 'AUTH_TOKEN_INVALID'],
    ['no-such-token', undefined, 'AUTH_TOKEN_INVALID'],
    ['revoked-admin', undefined, 'AUTH_TOKEN_REVOKED'],
    ['expired-admin', undefined, 'AUTH_TOKEN_EXPIRED'],
  ])('answers 401 when the token is %s (header %s): %s, with WWW-Authenticate: Bearer', async (as, authorization, code) => {
    const { app, missions } = await harness();
    const response = await app.inject({ method: 'POST', url: '/v1/missions', payload: validRequest, as, ...(authorization === undefined ? {} : { headers: { authorization } }) });
    expect(response.statusCode).toBe(401);
    expect(response.json<ErrorJson>().error.code).toBe(code);
    expect(response.headers['www-authenticate']).toBe('Bearer realm="interlock"');
    expect(missions.received).toHaveLength(0);
  });

  it('requires a token for every API route, unknown routes included', async () => {
    const { app } = await harness();
    for (const [method, url] of [['GET', '/v1/missions'], ['GET', `/v1/missions/${randomUUID()}`], ['POST', `/v1/missions/${randomUUID()}/cancel`], ['GET', '/v1/tools'], ['GET', '/v1/approvals'], ['GET', '/v1/nothing-here']] as const) {
      const response = await app.inject({ method, url, as: null });
      expect(response.statusCode, `${method} ${url}`).toBe(401);
    }
  });

  it('answers /healthz, /readyz, /metrics and /openapi.json without a token', async () => {
    const { app } = await harness();
    for (const url of ['/healthz', '/readyz', '/metrics', '/openapi.json', '/healthz?probe=1']) {
      expect((await app.inject({ method: 'GET', url, as: null })).statusCode, url).toBe(200);
    }
  });

  it('documents bearer authentication in the OpenAPI document, and the public operations as needing none', async () => {
    const { app } = await harness();
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json', as: null })).json<{
      security: unknown;
      components: { securitySchemes: Record<string, unknown> };
      paths: Record<string, Record<string, { security?: unknown; responses: Record<string, unknown> }>>;
    }>();
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.paths['/healthz']?.get?.security).toEqual([]);
    expect(Object.keys(doc.paths['/v1/missions']?.post?.responses ?? {})).toEqual(expect.arrayContaining(['401', '403']));
    expect(Object.keys(doc.paths['/v1/approvals/{id}/approve']?.post?.responses ?? {})).toEqual(expect.arrayContaining(['200', '401', '403', '404', '409']));
  });
});

describe('authorization of the mission routes', () => {
  it('refuses a viewer creating a mission with 403 FORBIDDEN naming missions:write and the project; nothing is created', async () => {
    const { app, missions } = await harness();
    const response = await app.inject({ method: 'POST', url: '/v1/missions', payload: validRequest, as: 'viewer' });
    expect(response.statusCode).toBe(403);
    const { error } = response.json<ErrorJson>();
    expect(error.code).toBe('FORBIDDEN');
    expect(error.details).toEqual({ permission: 'missions:write', project: 'default', principal: 'viewer' });
    expect(error.message).toMatch(/viewer lacks missions:write in project "default" \(holds only viewer there\)/);
    expect(missions.received).toHaveLength(0);
  });

  it('lets an operator of one project create, list and read missions there, and nowhere else', async () => {
    const { app, missions } = await harness();
    const inShop = await app.inject({ method: 'POST', url: '/v1/missions', payload: { ...validRequest, project: 'shop' }, as: 'shop-operator' });
    expect(inShop.statusCode).toBe(201);
    const shopMission = inShop.json<{ mission: MissionDetail }>().mission;
    expect(shopMission.requester).toBe('shop-operator');
    expect((await app.inject({ method: 'GET', url: `/v1/missions/${shopMission.id}`, as: 'shop-operator' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/v1/missions?project=shop', as: 'shop-operator' })).statusCode).toBe(200);

    const elsewhere = await app.inject({ method: 'POST', url: '/v1/missions', payload: validRequest, as: 'shop-operator' });
    expect(elsewhere.statusCode).toBe(403);
    expect(elsewhere.json<ErrorJson>().error.details).toMatchObject({ permission: 'missions:write', project: 'default' });
    const everything = await app.inject({ method: 'GET', url: '/v1/missions', as: 'shop-operator' });
    expect(everything.statusCode).toBe(403);
    expect(everything.json<ErrorJson>().error.details).toMatchObject({ permission: 'missions:read', project: '*' });

    const other = (await app.inject({ method: 'POST', url: '/v1/missions', payload: validRequest })).json<{ mission: MissionDetail }>().mission;
    for (const [method, url] of [['GET', `/v1/missions/${other.id}`], ['POST', `/v1/missions/${other.id}/cancel`]] as const) {
      const refused = await app.inject({ method, url, as: 'shop-operator' });
      expect(refused.statusCode, `${method} ${url}`).toBe(403);
    }
    expect(missions.missions.get(other.id)?.cancelRequested).toBe(false);
  });

  it('records the authenticated principal as requester and passes it to the service as the caller', async () => {
    const { app, missions } = await harness();
    const response = await app.inject({ method: 'POST', url: '/v1/missions', payload: validRequest, as: 'triage-agent' });
    expect(response.statusCode).toBe(201);
    expect(response.json<{ mission: MissionDetail }>().mission.requester).toBe('triage-agent');
    expect(missions.callers).toEqual([{ name: 'triage-agent', kind: 'agent' }]);
    expect(missions.received).toEqual([expect.objectContaining({ requester: 'triage-agent' })]);
    const same = await app.inject({ method: 'POST', url: '/v1/missions', payload: { ...validRequest, requester: 'triage-agent', agent: 'triage-agent' }, as: 'triage-agent' });
    expect(same.statusCode).toBe(201);
  });

  it('refuses a body that claims another requester or agent, naming the field and the caller', async () => {
    const { app, missions } = await harness();
    const response = await app.inject({ method: 'POST', url: '/v1/missions', payload: { ...validRequest, requester: 'alice', agent: 'triage-agent' }, as: 'admin' });
    expect(response.statusCode).toBe(400);
    const body = response.json<ErrorJson>();
    expect(body.error.code).toBe('INPUT_INVALID');
    expect(body.error.details.issues).toEqual([
      expect.objectContaining({ path: 'body.requester', expected: '"admin" or no requester', received: '"alice"' }),
      expect.objectContaining({ path: 'body.agent', expected: 'no agent' }),
    ]);
    expect(missions.received).toHaveLength(0);
  });
});

describe('governance routes', () => {
  it('[GOV-KILL] lets an admin engage, list and release a kill switch, naming who did it', async () => {
    const { app } = await harness();
    const engaged = await app.inject({ method: 'POST', url: '/v1/kill-switches', payload: { scope: 'project:shop', reason: 'bad deploy' } });
    expect(engaged.statusCode).toBe(200);
    expect(engaged.json().killSwitch).toMatchObject({ scope: 'project:shop', engaged: true, engagedBy: 'admin', reason: 'bad deploy' });
    expect((await app.inject({ method: 'GET', url: '/v1/kill-switches' })).json().killSwitches).toHaveLength(1);
    const released = await app.inject({ method: 'POST', url: '/v1/kill-switches/release', payload: { scope: 'project:shop' } });
    expect(released.json().killSwitch).toMatchObject({ engaged: false, releasedBy: 'admin' });
    expect((await app.inject({ method: 'POST', url: '/v1/kill-switches/release', payload: { scope: 'project:shop' } })).json()).toEqual({ killSwitch: null });
  });

  it('refuses non-admins and malformed scopes', async () => {
    const { app } = await harness();
    const forbidden = await app.inject({ method: 'POST', url: '/v1/kill-switches', payload: { scope: 'global', reason: 'x' }, as: 'shop-operator' });
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.json().error.code).toBe('FORBIDDEN');
    const bad = await app.inject({ method: 'POST', url: '/v1/kill-switches', payload: { scope: 'everything', reason: 'x' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.details.issues[0].path).toBe('body.scope');
  });

  it('answers 422 with every problem when a policy reload is rejected, and names the set still in force', async () => {
    const governance = fakeGovernance();
    governance.reloadResult = { ok: false, digest: 'e'.repeat(64), error: { code: 'POLICY_INVALID', message: 'invalid policy set, 1 problem', details: { issues: [{ file: 'freeze.yaml', line: 3 }] } } };
    const { app } = await harness({ governance });
    const response = await app.inject({ method: 'POST', url: '/v1/policy/reload' });
    expect(response.statusCode).toBe(422);
    expect(response.json()).toMatchObject({ ok: false, digest: 'e'.repeat(64), error: { code: 'POLICY_INVALID' } });
  });
});
