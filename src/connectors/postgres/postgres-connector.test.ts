// Unit tests of the postgres connector's argument checks, targets and pool tools, with a real HTTP
// server for the service's metrics; test/connectors/postgres.int.test.ts runs the session tools
// against the machine's PostgreSQL.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConnectorError, InputError } from '../../core/errors.js';
import { ToolCatalog } from '../../core/tools/catalog.js';
import type { ToolContext } from '../../core/tools/tool.js';
import { PostgresConfigSchema } from './postgres-config.js';
import { createPostgresConnector } from './postgres-connector.js';

let dir: string;
let server: Server;
let metricsUrl: string;
/** What the metrics endpoint answers: the pool file's max, unless a test overrides it. */
let serve: () => Promise<{ status: number; body: string }>;

const context = (key: string): ToolContext => ({ idempotencyKey: key, missionId: 'm', stepId: 's1', attempt: 1, signal: new AbortController().signal });
const poolFile = (): string => join(dir, 'pools', 'payments.json');

function catalogWith(overrides: Record<string, unknown> = {}): ToolCatalog {
  const config = PostgresConfigSchema.parse({
    enabled: true,
    // Nothing listens here: these tests never reach the database.
    url: 'postgres://interlock@127.0.0.1:1/none',
    verifyWindowMs: 300,
    services: [
      { name: 'payments', tier: 'standard', pool: { file: poolFile(), metricsUrl, baseline: 4, min: 2, max: 16 } },
      { name: 'checkout', applicationName: 'checkout-api', tier: 'critical', risk: 'write-prod' },
    ],
    ...overrides,
  });
  const catalog = new ToolCatalog(createPostgresConnector(config));
  catalog.check();
  return catalog;
}

async function call(catalog: ToolCatalog, tool: string, args: Record<string, unknown>, key = `m:${tool}`): Promise<any> {
  const checked = catalog.validateArgs(tool, args, 'steps.0');
  if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
  return catalog.get(tool).execute(checked.args, context(key));
}

beforeAll(async () => {
  server = createServer((_, response) => {
    void serve().then(({ status, body }) => {
      response.writeHead(status, { 'content-type': 'text/plain; version=0.0.4' });
      response.end(body);
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  metricsUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
});

afterAll(async () => {
  await new Promise((done) => server.close(done));
});

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'postgres-connector-'));
  await mkdir(join(dir, 'pools'));
  await writeFile(poolFile(), '{"max": 4}\n');
  serve = async () => {
    const { max } = JSON.parse(await readFile(poolFile(), 'utf8')) as { max: number };
    return { status: 200, body: `# HELP db_pool_max Pool size.\n# TYPE db_pool_max gauge\ndb_pool_max{service="payments",version="2.1.0"} ${max}\ndb_pool_max_other 1\n` };
  };
  return () => rm(dir, { recursive: true, force: true });
});

describe('postgres connector contracts', () => {
  it('takes the highest risk of the services, and puts the service, tier and application in the target', () => {
    const catalog = catalogWith();
    expect(catalog.get('postgres.activity').risk).toBe('read');
    expect(catalog.get('postgres.terminate').risk).toBe('write-prod');
    expect(catalog.get('postgres.set_pool_size').risk).toBe('write-low'); // only payments has a pool
    expect(catalog.get('postgres.terminate').compensation).toBeUndefined();
    expect(catalog.get('postgres.set_pool_size').compensation?.tool).toBe('postgres.set_pool_size');
    expect(catalog.get('postgres.terminate').target!({ service: 'checkout', minDurationMs: 5000 }))
      .toEqual({ service: 'checkout', tier: 'critical', labels: { system: 'postgres', application: 'checkout-api', risk: 'write-prod' } });
    expect(catalog.get('postgres.activity').target!({ limit: 10 })).toEqual({ service: null, tier: null, labels: { system: 'postgres' } });
    // The catalog publishes every contract as JSON Schema (API, MCP).
    expect(catalog.describe().map((t) => [t.name, t.compensation])).toEqual([
      ['postgres.activity', null], ['postgres.revert_pool_size', 'postgres.set_pool_size'], ['postgres.set_pool_size', 'postgres.set_pool_size'], ['postgres.terminate', null],
    ]);
  });

  it('names the field of every bad argument', () => {
    const catalog = catalogWith();
    const issues = (tool: string, args: unknown): string[] => {
      const checked = catalog.validateArgs(tool, args, 'steps.0');
      return checked.ok ? [] : checked.issues.map((i) => `${i.path}: ${i.message}`);
    };
    expect(issues('postgres.terminate', { service: 'payments', minDurationMs: 1000 })).toEqual([]);
    expect(issues('postgres.terminate', { service: 'payments', pid: 42 })).toEqual([]);
    expect(issues('postgres.terminate', { service: 'payments' })).toEqual(['steps.0.args.minDurationMs: is required when pid is not given (terminate the active queries running at least this long, ms, >= 1000)']);
    expect(issues('postgres.terminate', { service: 'payments', pid: 42, minDurationMs: 5000 })[0]).toMatch(/^steps\.0\.args\.pid: cannot be given with minDurationMs/);
    expect(issues('postgres.terminate', { service: 'payments', minDurationMs: 999 }).map((i) => i.split(':')[0])).toEqual(['steps.0.args.minDurationMs']);
    expect(issues('postgres.terminate', { service: 'reports', minDurationMs: 5000 })).toEqual(['steps.0.args.service: a service listed in connectors.postgres.services (payments, checkout)']);
    expect(issues('postgres.activity', { limit: 0 }).map((i) => i.split(':')[0])).toEqual(['steps.0.args.limit']);
    expect(issues('postgres.set_pool_size', { service: 'payments', size: 17 })).toEqual([
      'steps.0.args.size: size 17 is outside the pool limits of service payments: 2..16 (connectors.postgres.services[].pool min..max; max is the hard limit)',
    ]);
    expect(issues('postgres.set_pool_size', { service: 'payments', size: 1 }).map((i) => i.split(':')[0])).toEqual(['steps.0.args.size']);
    expect(issues('postgres.set_pool_size', { service: 'checkout', size: 8 })).toEqual(['steps.0.args.service: a service of connectors.postgres.services with a pool (payments)']);
    expect(issues('postgres.revert_pool_size', { service: 'payments', extra: 1 }).map((i) => i.split(':')[0])).toEqual(['steps.0.args']);
  });
});

describe('postgres.set_pool_size and postgres.revert_pool_size', () => {
  it('refuses a size beyond the hard limit with an InputError naming size and the limit, writing nothing', async () => {
    const tool = catalogWith().get('postgres.set_pool_size');
    const error = await tool.execute({ service: 'payments', size: 40 }, context('m:big')).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InputError);
    expect(error).toMatchObject({ code: 'TOOL_ARGS_INVALID', issues: [{ path: 'size', expected: '2..16', received: '40' }] });
    expect((error as Error).message).toContain('2..16');
    expect(await readFile(poolFile(), 'utf8')).toBe('{"max": 4}\n');
  });

  it('sets max in the pool file (keeping its other keys), is verified by the metrics, and is compensated back', async () => {
    await writeFile(poolFile(), '{"max": 4, "idleTimeoutMs": 1000}\n');
    const catalog = catalogWith();
    const tool = catalog.get('postgres.set_pool_size');
    const result = await call(catalog, 'postgres.set_pool_size', { service: 'payments', size: 12 }, 'm:s1');
    expect(result).toEqual({ service: 'payments', previous: 4, size: 12 });
    expect(JSON.parse(await readFile(poolFile(), 'utf8'))).toEqual({ max: 12, idleTimeoutMs: 1000 });
    expect(await readdir(join(dir, 'pools'))).toEqual(['.interlock', 'payments.json']); // no temporary file left

    const check = await tool.verification!.check({ tool: tool.name, args: { service: 'payments', size: 12 }, idempotencyKey: 'm:s1' }, result, new AbortController().signal);
    expect(check).toEqual({ ok: true, observed: 'payments reports db_pool_max 12' });
    expect(await tool.observe!({ service: 'payments', size: 12 }, new AbortController().signal)).toEqual({ poolSize: 12, reportedPoolSize: 12, baseline: 4, max: 16 });

    const compensation = tool.compensation!.args({ service: 'payments', size: 12 }, result);
    expect(compensation).toEqual({ service: 'payments', size: 4 });
    expect(await call(catalog, 'postgres.set_pool_size', compensation, 'm:s1:compensate')).toEqual({ service: 'payments', previous: 12, size: 4 });
    expect(JSON.parse(await readFile(poolFile(), 'utf8'))).toEqual({ max: 4, idleTimeoutMs: 1000 });
  });

  it('reports the size before the first attempt when a call is retried after it took effect', async () => {
    const catalog = catalogWith();
    expect(await call(catalog, 'postgres.set_pool_size', { service: 'payments', size: 10 }, 'm:retry')).toEqual({ service: 'payments', previous: 4, size: 10 });
    // A new connector (a restarted worker) runs the same step again: the file already holds 10.
    expect(await call(catalogWith(), 'postgres.set_pool_size', { service: 'payments', size: 10 }, 'm:retry')).toEqual({ service: 'payments', previous: 4, size: 10 });
    // Another step sees 10 as its previous size.
    expect(await call(catalog, 'postgres.set_pool_size', { service: 'payments', size: 10 }, 'm:other')).toEqual({ service: 'payments', previous: 10, size: 10 });
  });

  it('reverts to the baseline', async () => {
    await writeFile(poolFile(), '{"max": 14}');
    const catalog = catalogWith();
    expect(await call(catalog, 'postgres.revert_pool_size', { service: 'payments' }, 'm:revert')).toEqual({ service: 'payments', previous: 14, size: 4 });
    expect(JSON.parse(await readFile(poolFile(), 'utf8'))).toEqual({ max: 4 });
    expect(catalog.get('postgres.revert_pool_size').compensation!.args({ service: 'payments' }, { service: 'payments', previous: 14, size: 4 })).toEqual({ service: 'payments', size: 14 });
  });

  it('fails the verification while the metrics report another size, miss the gauge or cannot be read', async () => {
    const tool = catalogWith().get('postgres.set_pool_size');
    const check = (size: number) => tool.verification!.check({ tool: tool.name, args: { service: 'payments', size }, idempotencyKey: 'k' }, { service: 'payments', previous: 4, size }, new AbortController().signal);
    expect(await check(12)).toEqual({ ok: false, observed: 'payments reports db_pool_max 4; expected 12' });
    serve = () => Promise.resolve({ status: 200, body: 'db_pool_max{service="catalog"} 12\n' });
    expect(await check(12)).toEqual({ ok: false, observed: 'the metrics of payments have no db_pool_max{service="payments"}' });
    serve = () => Promise.resolve({ status: 503, body: 'starting' });
    expect((await check(12)).observed).toMatch(/^could not read the metrics of payments: .*HTTP 503/);
    serve = () => Promise.resolve({ status: 200, body: 'db_pool_max{service="payments"} twelve\n' });
    expect((await check(12)).observed).toMatch(/not valid Prometheus text format \(line 1:/);
  });

  it('fails without writing when the pool file is missing or is not a pool settings file', async () => {
    const catalog = catalogWith();
    await rm(poolFile());
    await expect(call(catalog, 'postgres.set_pool_size', { service: 'payments', size: 8 }, 'm:missing')).rejects.toMatchObject({ code: 'TOOL_FAILED', retryable: false, systemStatus: 'ENOENT' });
    await writeFile(poolFile(), '{"max": "eight"}');
    const error = await call(catalog, 'postgres.set_pool_size', { service: 'payments', size: 8 }, 'm:bad').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConnectorError);
    expect((error as Error).message).toMatch(/is not a pool settings file/);
    expect(await readFile(poolFile(), 'utf8')).toBe('{"max": "eight"}');
  });
});

describe('postgres session tools without a database', () => {
  it('fail retryably, naming host and database but never the URL\'s user or password', async () => {
    const config = PostgresConfigSchema.parse({ enabled: true, urlEnv: 'DB_URL', statementTimeoutMs: 2000, services: [{ name: 'payments' }] });
    const tools = createPostgresConnector({ ...config, secretUrl: 'postgres://app:hunter2@127.0.0.1:1/estate' });
    const activity = tools.find((t) => t.name === 'postgres.activity')!;
    const error = await activity.execute({ limit: 10 }, context('m:a')).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConnectorError);
    expect(error).toMatchObject({ code: 'TOOL_FAILED', retryable: true, outcomeUnknown: false, systemStatus: 'ECONNREFUSED' });
    expect((error as Error).message).toContain('127.0.0.1:1/estate');
    expect(JSON.stringify({ message: (error as Error).message, details: (error as ConnectorError).details })).not.toMatch(/hunter2|app:/);
  });
});
