// The Prometheus and Alertmanager connectors against the real servers (Debian's packages), started
// by test/support/prometheus.ts: Prometheus scrapes a prom-client endpoint served here every second
// and evaluates an alerting rule that fires; Alertmanager receives the alert. Nothing is timed: each
// test polls, with a deadline, until the data it needs is there.
import { once } from 'node:events';
import { createServer as createHttpServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import getPort from 'get-port';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertmanagerConfigSchema, createAlertmanagerConnector } from '../../src/connectors/alertmanager/index.js';
import { createPrometheusConnector, PrometheusConfigSchema } from '../../src/connectors/prometheus/index.js';
import { ConnectorError } from '../../src/core/errors.js';
import { ToolCatalog } from '../../src/core/tools/catalog.js';
import type { ToolContext } from '../../src/core/tools/tool.js';
import { skipReason, startAlertmanager, startPrometheus, type RunningServer } from '../support/prometheus.js';
import { DEMO_RULE_GROUPS, demoMetrics, serveMetrics } from '../support/prometheus-demo.js';

const skip = skipReason();
const ROUTES = Array.from({ length: 30 }, (_, index) => `/route-${String(index).padStart(2, '0')}`);

const context = (signal = new AbortController().signal): ToolContext => ({ idempotencyKey: 'm:s1', missionId: 'm', stepId: 's1', attempt: 1, signal });

/** Calls `check` until it returns a value (not undefined), failing after `timeoutMs`. */
async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${last === undefined ? '' : ` (last error: ${last instanceof Error ? last.message : JSON.stringify(last)})`}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function failureOf(promise: Promise<unknown>): Promise<ConnectorError> {
  const error = await promise.then(() => undefined, (caught: unknown) => caught);
  if (!(error instanceof ConnectorError)) throw new Error(`expected a ConnectorError, got ${String(error)}`);
  return error;
}

describe.skipIf(skip !== undefined)(`Prometheus and Alertmanager connectors against the real servers${skip === undefined ? '' : ` (skipped: ${skip})`}`, () => {
  let metrics: Server;
  let prometheus: RunningServer;
  let alertmanager: RunningServer;
  let catalog: ToolCatalog;

  beforeAll(async () => {
    const { registry, requests } = demoMetrics();
    for (const route of ROUTES) requests.inc({ route }, 0);
    const served = await serveMetrics(registry, () => {
      for (const route of ROUTES) requests.inc({ route });
    });
    metrics = served.server;
    alertmanager = await startAlertmanager();
    prometheus = await startPrometheus({ scrapeTargets: [served.target], alertmanagers: [alertmanager.address], ruleGroups: DEMO_RULE_GROUPS });
    catalog = new ToolCatalog([
      ...createPrometheusConnector(PrometheusConfigSchema.parse({ enabled: true, url: prometheus.url, maxSeries: 10, maxSamples: 100 })),
      ...createAlertmanagerConnector(AlertmanagerConfigSchema.parse({ enabled: true, url: alertmanager.url })),
    ]);
    catalog.check();
    // Five scrapes of every series, so range queries have history.
    await eventually('five scrapes', async () => {
      const result = await catalog.get('prometheus.query').execute({ query: 'count_over_time(demo_queue_depth{service="checkout"}[1m])' }, context());
      const count = result.series[0]?.values[0]?.[1];
      return typeof count === 'number' && count >= 5 ? true : undefined;
    });
  });

  afterAll(async () => {
    await prometheus?.stop();
    await alertmanager?.stop();
    metrics?.closeAllConnections();
    await new Promise((resolve) => metrics?.close(resolve) ?? resolve(undefined));
  });

  describe('prometheus', () => {
    it('evaluates an instant query at the given time, values as numbers', async () => {
      const time = Date.now() - 1000;
      const result = await catalog.get('prometheus.query').execute({ query: 'demo_queue_depth', time: new Date(time).toISOString() }, context());
      expect(result).toMatchObject({ resultType: 'vector', time, truncated: false, omitted: { series: 0, samples: 0 }, warnings: [] });
      const byService = Object.fromEntries(result.series.map((series: { labels: Record<string, string>; values: Array<[number, unknown]> }) => [series.labels.service, series.values]));
      expect(byService).toEqual({ checkout: [[time, 42]], billing: [[time, 3]] });
    });

    it('returns NaN and +Inf as explicit strings', async () => {
      const result = await catalog.get('prometheus.query').execute({ query: 'demo_odd_values' }, context());
      expect(Object.fromEntries(result.series.map((series: { labels: Record<string, string>; values: Array<[number, unknown]> }) => [series.labels.kind, series.values[0]?.[1]]))).toEqual({ nan: 'NaN', inf: '+Inf' });
      expect(catalog.get('prometheus.query').output.safeParse(result).success).toBe(true);
    });

    it('evaluates a range query at the step, oldest sample first', async () => {
      // Polls until the five-second range lies wholly after the first scrape.
      const { result, start, end } = await eventually('five points of history', async () => {
        const end = Date.now() - 1000;
        const start = end - 4000;
        const result = await catalog.get('prometheus.query_range').execute({ query: 'demo_queue_depth{service="checkout"}', start, end, step: '1s' }, context());
        return result.series[0]?.values.length === 5 ? { result, start, end } : undefined;
      });
      expect(result).toMatchObject({ resultType: 'matrix', start, end, stepMs: 1000, truncated: false });
      expect(result.series).toHaveLength(1);
      expect(result.series[0].values).toEqual([0, 1, 2, 3, 4].map((index) => [start + index * 1000, 42]));
    });

    it('truncates a result over maxSeries or maxSamples and counts what it left out', async () => {
      const wide = await catalog.get('prometheus.query').execute({ query: 'demo_requests_total' }, context());
      expect(wide.series).toHaveLength(10);
      expect(wide).toMatchObject({ truncated: true, omitted: { series: ROUTES.length - 10, samples: ROUTES.length - 10 } });

      const tight = new ToolCatalog(createPrometheusConnector(PrometheusConfigSchema.parse({ enabled: true, url: prometheus.url, maxSeries: 100, maxSamples: 12 })));
      const range = await eventually('five points of history', async () => {
        const end = Date.now() - 1000;
        const result = await tight.get('prometheus.query_range').execute({ query: 'demo_requests_total', start: end - 4000, end, step: 1 }, context());
        return result.series[0]?.values.length === 5 ? result : undefined;
      });
      // 12 samples at 5 per series: two whole series and the first 2 samples of the third.
      expect(range.series.map((series: { values: unknown[] }) => series.values.length)).toEqual([5, 5, 2]);
      expect(range).toMatchObject({ truncated: true, omitted: { series: ROUTES.length - 3, samples: ROUTES.length * 5 - 12 } });
    });

    it('lists matching series and the firing alert', async () => {
      const series = await catalog.get('prometheus.series').execute({ match: ['demo_queue_depth'] }, context());
      expect(series.series.map((labels: Record<string, string>) => labels.service).sort()).toEqual(['billing', 'checkout']);
      expect(series.end - series.start).toBe(3_600_000);
      const alerts = await eventually('QueueDeep firing', async () => {
        const result = await catalog.get('prometheus.alerts').execute({}, context());
        return result.alerts.some((alert: { state: string }) => alert.state === 'firing') ? result : undefined;
      });
      expect(alerts.alerts).toMatchObject([{ labels: { alertname: 'QueueDeep', service: 'checkout' }, state: 'firing', value: 42, annotations: { summary: 'Queue of checkout is deep' } }]);
    });

    it('checks a query against a threshold: passes inside the bounds, names the series outside them', async () => {
      const check = catalog.get('prometheus.check');
      const pass = await eventually('the queue depth scraped', async () => {
        const result = await check.execute({ query: 'demo_queue_depth{service="checkout"}', below: 100 }, context());
        return result.ok ? result : undefined;
      });
      expect(pass).toMatchObject({ ok: true, series: [{ labels: { service: 'checkout' }, value: 42 }] });
      expect(pass.observed).toContain('all below 100');
      const fail = await check.execute({ query: 'demo_queue_depth{service="checkout"}', below: 10 }, context());
      expect(fail).toMatchObject({ ok: false });
      expect(fail.observed).toMatch(/1 of 1 series not below 10: \{.*service="checkout".*\} 42/);
      // No data is no proof, unless the check says an empty result passes.
      expect(await check.execute({ query: 'demo_queue_depth{service="nowhere"}', below: 10 }, context())).toMatchObject({ ok: false });
      expect(await check.execute({ query: 'demo_queue_depth{service="nowhere"}', below: 10, ifEmpty: 'pass' }, context())).toMatchObject({ ok: true });
      // A result cut at maxSeries is not all of it: the check does not pass on part of the data.
      const truncated = await check.execute({ query: 'demo_requests_total', above: -1 }, context());
      expect(truncated).toMatchObject({ ok: false });
      expect(truncated.observed).toContain('truncated');
    });

    it('reports a bad query as a non-retryable TOOL_FAILED quoting Prometheus', async () => {
      const error = await failureOf(catalog.get('prometheus.query').execute({ query: 'sum(' }, context()));
      expect(error).toMatchObject({ code: 'TOOL_FAILED', system: 'prometheus', systemStatus: 400, retryable: false, details: { errorType: 'bad_data' } });
      expect(error.message).toContain('unclosed left parenthesis');
    });

    it('fails a call whose answer is larger than maxResponseBytes, without reading it all', async () => {
      const small = new ToolCatalog(createPrometheusConnector(PrometheusConfigSchema.parse({ enabled: true, url: prometheus.url, maxResponseBytes: 1024 })));
      const error = await failureOf(small.get('prometheus.query').execute({ query: 'demo_requests_total' }, context()));
      expect(error).toMatchObject({ code: 'TOOL_FAILED', retryable: false, message: expect.stringContaining('connectors.prometheus.maxResponseBytes') });
    });
  });

  describe('alertmanager', () => {
    it('lists the alert Prometheus sent, then shows it silenced by a silence it lists too', async () => {
      const alerts = catalog.get('alertmanager.alerts');
      const active = await eventually('QueueDeep in Alertmanager', async () => {
        const result = await alerts.execute({ filter: ['alertname="QueueDeep"'] }, context());
        return result.alerts.length > 0 ? result : undefined;
      });
      expect(active).toMatchObject({ truncated: false, omitted: { alerts: 0 }, alerts: [{ labels: { alertname: 'QueueDeep', service: 'checkout', severity: 'page' }, state: 'active', silencedBy: [], receivers: ['default'] }] });
      expect(active.alerts[0].startsAt).toBeLessThanOrEqual(Date.now());

      // Set-up only (the connector has no write tool): a silence for the checkout service.
      const posted = await fetch(`${alertmanager.url}/api/v2/silences`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ matchers: [{ name: 'service', value: 'checkout', isRegex: false, isEqual: true }], startsAt: new Date().toISOString(), endsAt: new Date(Date.now() + 3_600_000).toISOString(), createdBy: 'interlock-tests', comment: 'maintenance window' }),
      });
      const { silenceID } = await posted.json() as { silenceID: string };

      const silenced = await eventually('QueueDeep silenced', async () => {
        const result = await alerts.execute({ filter: ['alertname="QueueDeep"'] }, context());
        return result.alerts[0]?.state === 'suppressed' ? result : undefined;
      });
      expect(silenced.alerts[0]).toMatchObject({ silencedBy: [silenceID] });
      expect((await alerts.execute({ filter: ['alertname="QueueDeep"'], silenced: false }, context())).alerts).toEqual([]);

      const silences = await catalog.get('alertmanager.silences').execute({ filter: ['service="checkout"'] }, context());
      expect(silences).toMatchObject({ truncated: false, silences: [{ id: silenceID, state: 'active', createdBy: 'interlock-tests', comment: 'maintenance window', matchers: [{ name: 'service', value: 'checkout', isRegex: false, isEqual: true }] }] });
      expect((await catalog.get('alertmanager.silences').execute({ state: ['expired'] }, context())).silences).toEqual([]);
    });

    it('reports a bad matcher as a non-retryable TOOL_FAILED quoting Alertmanager', async () => {
      const error = await failureOf(catalog.get('alertmanager.alerts').execute({ filter: ['service=~"("'] }, context()));
      expect(error).toMatchObject({ code: 'TOOL_FAILED', system: 'alertmanager', systemStatus: 400, retryable: false });
      expect(error.message).toContain('error parsing regexp');
    });
  });
});

describe('HTTP failures of the connectors', () => {
  let hanging: ReturnType<typeof createTcpServer>;
  const sockets: Socket[] = [];
  let hangingUrl: string;
  let recorder: Server;
  let recorderUrl: string;
  const seen: Array<{ path: string | undefined; headers: IncomingHttpHeaders }> = [];

  beforeAll(async () => {
    // Accepts connections and never answers.
    hanging = createTcpServer((socket) => void sockets.push(socket));
    hanging.listen(0, '127.0.0.1');
    await once(hanging, 'listening');
    hangingUrl = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}`;
    // Answers every request with an empty Prometheus vector, keeping the request headers; redirects
    // requests under /moved/ to another host.
    recorder = createHttpServer((request, response) => {
      seen.push({ path: request.url, headers: request.headers });
      request.resume();
      if (request.url?.startsWith('/moved/') === true) return void response.writeHead(307, { location: 'http://127.0.0.2:1/api/v1/query' }).end();
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"success","data":{"resultType":"vector","result":[]}}');
    });
    recorder.listen(0, '127.0.0.1');
    await once(recorder, 'listening');
    recorderUrl = `http://127.0.0.1:${(recorder.address() as AddressInfo).port}/prefix/`;
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => hanging.close(resolve));
    recorder.closeAllConnections();
    await new Promise((resolve) => recorder.close(resolve));
  });

  it('maps a refused connection to a retryable TOOL_FAILED naming the cause', async () => {
    const url = `http://127.0.0.1:${await getPort({ host: '127.0.0.1' })}`;
    const tools = new ToolCatalog(createPrometheusConnector(PrometheusConfigSchema.parse({ enabled: true, url })));
    const error = await failureOf(tools.get('prometheus.query').execute({ query: 'up' }, context()));
    expect(error).toMatchObject({ code: 'TOOL_FAILED', system: 'prometheus', systemStatus: 'ECONNREFUSED', retryable: true, outcomeUnknown: false });
  });

  it('gives up after timeoutMs with a retryable TOOL_TIMEOUT', async () => {
    const tools = new ToolCatalog(createAlertmanagerConnector(AlertmanagerConfigSchema.parse({ enabled: true, url: hangingUrl, timeoutMs: 300 })));
    const error = await failureOf(tools.get('alertmanager.alerts').execute({}, context()));
    expect(error).toMatchObject({ code: 'TOOL_TIMEOUT', system: 'alertmanager', retryable: true, outcomeUnknown: false });
  });

  it('stops the request when the call is aborted', async () => {
    const tools = new ToolCatalog(createPrometheusConnector(PrometheusConfigSchema.parse({ enabled: true, url: hangingUrl, timeoutMs: 60_000 })));
    const controller = new AbortController();
    const before = sockets.length;
    const call = failureOf(tools.get('prometheus.query').execute({ query: 'up' }, context(controller.signal)));
    await eventually('the request to arrive', () => Promise.resolve(sockets.length > before ? true : undefined));
    controller.abort(new Error('mission cancelled'));
    expect(await call).toMatchObject({ code: 'TOOL_FAILED', retryable: false, message: expect.stringContaining('aborted') });
  });

  it('sends the bearer token from the environment variable, under the URL path prefix', async () => {
    const tools = new ToolCatalog(createPrometheusConnector({ ...PrometheusConfigSchema.parse({ enabled: true, url: recorderUrl, bearerTokenEnv: 'PROM_TOKEN' }), bearerToken: 'tok-123' }));
    const result = await tools.get('prometheus.query').execute({ query: 'up' }, context());
    expect(result).toMatchObject({ resultType: 'vector', series: [], truncated: false });
    expect(seen.at(-1)).toMatchObject({ path: '/prefix/api/v1/query', headers: { authorization: 'Bearer tok-123', 'content-type': 'application/x-www-form-urlencoded' } });
  });

  it('does not follow a redirect, so credentials never go to another address', async () => {
    const tools = new ToolCatalog(createPrometheusConnector({ ...PrometheusConfigSchema.parse({ enabled: true, url: recorderUrl.replace('/prefix/', '/moved/'), bearerTokenEnv: 'PROM_TOKEN' }), bearerToken: 'tok-123' }));
    const error = await failureOf(tools.get('prometheus.query').execute({ query: 'up' }, context()));
    expect(error).toMatchObject({ code: 'TOOL_FAILED', retryable: false, message: expect.stringContaining('redirect') });
  });
});
