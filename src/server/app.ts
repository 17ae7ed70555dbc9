import fastifySwagger, { type SwaggerTransformObject } from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import {
  createJsonSchemaTransform,
  createJsonSchemaTransformObject,
  serializerCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import type { ApprovalService, Authenticator, MissionService } from '../core/ports.js';
import type { ToolCatalog } from '../core/tools/catalog.js';
import { addAuthentication } from './auth.js';
import { handleError, handleNotFound, validatorCompiler } from './errors.js';
import type { InterlockMetrics } from './metrics.js';
import { governanceRoutes, type GovernanceRoutesOptions } from './routes/governance.js';
import { approvalRoutes } from './routes/approvals.js';
import { auditRoutes, type AuditRoutesService } from './routes/audit.js';
import { signalRoutes, type SignalRoutesOptions } from './routes/signals.js';
import { ticketRoutes, type TicketReader } from './routes/tickets.js';
import { missionRoutes } from './routes/missions.js';
import { missionReportRoutes } from './routes/report.js';
import { operationsRoutes, type Readiness } from './routes/operations.js';
import { toolRoutes } from './routes/tools.js';
import { registerMcpEndpoint, type McpEndpoint, type McpHttpOptions } from './mcp/http.js';
import { oauthMetadataRoutes, type OAuthMetadataOptions } from './oauth-metadata.js';
import { mcpServersRoutes, type McpServersRoutesOptions } from './routes/mcp-servers.js';
import { agentRoutes, type AgentsRoutesOptions } from './routes/agents.js';

/** Largest request body accepted by default: 1 MiB. */
const DEFAULT_BODY_LIMIT_BYTES = 1_048_576;

const COMPONENT_PREFIX = '#/components/schemas/';

/**
 * Wraps a document transform to drop the `components.schemas` that nothing references.
 * fastify-type-provider-zod emits every named Zod schema twice (`X` for responses, `XInput` for
 * requests) whether or not a route uses that direction; only `MissionRequest` is used both ways.
 */
function withoutUnusedComponents(transform: SwaggerTransformObject): SwaggerTransformObject {
  return (documentObject) => {
    const document = transform(documentObject);
    const schemas = 'components' in document ? document.components?.schemas : undefined;
    if (schemas === undefined) return document;
    const used = new Set<string>();
    const pending: unknown[] = ['paths' in document ? document.paths : undefined];
    while (pending.length > 0) {
      const node = pending.pop();
      if (Array.isArray(node)) pending.push(...(node as unknown[]));
      else if (typeof node === 'object' && node !== null) {
        for (const [key, value] of Object.entries(node)) {
          if (key === '$ref' && typeof value === 'string' && value.startsWith(COMPONENT_PREFIX)) {
            const name = value.slice(COMPONENT_PREFIX.length);
            if (!used.has(name)) {
              used.add(name);
              pending.push((schemas as Record<string, unknown>)[name]);
            }
          } else pending.push(value);
        }
      }
    }
    for (const name of Object.keys(schemas)) if (!used.has(name)) delete (schemas as Record<string, unknown>)[name];
    return document;
  };
}

/** Everything the HTTP API needs; `main.ts` builds the real ones, tests pass fakes of the ports. */
export interface AppDeps {
  /** Creates, lists, reads and cancels missions (the engine). */
  readonly missions: MissionService;
  /** Resolves the API token of every request (except the operations endpoints) to a principal. */
  readonly authenticator: Authenticator;
  /** Lists, shows and votes on approval requests (the approvals module). */
  readonly approvals: ApprovalService;
  /** Kill switches (the engine) and the policy set, for the admin routes. */
  readonly governance: GovernanceRoutesOptions;
  /** The audit log `/v1/audit/*` queries, proves and checkpoints (`AuditService`). */
  readonly audit: AuditRoutesService;
  /** Signal intake and incidents (`/v1/signals/:source`, `/v1/incidents`); absent, they are not served. */
  readonly signals?: Omit<SignalRoutesOptions, 'authenticator'>;
  /** Tickets (`/v1/tickets`, `/v1/incidents/:id/ticket`); absent, they are not served. */
  readonly tickets?: TicketReader;
  /**
   * The MCP endpoint at `/mcp` (Streamable HTTP; `mcp/http.ts`), authenticated by `authenticator`;
   * absent, it is not served. `onEndpoint` receives its handle (tool-list changes).
   */
  readonly mcp?: Omit<McpHttpOptions, 'authenticator'> & { readonly onEndpoint?: (endpoint: McpEndpoint) => void };
  /** External MCP servers (the gateway) for `/v1/mcp/servers`; absent: none configured (the list is empty). */
  readonly mcpGateway?: McpServersRoutesOptions['gateway'];
  /** The OAuth protected-resource metadata (RFC 9728) served at `/.well-known/oauth-protected-resource[/mcp]`; absent, not served. */
  readonly oauthMetadata?: OAuthMetadataOptions;
  /** The agents and their track record (`/v1/agents`, `/v1/agents/stats`); absent: no agents, an empty track record. */
  readonly agents?: AgentsRoutesOptions;
  /** The tools `GET /v1/tools` describes. */
  readonly catalog: ToolCatalog;
  /** Where HTTP request durations go; `/metrics` renders its registry. */
  readonly metrics: InterlockMetrics;
  /** Where request and error logs go; `false` or absent logs nothing. @default false */
  readonly logger?: Logger | false;
  /** Application version, reported by `/healthz` and in the OpenAPI document. */
  readonly version: string;
  /** Largest request body accepted, in bytes; larger ones answer 413. @default 1048576 (1 MiB) */
  readonly bodyLimitBytes?: number;
  /** Readiness of this instance for `/readyz` (database reachable, engine ready). */
  ready(): Promise<Readiness>;
}

/**
 * Builds the HTTP API as a Fastify instance, ready to `listen` or to test with `app.inject`:
 * `/v1/missions` (create, list, get, cancel, report), `/v1/approvals` (list, show, approve, deny),
 * `/v1/tools`, `/v1/audit` (entries, checkpoints, proofs), `/v1/tickets` (when given), kill switches and policy reload, `/healthz`, `/readyz`, `/metrics`, and the OpenAPI 3.1 document at `/openapi.json`.
 * Every request but the last four must carry `Authorization: Bearer il_...` (401 otherwise) and each
 * route checks its permission in the project it touches (403; see `auth.ts`). Requests and responses are validated with Zod; every
 * error answers `{ error: { code, message, details } }` (see `src/server/errors.ts`). Only JSON
 * bodies are accepted (415 otherwise).
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const bodyLimit = deps.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  const loggerInstance: FastifyBaseLogger | undefined = deps.logger === false ? undefined : deps.logger;
  const app: FastifyInstance = loggerInstance === undefined ? Fastify({ logger: false, bodyLimit }) : Fastify({ loggerInstance, bodyLimit });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(handleError);
  app.setNotFoundHandler(handleNotFound);
  app.removeContentTypeParser('text/plain');

  addAuthentication(app, deps.authenticator);
  app.addHook('onResponse', (request, reply, done) => {
    deps.metrics.observeHttpRequest(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
    done();
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Interlock API',
        version: deps.version,
        description: 'Missions, tools and health of an Interlock control plane: AI reasons, Interlock executes.',
      },
      tags: [
        { name: 'missions', description: 'Governed runs of the loop intake → context → plan → review → execute → verify.' },
        { name: 'approvals', description: 'Approval requests bound to the SHA-256 of their exact actions: M-of-N quorum, single use, expiry.' },
        { name: 'tools', description: 'The tool catalog: narrow verbs with contracts.' },
        { name: 'signals', description: 'Signal intake (Alertmanager, CloudEvents, mapped JSON) and the incidents signals are grouped into.' },
        { name: 'tickets', description: 'Built-in tickets: per incident, the diagnosis, the actions, the outcome and why, with their webhook notifications.' },
        { name: 'agents', description: 'The agents loaded from agents.dir and the track record of agents and runbooks, with suggested autonomy levels.' },
        { name: 'audit', description: 'The tamper-evident audit log: entries, signed checkpoints (C2SP), inclusion and consistency proofs (RFC 9162).' },
        { name: 'operations', description: 'Liveness, readiness and metrics.' },
      ],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API token (`il_...`) from `interlock tokens create`.' },
        },
      },
      security: [{ bearerAuth: [] }],
    },
    transform: createJsonSchemaTransform({}),
    transformObject: withoutUnusedComponents(createJsonSchemaTransformObject({})),
  });

  const api = app.withTypeProvider<ZodTypeProvider>();
  await api.register(missionRoutes, { prefix: '/v1', missions: deps.missions });
  await api.register(missionReportRoutes, { prefix: '/v1', missions: deps.missions, audit: deps.audit });
  await api.register(approvalRoutes, { prefix: '/v1', approvals: deps.approvals });
  await api.register(toolRoutes, { prefix: '/v1', catalog: deps.catalog });
  await api.register(governanceRoutes, { prefix: '/v1', ...deps.governance });
  await api.register(auditRoutes, { prefix: '/v1', audit: deps.audit });
  if (deps.signals !== undefined) await api.register(signalRoutes, { prefix: '/v1', ...deps.signals, authenticator: deps.authenticator });
  if (deps.tickets !== undefined) await api.register(ticketRoutes, { prefix: '/v1', tickets: deps.tickets });
  await api.register(operationsRoutes, { version: deps.version, ready: () => deps.ready(), metrics: deps.metrics });
  api.get('/openapi.json', { schema: { hide: true, security: [] } }, () => app.swagger());
  await api.register(mcpServersRoutes, { prefix: '/v1', gateway: deps.mcpGateway });
  await api.register(agentRoutes, { prefix: '/v1', ...deps.agents });
  if (deps.oauthMetadata !== undefined) await api.register(oauthMetadataRoutes, deps.oauthMetadata);
  if (deps.mcp !== undefined) {
    const endpoint = registerMcpEndpoint(app, { ...deps.mcp, authenticator: deps.authenticator });
    deps.mcp.onEndpoint?.(endpoint);
  }

  return app;
}
