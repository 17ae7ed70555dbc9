// The logs connector against real things: the Loghub Hadoop sample as a real log file (CRLF line ends,
// rotated into <path>.1, a line being appended), and Grafana Loki's HTTP API. Loki cannot run on this
// machine, so a local node:http server answers with responses recorded from Loki's own serializer
// tests and documentation (test/fixtures/loki/README.md) and records what the connector asked.
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogsConnector, LogsConfigSchema } from '../../src/connectors/logs/index.js';
import { ConnectorError } from '../../src/core/errors.js';
import { ToolCatalog } from '../../src/core/tools/catalog.js';
import type { ToolContext } from '../../src/core/tools/tool.js';
import { readLoghubSample } from '../support/loghub.js';

const LOGHUB = new URL('../fixtures/loghub/', import.meta.url);
const LOKI = new URL('../fixtures/loki/', import.meta.url);
const HADOOP_FORMAT = '<Date> <Time> <Level> \\[<Process>\\] <Component>: <Content>';
const context = (): ToolContext => ({ idempotencyKey: 'm:c1', missionId: 'm', stepId: 'c1', attempt: 1, signal: new AbortController().signal });

async function call(catalog: ToolCatalog, tool: string, args: unknown): Promise<any> {
  const checked = catalog.validateArgs(tool, args, 'context.0');
  if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
  return catalog.get(tool).execute(checked.args, context());
}

describe('logs over the Loghub Hadoop sample as a real log file', () => {
  let dir: string;
  let sample: Awaited<ReturnType<typeof readLoghubSample>>;
  let catalog: ToolCatalog;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'logs-int-'));
    const raw = await readFile(new URL('Hadoop_200.log.txt', LOGHUB), 'latin1');
    sample = await readLoghubSample(new URL('Hadoop_200.log.txt', LOGHUB).pathname, new URL('Hadoop_200.log_structured_corrected.csv', LOGHUB).pathname);
    // Rotated half-way, as logrotate leaves it: the first 100 lines in hadoop.log.1, the rest in hadoop.log.
    const lines = raw.split('\n').filter((line) => line.trim() !== '');
    await writeFile(join(dir, 'hadoop.log.1'), `${lines.slice(0, 100).join('\n')}\n`);
    // ... and a line of the running process half written.
    await writeFile(join(dir, 'hadoop.log'), `${lines.slice(100).join('\n')}\n2015-10-18 18:02:12,001 INFO [main] org.apache.hadoop.ipc.Server: Auth succ`);
    await copyFile(new URL('Hadoop_200.log.txt', LOGHUB), join(dir, 'whole.log'));
    const config = LogsConfigSchema.parse({
      enabled: true,
      files: [
        { name: 'hadoop', path: join(dir, 'hadoop.log'), service: 'mapreduce', format: { type: 'pattern', pattern: HADOOP_FORMAT } },
        { name: 'whole', path: join(dir, 'whole.log'), format: { type: 'pattern', pattern: HADOOP_FORMAT }, rotated: false },
      ],
    });
    catalog = new ToolCatalog(createLogsConnector({ ...config, now: () => Date.parse('2015-10-18T19:00:00Z') }));
    catalog.check();
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads every line of the window across the rotation, each message as Loghub\'s ground truth splits it', async () => {
    const result = await call(catalog, 'logs.query', { since: '2015-10-18T18:00:00Z', until: '2015-10-18T18:05:00Z', files: ['hadoop'], limit: 1000 });
    expect(result.lines.map((line: any) => line.message)).toEqual(sample.contents);
    expect(result.lines[0]).toEqual({ time: '2015-10-18T18:01:47.978Z', source: 'hadoop', service: 'mapreduce', level: 'INFO', message: sample.contents[0] });
    expect(result.truncated).toBe(false);
    expect(result.notes).toEqual(['hadoop: the last line is incomplete (being written) and was skipped.']);
  });

  it('answers a narrow window and a text filter from the end of the file', async () => {
    const second = await call(catalog, 'logs.query', { since: '2015-10-18T18:01:52Z', until: '2015-10-18T18:01:52.999Z', files: ['whole'] });
    const inSecond = sample.lines.flatMap((line, index) => (line.startsWith('2015-10-18 18:01:52') ? [sample.contents[index]] : []));
    expect(inSecond).toHaveLength(3);
    expect(second.lines.map((line: any) => line.message)).toEqual(inSecond);
    expect(second.lines.every((line: any) => line.time.startsWith('2015-10-18T18:01:52.'))).toBe(true);
    const jvm = await call(catalog, 'logs.query', { since: '2015-10-18T18:00:00Z', until: '2015-10-18T18:05:00Z', files: ['whole'], regex: 'JVM with ID ?: jvm_\\d+_\\d+_m_\\d+ (asked|given)' });
    expect(jvm.lines.map((line: any) => line.message)).toEqual(sample.contents.filter((content) => /JVM with ID ?: jvm_\d+_\d+_m_\d+ (asked|given)/.test(content)));
    expect(jvm.lines.length).toBeGreaterThan(0);
  });

  it('finds the templates new since an onset, which Loghub\'s ground truth confirms never occurred before it', async () => {
    const onset = '2015-10-18T18:02:00Z';
    const result = await call(catalog, 'logs.templates', { since: '2015-10-18T18:00:00Z', until: '2015-10-18T18:05:00Z', onset, files: ['whole'] });
    expect(result.lines).toBe(200);
    expect(result.novelty).toMatchObject({ baselineLines: 157, incidentLines: 43 });
    const findings = result.novelty.findings as Array<{ change: string; template: string; examples: string[] }>;
    expect(findings.map((finding) => finding.template)).toEqual(['Auth successful for job_1445144423722_0020 (auth:SIMPLE)', 'JVM with ID : <*> asked for a task', 'JVM with ID: <*> given task: <*>']);
    const beforeOnset = sample.lines.map((line, index) => ({ line, template: sample.templates[index] })).filter(({ line }) => line < '2015-10-18 18:02:00');
    for (const finding of findings) {
      const truth = finding.examples.map((example) => sample.templates[sample.contents.indexOf(example)]);
      expect(beforeOnset.some(({ template }) => truth.includes(template)), finding.template).toBe(false);
    }
  });
});

/** A stand-in for Loki: answers /loki/api/v1/query_range with the recorded body the selector names. */
interface RecordedRequest {
  readonly path: string;
  readonly params: Record<string, string>;
  readonly headers: IncomingHttpHeaders;
}

const ROUTES: Record<string, { status: number; file: string; type: string }> = {
  streams: { status: 200, file: 'query_range_streams.json', type: 'application/json' },
  categorized: { status: 200, file: 'query_range_streams_categorize_labels.json', type: 'application/json' },
  docs: { status: 200, file: 'query_range_streams_level.json', type: 'application/json' },
  matrix: { status: 200, file: 'query_range_matrix.json', type: 'application/json' },
  'max-entries': { status: 400, file: 'error_max_entries_ours.txt', type: 'text/plain; charset=utf-8' },
  'no-org': { status: 401, file: 'error_no_org_id.txt', type: 'text/plain; charset=utf-8' },
};

describe('logs.query over Loki\'s HTTP API (recorded responses)', () => {
  let server: Server;
  let url: string;
  const requests: RecordedRequest[] = [];

  beforeAll(async () => {
    server = createServer((request, response) => {
      const parsed = new URL(request.url ?? '/', 'http://loki');
      const params = Object.fromEntries(parsed.searchParams);
      requests.push({ path: parsed.pathname, params, headers: request.headers });
      const fixture = /fixture="([a-z-]+)"/.exec(params.query ?? '')?.[1] ?? '';
      const route = ROUTES[fixture];
      if (parsed.pathname !== '/loki/api/v1/query_range' || route === undefined) {
        response.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found\n');
        return;
      }
      void readFile(new URL(route.file, LOKI)).then((body) => response.writeHead(route.status, { 'content-type': route.type }).end(body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  function lokiCatalog(loki: Record<string, unknown> = {}): ToolCatalog {
    const config = LogsConfigSchema.parse({ enabled: true, loki: { url, tenant: 'team-a', bearerTokenEnv: 'LOKI_TOKEN', ...loki } });
    return new ToolCatalog(createLogsConnector({ ...config, loki: config.loki === undefined ? undefined : { ...config.loki, bearerToken: 's3cret' }, now: () => Date.parse('2024-05-01T12:00:00Z') }));
  }

  /** The window of the Apache-2.0 recordings: 123456789012345 ns is 1970-01-02T10:17:36.789Z. */
  const window1970 = { since: '1970-01-02T10:17:00Z', until: '1970-01-02T10:18:00Z' };

  it('sends a LogQL query with the window in ns, limit, direction, tenant and token, and returns the lines oldest first', async () => {
    requests.length = 0;
    const result = await call(lokiCatalog(), 'logs.query', { ...window1970, selector: '{fixture="streams"}', contains: 'super "line"', limit: 10 });
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({
      path: '/loki/api/v1/query_range',
      params: { query: '{fixture="streams"} |= "super \\"line\\""', start: '123420000000000', end: '123480001000000', limit: '10', direction: 'backward' },
      headers: { 'x-scope-orgid': 'team-a', authorization: 'Bearer s3cret', accept: 'application/json' },
    });
    expect(result).toEqual({
      source: 'loki',
      lines: [
        { time: '1970-01-02T10:17:36.789Z', source: 'loki', service: null, level: null, message: 'super line', labels: { test: 'test' } },
        { time: '1970-01-02T10:17:36.789Z', source: 'loki', service: null, level: null, message: 'super line with labels', labels: { test: 'test' } },
      ],
      truncated: false,
      notes: [],
    });
  });

  it('reads entries with structured metadata (categorize-labels), and marks a full answer truncated', async () => {
    const result = await call(lokiCatalog(), 'logs.query', { ...window1970, selector: '{fixture="categorized"}', limit: 3, direction: 'forward' });
    expect(requests.at(-1)?.params).toMatchObject({ limit: '3', direction: 'forward' });
    expect(result.lines.map((line: any) => line.message)).toEqual(['super line', 'super line with labels', 'super line with labels msg=text']);
    expect(result.truncated).toBe(true);
    expect(result.notes).toEqual(['loki: the query returned 3 entries, its limit; there may be more in the window.']);
  });

  it('selects a service\'s streams by the service label, and filters levels on the returned lines', async () => {
    const catalog = lokiCatalog({ serviceLabel: 'fixture' });
    const result = await call(catalog, 'logs.query', { since: '2019-09-23T19:00:00Z', until: '2019-09-23T20:00:00Z', service: 'docs', levels: ['INFO'], regex: 'SAVED|loaded', ignoreCase: true });
    expect(requests.at(-1)?.params.query).toBe('{fixture="docs"} |~ "(?i)SAVED|loaded"');
    expect(result.lines.map((line: any) => [line.time, line.level, line.message])).toEqual([
      ['2019-09-23T19:21:32.548Z', 'info', 'cart loaded for session 42'],
      ['2019-09-23T19:21:37.240Z', 'info', 'cart saved for session 42'],
    ]);
    const none = await call(catalog, 'logs.query', { since: '2019-09-23T19:00:00Z', until: '2019-09-23T20:00:00Z', service: 'docs', levels: ['error'] });
    expect(none.lines).toEqual([]);
  });

  it('mines Loki\'s lines into templates too', async () => {
    const result = await call(lokiCatalog(), 'logs.templates', { ...window1970, selector: '{fixture="categorized"}' });
    expect(result.source).toBe('loki');
    expect(result.lines).toBe(3);
    expect(result.templates.reduce((sum: number, template: any) => sum + template.count, 0)).toBe(3);
  });

  it('refuses an answer that is not a streams result, and reports Loki\'s own error text', async () => {
    const catalog = lokiCatalog();
    const matrix = await call(catalog, 'logs.query', { ...window1970, selector: '{fixture="matrix"}' }).catch((e: unknown) => e);
    expect(matrix).toBeInstanceOf(ConnectorError);
    expect(matrix).toMatchObject({ code: 'TOOL_FAILED', system: 'loki', retryable: false });
    expect((matrix as Error).message).toMatch(/not a streams result/);
    const limit = await call(catalog, 'logs.query', { ...window1970, selector: '{fixture="max-entries"}' }).catch((e: unknown) => e);
    expect(limit).toMatchObject({ code: 'TOOL_FAILED', system: 'loki', systemStatus: 400, retryable: false, message: "Loki answered 400: limit 10000 is above this Loki's max_entries_limit_per_query of 5000" });
    const tenant = await call(catalog, 'logs.query', { ...window1970, selector: '{fixture="no-org"}' }).catch((e: unknown) => e);
    expect(tenant).toMatchObject({ systemStatus: 401, message: 'Loki answered 401 (check connectors.logs.loki credentials and tenant): no org id' });
  });

  it('caps the limit at loki.maxEntries', async () => {
    await call(lokiCatalog({ maxEntries: 2 }), 'logs.query', { ...window1970, selector: '{fixture="streams"}', limit: 500 });
    expect(requests.at(-1)?.params.limit).toBe('2');
  });

  it('fails retryably when Loki cannot be reached', async () => {
    const config = LogsConfigSchema.parse({ enabled: true, loki: { url: 'http://127.0.0.1:9' } });
    const catalog = new ToolCatalog(createLogsConnector({ ...config, now: () => Date.parse('2024-05-01T12:00:00Z') }));
    const error = await call(catalog, 'logs.query', { ...window1970, selector: '{app="x"}' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectorError);
    expect(error).toMatchObject({ code: 'TOOL_FAILED', system: 'loki', retryable: true });
  });
});
