/**
 * The MCP Streamable HTTP endpoint at `/mcp` (MCP 2025-11-25, basic/transports#streamable-http):
 * POST carries JSON-RPC messages, GET opens the server-to-client SSE stream, DELETE ends a session.
 * Before the SDK transport sees a request, Interlock checks, in order: Host and Origin (DNS-rebinding
 * protection, 403), the bearer token (an Interlock API token or a JWT, 401 with `WWW-Authenticate`
 * pointing at the protected-resource metadata, RFC 9728 §5.1), the caller's rate limit (429 with
 * Retry-After), and that the session belongs to the caller (404 otherwise, as for an unknown session).
 */
import { randomUUID } from 'node:crypto';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AccessError, InputError, InterlockError, isInterlockError } from '../../core/errors.js';
import { authorize, type Principal } from '../../core/identity/identity.js';
import type { Authenticator } from '../../core/ports.js';
import { RISK_CLASSES } from '../../core/tools/tool.js';
import { authenticateRequest } from '../auth.js';
import { checkHostAndOrigin, type HostOriginPolicy } from '../dns-rebinding.js';
import { bearerChallengeFor, resourceBaseUrl, resourceMetadataUrl } from '../oauth-metadata.js';
import { issuesFromZod } from '../errors.js';
import { createMcpServer, type McpServerDeps, type McpSessionScope } from './mcp-server.js';

/** The path of the endpoint. */
export const MCP_PATH = '/mcp';

/** A per-client rate limiter: `take` one request of `key` at `now` (ms). */
export interface McpRateLimiter {
  take(key: string, now: number): { ok: true } | { ok: false; retryAfterSeconds: number };
}

/** What the endpoint needs besides the MCP server's own dependencies. */
export interface McpHttpOptions {
  readonly deps: McpServerDeps;
  readonly authenticator: Authenticator;
  /**
   * The Host and Origin values accepted (DNS-rebinding protection; `checkHostAndOrigin`), read per
   * request: the defaults depend on the port the server got.
   */
  readonly hostPolicy: () => HostOriginPolicy;
  readonly rateLimiter?: McpRateLimiter;
  /**
   * The origin clients reach this Interlock at (`mcp.server.publicUrl`); the protected-resource
   * metadata named in `WWW-Authenticate` on a 401 is under it. Unset: the request's Host.
   */
  readonly publicUrl?: string;
  /** Sessions held at once; more initialize requests are answered 503. @default 1000 */
  readonly maxSessions?: number;
  /** A session unused this long is closed, ms. @default 1800000 (30 min) */
  readonly sessionIdleMs?: number;
}

/** The endpoint's handle: tell every session that the tool list changed; close every session. */
export interface McpEndpoint {
  /** Sends `notifications/tools/list_changed` to every open session. */
  toolListChanged(): Promise<void>;
  /** Open sessions. */
  sessionCount(): number;
}

interface Session {
  readonly transport: StreamableHTTPServerTransport;
  readonly server: Server;
  readonly principalId: string;
  lastUsed: number;
}

/** Query parameters of the initialize request: which project and which slice of its catalog. */
const ScopeQuerySchema = z.strictObject({
  project: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'a project slug').default('default'),
  tag: z.string().max(2000).optional(),
  risk: z.string().max(200).optional(),
});

function scopeOf(request: FastifyRequest, principal: Principal): McpSessionScope {
  const parsed = ScopeQuerySchema.safeParse(request.query ?? {});
  if (!parsed.success) throw new InputError('INPUT_INVALID', `The /mcp query is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, issuesFromZod(parsed.error, 'query'));
  const { project, tag, risk } = parsed.data;
  const tags = tag?.split(',').map((t) => t.trim()).filter((t) => t !== '');
  const risks = risk?.split(',').map((r) => r.trim()).filter((r) => r !== '');
  const badRisk = risks?.find((r) => !(RISK_CLASSES as readonly string[]).includes(r));
  if (badRisk !== undefined) {
    throw new InputError('INPUT_INVALID', `The /mcp query parameter risk names "${badRisk}", not a risk class.`, [{ path: 'query.risk', message: 'not a risk class', expected: RISK_CLASSES.join(' | '), received: JSON.stringify(badRisk) }]);
  }
  const allowed = authorize(principal, 'missions:read', project);
  if (!allowed.allowed) throw new AccessError('FORBIDDEN', `Forbidden: ${allowed.reason}.`, { details: { permission: 'missions:read', project, principal: principal.name } });
  return { principal, project, ...(tags === undefined || tags.length === 0 ? {} : { tags }), ...(risks === undefined || risks.length === 0 ? {} : { risks: risks as McpSessionScope['risks'] & object }) };
}

/** Answers a refusal before the transport: Interlock's error body with its status. */
function refuse(reply: FastifyReply, error: InterlockError): FastifyReply {
  return reply.code(error.status).send({ error: { code: error.code, message: error.message, details: error.details } });
}

/**
 * Registers `/mcp` (POST, GET, DELETE) on `app`. The app's global authentication must leave `/mcp` to
 * this route (see `auth.ts`), which authenticates itself to answer 401 with its challenge.
 */
export function registerMcpEndpoint(app: FastifyInstance, options: McpHttpOptions): McpEndpoint {
  const sessions = new Map<string, Session>();
  const maxSessions = options.maxSessions ?? 1000;
  const idleMs = options.sessionIdleMs ?? 1_800_000;

  const sweep = setInterval(() => {
    const cutoff = Date.now() - idleMs;
    for (const [id, session] of sessions) {
      if (session.lastUsed < cutoff) {
        sessions.delete(id);
        void session.transport.close().catch(() => undefined);
      }
    }
  }, Math.min(idleMs, 60_000));
  sweep.unref();
  app.addHook('onClose', async () => {
    clearInterval(sweep);
    const open = [...sessions.values()];
    sessions.clear();
    await Promise.all(open.map((session) => session.transport.close().catch(() => undefined)));
  });

  async function handle(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const problem = checkHostAndOrigin(request.headers, options.hostPolicy());
    if (problem !== undefined) return refuse(reply, new AccessError('FORBIDDEN', `Refused (DNS-rebinding protection): ${problem}.`, { details: { reason: problem } }));
    let principal: Principal;
    try {
      principal = await authenticateRequest(request, options.authenticator, Date.now());
    } catch (error) {
      const challenge = bearerChallengeFor(error, resourceMetadataUrl(resourceBaseUrl(request, options.publicUrl)));
      if (challenge !== undefined && isInterlockError(error)) {
        reply.header('www-authenticate', challenge);
        return refuse(reply, error);
      }
      throw error;
    }
    const limit = options.rateLimiter?.take(principal.id, Date.now());
    if (limit !== undefined && !limit.ok) {
      reply.header('retry-after', String(limit.retryAfterSeconds));
      return refuse(reply, new InterlockError('RATE_LIMITED', `${principal.name} sent more MCP requests than mcp.server.rateLimit allows; try again in ${limit.retryAfterSeconds} s.`, { details: { retryAfterSeconds: limit.retryAfterSeconds } }));
    }
    const sessionId = request.headers['mcp-session-id'];
    let session: Session | undefined;
    if (typeof sessionId === 'string') {
      session = sessions.get(sessionId);
      // Another principal's session is answered as an unknown one: its existence is not revealed.
      if (session === undefined || session.principalId !== principal.id) {
        return reply.code(404).send({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found; initialize a new session.' }, id: null });
      }
    } else if (request.method === 'POST' && isInitializeRequest(request.body)) {
      if (sessions.size >= maxSessions) return refuse(reply, new InterlockError('ENGINE_NOT_READY', `This worker holds ${maxSessions} MCP sessions already; try again shortly.`));
      const scope = scopeOf(request, principal);
      const server = createMcpServer(options.deps, scope);
      const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => { sessions.set(id, created); },
      });
      const created: Session = { transport, server, principalId: principal.id, lastUsed: Date.now() };
      transport.onclose = () => {
        if (transport.sessionId !== undefined) sessions.delete(transport.sessionId);
      };
      await server.connect(transport);
      session = created;
    } else {
      return reply.code(400).send({ jsonrpc: '2.0', error: { code: -32000, message: 'Bad request: send an initialize request first (POST without Mcp-Session-Id), then the Mcp-Session-Id header it returns.' }, id: null });
    }
    session.lastUsed = Date.now();
    reply.hijack();
    try {
      await session.transport.handleRequest(request.raw, reply.raw, request.body);
    } catch (error) {
      // The reply is the transport's now: answer what can still be answered, and log the rest.
      request.log.error({ err: error }, 'MCP transport failed on a request');
      if (!reply.raw.headersSent) reply.raw.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32603, message: 'Internal error' }, id: null }));
      else reply.raw.end();
    }
    return undefined;
  }

  const schema = { hide: true, security: [] } as const;
  app.post(MCP_PATH, { schema }, handle);
  app.get(MCP_PATH, { schema }, handle);
  app.delete(MCP_PATH, { schema }, handle);

  return {
    async toolListChanged() {
      await Promise.all([...sessions.values()].map((session) => session.server.sendToolListChanged().catch(() => undefined)));
    },
    sessionCount: () => sessions.size,
  };
}
