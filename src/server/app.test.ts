import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { InputError, type Issue } from '../core/errors.js';
import { MissionRequestSchema, type Mission, type MissionDetail } from '../core/missions/mission.js';
import { isTerminalStage } from '../core/missions/stages.js';
import type { EngineHealth, MissionFilter, MissionService } from '../core/ports.js';
import { ToolCatalog } from '../core/tools/catalog.js';
import type { ToolContract } from '../core/tools/tool.js';
import { toIssues } from '../core/validation.js';
import { buildApp, type AppDeps } from './app.js';
import { createMetrics } from './metrics.js';

/** In-memory fake of the MissionService port: validates like the engine, keeps missions in a Map. */
class FakeMissionService implements MissionService {
  readonly missions = new Map<string, MissionDetail>();
  /** Every request `create` received, exactly as passed. */
  readonly received: unknown[] = [];
  lastFilter: MissionFilter | undefined;
  failWith: Error | undefined;
  #clock = 1_700_000_000_000;

  constructor(private readonly catalog: ToolCatalog) {}

  create(request: unknown): Promise<{ mission: MissionDetail; created: boolean }> {
    this.received.push(request);
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
      requester: request_.requester,
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

interface Harness {
  app: FastifyInstance;
  missions: FakeMissionService;
  deps: AppDeps;
  logs: string[];
}

const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

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
    catalog,
    metrics: createMetrics(),
    logger: pino({ level: 'info' }, sink),
    version: '1.2.3-test',
    ready: () => Promise.resolve({ ready: true, checks: { database: { ok: true } } }),
    ...overrides,
  };
  const app = await buildApp(deps);
  apps.push(app);
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

  it('passes the body as sent to the service (no defaults applied), with the header key copied in', async () => {
    const { app, missions } = await harness();
    await app.inject({ method: 'POST', url: '/v1/missions', headers: { 'idempotency-key': 'k1' }, payload: validRequest });
    expect(missions.received).toEqual([{ ...validRequest, idempotencyKey: 'k1' }]);
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
