/**
 * OAuth 2.0 Protected Resource Metadata (RFC 9728) for the MCP endpoint and the API, and the
 * `WWW-Authenticate: Bearer` challenge (RFC 6750 §3) that points a client without a valid token at
 * it; the discovery MCP clients follow to get a token from the authorization server
 * (docs/security.md, "JWT bearer tokens and OAuth").
 */
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isInterlockError } from '../core/errors.js';

/** The well-known path of protected-resource metadata (RFC 9728 §3). */
const OAUTH_METADATA_PATH = '/.well-known/oauth-protected-resource';

/** The path of the resource the path-suffixed metadata describes: the MCP endpoint. */
const MCP_RESOURCE_PATH = '/mcp';

/**
 * The paths {@link oauthMetadataRoutes} serves, answered without a token: the metadata of the whole
 * server and, path-suffixed (RFC 9728 §3.1), of the MCP endpoint.
 */
export const OAUTH_PUBLIC_PATHS: readonly string[] = [OAUTH_METADATA_PATH, `${OAUTH_METADATA_PATH}${MCP_RESOURCE_PATH}`];

/** Options of {@link oauthMetadataRoutes}. */
export interface OAuthMetadataOptions {
  /**
   * The URL clients reach this Interlock at, an origin (`https://interlock.example.com`;
   * `mcp.server.publicUrl`). Unset: the request's protocol and `Host` (see {@link resourceBaseUrl}).
   */
  readonly publicUrl?: string | undefined;
  /** Issuer URLs of the authorization servers that issue tokens for this resource (`auth.authorizationServers`). */
  readonly authorizationServers: readonly string[];
  /** Scopes a client should ask for (`auth.jwt.requiredScopes`); omitted from the metadata when empty. */
  readonly scopesSupported?: readonly string[] | undefined;
}

/** The metadata document (RFC 9728 §2), with the fields Interlock fills. */
const ProtectedResourceMetadataSchema = z
  .object({
    resource: z.string().describe('The protected resource\'s identifier: the URL tokens must be issued for (their aud).'),
    authorization_servers: z.array(z.string()).describe('Issuer identifiers of the authorization servers that issue tokens for this resource.'),
    bearer_methods_supported: z.array(z.literal('header')).describe('Tokens are sent in the Authorization header only.'),
    scopes_supported: z.array(z.string()).optional().describe('Scopes tokens for this resource should hold.'),
    resource_name: z.literal('Interlock'),
  })
  .describe('OAuth 2.0 Protected Resource Metadata (RFC 9728).');

/** A metadata document; see {@link ProtectedResourceMetadataSchema}. */
type ProtectedResourceMetadata = z.infer<typeof ProtectedResourceMetadataSchema>;

/**
 * Routes serving protected-resource metadata (RFC 9728) at `/.well-known/oauth-protected-resource`
 * (resource: the base URL) and `/.well-known/oauth-protected-resource/mcp` (resource: the base URL +
 * `/mcp`). They need no token: add {@link OAUTH_PUBLIC_PATHS} to the public paths of `auth.ts`.
 * @see RFC 9728 §3 (obtaining metadata), §3.3 (the resource must equal the one the URL was built from).
 */
export const oauthMetadataRoutes: FastifyPluginCallbackZod<OAuthMetadataOptions> = (app, options, done) => {
  const schema = {
    tags: ['operations'],
    security: [],
    response: { 200: ProtectedResourceMetadataSchema },
  };
  for (const [path, resourcePath] of [[OAUTH_METADATA_PATH, ''], [`${OAUTH_METADATA_PATH}${MCP_RESOURCE_PATH}`, MCP_RESOURCE_PATH]] as const) {
    app.get(path, { schema: { ...schema, summary: resourcePath === '' ? 'OAuth protected-resource metadata of Interlock' : 'OAuth protected-resource metadata of the MCP endpoint' } }, (request, reply) => {
      void reply.header('cache-control', 'public, max-age=3600');
      return protectedResourceMetadata(`${resourceBaseUrl(request, options.publicUrl)}${resourcePath}`, options);
    });
  }
  done();
};

/** The metadata document of `resource`. */
function protectedResourceMetadata(resource: string, options: OAuthMetadataOptions): ProtectedResourceMetadata {
  return {
    resource,
    authorization_servers: [...options.authorizationServers],
    bearer_methods_supported: ['header'],
    ...(options.scopesSupported === undefined || options.scopesSupported.length === 0 ? {} : { scopes_supported: [...options.scopesSupported] }),
    resource_name: 'Interlock',
  };
}

/**
 * The base URL of this Interlock as the client sees it, without a trailing slash: `publicUrl` when
 * configured (the right choice behind a proxy, and the only one that does not echo the client's
 * `Host`), else `<request protocol>://<Host header>` (`https` only when the connection is TLS, or
 * with Fastify's `trustProxy` and `X-Forwarded-Proto`).
 */
export function resourceBaseUrl(request: FastifyRequest, publicUrl?: string): string {
  if (publicUrl !== undefined) return publicUrl.replace(/\/+$/, '');
  const host = request.host === '' ? 'localhost' : request.host;
  return `${request.protocol}://${host}`;
}

/**
 * The URL of the metadata of the resource at `resourcePath` under `baseUrl` (an origin), the value of
 * `resource_metadata` in {@link wwwAuthenticate}: the well-known path inserted before the resource's
 * path (RFC 9728 §3.1). E.g. `https://i.example.com` and `/mcp` →
 * `https://i.example.com/.well-known/oauth-protected-resource/mcp`.
 */
export function resourceMetadataUrl(baseUrl: string, resourcePath: string = MCP_RESOURCE_PATH): string {
  return `${baseUrl.replace(/\/+$/, '')}${OAUTH_METADATA_PATH}${resourcePath === '/' ? '' : resourcePath}`;
}

/** The parameters of a Bearer challenge. */
export interface BearerChallenge {
  /** Where the protected-resource metadata is (RFC 9728 §5.1); see {@link resourceMetadataUrl}. */
  readonly resourceMetadataUrl: string;
  /**
   * `invalid_token` (401: expired, revoked, malformed), `insufficient_scope` (403) or
   * `invalid_request` (400); omit it when the request carried no token (RFC 6750 §3.1).
   */
  readonly error?: 'invalid_request' | 'invalid_token' | 'insufficient_scope' | undefined;
  /** A sentence for the developer, not the end user. */
  readonly errorDescription?: string | undefined;
  /** Space-separated scopes the resource needs (with `insufficient_scope`). */
  readonly scope?: string | undefined;
}

/**
 * The value of a `WWW-Authenticate` header challenging for a Bearer token, e.g.
 * `Bearer resource_metadata="https://i.example.com/.well-known/oauth-protected-resource/mcp",
 * error="invalid_token", error_description="The JWT has expired"`. Values are quoted strings with
 * `"` and `\` escaped; characters RFC 6750 does not allow in them (controls, non-ASCII) become `?`,
 * so no value can break the header.
 * @see RFC 6750 §3, RFC 9728 §5.1, RFC 9110 §5.6.4 (quoted-string).
 */
export function wwwAuthenticate(challenge: BearerChallenge): string {
  const params: Array<[string, string]> = [['resource_metadata', challenge.resourceMetadataUrl]];
  if (challenge.error !== undefined) params.push(['error', challenge.error]);
  if (challenge.errorDescription !== undefined) params.push(['error_description', challenge.errorDescription]);
  if (challenge.scope !== undefined) params.push(['scope', challenge.scope]);
  return `Bearer ${params.map(([name, value]) => `${name}=${quoted(value)}`).join(', ')}`;
}

/**
 * The `WWW-Authenticate` value for an error raised while authenticating a request: no `error` for
 * `AUTH_REQUIRED` (no token sent), `invalid_token` for the other `AUTH_*` codes, `insufficient_scope`
 * with the missing scopes for a `FORBIDDEN` from the JWT scope check; undefined for any other error
 * (which needs no challenge).
 */
export function bearerChallengeFor(error: unknown, metadataUrl: string): string | undefined {
  if (!isInterlockError(error)) return undefined;
  if (error.code === 'AUTH_REQUIRED') return wwwAuthenticate({ resourceMetadataUrl: metadataUrl });
  if (error.code === 'AUTH_TOKEN_INVALID' || error.code === 'AUTH_TOKEN_EXPIRED' || error.code === 'AUTH_TOKEN_REVOKED') {
    return wwwAuthenticate({ resourceMetadataUrl: metadataUrl, error: 'invalid_token', errorDescription: error.message });
  }
  const required = error.details.requiredScopes;
  if (error.code === 'FORBIDDEN' && Array.isArray(required)) {
    return wwwAuthenticate({ resourceMetadataUrl: metadataUrl, error: 'insufficient_scope', errorDescription: error.message, scope: required.join(' ') });
  }
  return undefined;
}

/** `value` as an RFC 9110 quoted-string, with what RFC 6750 forbids in values replaced by `?`. */
function quoted(value: string): string {
  return `"${value.replace(/[^\x20-\x7E]/g, '?').replace(/["\\]/g, (c) => `\\${c}`)}"`;
}
