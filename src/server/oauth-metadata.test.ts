import Fastify, { type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { afterEach, describe, expect, it } from 'vitest';
import { AccessError, InterlockError } from '../core/errors.js';
import { bearerChallengeFor, OAUTH_PUBLIC_PATHS, oauthMetadataRoutes, resourceMetadataUrl, wwwAuthenticate, type OAuthMetadataOptions } from './oauth-metadata.js';

let app: FastifyInstance | undefined;

afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function serve(options: OAuthMetadataOptions): Promise<FastifyInstance> {
  app = Fastify({ logger: false });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // Stands in for the authentication hook: every path but the public ones needs a token.
  app.addHook('onRequest', async (request, reply) => {
    if (!OAUTH_PUBLIC_PATHS.includes(request.url.split('?', 1)[0] ?? '') && request.headers.authorization === undefined) await reply.code(401).send();
  });
  await app.register(oauthMetadataRoutes, options);
  return app;
}

describe('protected-resource metadata (RFC 9728)', () => {
  it('describes the MCP endpoint at the path-suffixed URL and the server at the root one, from the public URL, without a token', async () => {
    const server = await serve({ publicUrl: 'https://interlock.example.com/', authorizationServers: ['https://login.example.com/realms/ops'], scopesSupported: ['interlock'] });
    const mcp = await server.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource/mcp', headers: { host: 'attacker.example' } });
    expect(mcp.statusCode).toBe(200);
    expect(mcp.headers['content-type']).toMatch(/^application\/json/);
    expect(mcp.json()).toEqual({
      resource: 'https://interlock.example.com/mcp',
      authorization_servers: ['https://login.example.com/realms/ops'],
      bearer_methods_supported: ['header'],
      scopes_supported: ['interlock'],
      resource_name: 'Interlock',
    });
    const root = await server.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource' });
    expect(root.json()).toMatchObject({ resource: 'https://interlock.example.com' });
  });

  it('builds the resource from the request Host without a public URL, and leaves out empty scopes', async () => {
    const server = await serve({ authorizationServers: [] });
    const response = await server.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource/mcp', headers: { host: '127.0.0.1:7411' } });
    expect(response.json()).toEqual({ resource: 'http://127.0.0.1:7411/mcp', authorization_servers: [], bearer_methods_supported: ['header'], resource_name: 'Interlock' });
  });

  it('lists exactly the paths it serves as public', async () => {
    const server = await serve({ authorizationServers: [] });
    for (const url of OAUTH_PUBLIC_PATHS) expect((await server.inject({ method: 'GET', url })).statusCode, url).toBe(200);
    expect(OAUTH_PUBLIC_PATHS).toEqual(['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp']);
  });
});

describe('resourceMetadataUrl', () => {
  it('inserts the well-known path before the resource path (RFC 9728 §3.1)', () => {
    expect(resourceMetadataUrl('https://interlock.example.com/')).toBe('https://interlock.example.com/.well-known/oauth-protected-resource/mcp');
    expect(resourceMetadataUrl('http://127.0.0.1:7411', '/')).toBe('http://127.0.0.1:7411/.well-known/oauth-protected-resource');
  });
});

describe('wwwAuthenticate', () => {
  const metadata = 'https://interlock.example.com/.well-known/oauth-protected-resource/mcp';

  it('names only the metadata when no token was sent, and the error, its description and scope otherwise', () => {
    expect(wwwAuthenticate({ resourceMetadataUrl: metadata })).toBe(`Bearer resource_metadata="${metadata}"`);
    expect(wwwAuthenticate({ resourceMetadataUrl: metadata, error: 'insufficient_scope', errorDescription: 'needs interlock', scope: 'interlock openid' })).toBe(
      `Bearer resource_metadata="${metadata}", error="insufficient_scope", error_description="needs interlock", scope="interlock openid"`,
    );
  });

  it('escapes quotes and backslashes and replaces what could break the header', () => {
    const value = wwwAuthenticate({ resourceMetadataUrl: metadata, error: 'invalid_token', errorDescription: 'say "hi" \\ then\r\nSet-Cookie: x=1 — ok' });
    expect(value).toBe(`Bearer resource_metadata="${metadata}", error="invalid_token", error_description="say \\"hi\\" \\\\ then??Set-Cookie: x=1 ? ok"`);
    expect(value).not.toMatch(/[\r\n]/);
  });
});

describe('bearerChallengeFor', () => {
  const metadata = 'http://127.0.0.1:7411/.well-known/oauth-protected-resource/mcp';

  it('maps the authentication errors to their Bearer challenge', () => {
    expect(bearerChallengeFor(new AccessError('AUTH_REQUIRED', 'no token'), metadata)).toBe(`Bearer resource_metadata="${metadata}"`);
    expect(bearerChallengeFor(new AccessError('AUTH_TOKEN_EXPIRED', 'The JWT has expired'), metadata)).toBe(`Bearer resource_metadata="${metadata}", error="invalid_token", error_description="The JWT has expired"`);
    expect(bearerChallengeFor(new AccessError('FORBIDDEN', 'lacks scope', { details: { requiredScopes: ['interlock', 'mcp'], missingScopes: ['mcp'] } }), metadata)).toBe(
      `Bearer resource_metadata="${metadata}", error="insufficient_scope", error_description="lacks scope", scope="interlock mcp"`,
    );
  });

  it('gives no challenge for other errors, a permission refusal included', () => {
    expect(bearerChallengeFor(new AccessError('FORBIDDEN', 'no role', { details: { permission: 'admin', project: '*', principal: 'alice' } }), metadata)).toBeUndefined();
    expect(bearerChallengeFor(new InterlockError('RATE_LIMITED', 'slow down'), metadata)).toBeUndefined();
    expect(bearerChallengeFor(new Error('boom'), metadata)).toBeUndefined();
  });
});
