import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../core/errors.js';
import { SHIPPED_DEFAULT_EFFECTS } from '../core/review/decision.js';
import { formatConfigIssue, loadConfig, type ConfigIssue } from './load-config.js';

let cwd: string;

beforeEach(() => {
  cwd = mkdtempSync(join(tmpdir(), 'interlock-config-'));
});

afterEach(() => {
  rmSync(cwd, { recursive: true, force: true });
});

function writeYaml(relativePath: string, text: string): string {
  const path = join(cwd, relativePath);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  return path;
}

/** The ConfigError `fn` throws (the test fails when it throws nothing or something else). */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError, but nothing was thrown');
}

describe('loadConfig defaults', () => {
  it('fills every default and resolves the data directories against cwd when nothing is configured', () => {
    const config = loadConfig({ env: {}, cwd });
    expect(config).toEqual({
      dataDir: join(cwd, '.interlock'),
      database: { poolSize: 10, embedded: { dataDir: join(cwd, '.interlock', 'postgres') } },
      server: { host: '127.0.0.1', port: 7411, bodyLimitBytes: 1_048_576 },
      engine: { workflowVersion: 'mission-v1', concurrency: 20, heartbeatMs: 2000, leaseMs: 15_000, approvalTimeoutMs: 604_800_000, reconcileIntervalMs: 10_000, shadowProjects: [] },
      review: { defaults: SHIPPED_DEFAULT_EFFECTS },
      policy: {},
      runbooks: { vars: {} },
      agents: { llm: { providers: {} } },
      autonomy: { default: 'auto', rules: [] },
      guards: {
        circuitBreaker: { maxActions: 3, windowMs: 600_000, freezeMs: 3_600_000 },
        rateLimits: { perAgent: { max: 60, windowMs: 60_000 }, perTarget: { max: 20, windowMs: 60_000 } },
      },
      audit: {
        origin: 'interlock/audit',
        signingKeyFile: join(cwd, '.interlock', 'audit-signing.key'),
        checkpointIntervalMs: 60_000,
        export: { sinks: [], pollIntervalMs: 1000, retry: { initialMs: 1000, maxMs: 60_000 } },
      },
      intake: {
        sources: [{ name: 'alertmanager', type: 'alertmanager', project: 'default', auth: { type: 'token' } }, { name: 'cloudevents', type: 'cloudevents', project: 'default', auth: { type: 'token' } }],
        maxInFlight: 64,
        retryAfterSeconds: 1,
      },
      incidents: { groupBy: ['service'], reopenWindowMs: 300_000, flapping: { maxTransitions: 4, windowMs: 600_000 }, maxAlerts: 1000, startMissions: true, sweepIntervalMs: 30_000 },
      notifications: { webhooks: [], pollIntervalMs: 1000, retry: { initialMs: 1000, maxMs: 300_000, maxAgeMs: 86_400_000 } },
      diagnosis: { windowBeforeMs: 3_600_000, stepSeconds: 15, settleMs: 0, queries: [], changes: true, logs: true },
      log: { level: 'info' },
      connectors: {
        builtin: { enabled: true },
        files: { enabled: false, root: join(cwd, '.interlock', 'files') },
        prometheus: { enabled: false, url: 'http://127.0.0.1:9090', timeoutMs: 10_000, maxResponseBytes: 33_554_432, maxRangeMs: 604_800_000, maxPoints: 1000, maxSeries: 100, maxSamples: 10_000 },
        alertmanager: { enabled: false, url: 'http://127.0.0.1:9093', timeoutMs: 10_000, maxResponseBytes: 33_554_432, maxAlerts: 200, maxSilences: 200 },
        changes: { enabled: false, git: [], maxChanges: 500, maxRangeMs: 604_800_000, maxReadBytes: 16_777_216 },
        logs: { enabled: false, files: [], maxLines: 1000, maxReadBytes: 16_777_216, maxRangeMs: 86_400_000, maxTemplateLines: 50_000 },
        nginx: { enabled: false, binary: '/usr/sbin/nginx', mainConfig: '/etc/nginx/nginx.conf', confDir: '/etc/nginx/interlock', pidFile: '/run/nginx.pid', timeoutMs: 10_000, upstreams: [] },
        supervisor: { enabled: false, url: 'http://127.0.0.1:9001/RPC2', timeoutMs: 30_000, verifyWindowMs: 5000, processes: [] },
        postgres: { enabled: false, statementTimeoutMs: 5000, maxTerminatePerCall: 10, verifyWindowMs: 2000, services: [] },
        releases: { enabled: false, author: { name: 'Interlock', email: 'interlock@localhost' }, supervisor: { url: 'http://127.0.0.1:9001/RPC2', timeoutMs: 30_000 }, verifyWindowMs: 5000, services: [] },
        scale: {
          enabled: false,
          supervisor: { url: 'http://127.0.0.1:9001/RPC2', timeoutMs: 30_000 },
          nginx: { binary: '/usr/sbin/nginx', mainConfig: '/etc/nginx/nginx.conf', confDir: '/etc/nginx/interlock', pidFile: '/run/nginx.pid', timeoutMs: 10_000 },
          verifyWindowMs: 5000,
          services: [],
        },
      },
      auth: { authorizationServers: [] },
      mcp: { server: { enabled: true, rateLimit: { capacity: 60, refillPerSecond: 10 }, allowedOrigins: [], callWaitMs: 30_000 }, servers: [] },
    });
  });

  it('returns a deeply frozen object', () => {
    const config = loadConfig({ env: {}, cwd });
    expect(Object.isFrozen(config.database.embedded)).toBe(true);
    expect(() => {
      (config.server as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it('derives the embedded PostgreSQL directory from a configured dataDir', () => {
    const config = loadConfig({ env: { INTERLOCK_DATA_DIR: '/var/lib/interlock' }, cwd });
    expect(config.database.embedded.dataDir).toBe('/var/lib/interlock/postgres');
  });
});

describe('loadConfig precedence: flags > env > files > defaults', () => {
  beforeEach(() => {
    writeYaml('interlock.yaml', 'server:\n  port: 8000\n  host: file.example\nlog:\n  level: warn\n');
  });

  it('takes a flag over the environment over the file', () => {
    const config = loadConfig({ env: { INTERLOCK_PORT: '8001' }, flags: { port: '8002' }, cwd });
    expect(config.server.port).toBe(8002);
    expect(config.server.host).toBe('file.example');
    expect(config.log.level).toBe('warn');
  });

  it('takes the environment over the file', () => {
    const config = loadConfig({ env: { INTERLOCK_PORT: '8001', INTERLOCK_LOG_LEVEL: 'debug' }, cwd });
    expect(config.server.port).toBe(8001);
    expect(config.log.level).toBe('debug');
  });

  it('takes the file over the defaults', () => {
    expect(loadConfig({ env: {}, cwd }).server.port).toBe(8000);
  });

  it('treats empty environment variables and empty YAML values as unset', () => {
    writeYaml('interlock.yaml', 'server:\n  port:\nengine:\n');
    const config = loadConfig({ env: { INTERLOCK_PORT: '', DATABASE_URL: '' }, cwd });
    expect(config.server.port).toBe(7411);
    expect(config.database.url).toBeUndefined();
  });

  it('applies later files over earlier ones when files are given', () => {
    const base = writeYaml('base.yaml', 'server:\n  port: 9000\n  host: base.example\n');
    const local = writeYaml('local.yaml', 'server:\n  port: 9001\n');
    const config = loadConfig({ env: {}, files: [base, local], cwd });
    expect(config.server).toMatchObject({ port: 9001, host: 'base.example' });
  });
});

describe('loadConfig file discovery', () => {
  beforeEach(() => {
    writeYaml('interlock.yaml', 'server:\n  port: 1001\n');
    writeYaml('from-env.yaml', 'server:\n  port: 1002\n');
    writeYaml('from-flag.yaml', 'server:\n  port: 1003\n');
  });

  it('reads ./interlock.yaml when no file is named', () => {
    expect(loadConfig({ env: {}, cwd }).server.port).toBe(1001);
  });

  it('reads INTERLOCK_CONFIG instead of ./interlock.yaml', () => {
    expect(loadConfig({ env: { INTERLOCK_CONFIG: 'from-env.yaml' }, cwd }).server.port).toBe(1002);
  });

  it('reads --config instead of INTERLOCK_CONFIG', () => {
    expect(loadConfig({ env: { INTERLOCK_CONFIG: 'from-env.yaml' }, flags: { config: 'from-flag.yaml' }, cwd }).server.port).toBe(1003);
  });

  it('reports a named file that does not exist, and who named it', () => {
    const error = configError(() => loadConfig({ env: {}, flags: { config: 'missing.yaml' }, cwd }));
    expect(error.code).toBe('CONFIG_FILE_UNREADABLE');
    expect(error.message).toBe('cannot read configuration file missing.yaml (named by flag:--config): no such file; check the path');
  });
});

describe('loadConfig paths', () => {
  it('resolves relative paths in a file against the file directory, and from env or flags against cwd', () => {
    const file = writeYaml('etc/interlock.yaml', 'dataDir: ../state\ndatabase:\n  embedded:\n    dataDir: pg\n');
    expect(loadConfig({ env: {}, files: [file], cwd })).toMatchObject({
      dataDir: join(cwd, 'state'),
      database: { embedded: { dataDir: join(cwd, 'etc', 'pg') } },
    });
    expect(loadConfig({ env: { INTERLOCK_DATA_DIR: 'var' }, files: [file], cwd }).dataDir).toBe(join(cwd, 'var'));
    expect(loadConfig({ env: {}, flags: { dataDir: 'flagged' }, files: [file], cwd }).dataDir).toBe(join(cwd, 'flagged'));
  });
});

describe('loadConfig errors', () => {
  it('lists every problem at once with its source, key path, expected and received value, files first, top to bottom', () => {
    writeYaml(
      'interlock.yaml',
      ['database:', '  poolSize: 0', 'server:', '  port: "http"', 'log:', '  level: loud', 'review:', '  defaults:', '    write-prod: maybe', ''].join('\n'),
    );
    const error = configError(() => loadConfig({ env: { INTERLOCK_WORKER_ID: 'Not A Slug' }, flags: { port: 'x' }, cwd }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toBe('invalid configuration, 5 problems: fix the file, environment variable or flag each one names');
    expect(error.issues).toEqual<ConfigIssue[]>([
      { source: 'interlock.yaml:2:3', path: 'database.poolSize', message: 'too small', expected: '>= 1', received: 'number 0' },
      { source: 'interlock.yaml:6:3', path: 'log.level', message: 'not an allowed value', expected: 'one of "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent"', received: '"loud"' },
      { source: 'interlock.yaml:9:5', path: 'review.defaults.write-prod', message: 'not an allowed value', expected: 'one of "allow" | "require_approval" | "escalate" | "deny"', received: '"maybe"' },
      {
        source: 'env:INTERLOCK_WORKER_ID',
        path: 'engine.workerId',
        message: 'wrong format',
        expected: 'a lowercase slug: letters, digits, ".", "_" or "-", at most 63 characters',
        received: '"Not A Slug"',
      },
      { source: 'flag:--port', path: 'server.port', message: 'wrong type', expected: 'number', received: '"x"' },
    ]);
    expect(formatConfigIssue(error.issues[0] as ConfigIssue)).toBe('interlock.yaml:2:3 database.poolSize: too small (expected >= 1, got number 0)');
  });

  it('rejects unknown keys at any level, with a hint for a likely typo', () => {
    writeYaml('interlock.yaml', 'servr:\n  port: 1\nserver:\n  prot: 8080\nengine:\n  speed: 3\n');
    const error = configError(() => loadConfig({ env: {}, cwd }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.issues).toEqual([
      expect.objectContaining({ source: 'interlock.yaml:1:1', path: 'servr', message: 'unknown key; did you mean "server"?' }),
      {
        source: 'interlock.yaml:4:3',
        path: 'server.prot',
        message: 'unknown key; did you mean "port"?',
        expected: 'one of host, port, bodyLimitBytes',
        received: 'key "prot"',
      },
      expect.objectContaining({ source: 'interlock.yaml:6:3', path: 'engine.speed', message: 'unknown key' }),
    ]);
  });

  it('reports a YAML syntax error as CONFIG_FILE_UNREADABLE with file:line:col', () => {
    writeYaml('interlock.yaml', 'server:\n  port: 7411\n  host: [127.0.0.1\nlog:\n  level: info\n');
    const error = configError(() => loadConfig({ env: {}, cwd }));
    expect(error.code).toBe('CONFIG_FILE_UNREADABLE');
    expect(error.message).toMatch(/^interlock\.yaml:\d+:\d+: invalid YAML: .+; fix the syntax$/);
    expect((error.issues[0] as ConfigIssue).source).toMatch(/^interlock\.yaml:[34]:\d+$/);
  });

  it('reports duplicate keys as a YAML error with the line of the second one', () => {
    writeYaml('interlock.yaml', 'server:\n  port: 1\nserver:\n  port: 2\n');
    const error = configError(() => loadConfig({ env: {}, cwd }));
    expect(error.code).toBe('CONFIG_FILE_UNREADABLE');
    expect(error.message).toContain('interlock.yaml:3:1: invalid YAML: Map keys must be unique');
  });

  it('rejects a file that is not a mapping', () => {
    writeYaml('interlock.yaml', '- server\n- port\n');
    const error = configError(() => loadConfig({ env: {}, cwd }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.issues).toEqual([
      { source: 'interlock.yaml:1:1', path: '(root)', message: 'a configuration file must be a mapping of keys to values', expected: 'object', received: 'array' },
    ]);
  });

  it('never echoes a database URL, which may hold a password, in an issue', () => {
    const error = configError(() => loadConfig({ env: { DATABASE_URL: 'mysql://app:hunter2@db/x' }, cwd }));
    expect(error.issues).toEqual([
      { source: 'env:DATABASE_URL', path: 'database.url', message: 'wrong format', expected: 'a postgres:// or postgresql:// connection URL', received: '***' },
    ]);
    expect(JSON.stringify(error.details)).not.toContain('hunter2');
  });
});

describe('engine.leaseMs cross-check', () => {
  it('requires leaseMs >= 3 × heartbeatMs and names the heartbeat source when leaseMs is the default', () => {
    writeYaml('interlock.yaml', 'engine:\n  heartbeatMs: 6000\n');
    const error = configError(() => loadConfig({ env: {}, cwd }));
    expect(error.issues).toEqual([
      {
        source: 'interlock.yaml:2:3',
        path: 'engine.leaseMs',
        message: 'must be at least 3 × engine.heartbeatMs (6000 ms), so a worker that misses two heartbeats is not declared dead; raise leaseMs or lower heartbeatMs',
        expected: '>= 18000 (3 × engine.heartbeatMs)',
        received: 'number 15000',
      },
    ]);
  });

  it('accepts leaseMs of exactly 3 × heartbeatMs', () => {
    writeYaml('interlock.yaml', 'engine:\n  heartbeatMs: 5000\n  leaseMs: 15000\n');
    expect(loadConfig({ env: {}, cwd }).engine).toMatchObject({ heartbeatMs: 5000, leaseMs: 15_000 });
  });

  it('is reported together with problems in other subsystems', () => {
    writeYaml('interlock.yaml', 'engine:\n  heartbeatMs: 10000\nlog:\n  level: chatty\n');
    const error = configError(() => loadConfig({ env: {}, cwd }));
    expect(error.issues.map((issue) => issue.path)).toEqual(['engine.leaseMs', 'log.level']);
  });
});

describe('audit.export', () => {
  const sinks = (lines: string[]): string => ['audit:', '  export:', '    sinks:', ...lines.map((line) => `      ${line}`), ''].join('\n');

  it('fills the defaults of a CloudEvents sink, resolves a JSON Lines path against the file, and takes the token from the variable named', () => {
    const file = writeYaml('etc/interlock.yaml', sinks([
      '- { name: archive, type: jsonl, path: ../var/audit.jsonl }',
      '- { name: siem, type: cloudevents, url: "https://siem.example/ingest", bearerTokenEnv: SIEM_TOKEN, headers: { X-Tenant: ops } }',
    ]));
    const config = loadConfig({ env: { SIEM_TOKEN: 's3cret' }, files: [file], cwd });
    expect(config.audit.export.sinks).toEqual([
      { name: 'archive', type: 'jsonl', path: join(cwd, 'var', 'audit.jsonl') },
      { name: 'siem', type: 'cloudevents', url: 'https://siem.example/ingest', mode: 'batch', batchSize: 100, timeoutMs: 10_000, headers: { 'X-Tenant': 'ops' }, bearerTokenEnv: 'SIEM_TOKEN', bearerToken: 's3cret' },
    ]);
  });

  it('names the field of each problem: duplicate names, a bad URL, credentials in the URL or headers, an unknown type, retry bounds', () => {
    writeYaml('interlock.yaml', [
      sinks([
        '- { name: siem, type: jsonl, path: a.jsonl }',
        '- { name: siem, type: cloudevents, url: "ftp://siem.example" }',
        '- { name: other, type: cloudevents, url: "https://user:hunter2@siem.example/x", headers: { Authorization: "Basic abc", X-Api-Key: k } }',
        '- { name: third, type: syslog }',
        '- { name: Bad Name, type: cloudevents, url: "https://siem.example", batchSize: 5000 }',
      ]).trimEnd(),
      '    retry: { initialMs: 5000, maxMs: 1000 }',
      '',
    ].join('\n'));
    const error = configError(() => loadConfig({ env: {}, cwd }));
    expect(error.issues.map((issue) => `${issue.path}: ${issue.message}`).sort()).toEqual([
      'audit.export.retry.maxMs: must be at least audit.export.retry.initialMs',
      'audit.export.sinks.1.name: is the name of another sink',
      'audit.export.sinks.1.url: wrong format',
      'audit.export.sinks.2.headers.Authorization: is set by the exporter or carries a credential',
      'audit.export.sinks.2.headers.X-Api-Key: is set by the exporter or carries a credential',
      'audit.export.sinks.2.url: holds credentials',
      "audit.export.sinks.3.type: Invalid discriminator value. Expected 'jsonl' | 'cloudevents'",
      'audit.export.sinks.4.batchSize: too large',
      'audit.export.sinks.4.name: wrong format',
    ]);
    expect(JSON.stringify(error.details)).not.toMatch(/hunter2|Basic abc/);
  });

  it('leaves the token unset when its variable is not set (the exporter refuses the sink when it starts)', () => {
    writeYaml('interlock.yaml', sinks(['- { name: siem, type: cloudevents, url: "https://siem.example", bearerTokenEnv: SIEM_TOKEN }']));
    expect(loadConfig({ env: { SIEM_TOKEN: '' }, cwd }).audit.export.sinks[0]).not.toHaveProperty('bearerToken');
  });
});

describe('notifications', () => {
  const webhooks = (lines: string[]): string => ['notifications:', '  webhooks:', ...lines.map((line) => `    ${line}`), ''].join('\n');

  it('fills the defaults of a webhook (every event, 10 s) and takes the signing key from the variable named', () => {
    writeYaml('interlock.yaml', webhooks([
      '- { name: ops, url: "https://hooks.example/interlock", secretEnv: OPS_HOOK_KEY }',
      '- { name: pager, url: "http://127.0.0.1:9000/hook", events: [ticket.escalated], timeoutMs: 2000 }',
    ]));
    const config = loadConfig({ env: { OPS_HOOK_KEY: 'k3y' }, cwd });
    expect(config.notifications.webhooks).toEqual([
      { name: 'ops', url: 'https://hooks.example/interlock', secretEnv: 'OPS_HOOK_KEY', secret: 'k3y', events: ['ticket.escalated', 'ticket.resolved', 'ticket.opened', 'action.notify'], timeoutMs: 10_000 },
      { name: 'pager', url: 'http://127.0.0.1:9000/hook', events: ['ticket.escalated'], timeoutMs: 2000 },
    ]);
  });

  it('leaves the key unset when its variable is empty (the dispatcher refuses the webhook when it starts)', () => {
    writeYaml('interlock.yaml', webhooks(['- { name: ops, url: "https://hooks.example/x", secretEnv: OPS_HOOK_KEY }']));
    expect(loadConfig({ env: { OPS_HOOK_KEY: '' }, cwd }).notifications.webhooks[0]).not.toHaveProperty('secret');
  });

  it('names the field of each problem: duplicate names, credentials in the URL, an unknown or repeated event, retry bounds', () => {
    writeYaml('interlock.yaml', [
      webhooks([
        '- { name: ops, url: "https://hooks.example/a" }',
        '- { name: ops, url: "https://user:hunter2@hooks.example/b" }',
        '- { name: third, url: "https://hooks.example/c", events: [ticket.updated] }',
        '- { name: fourth, url: "https://hooks.example/d", events: [ticket.opened, ticket.opened] }',
        '- { name: fifth, url: "https://hooks.example/e", secret: plain }',
      ]).trimEnd(),
      '  retry: { initialMs: 5000, maxMs: 1000 }',
      '',
    ].join('\n'));
    const error = configError(() => loadConfig({ env: {}, cwd }));
    expect(error.issues.map((issue) => `${issue.path}: ${issue.message}`).sort()).toEqual([
      'notifications.retry.maxMs: must be at least notifications.retry.initialMs',
      'notifications.webhooks.1.name: is the name of another webhook',
      'notifications.webhooks.1.url: holds credentials',
      'notifications.webhooks.2.events.0: not an allowed value',
      'notifications.webhooks.3.events.1: lists ticket.opened twice',
      'notifications.webhooks.4.secret: unknown key',
    ]);
    expect(JSON.stringify(error.details)).not.toMatch(/hunter2|plain/);
  });
});

describe('connectors.changes and connectors.logs', () => {
  it('resolves repository, deploy log and log file paths against the file, and reads the Loki token from the variable named', () => {
    const file = writeYaml('etc/interlock.yaml', [
      'connectors:',
      '  changes:',
      '    enabled: true',
      '    git: [{ name: deploy, path: ../repos/deploy, service: checkout }]',
      '    deployLog: ../var/deploys.jsonl',
      '  logs:',
      '    enabled: true',
      '    files: [{ name: app, path: /var/log/app.log, format: { type: json } }, { name: nginx, path: logs/access.log, format: { type: pattern, pattern: "<Client> - <User> \\\\[<Time>\\\\] <Content>", time: [Time] } }]',
      '    loki: { url: "http://loki:3100", tenant: ops, bearerTokenEnv: LOKI_TOKEN }',
      '',
    ].join('\n'));
    const config = loadConfig({ env: { LOKI_TOKEN: 's3cret' }, files: [file], cwd });
    expect(config.connectors.changes).toMatchObject({ git: [{ name: 'deploy', path: join(cwd, 'repos', 'deploy'), service: 'checkout', ref: 'HEAD' }], deployLog: join(cwd, 'var', 'deploys.jsonl') });
    expect(config.connectors.logs.files.map((f) => f.path)).toEqual(['/var/log/app.log', join(cwd, 'etc', 'logs', 'access.log')]);
    expect(config.connectors.logs.files[1]?.rotated).toBe(true);
    expect(config.connectors.logs.loki).toMatchObject({ url: 'http://loki:3100', tenant: 'ops', serviceLabel: 'service_name', maxEntries: 5000, bearerToken: 's3cret' });
  });

  it('names each problem: a ref that could be an option, a log format without <Content>, a duplicate name', () => {
    writeYaml('interlock.yaml', [
      'connectors:',
      '  changes:',
      '    git: [{ name: deploy, path: a, ref: "--all" }]',
      '  logs:',
      '    files: [{ name: app, path: a.log, format: { type: pattern, pattern: "<Date> <Time>" } }, { name: app, path: b.log, format: { type: json } }]',
      '',
    ].join('\n'));
    const error = configError(() => loadConfig({ env: {}, cwd }));
    expect(error.issues.map((issue) => issue.path).sort()).toEqual(['connectors.changes.git.0.ref', 'connectors.logs.files.0.format.pattern', 'connectors.logs.files.1.name']);
  });
});
