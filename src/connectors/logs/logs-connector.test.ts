import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConnectorError } from '../../core/errors.js';
import { ToolCatalog } from '../../core/tools/catalog.js';
import { createLogsConnector, type LogsConnectorOptions } from './logs-connector.js';
import { LogsConfigSchema } from './logs-config.js';
import { callTool } from '../../../test/support/connectors.js';

const T0 = Date.parse('2024-05-01T10:00:00Z');
const at = (seconds: number): number => T0 + seconds * 1000;
/** `2024-05-01 10:00:05,000 INFO message` for `seconds` after T0. */
const line = (seconds: number, level: string, message: string): string => `${new Date(at(seconds)).toISOString().replace('T', ' ').replace('.', ',').replace('Z', '')} ${level} ${message}`;

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'logs-connector-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function connector(overrides: Partial<LogsConnectorOptions> = {}): ToolCatalog {
  const config = LogsConfigSchema.parse({
    enabled: true,
    files: [
      { name: 'checkout', path: join(dir, 'checkout.log'), service: 'checkout', format: { type: 'pattern', pattern: '<Date> <Time> <Level> <Content>' } },
      { name: 'payments', path: join(dir, 'payments.log'), service: 'payments', format: { type: 'json' }, rotated: false },
    ],
    maxLines: 50,
  });
  const catalog = new ToolCatalog(createLogsConnector({ ...config, now: () => at(3600), ...overrides }));
  catalog.check();
  return catalog;
}

function issuePaths(catalog: ToolCatalog, tool: string, args: unknown): string[] {
  const checked = catalog.validateArgs(tool, args, 'c');
  return checked.ok ? [] : checked.issues.map((issue) => issue.path);
}

describe('logs connector inputs', () => {
  it('names each wrong field before any I/O', () => {
    const catalog = connector();
    expect(issuePaths(catalog, 'logs.query', { since: at(0) })).toEqual([]);
    expect(issuePaths(catalog, 'logs.query', { since: at(0), until: at(-1) })).toEqual(['c.args.since']);
    expect(issuePaths(catalog, 'logs.query', { since: at(-2 * 86_400) })).toEqual(['c.args.since']);
    expect(issuePaths(catalog, 'logs.query', { since: at(0), files: ['checkout', '../etc/passwd'] })).toEqual(['c.args.files.1']);
    expect(issuePaths(catalog, 'logs.query', { since: at(0), regex: '(?<=x)y' })).toEqual(['c.args.regex']);
    expect(issuePaths(catalog, 'logs.query', { since: at(0), regex: 'x'.repeat(201) })).toEqual(['c.args.regex']);
    expect(issuePaths(catalog, 'logs.query', { since: at(0), limit: 51 })).toEqual(['c.args.limit']);
    expect(issuePaths(catalog, 'logs.query', { since: at(0), source: 'loki' })).toEqual(['c.args.source']);
    expect(issuePaths(catalog, 'logs.query', { since: at(0), selector: '{app="x"}' })).toEqual(['c.args.selector']);
    expect(issuePaths(catalog, 'logs.query', { since: at(0), service: 'search' })).toEqual(['c.args.service']);
    expect(issuePaths(catalog, 'logs.query', { since: at(0), path: '/etc/passwd' })).toEqual(['c.args']);
    expect(issuePaths(catalog, 'logs.templates', { since: at(0), until: at(60), onset: at(120) })).toEqual(['c.args.onset']);
    expect(issuePaths(catalog, 'logs.templates', { since: at(0), until: at(60), onset: at(0) })).toEqual(['c.args.onset']);
  });

  it('takes a LogQL stream selector only: no pipeline, no metric query', () => {
    const config = LogsConfigSchema.parse({ enabled: true, loki: { url: 'http://127.0.0.1:3100' } });
    const catalog = new ToolCatalog(createLogsConnector({ ...config, now: () => at(3600) }));
    expect(issuePaths(catalog, 'logs.query', { since: at(0), selector: '{app="checkout", env=~"prod|staging", pod!~`canary-.*`}' })).toEqual([]);
    expect(issuePaths(catalog, 'logs.query', { since: at(0), selector: '{app="checkout"} |= "x"' })).toEqual(['c.args.selector']);
    expect(issuePaths(catalog, 'logs.query', { since: at(0), selector: 'sum(rate({app="x"}[5m]))' })).toEqual(['c.args.selector']);
    expect(issuePaths(catalog, 'logs.query', { since: at(0), selector: '{app="x\\"} or {b="y"}' })).toEqual(['c.args.selector']);
    expect(issuePaths(catalog, 'logs.query', { since: at(0) })).toEqual(['c.args.selector']);
    expect(issuePaths(catalog, 'logs.query', { since: at(0), files: ['app'] })).toEqual(['c.args.files.0']); // no file is configured
  });

  it('puts no tool in the catalog when neither files nor Loki are configured', () => {
    expect(createLogsConnector({ ...LogsConfigSchema.parse({}), files: [] })).toEqual([]);
  });

  it('refuses duplicate file names and credentials in the Loki URL, naming them', () => {
    const parsed = LogsConfigSchema.safeParse({
      files: [{ name: 'app', path: 'a.log', format: { type: 'json' } }, { name: 'app', path: 'b.log', format: { type: 'json' } }],
      loki: { url: 'http://user:pw@loki:3100' },
    });
    expect(parsed.error?.issues.map((issue) => issue.path.join('.')).sort()).toEqual(['files.1.name', 'loki.url']);
  });
});

describe('logs.query over files', () => {
  it('returns the lines of the window oldest first, with time, level and message', async () => {
    await writeFile(join(dir, 'checkout.log'), [line(-10, 'INFO', 'before'), line(1, 'INFO', 'started'), line(2, 'WARN', 'slow query'), line(3, 'ERROR', 'connection refused'), line(99, 'INFO', 'after'), ''].join('\n'));
    const result = await callTool(connector(), 'logs.query', { since: at(0), until: at(10), files: ['checkout'] });
    expect(result).toEqual({
      source: 'files',
      lines: [
        { time: '2024-05-01T10:00:01.000Z', source: 'checkout', service: 'checkout', level: 'INFO', message: 'started' },
        { time: '2024-05-01T10:00:02.000Z', source: 'checkout', service: 'checkout', level: 'WARN', message: 'slow query' },
        { time: '2024-05-01T10:00:03.000Z', source: 'checkout', service: 'checkout', level: 'ERROR', message: 'connection refused' },
      ],
      truncated: false,
      notes: [],
    });
  });

  it('joins continuation lines (a stack trace) to their entry, and skips a last line being written', async () => {
    await writeFile(join(dir, 'checkout.log'), [line(1, 'ERROR', 'request failed'), 'java.io.IOException: reset', '\tat Foo.bar(Foo.java:1)', line(2, 'INFO', 'ok'), '2024-05-01 10:00:0'].join('\n'));
    const result = await callTool(connector(), 'logs.query', { since: at(0), until: at(10), files: ['checkout'] });
    expect(result.lines.map((l: any) => l.message)).toEqual(['request failed\njava.io.IOException: reset\n\tat Foo.bar(Foo.java:1)', 'ok']);
    expect(result.notes).toEqual(['checkout: the last line is incomplete (being written) and was skipped.']);
  });

  it('filters by text, pattern and level; the filters see continuation lines too', async () => {
    await writeFile(join(dir, 'checkout.log'), [line(1, 'ERROR', 'request failed'), 'Caused by: Connection REFUSED', line(2, 'INFO', 'connection refused once'), line(3, 'ERROR', 'pool exhausted after 5000ms'), ''].join('\n'));
    const catalog = connector();
    const refused = await callTool(catalog, 'logs.query', { since: at(0), until: at(10), service: 'checkout', contains: 'refused', ignoreCase: true, levels: ['error'] });
    expect(refused.lines.map((l: any) => l.message)).toEqual(['request failed\nCaused by: Connection REFUSED']);
    const pattern = await callTool(catalog, 'logs.query', { since: at(0), until: at(10), files: ['checkout'], regex: 'exhausted after \\d+ms' });
    expect(pattern.lines.map((l: any) => l.time)).toEqual(['2024-05-01T10:00:03.000Z']);
  });

  it('keeps the newest lines (backward) or the oldest (forward) when the window has more than limit, and says truncated', async () => {
    await writeFile(join(dir, 'checkout.log'), `${Array.from({ length: 20 }, (_, i) => line(i, 'INFO', `line ${i}`)).join('\n')}\n`);
    const catalog = connector();
    const newest = await callTool(catalog, 'logs.query', { since: at(0), until: at(100), files: ['checkout'], limit: 3 });
    expect(newest.lines.map((l: any) => l.message)).toEqual(['line 17', 'line 18', 'line 19']);
    expect(newest.truncated).toBe(true);
    const oldest = await callTool(catalog, 'logs.query', { since: at(0), until: at(100), files: ['checkout'], limit: 3, direction: 'forward' });
    expect(oldest.lines.map((l: any) => l.message)).toEqual(['line 0', 'line 1', 'line 2']);
    expect(oldest.truncated).toBe(true);
    const all = await callTool(catalog, 'logs.query', { since: at(0), until: at(100), files: ['checkout'], limit: 20 });
    expect(all.truncated).toBe(false);
  });

  it('reads no more than maxReadBytes from the end, and says older lines may be missing', async () => {
    await writeFile(join(dir, 'checkout.log'), `${Array.from({ length: 500 }, (_, i) => line(i, 'INFO', `line ${i} ${'x'.repeat(200)}`)).join('\n')}\n`);
    const result = await callTool(connector({ maxReadBytes: 4096 }), 'logs.query', { since: at(0), until: at(1000), files: ['checkout'], limit: 50 });
    expect(result.truncated).toBe(true);
    expect(result.lines.at(-1).message).toMatch(/^line 499 /);
    expect(result.notes).toEqual(['checkout: only the last 4096 bytes were read (maxReadBytes); older lines in the window may be missing.']);
  });

  it('continues into the rotated <path>.1 when the window starts before the file', async () => {
    await writeFile(join(dir, 'checkout.log.1'), [line(1, 'INFO', 'rotated one'), line(2, 'INFO', 'rotated two'), ''].join('\n'));
    await writeFile(join(dir, 'checkout.log'), [line(3, 'INFO', 'current'), ''].join('\n'));
    const result = await callTool(connector(), 'logs.query', { since: at(0), until: at(10), files: ['checkout'] });
    expect(result.lines.map((l: any) => l.message)).toEqual(['rotated one', 'rotated two', 'current']);
  });

  it('merges several files by time, selecting files by service', async () => {
    await writeFile(join(dir, 'checkout.log'), [line(1, 'INFO', 'checkout one'), line(3, 'INFO', 'checkout three'), ''].join('\n'));
    await writeFile(join(dir, 'payments.log'), `${JSON.stringify({ level: 50, time: at(2), msg: 'payments two' })}\n`);
    const both = await callTool(connector(), 'logs.query', { since: at(0), until: at(10) });
    expect(both.lines.map((l: any) => `${l.source}:${l.level}:${l.message}`)).toEqual(['checkout:INFO:checkout one', 'payments:error:payments two', 'checkout:INFO:checkout three']);
    const payments = await callTool(connector(), 'logs.query', { since: at(0), until: at(10), service: 'payments' });
    expect(payments.lines.map((l: any) => l.message)).toEqual(['payments two']);
  });

  it('reports a configured file that does not exist: a note among several files, a non-retryable error alone', async () => {
    await writeFile(join(dir, 'payments.log'), `${JSON.stringify({ level: 30, time: at(2), msg: 'payments two' })}\n`);
    const both = await callTool(connector(), 'logs.query', { since: at(0), until: at(10) });
    expect(both.lines.map((l: any) => l.message)).toEqual(['payments two']);
    expect(both.truncated).toBe(true);
    expect(both.notes).toEqual([expect.stringMatching(/^checkout: not read: Could not read log file checkout \(.*\): it does not exist\.$/)]);
    const error = await callTool(connector(), 'logs.query', { since: at(0), files: ['checkout'] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectorError);
    expect(error).toMatchObject({ code: 'TOOL_FAILED', system: 'logs', retryable: false });
    expect((error as Error).message).toMatch(/checkout .* does not exist/);
  });
});

describe('logs.templates over files', () => {
  it('summarizes the window\'s templates, error-looking first, with counts and examples', async () => {
    const lines = [
      ...Array.from({ length: 6 }, (_, i) => line(i, 'INFO', `served request ${i} in ${10 + i}ms`)),
      line(7, 'ERROR', 'connection to db-1 refused'),
      ...Array.from({ length: 3 }, (_, i) => line(8 + i, 'INFO', `cache hit for user ${i}`)),
    ];
    await writeFile(join(dir, 'checkout.log'), `${lines.join('\n')}\n`);
    const result = await callTool(connector(), 'logs.templates', { since: at(0), until: at(60), files: ['checkout'] });
    expect(result.lines).toBe(10);
    expect(result.novelty).toBeNull();
    expect(result.templates.map((t: any) => [t.template, t.count, t.looksLikeError])).toEqual([
      ['connection to db-1 refused', 1, true],
      ['served request <:NUM:> in <*>', 6, false],
      ['cache hit for user <:NUM:>', 3, false],
    ]);
    expect(result.templates[1]).toMatchObject({ firstSeen: '2024-05-01T10:00:00.000Z', lastSeen: '2024-05-01T10:00:05.000Z', levels: { INFO: 6 }, examples: ['served request 0 in 10ms', 'served request 1 in 11ms', 'served request 2 in 12ms'] });
  });

  it('with an onset, finds the templates new or rising since it', async () => {
    const baseline = Array.from({ length: 30 }, (_, i) => line(i * 10, 'INFO', `served request ${i} in 12ms`));
    const incident = [
      ...Array.from({ length: 30 }, (_, i) => line(300 + i * 10, 'INFO', `served request ${i} in 12ms`)),
      ...Array.from({ length: 5 }, (_, i) => line(305 + i * 10, 'ERROR', `connection to db-1 refused after ${i + 1} retries`)),
    ];
    await writeFile(join(dir, 'checkout.log'), `${[...baseline, ...incident].sort().join('\n')}\n`);
    const result = await callTool(connector(), 'logs.templates', { since: at(0), until: at(600), onset: at(300), files: ['checkout'] });
    expect(result.novelty).toMatchObject({ onset: '2024-05-01T10:05:00.000Z', baselineLines: 30, incidentLines: 35, omittedFindings: 0 });
    expect(result.novelty.findings).toHaveLength(1);
    expect(result.novelty.findings[0]).toMatchObject({ change: 'new', template: 'connection to db-1 refused after <:NUM:> retries', incidentCount: 5, baselineCount: 0, looksLikeError: true, firstSeen: '2024-05-01T10:05:05.000Z', levels: { ERROR: 5 } });
  });
});
