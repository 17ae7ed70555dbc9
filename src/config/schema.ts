import { join } from 'node:path';
import { z } from 'zod';
import { AlertmanagerConfigSchema } from '../connectors/alertmanager/index.js';
import { BuiltinConfigSchema } from '../connectors/builtin/index.js';
import { ChangesConfigSchema } from '../connectors/changes/index.js';
import { FilesConfigSchema } from '../connectors/files/index.js';
import { LogsConfigSchema } from '../connectors/logs/index.js';
import { ExternalMcpServersConfigSchema } from '../connectors/mcp/index.js';
import { NginxConfigSchema } from '../connectors/nginx/index.js';
import { PostgresConfigSchema } from '../connectors/postgres/index.js';
import { PrometheusConfigSchema } from '../connectors/prometheus/index.js';
import { ReleasesConfigSchema } from '../connectors/releases/index.js';
import { ScaleConfigSchema } from '../connectors/scale/index.js';
import { SupervisorConfigSchema } from '../connectors/supervisor/index.js';
import { DiagnosisConfigSchema } from '../connectors/diagnosis/diagnosis-config.js';
import { RunbooksConfigSchema } from '../connectors/runbooks/runbooks-config.js';
import { LlmProvidersConfigSchema } from '../agents/reasoners/llm-provider.js';
import { IncidentsConfigSchema, IntakeConfigSchema } from './intake-config.js';
import { NotificationsConfigSchema } from './notifications-config.js';
import { AuthConfigSchema, McpServerConfigSchema } from './auth-config.js';
import { isSecretKey } from '../core/audit/entry.js';
import { AUTONOMY_LEVELS } from '../core/guards/autonomy.js';
import { EFFECTS, SHIPPED_DEFAULT_EFFECTS } from '../core/review/decision.js';
import { RISK_CLASSES, type RiskClass } from '../core/tools/tool.js';

/**
 * The configuration schema: one strict Zod object per subsystem, composed at the top by
 * {@link InterlockConfigSchema}. Keys are camelCase in `interlock.yaml`; an unknown key anywhere is
 * an error, so a typo never silently falls back to a default. `docs/configuration.md` lists every key.
 */

/** Largest delay Node's timers accept (2^31 - 1 ms, about 24.8 days); longer ones fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

/** Lowercase slug for a worker ID: letters, digits, `.`, `_` or `-`, at most 63 characters. */
export const WORKER_ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** Embedded PostgreSQL, used when `database.url` is not set. */
const EmbeddedDatabaseConfigSchema = z
  .object({
    dataDir: z.string().min(1).optional()
      .describe('Directory of the embedded PostgreSQL cluster. Default: `<dataDir>/postgres`.'),
    port: z.int().min(1).max(65_535).optional()
      .describe('TCP port of the embedded PostgreSQL server on 127.0.0.1. Default: a free port.'),
  })
  .strict();

/** The PostgreSQL store: a server at `url`, or the embedded server when `url` is not set. */
const DatabaseConfigSchema = z
  .object({
    url: z.string().regex(/^postgres(ql)?:\/\/\S+$/, 'a postgres:// or postgresql:// connection URL').optional()
      .describe('Connection URL of an existing PostgreSQL server. A secret: it may contain a password.'),
    poolSize: z.int().min(1).max(100).default(10).describe('Connections in the pool of each worker.'),
    embedded: EmbeddedDatabaseConfigSchema.prefault({}).describe('Embedded PostgreSQL settings.'),
  })
  .strict();

/** The HTTP server: where it listens and how large a request body may be. */
const ServerConfigSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1').describe('Interface the HTTP API listens on.'),
    port: z.int().min(0).max(65_535).default(7411).describe('TCP port of the HTTP API; 0 picks a free port.'),
    bodyLimitBytes: z.int().min(1).default(1_048_576).describe('Largest request body accepted, bytes.'),
  })
  .strict();

/** The mission engine of one worker: identity, concurrency, liveness and timing. All times in ms. */
const EngineConfigSchema = z
  .object({
    workerId: z.string().regex(WORKER_ID_PATTERN, 'a lowercase slug: letters, digits, ".", "_" or "-", at most 63 characters').optional()
      .describe('Stable ID of this worker. Default: `<hostname>-<8 hex of sha256(dataDir)>`.'),
    workflowVersion: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, ".", "_" or "-", at most 64 characters')
      .default('mission-v1').describe('Application version of the mission workflow this worker runs.'),
    concurrency: z.int().min(1).max(1000).default(20).describe('Missions run at once by this worker.'),
    heartbeatMs: z.int().min(1).max(MAX_TIMER_MS).default(2000).describe('Interval between worker heartbeats, ms.'),
    leaseMs: z.int().min(1).max(MAX_TIMER_MS).default(15_000)
      .describe('A worker whose last heartbeat is older than this is declared dead, ms. At least 3 × heartbeatMs.'),
    approvalTimeoutMs: z.int().min(1).default(7 * 24 * 60 * 60 * 1000).describe('How long a mission waits for an approval before it escalates, ms.'),
    reconcileIntervalMs: z.int().min(1).max(MAX_TIMER_MS).default(10_000)
      .describe('Interval between sweeps for missions whose workflow never started, ms.'),
    shadowProjects: z.array(z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'a project slug')).default([])
      .describe('Projects whose missions run in shadow mode: reviewed and recorded, never executed.'),
  })
  .strict()
  .superRefine((engine, ctx) => {
    if (engine.leaseMs < 3 * engine.heartbeatMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['leaseMs'],
        input: engine.leaseMs,
        params: { expected: `>= ${3 * engine.heartbeatMs} (3 × engine.heartbeatMs)`, related: 'engine.heartbeatMs' },
        message: `must be at least 3 × engine.heartbeatMs (${engine.heartbeatMs} ms), so a worker that misses two heartbeats is not declared dead; raise leaseMs or lower heartbeatMs`,
      });
    }
  });

const effect = (risk: RiskClass) => z.enum(EFFECTS).default(SHIPPED_DEFAULT_EFFECTS[risk]);

/** Review: the decision per risk class when no policy rule matches. */
const ReviewConfigSchema = z
  .object({
    defaults: z
      .object(Object.fromEntries(RISK_CLASSES.map((risk) => [risk, effect(risk)])) as Record<RiskClass, ReturnType<typeof effect>>)
      .strict()
      .prefault({})
      .describe('Effect per risk class when no policy rule matches.'),
  })
  .strict();

/** Policy-as-code: the directory of policy documents (docs/policy.md). */
const PolicyConfigSchema = z
  .object({
    dir: z.string().min(1).optional().describe('Directory of policy documents (*.yaml). Unset: only review.defaults apply.'),
  })
  .strict();

/** Autonomy levels (the trust ladder) per tool, risk class and service tier. */
const AutonomyConfigSchema = z
  .object({
    default: z.enum(AUTONOMY_LEVELS).default('auto').describe('Level when no rule matches.'),
    rules: z.array(z.object({
      tool: z.string().min(1).optional(),
      risk: z.enum(RISK_CLASSES).optional(),
      tier: z.string().min(1).optional(),
      level: z.enum(AUTONOMY_LEVELS),
    }).strict()).default([]).describe('Rules; the lowest level among the matching ones applies.'),
  })
  .strict();

const rateLimit = (max: number, windowMs: number) =>
  z.object({ max: z.int().min(1), windowMs: z.int().min(1).max(MAX_TIMER_MS) }).strict().nullable().default({ max, windowMs });

/** Guards: circuit breaker and rate limits on writes. Times in ms. */
const GuardsConfigSchema = z
  .object({
    circuitBreaker: z.object({
      maxActions: z.int().min(2).default(3).describe('Writes of one tool on one target within windowMs, with the observed state unchanged, that freeze it.'),
      windowMs: z.int().min(1).max(MAX_TIMER_MS).default(10 * 60_000),
      freezeMs: z.int().min(1).default(60 * 60_000).describe('How long a tripped action stays frozen, ms.'),
    }).strict().prefault({}),
    rateLimits: z.object({
      perAgent: rateLimit(60, 60_000).describe('Writes per agent per window; null for none.'),
      perTarget: rateLimit(20, 60_000).describe('Writes per target per window; null for none.'),
    }).strict().prefault({}),
  })
  .strict();

/** Name of an audit export sink: its cursor's key and its metrics label. */
const SINK_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
/** An HTTP field name (RFC 9110 §5.6.2 token). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Headers an audit export sink sets itself, or that carry credentials (those come from `bearerTokenEnv`). */
const RESERVED_HEADERS = new Set(['content-type', 'content-length', 'host', 'authorization', 'proxy-authorization', 'cookie', 'transfer-encoding', 'connection']);

const sinkName = z.string().regex(SINK_NAME, 'a lowercase slug: letters, digits, ".", "_" or "-", at most 63 characters')
  .describe("The sink's name, unique: the key of its export cursor and its metrics label.");

/** A JSON Lines file the audit log is appended to (docs/audit.md, "Export to a SIEM"). */
const JsonlSinkSchema = z
  .object({
    name: sinkName,
    type: z.literal('jsonl'),
    path: z.string().min(1).describe('The file, created (mode 0640) with its directory when missing.'),
  })
  .strict();

/** A CloudEvents 1.0 receiver over HTTP (docs/audit.md, "Export to a SIEM"). */
const CloudEventsSinkSchema = z
  .object({
    name: sinkName,
    type: z.literal('cloudevents'),
    url: z.url({ protocol: /^https?$/, error: 'an http:// or https:// URL' }).describe('Where events are POSTed.'),
    mode: z.enum(['batch', 'structured']).default('batch')
      .describe('`batch`: one POST of application/cloudevents-batch+json per batch; `structured`: one POST of application/cloudevents+json per event.'),
    batchSize: z.int().min(1).max(1000).default(100).describe('Entries read and delivered per batch.'),
    timeoutMs: z.int().min(1).max(MAX_TIMER_MS).default(10_000).describe('Time allowed for one POST, response included, ms.'),
    headers: z.record(z.string().regex(HEADER_NAME, 'an HTTP header name'), z.string().regex(/^[\t\x20-\x7e]*$/, 'printable ASCII without line breaks')).optional()
      .describe('Extra request headers, not secrets (Authorization, cookies and API-key headers are refused).'),
    bearerTokenEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name').optional()
      .describe('Environment variable holding the token sent as `Authorization: Bearer <token>`.'),
  })
  .strict()
  .superRefine((sink, ctx) => {
    const url = new URL(sink.url);
    if (url.username !== '' || url.password !== '') {
      ctx.addIssue({ code: 'custom', path: ['url'], input: `${url.protocol}//***@${url.host}`, params: { expected: 'a URL without user or password (put the token in the variable named by bearerTokenEnv)' }, message: 'holds credentials' });
    }
    for (const name of Object.keys(sink.headers ?? {})) {
      if (RESERVED_HEADERS.has(name.toLowerCase()) || isSecretKey(name)) {
        ctx.addIssue({ code: 'custom', path: ['headers', name], input: `header ${JSON.stringify(name)}`, params: { expected: 'a header that is neither set by the exporter nor a credential (use bearerTokenEnv for the token)' }, message: 'is set by the exporter or carries a credential' });
      }
    }
  })
  // `bearerToken` is never read from a file: `loadConfig` fills it from the variable `bearerTokenEnv` names.
  .transform((sink) => sink as typeof sink & { readonly bearerToken?: string });

/** Export of the audit log to SIEM sinks; times in ms. */
const AuditExportConfigSchema = z
  .object({
    sinks: z.array(z.discriminatedUnion('type', [JsonlSinkSchema, CloudEventsSinkSchema])).default([])
      // Checked even when a sink has other problems (`when`), so every problem is listed at once.
      .check(z.superRefine((sinks: unknown, ctx) => {
        if (!Array.isArray(sinks)) return;
        const seen = new Set<string>();
        (sinks as unknown[]).forEach((sink, index) => {
          const name = (sink as { name?: unknown } | null)?.name;
          if (typeof name !== 'string') return;
          if (seen.has(name)) ctx.addIssue({ code: 'custom', path: [index, 'name'], input: name, params: { expected: 'a name no other sink has' }, message: 'is the name of another sink' });
          seen.add(name);
        });
      }, { when: () => true }))
      .describe('Where the audit log is exported; empty: no export.'),
    pollIntervalMs: z.int().min(10).max(MAX_TIMER_MS).default(1000).describe('Pause of a sink that has caught up with the log before it looks for new entries, ms.'),
    retry: z
      .object({
        initialMs: z.int().min(1).max(MAX_TIMER_MS).default(1000).describe('Delay before the first retry of a failed delivery, ms (doubled per failure, with jitter).'),
        maxMs: z.int().min(1).max(MAX_TIMER_MS).default(60_000).describe('Longest delay between two attempts, ms.'),
      })
      .strict()
      .prefault({})
      .superRefine((retry, ctx) => {
        if (retry.maxMs < retry.initialMs) {
          ctx.addIssue({ code: 'custom', path: ['maxMs'], input: retry.maxMs, params: { expected: `>= ${retry.initialMs} (audit.export.retry.initialMs)`, related: 'audit.export.retry.initialMs' }, message: 'must be at least audit.export.retry.initialMs' });
        }
      }),
  })
  .strict();

/** The tamper-evident audit log (docs/audit.md). */
const AuditConfigSchema = z
  .object({
    origin: z.string().regex(/^[!-~]+$/, 'non-empty printable ASCII without spaces (a C2SP checkpoint origin, e.g. example.com/interlock/audit)')
      .default('interlock/audit').describe("The log's identity: the first line of its checkpoints and the name of its signing key."),
    signingKeyFile: z.string().min(1).optional()
      .describe('File holding the Ed25519 signer key of checkpoints; every worker of one database must read the same key. Unset: <dataDir>/audit-signing.key, created on first use.'),
    checkpointIntervalMs: z.int().min(1000).max(MAX_TIMER_MS).nullable().default(60_000)
      .describe('How often a serving worker signs a checkpoint of new entries, ms; null for on demand only.'),
    export: AuditExportConfigSchema.prefault({}).describe('Export to a SIEM (docs/audit.md).'),
  })
  .strict();

/** Pino log levels, most to least severe, and `silent`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Logging. */
const LogConfigSchema = z
  .object({
    level: z.enum(LOG_LEVELS).default('info').describe('Least severe level written to the log.'),
  })
  .strict();

/** Connectors: one key per connector, each with the schema from its `<name>-config.ts`. */
const ConnectorsConfigSchema = z
  .object({
    builtin: BuiltinConfigSchema.prefault({}).describe('The built-in connector (builtin.noop).'),
    files: FilesConfigSchema.prefault({}).describe('The files connector (files.read, files.write, files.restore, files.delete).'),
    prometheus: PrometheusConfigSchema.prefault({}).describe('The Prometheus connector (prometheus.query, prometheus.query_range, prometheus.series, prometheus.alerts).'),
    alertmanager: AlertmanagerConfigSchema.prefault({}).describe('The Alertmanager connector (alertmanager.alerts, alertmanager.silences).'),
    changes: ChangesConfigSchema.prefault({}).describe('The changes connector (changes.git, changes.deploys, changes.list).'),
    logs: LogsConfigSchema.prefault({}).describe('The logs connector (logs.query, logs.templates).'),
    nginx: NginxConfigSchema.prefault({}).describe('The nginx connector (nginx.upstream, nginx.set_weights, nginx.restore_upstream).'),
    supervisor: SupervisorConfigSchema.prefault({}).describe('The supervisor connector (supervisor.status, supervisor.start, supervisor.stop, supervisor.restart).'),
    postgres: PostgresConfigSchema.prefault({}).describe('The postgres connector (postgres.activity, postgres.terminate, postgres.set_pool_size, postgres.revert_pool_size).'),
    releases: ReleasesConfigSchema.prefault({}).describe('The releases connector (releases.list, releases.deploy, releases.rollback).'),
    scale: ScaleConfigSchema.prefault({}).describe('The scale connector (scale.status, scale.out, scale.in).'),
  })
  .strict()
  .superRefine((connectors, ctx) => {
    // One writer per upstream file: the scale connector owns the upstreams of its services.
    if (!connectors.scale.enabled || !connectors.nginx.enabled) return;
    connectors.scale.services.forEach((service, index) => {
      if (connectors.nginx.upstreams.some((u) => u.name === service.upstream)) {
        ctx.addIssue({ code: 'custom', path: ['scale', 'services', index, 'upstream'], input: service.upstream, params: { expected: 'an upstream not listed in connectors.nginx.upstreams', related: 'connectors.nginx.upstreams' }, message: 'is also an upstream of the nginx connector; only one of them may write its file' });
      }
    });
  });

/** The top-level object of `interlock.yaml`, before derived defaults are filled in. */
const InterlockConfigObjectSchema = z
  .object({
    dataDir: z.string().min(1).default('.interlock').describe('Directory for local state: embedded PostgreSQL, keys.'),
    database: DatabaseConfigSchema.prefault({}),
    server: ServerConfigSchema.prefault({}),
    engine: EngineConfigSchema.prefault({}),
    review: ReviewConfigSchema.prefault({}),
    policy: PolicyConfigSchema.prefault({}),
    runbooks: RunbooksConfigSchema.prefault({}).describe('Runbooks that turn a diagnosis into a remediation mission (docs/runbooks.md).'),
    agents: z.object({
      dir: z.string().min(1).optional().describe('Directory of agent definitions (*.yaml, docs/agents.md). Unset: no agents; incidents go from diagnosis straight to runbooks.dispatch.'),
      llm: LlmProvidersConfigSchema.prefault({}).describe('LLM endpoints agents may name as reasoner llm:<provider>/<model> (docs/reasoners.md).'),
    }).strict().prefault({}).describe('Agents: triage, resolution, governance and utility roles with governed hand-offs (docs/agents.md).'),
    autonomy: AutonomyConfigSchema.prefault({}),
    guards: GuardsConfigSchema.prefault({}),
    audit: AuditConfigSchema.prefault({}),
    intake: IntakeConfigSchema.prefault({}),
    incidents: IncidentsConfigSchema.prefault({}),
    notifications: NotificationsConfigSchema.prefault({}).describe('Webhooks told about tickets and auto-notify actions (docs/tickets.md).'),
    diagnosis: DiagnosisConfigSchema.prefault({}),
    log: LogConfigSchema.prefault({}),
    connectors: ConnectorsConfigSchema.prefault({}),
    auth: AuthConfigSchema.prefault({}).describe('Authentication besides API tokens: JWT bearer tokens from an OAuth 2.1 authorization server (docs/security.md).'),
    mcp: z
      .object({
        server: McpServerConfigSchema.prefault({}).describe('Interlock\'s own MCP endpoint, /mcp (docs/security.md).'),
        servers: ExternalMcpServersConfigSchema.describe('External MCP servers as governed tool providers (the gateway); their tools are `<name>.<tool>` in the catalog (docs/connectors/mcp.md).'),
      })
      .strict()
      .prefault({})
      .describe('The Model Context Protocol: Interlock as an MCP server.'),
  })
  .strict();

/**
 * The whole configuration, strict at every level. Parsing fills every default, and derives
 * `database.embedded.dataDir` from `dataDir` when unset. Paths come out as given: `loadConfig`
 * resolves them (against the file's directory, or the working directory) before and after parsing.
 * Use {@link loadConfig} rather than parsing this directly.
 */
export const InterlockConfigSchema = InterlockConfigObjectSchema.transform((config) => ({
  ...config,
  database: {
    ...config.database,
    embedded: { ...config.database.embedded, dataDir: config.database.embedded.dataDir ?? join(config.dataDir, 'postgres') },
  },
  connectors: { ...config.connectors, files: { ...config.connectors.files, root: config.connectors.files.root ?? join(config.dataDir, 'files') } },
  audit: { ...config.audit, signingKeyFile: config.audit.signingKeyFile ?? join(config.dataDir, 'audit-signing.key') },
  auth: { ...config.auth, authorizationServers: config.auth.authorizationServers.length > 0 || config.auth.jwt === undefined ? config.auth.authorizationServers : [config.auth.jwt.issuer] },
}));

/** A value and everything inside it made read-only. */
type DeepReadonly<T> = T extends (...args: never[]) => unknown ? T : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

/**
 * The resolved, frozen configuration `loadConfig` returns: every default filled in, `dataDir` and
 * `database.embedded.dataDir` absolute. Times are ms, sizes bytes.
 */
export type InterlockConfig = DeepReadonly<z.output<typeof InterlockConfigSchema>>;

/** Resolved database settings. `url` unset means embedded PostgreSQL. */
export type DatabaseConfig = InterlockConfig['database'];
/** Resolved HTTP server settings. */
export type ServerConfig = InterlockConfig['server'];
/** Resolved mission engine settings (ms). `workerId` unset means {@link defaultWorkerId}. */
export type EngineConfig = InterlockConfig['engine'];
/** Resolved review settings. */
export type ReviewConfig = InterlockConfig['review'];
/** Resolved audit log settings; `signingKeyFile` always set. */
export type AuditConfig = InterlockConfig['audit'];
/**
 * One resolved audit export sink: `jsonl` (`path` absolute) or `cloudevents` (with `bearerToken`, the
 * value of the variable `bearerTokenEnv` names, when that is set).
 */
export type AuditExportSinkConfig = AuditConfig['export']['sinks'][number];
/** Resolved signal intake settings. */
export type IntakeConfig = InterlockConfig['intake'];
/** Resolved incident grouping settings (ms). */
export type IncidentsConfig = InterlockConfig['incidents'];
/** Resolved notification settings (ms); each webhook with `secret`, the value of the variable `secretEnv` names, when that is set. */
export type NotificationsConfig = InterlockConfig['notifications'];
/** Resolved log settings. */
export type LogConfig = InterlockConfig['log'];
/** Resolved connector settings, one key per connector. */
export type ConnectorsConfig = InterlockConfig['connectors'];
/** Resolved authentication settings; `authorizationServers` holds `jwt.issuer` when it was left empty. */
export type AuthConfig = InterlockConfig['auth'];
/** Resolved JWT bearer token settings (`auth.jwt`), when set. */
export type JwtAuthConfig = NonNullable<AuthConfig['jwt']>;
/** Resolved settings of Interlock's own MCP endpoint (`mcp.server`). */
export type McpServerConfig = InterlockConfig['mcp']['server'];

/**
 * The keys a strict object at `path` accepts, for "did you mean" hints on unknown keys; empty when
 * `path` does not lead to an object of the schema.
 */
export function knownKeys(path: readonly PropertyKey[]): string[] {
  let schema: z.ZodType = InterlockConfigObjectSchema;
  for (const segment of [...path, undefined]) {
    while (schema instanceof z.ZodDefault || schema instanceof z.ZodPrefault || schema instanceof z.ZodOptional) schema = schema.unwrap() as z.ZodType;
    if (!(schema instanceof z.ZodObject)) return [];
    if (segment === undefined) return Object.keys(schema.shape);
    const next = (schema.shape as Record<string, z.ZodType | undefined>)[String(segment)];
    if (next === undefined) return [];
    schema = next;
  }
  return [];
}
