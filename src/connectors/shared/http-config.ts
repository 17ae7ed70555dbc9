import { z } from 'zod';
import { ConfigError } from '../../core/errors.js';

/** The longest timer Node accepts, ms. */
const MAX_TIMER_MS = 2_147_483_647;

/** An environment variable name (POSIX portable: letters, digits, `_`, not starting with a digit). */
const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name');

/**
 * The configuration keys every HTTP API connector (Prometheus, Alertmanager) shares: where the API
 * is, how long a request may take, how large an answer may be, and the names of the environment
 * variables holding credentials. Secrets are never written in the file: `loadConfig` reads them from
 * the variables named here (see {@link withHttpSecrets}).
 */
export function httpApiConfigShape(defaults: { readonly url: string; readonly system: string }) {
  return {
    url: z.url({ protocol: /^https?$/, error: 'an http:// or https:// URL' }).default(defaults.url)
      .describe(`Base URL of the ${defaults.system} server (a path prefix is kept, e.g. behind a proxy).`),
    timeoutMs: z.int().min(1).max(MAX_TIMER_MS).default(10_000).describe('Longest one HTTP request may take, answer read included, ms.'),
    maxResponseBytes: z.int().min(1024).max(1024 * 1024 * 1024).default(32 * 1024 * 1024)
      .describe('Largest answer body read, bytes; a larger one fails the call (narrow the request).'),
    bearerTokenEnv: EnvName.optional().describe('Environment variable holding the token sent as `Authorization: Bearer <token>`.'),
    basicAuth: z.object({
      username: z.string().min(1).max(200).describe('User name for HTTP basic authentication.'),
      passwordEnv: EnvName.describe('Environment variable holding the password.'),
    }).strict().optional().describe('HTTP basic authentication; the password comes from the environment.'),
  };
}

/** Checks shared by every HTTP API connector config: no credentials in the URL, one authentication scheme. */
export function checkHttpApiConfig(config: { url: string; bearerTokenEnv?: string | undefined; basicAuth?: unknown }, ctx: z.RefinementCtx): void {
  let url: URL;
  try {
    url = new URL(config.url);
  } catch {
    return; // the url check reports it
  }
  if (url.username !== '' || url.password !== '') {
    ctx.addIssue({ code: 'custom', path: ['url'], input: `${url.protocol}//***@${url.host}`, params: { expected: 'a URL without user or password (use basicAuth or bearerTokenEnv)' }, message: 'holds credentials' });
  }
  if (config.bearerTokenEnv !== undefined && config.basicAuth !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['basicAuth'], input: 'basicAuth and bearerTokenEnv', params: { expected: 'either bearerTokenEnv or basicAuth, not both' }, message: 'conflicts with bearerTokenEnv' });
  }
}

/** Credentials `loadConfig` filled in from the environment; never in a file, masked when printed. */
export interface HttpSecrets {
  /** The value of the variable `bearerTokenEnv` names. */
  readonly bearerToken?: string;
  /** The value of the variable `basicAuth.passwordEnv` names. */
  readonly basicAuthPassword?: string;
}

/** The environment as `loadConfig` passes it. */
type Env = Readonly<Record<string, string | undefined>>;

/**
 * `config` with its credentials read from `env`: `bearerToken` from `bearerTokenEnv`, `basicAuthPassword`
 * from `basicAuth.passwordEnv`. An unset or empty variable leaves the secret unset: the connector
 * refuses to start then (see {@link requireHttpSecrets}), so commands that call no tool do not need it.
 */
export function withHttpSecrets<T extends { readonly bearerTokenEnv?: string | undefined; readonly basicAuth?: { readonly passwordEnv: string } | undefined }>(config: T, env: Env): T & HttpSecrets {
  const read = (name: string | undefined): string | undefined => (name === undefined || env[name] === '' ? undefined : env[name]);
  const bearerToken = read(config.bearerTokenEnv);
  const basicAuthPassword = read(config.basicAuth?.passwordEnv);
  return { ...config, ...(bearerToken === undefined ? {} : { bearerToken }), ...(basicAuthPassword === undefined ? {} : { basicAuthPassword }) };
}

/** The `Authorization` header for a connector's credentials, or none. */
export type AuthorizationHeader = { readonly authorization: string } | Record<string, never>;

/**
 * The `Authorization` header a connector sends, from its resolved config.
 * @throws ConfigError `CONFIG_INVALID` naming `<key>.bearerTokenEnv` or `<key>.basicAuth.passwordEnv`
 *   when the variable it names is unset or empty.
 */
export function requireHttpSecrets(key: string, config: { readonly bearerTokenEnv?: string | undefined; readonly basicAuth?: { readonly username: string; readonly passwordEnv: string } | undefined } & HttpSecrets): AuthorizationHeader {
  if (config.bearerTokenEnv !== undefined) {
    if (config.bearerToken === undefined) throw unsetVariable(`${key}.bearerTokenEnv`, config.bearerTokenEnv);
    return { authorization: `Bearer ${config.bearerToken}` };
  }
  if (config.basicAuth !== undefined) {
    if (config.basicAuthPassword === undefined) throw unsetVariable(`${key}.basicAuth.passwordEnv`, config.basicAuth.passwordEnv);
    return { authorization: `Basic ${Buffer.from(`${config.basicAuth.username}:${config.basicAuthPassword}`, 'utf8').toString('base64')}` };
  }
  return {};
}

function unsetVariable(path: string, variable: string): ConfigError {
  return new ConfigError('CONFIG_INVALID', `${path} names the environment variable ${variable}, which is unset or empty; set it or remove the key`, [
    { path, message: 'names an unset or empty environment variable', expected: `${variable} set to the credential`, received: 'unset' },
  ]);
}
