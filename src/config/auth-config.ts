import { z } from 'zod';

/**
 * Configuration of authentication beyond API tokens (`auth`) and of Interlock's own MCP endpoint
 * (`mcp.server`): JWT bearer tokens from an OAuth 2.1 authorization server, the protected-resource
 * metadata that points clients at it, and the MCP endpoint's rate limit and DNS-rebinding
 * protection. docs/security.md explains them, docs/configuration.md lists every key.
 */

/**
 * The JWS algorithms a JWT may be signed with: asymmetric only, so Interlock holds no secret that
 * could mint tokens (no `HS*`, never `none`).
 */
const JWT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;

/** One of {@link JWT_ALGORITHMS}. */
type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

/** The algorithms accepted when `auth.jwt.algorithms` is not set. */
const DEFAULT_JWT_ALGORITHMS: readonly JwtAlgorithm[] = ['RS256', 'ES256', 'EdDSA'];

const httpUrl = () => z.url({ protocol: /^https?$/, error: 'an http:// or https:// URL' });

/** An OAuth scope token (RFC 6749 §3.3): printable ASCII without spaces, `"` or `\`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** JWT bearer tokens (RFC 7519) issued by an OAuth 2.1 authorization server, verified locally. */
const JwtAuthConfigSchema = z
  .object({
    issuer: httpUrl().describe('The authorization server that issues the tokens: their `iss` claim must equal it.'),
    audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)])
      .describe('The resource URL(s) of this Interlock (RFC 8707): a token\'s `aud` claim must name one of them, e.g. https://interlock.example.com/mcp.'),
    jwksUrl: httpUrl().optional()
      .describe('Where the issuer publishes its signing keys (a JSON Web Key Set). Exactly one of jwksUrl and publicKeyFile.'),
    publicKeyFile: z.string().min(1).optional()
      .describe('File holding the issuer\'s public key, PEM (SPKI "PUBLIC KEY" or an X.509 certificate). Exactly one of jwksUrl and publicKeyFile.'),
    algorithms: z.array(z.enum(JWT_ALGORITHMS)).min(1).default([...DEFAULT_JWT_ALGORITHMS])
      .describe('Signature algorithms accepted (asymmetric only).'),
    principalClaim: z.string().min(1).default('sub')
      .describe('The claim whose value is the name of an Interlock principal; the token authenticates that principal.'),
    requiredScopes: z.array(z.string().regex(SCOPE_TOKEN, 'an OAuth scope: printable ASCII without spaces, " or \\')).default([])
      .describe('Scopes every token must hold in its space-separated `scope` claim; empty: none required.'),
    clockToleranceSeconds: z.int().min(0).max(300).default(30)
      .describe('Clock skew allowed when checking exp, nbf and iat, seconds.'),
    maxTokenAgeSeconds: z.int().min(1).optional()
      .describe('Reject tokens issued (iat) longer ago than this, seconds; the token must then carry iat. Unset: only exp limits a token\'s life.'),
  })
  .strict()
  .superRefine((jwt, ctx) => {
    if (jwt.jwksUrl !== undefined && jwt.publicKeyFile !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['publicKeyFile'], input: jwt.publicKeyFile, params: { expected: 'only one of auth.jwt.jwksUrl and auth.jwt.publicKeyFile', related: 'auth.jwt.jwksUrl' }, message: 'is set together with auth.jwt.jwksUrl; keep one' });
    }
    if (jwt.jwksUrl === undefined && jwt.publicKeyFile === undefined) {
      ctx.addIssue({ code: 'custom', path: ['jwksUrl'], input: undefined, params: { expected: 'auth.jwt.jwksUrl or auth.jwt.publicKeyFile' }, message: 'is missing: set jwksUrl (or publicKeyFile) so token signatures can be checked' });
    }
  });

/** Authentication: API tokens always; JWT bearer tokens when `jwt` is set (docs/security.md). */
export const AuthConfigSchema = z
  .object({
    jwt: JwtAuthConfigSchema.optional().describe('Accept JWT bearer tokens from an OAuth 2.1 authorization server besides API tokens. Unset: API tokens only.'),
    authorizationServers: z.array(httpUrl()).default([])
      .describe('Authorization servers named in the protected-resource metadata (RFC 9728). Empty: auth.jwt.issuer when auth.jwt is set.'),
  })
  .strict();

/** Interlock's own MCP endpoint (`/mcp`, Streamable HTTP). */
export const McpServerConfigSchema = z
  .object({
    enabled: z.boolean().default(true).describe('Serve the MCP endpoint at /mcp.'),
    rateLimit: z
      .object({
        capacity: z.int().min(1).max(100_000).default(60).describe('Requests a client may send in a burst (token bucket size).'),
        refillPerSecond: z.number().positive().max(100_000).default(10).describe('Requests per second a client regains, up to capacity.'),
      })
      .strict()
      .prefault({})
      .describe('Per-client token bucket; a client over it is answered 429 RATE_LIMITED with Retry-After.'),
    allowedHosts: z.array(z.string().min(1)).optional()
      .describe('Host header values accepted on /mcp (host:port, or a host name for any port), against DNS rebinding. Unset: 127.0.0.1, localhost and [::1] on server.port, and the host of publicUrl.'),
    allowedOrigins: z.array(z.string().min(1)).default([])
      .describe('Origin header values accepted on /mcp besides the request\'s own origin (e.g. http://localhost:6274); a request without Origin is accepted.'),
    publicUrl: httpUrl().optional()
      .describe('The origin clients reach this Interlock at (behind a proxy), e.g. https://interlock.example.com; the base of the resource in the protected-resource metadata. Unset: built from the request\'s Host.'),
    callWaitMs: z.int().min(0).max(600_000).default(30_000)
      .describe('How long tools/call waits for the governed mission to finish before answering that it is pending, ms.'),
  })
  .strict()
  .superRefine((server, ctx) => {
    if (server.publicUrl === undefined || !URL.canParse(server.publicUrl)) return;
    const url = new URL(server.publicUrl);
    if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
      ctx.addIssue({ code: 'custom', path: ['publicUrl'], input: `${url.protocol}//${url.host}${url.pathname}`, params: { expected: 'an origin: scheme, host and port only, e.g. https://interlock.example.com' }, message: 'has a path, query, fragment or credentials' });
    }
  });
