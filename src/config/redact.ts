import type { InterlockConfig } from './schema.js';

/** Key names that hold secrets wherever they appear: tokens, secrets, passwords, API and private keys, credentials. */
const SECRET_KEY = /token|secret|passw(or)?d|api[-_]?key|private[-_]?key|credential/i;

/** Key paths that hold secrets although their names do not say so. */
const SECRET_PATHS: ReadonlyArray<readonly string[]> = [['database', 'url']];

/** What a redacted value is replaced with. */
const MASK = '***';

/**
 * True when the value at `path` is (or is inside) a secret: `database.url`, or any key whose name
 * contains token, secret, password, passwd, apiKey, privateKey or credential (any case). A key ending
 * in `Env` (`bearerTokenEnv`) holds the name of the variable with the secret, not the secret. Used to
 * keep secrets out of printed configuration and out of validation messages.
 */
export function isSecretPath(path: readonly string[]): boolean {
  if (SECRET_PATHS.some((secret) => secret.length === path.length && secret.every((segment, index) => segment === path[index]))) return true;
  return path.some((segment, index) => SECRET_KEY.test(segment) && !(index === path.length - 1 && segment.endsWith('Env')));
}

/**
 * A PostgreSQL connection string with its password replaced by `***`, user, host, database and
 * parameters kept: `postgres://app:s3cret@db:5432/interlock` → `postgres://app:***@db:5432/interlock`.
 * A `password=` parameter (URL query or libpq key/value form) is masked too.
 */
export function redactDatabaseUrl(url: string): string {
  let redacted: string;
  try {
    const parsed = new URL(url);
    redacted = parsed.password === ''
      ? url
      : `${parsed.protocol}//${parsed.username}:${MASK}@${parsed.host}${parsed.pathname}${parsed.search}${parsed.hash}`;
  } catch {
    // Not a WHATWG URL (e.g. a socket path with an empty host): mask everything between "user:" and the last "@".
    redacted = url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/]*):.*@/i, `$1:${MASK}@`);
  }
  return redacted.replace(/(password=)[^&\s]*/gi, `$1${MASK}`);
}

/**
 * A copy of `config` safe to print or log: the password in `database.url` becomes `***` (see
 * {@link redactDatabaseUrl}) and every string under a key named like a secret (see
 * {@link isSecretPath}) becomes `***`. Numbers and booleans are kept. The copy is frozen.
 */
export function redactConfig(config: InterlockConfig): InterlockConfig {
  return redactValue(config, []) as InterlockConfig;
}

function redactValue(value: unknown, path: readonly string[]): unknown {
  if (typeof value === 'string') {
    if (path.length === 2 && path[0] === 'database' && path[1] === 'url') return redactDatabaseUrl(value);
    return isSecretPath(path) ? MASK : value;
  }
  if (Array.isArray(value)) return Object.freeze(value.map((item, index) => redactValue(item, [...path, String(index)])));
  if (typeof value === 'object' && value !== null) {
    return Object.freeze(Object.fromEntries(Object.entries(value).map(([key, child]) => [key, redactValue(child, [...path, key])])));
  }
  return value;
}
