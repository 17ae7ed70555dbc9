/**
 * Authentication and authorization at the HTTP edge: every request but the operations endpoints must
 * carry `Authorization: Bearer il_...`, resolved to a principal by the {@link Authenticator}; each
 * route then checks the permission it needs in the project it touches (docs/security.md).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AccessError, InternalError } from '../core/errors.js';
import { authorize, type Permission, type Principal } from '../core/identity/identity.js';
import type { Authenticator } from '../core/ports.js';
import { OAUTH_PUBLIC_PATHS } from './oauth-metadata.js';

/**
 * Paths answered without a token: liveness, readiness, metrics, the API description, and the OAuth
 * protected-resource metadata (RFC 9728) a client reads to learn where to get a token.
 */
const PUBLIC_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics', '/openapi.json', ...OAUTH_PUBLIC_PATHS]);

/**
 * Path prefixes whose routes authenticate each request themselves, by the rules of what they serve:
 * signal intake, where a source takes an API token or an HMAC signature (`routes/signals.ts`).
 */
const SELF_AUTHENTICATED_PREFIXES: readonly string[] = ['/v1/signals/'];

/**
 * Paths whose routes authenticate each request themselves: the MCP endpoint, which answers a 401
 * with a `WWW-Authenticate` challenge naming its protected-resource metadata (`mcp/http.ts`).
 */
const SELF_AUTHENTICATED_PATHS: ReadonlySet<string> = new Set(['/mcp']);

const BEARER = /^Bearer +(\S+) *$/i;

/** The principal of each authenticated request. */
const principals = new WeakMap<FastifyRequest, Principal>();

/**
 * Adds an `onRequest` hook that authenticates every request except {@link PUBLIC_PATHS} (unknown
 * routes included, so the API's shape is not revealed to strangers).
 * @throws AccessError `AUTH_REQUIRED` (no `Authorization` header), `AUTH_TOKEN_INVALID` (not
 *   `Bearer <token>`, or a token the authenticator does not know), and whatever the authenticator
 *   throws (`AUTH_TOKEN_REVOKED`, `AUTH_TOKEN_EXPIRED`), all answered 401.
 */
export function addAuthentication(app: FastifyInstance, authenticator: Authenticator, now: () => number = Date.now): void {
  app.addHook('onRequest', async (request) => {
    const path = request.url.split('?', 1)[0] ?? '';
    if (PUBLIC_PATHS.has(path) || SELF_AUTHENTICATED_PATHS.has(path) || SELF_AUTHENTICATED_PREFIXES.some((prefix) => path.startsWith(prefix))) return;
    await authenticateRequest(request, authenticator, now());
  });
}

/**
 * Resolves the request's `Authorization: Bearer` token to its principal and remembers it for
 * {@link principalOf}; what the hook does, for routes that authenticate themselves.
 * @throws AccessError as {@link addAuthentication}.
 */
export async function authenticateRequest(request: FastifyRequest, authenticator: Authenticator, now: number): Promise<Principal> {
  const header = request.headers.authorization;
  if (header === undefined || header.trim() === '') {
    throw new AccessError('AUTH_REQUIRED', 'This request needs an API token: send the header Authorization: Bearer il_... (create a token with `interlock tokens create`).');
  }
  const token = BEARER.exec(header)?.[1];
  if (token === undefined) {
    throw new AccessError('AUTH_TOKEN_INVALID', 'The Authorization header is not "Bearer <token>"; send Authorization: Bearer il_...');
  }
  const principal = await authenticator.authenticate(token, now);
  principals.set(request, principal);
  return principal;
}

/**
 * The principal that authenticated `request`.
 * @throws InternalError `INTERNAL` when the request was not authenticated (a route outside the hook).
 */
export function principalOf(request: FastifyRequest): Principal {
  const principal = principals.get(request);
  if (principal === undefined) throw new InternalError(`No principal for ${request.method} ${request.url}: the route is not behind authentication.`);
  return principal;
}

/**
 * The principal of `request` when it holds `permission` in `project` (`*` for every project).
 * @throws AccessError `FORBIDDEN` naming the permission, the project and why, with `details`
 *   `{ permission, project, principal }`.
 */
export function requirePermission(request: FastifyRequest, permission: Permission, project: string): Principal {
  const principal = principalOf(request);
  const decision = authorize(principal, permission, project);
  if (!decision.allowed) {
    throw new AccessError('FORBIDDEN', `Forbidden: ${decision.reason}.`, { details: { permission, project, principal: principal.name } });
  }
  return principal;
}
