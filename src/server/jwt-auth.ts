/**
 * JWT bearer tokens (RFC 7519) from an OAuth 2.1 authorization server, verified locally and mapped to
 * the same principals API tokens authenticate, so a token from the organisation's identity provider
 * carries exactly the roles `interlock principals` gave that principal (docs/security.md, "JWT bearer
 * tokens and OAuth"). Error messages name the check that failed, never the token or its claims.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { AccessError, ConfigError } from '../core/errors.js';
import type { Principal } from '../core/identity/identity.js';
import type { Authenticator, IdentityStore } from '../core/ports.js';

/** Options of {@link createJwtAuthenticator}; `auth.jwt` of the configuration has this shape. */
export interface JwtAuthenticatorOptions {
  /** The `iss` every token must carry, e.g. `https://login.example.com/realms/ops`. */
  readonly issuer: string;
  /** The resource URL(s) of this Interlock; a token's `aud` must name one (RFC 8707). */
  readonly audience: string | readonly string[];
  /** The issuer's JSON Web Key Set. Exactly one of `jwksUrl` and `publicKeyFile`. */
  readonly jwksUrl?: string | undefined;
  /** A PEM file with the issuer's public key (SPKI or X.509 certificate). */
  readonly publicKeyFile?: string | undefined;
  /** Accepted JWS algorithms. @default ['RS256', 'ES256', 'EdDSA'] */
  readonly algorithms?: readonly string[] | undefined;
  /** The claim naming the principal. @default 'sub' */
  readonly principalClaim?: string | undefined;
  /** Scopes the `scope` claim (space-separated) must hold. @default [] */
  readonly requiredScopes?: readonly string[] | undefined;
  /** Clock skew allowed for `exp`, `nbf` and `iat`, seconds. @default 30 */
  readonly clockToleranceSeconds?: number | undefined;
  /** Oldest `iat` accepted, seconds before now; unset: no limit but `exp`. */
  readonly maxTokenAgeSeconds?: number | undefined;
  /** Time allowed to fetch the JWKS, ms. @default 5000 */
  readonly jwksTimeoutMs?: number | undefined;
  /**
   * Least time between two JWKS fetches prompted by an unknown `kid`, ms, so tokens with made-up
   * key IDs cannot make Interlock hammer the issuer. @default 30000
   */
  readonly jwksCooldownMs?: number | undefined;
  /** Longest time a fetched JWKS is used before it is fetched again, ms. @default 600000 */
  readonly jwksCacheMaxAgeMs?: number | undefined;
}

/** The part of the identity store the JWT authenticator needs: principals by name. */
export type PrincipalLookup = Pick<IdentityStore, 'findPrincipal'>;

/** The algorithms accepted when none are configured. */
const DEFAULT_ALGORITHMS: readonly string[] = ['RS256', 'ES256', 'EdDSA'];

/** The JWS algorithms each kind of public key can verify. */
const KEY_ALGORITHMS: Readonly<Record<string, readonly string[]>> = {
  rsa: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'],
  'rsa-pss': ['PS256', 'PS384', 'PS512'],
  ec: ['ES256', 'ES384', 'ES512'],
  ed25519: ['EdDSA', 'Ed25519'],
  ed448: ['EdDSA'],
};

/** Three base64url segments, the compact serialization of a JWS (RFC 7515 §7.1); the last may be empty. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * An {@link Authenticator} for JWT bearer tokens: checks the signature (against the issuer's JWKS,
 * fetched and cached by `jose`'s `createRemoteJWKSet`, or a PEM public key), the algorithm, `iss`,
 * `aud`, `exp`/`nbf` (with the clock tolerance), the token's age, the required scopes, then
 * resolves `principalClaim` to a principal with `identity.findPrincipal`. The `now` given to
 * `authenticate` is the time checked against (ms since the epoch).
 * @throws ConfigError `CONFIG_INVALID` at creation, for a `publicKeyFile` that cannot be read, holds no
 *   public key (or a private one), or a key no configured algorithm can use; or an invalid `jwksUrl`.
 * `authenticate` throws AccessError `AUTH_TOKEN_EXPIRED` (past `exp`, or older than
 *   `maxTokenAgeSeconds`), `AUTH_TOKEN_INVALID` (malformed, algorithm, signature, issuer, audience,
 *   not yet valid, no or unknown principal, keys unavailable; the message says which) or `FORBIDDEN`
 *   (a required scope missing; `details.missingScopes` names them).
 * @see RFC 7519 (JWT), RFC 8725 (JWT best practices), RFC 8707 (audience binding), RFC 9068.
 */
export function createJwtAuthenticator(options: JwtAuthenticatorOptions, identity: PrincipalLookup): Authenticator {
  const algorithms = [...(options.algorithms ?? DEFAULT_ALGORITHMS)];
  const principalClaim = options.principalClaim ?? 'sub';
  const requiredScopes = [...(options.requiredScopes ?? [])];
  const audience = typeof options.audience === 'string' ? options.audience : [...options.audience];
  const getKey = keySource(options, algorithms);
  const verifyOptions = {
    issuer: options.issuer,
    audience,
    algorithms,
    clockTolerance: options.clockToleranceSeconds ?? 30,
    ...(options.maxTokenAgeSeconds === undefined ? {} : { maxTokenAge: options.maxTokenAgeSeconds }),
  };

  return {
    async authenticate(token, now) {
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, getKey, { ...verifyOptions, currentDate: new Date(now) }));
      } catch (error) {
        throw accessErrorFor(error, options);
      }
      const missing = missingScopes(payload.scope, requiredScopes);
      if (missing.length > 0) {
        throw new AccessError('FORBIDDEN', `Forbidden: the JWT lacks the scope${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (auth.jwt.requiredScopes); ask the authorization server for a token with ${requiredScopes.join(' ')}.`, {
          details: { requiredScopes, missingScopes: missing },
        });
      }
      const name = payload[principalClaim];
      if (typeof name !== 'string' || name === '') {
        throw invalid(`The JWT has no string \`${principalClaim}\` claim (auth.jwt.principalClaim) naming an Interlock principal.`, 'principal');
      }
      const principal = await identity.findPrincipal(name);
      if (principal === undefined) {
        throw invalid(`The JWT's \`${principalClaim}\` claim (auth.jwt.principalClaim) names no Interlock principal; create one with that name (\`interlock principals create\`) to give it roles.`, 'principal');
      }
      return principal;
    },
  };
}

/**
 * One authenticator for both kinds of bearer token: `il_...` goes to `apiTokens` (the identity
 * store), a compact JWS (three dotted base64url parts) to `jwt` when JWTs are configured.
 * @throws AccessError `AUTH_TOKEN_INVALID` for any other token, or a JWT when `jwt` is not given;
 *   otherwise whatever the chosen authenticator throws.
 */
export function combineAuthenticators(apiTokens: Authenticator, jwt?: Authenticator): Authenticator {
  return {
    authenticate(token, now): Promise<Principal> {
      if (token.startsWith('il_')) return apiTokens.authenticate(token, now);
      if (COMPACT_JWS.test(token)) {
        if (jwt !== undefined) return jwt.authenticate(token, now);
        return Promise.reject(invalid('The bearer token is a JWT, but this Interlock accepts no JWTs (auth.jwt is not configured); send an API token, Authorization: Bearer il_...', 'format'));
      }
      return Promise.reject(invalid(`The bearer token is neither an Interlock API token (il_...) nor a JWT${jwt === undefined ? '' : ' (three base64url parts separated by dots)'}.`, 'format'));
    },
  };
}

/** The key (or key set) tokens are verified with. */
function keySource(options: JwtAuthenticatorOptions, algorithms: readonly string[]): JWTVerifyGetKey {
  if ((options.jwksUrl === undefined) === (options.publicKeyFile === undefined)) {
    throw new ConfigError('CONFIG_INVALID', 'Set exactly one of auth.jwt.jwksUrl and auth.jwt.publicKeyFile.', [{ path: 'auth.jwt.jwksUrl', message: 'exactly one of jwksUrl and publicKeyFile must be set' }]);
  }
  if (options.jwksUrl !== undefined) {
    let url: URL;
    try {
      url = new URL(options.jwksUrl);
    } catch {
      throw new ConfigError('CONFIG_INVALID', 'auth.jwt.jwksUrl is not a URL.', [{ path: 'auth.jwt.jwksUrl', message: 'not a URL', expected: 'an http:// or https:// URL' }]);
    }
    return createRemoteJWKSet(url, {
      timeoutDuration: options.jwksTimeoutMs ?? 5000,
      cooldownDuration: options.jwksCooldownMs ?? 30_000,
      cacheMaxAge: options.jwksCacheMaxAgeMs ?? 600_000,
    });
  }
  const key = readPublicKey(options.publicKeyFile ?? '', algorithms);
  return () => key;
}

/** The public key in PEM file `file`, checked to be public and usable with one of `algorithms`. */
function readPublicKey(file: string, algorithms: readonly string[]): KeyObject {
  const problem = (message: string, cause?: unknown): ConfigError =>
    new ConfigError('CONFIG_INVALID', `auth.jwt.publicKeyFile ${file}: ${message}.`, [{ path: 'auth.jwt.publicKeyFile', message }], cause === undefined ? {} : { cause });
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (error) {
    throw problem(`cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`, error);
  }
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) throw problem('holds a private key; give the issuer\'s public key (Interlock must not be able to sign tokens)');
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    throw problem('holds no PEM public key ("BEGIN PUBLIC KEY" or "BEGIN CERTIFICATE")');
  }
  const usable = KEY_ALGORITHMS[key.asymmetricKeyType ?? ''] ?? [];
  if (!algorithms.some((algorithm) => usable.includes(algorithm))) {
    throw problem(`is a ${key.asymmetricKeyType ?? 'unknown'} key, which none of auth.jwt.algorithms (${algorithms.join(', ')}) can use; it fits ${usable.join(', ') || 'none'}`);
  }
  return key;
}

/** The scopes of `required` absent from a `scope` claim (space-separated, RFC 8693 §4.2; a list tolerated). */
function missingScopes(claim: unknown, required: readonly string[]): string[] {
  if (required.length === 0) return [];
  const held = new Set(typeof claim === 'string' ? claim.split(' ') : Array.isArray(claim) ? claim.filter((s): s is string => typeof s === 'string') : []);
  return required.filter((scope) => !held.has(scope));
}

/** An `AUTH_TOKEN_INVALID` error whose `details.check` names the failed check. */
function invalid(message: string, check: string): AccessError {
  return new AccessError('AUTH_TOKEN_INVALID', message, { details: { check } });
}

/**
 * The access error for a `jose` verification failure. The `jose` error is not kept as the cause: it
 * carries the token's claims, which must reach neither the client nor the log.
 */
function accessErrorFor(error: unknown, options: JwtAuthenticatorOptions): AccessError {
  if (error instanceof joseErrors.JWTExpired) {
    return error.claim === 'iat'
      ? new AccessError('AUTH_TOKEN_EXPIRED', `The JWT was issued more than ${String(options.maxTokenAgeSeconds)} s ago (auth.jwt.maxTokenAgeSeconds); get a new token from the authorization server.`, { details: { check: 'age' } })
      : new AccessError('AUTH_TOKEN_EXPIRED', 'The JWT has expired (its exp is past); get a new token from the authorization server.', { details: { check: 'exp' } });
  }
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    const missing = error.reason === 'missing';
    switch (error.claim) {
      case 'iss':
        return invalid(`The JWT failed the issuer check: its iss ${missing ? 'is missing' : 'is not'} ${missing ? `(expected ${options.issuer})` : options.issuer} (auth.jwt.issuer).`, 'issuer');
      case 'aud':
        return invalid(`The JWT failed the audience check: its aud ${missing ? 'is missing' : 'names none of'} ${missing ? `(expected one of ${audienceList(options)})` : audienceList(options)} (auth.jwt.audience); ask the authorization server for a token for this resource (RFC 8707).`, 'audience');
      case 'nbf':
        return invalid('The JWT is not valid yet (its nbf is in the future); check the clocks of the authorization server and Interlock.', 'nbf');
      case 'iat':
        return invalid(missing ? 'The JWT has no iat claim, which auth.jwt.maxTokenAgeSeconds needs.' : 'The JWT failed the iat check (issued in the future, or not a number).', 'iat');
      default:
        return invalid(`The JWT failed the ${error.claim} claim check (${error.reason}).`, error.claim);
    }
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed) {
    return invalid(`The JWT failed the algorithm check: its alg is not one of ${(options.algorithms ?? DEFAULT_ALGORITHMS).join(', ')} (auth.jwt.algorithms).`, 'algorithm');
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) {
    return invalid('The JWT failed the signature check: it was not signed by the issuer\'s key.', 'signature');
  }
  if (error instanceof joseErrors.JWKSNoMatchingKey || error instanceof joseErrors.JWKSMultipleMatchingKeys) {
    return invalid('The JWT failed the signature check: no key of the issuer\'s key set (auth.jwt.jwksUrl) matches its kid and alg.', 'signature');
  }
  if (error instanceof joseErrors.JWKSTimeout) {
    return invalid('The JWT could not be checked: the issuer\'s key set (auth.jwt.jwksUrl) did not answer in time; try again.', 'keys');
  }
  if (error instanceof joseErrors.JWKSInvalid) {
    return invalid('The JWT could not be checked: the issuer\'s key set (auth.jwt.jwksUrl) is not a valid JWKS.', 'keys');
  }
  if (error instanceof joseErrors.JOSENotSupported) {
    return invalid('The JWT failed the signature check: the issuer\'s key cannot verify its alg, or it uses a JWS feature Interlock does not support.', 'signature');
  }
  if (error instanceof joseErrors.JWTInvalid || error instanceof joseErrors.JWSInvalid) {
    return invalid('The bearer token is not a well-formed signed JWT (JWS compact serialization with a JSON claims set).', 'format');
  }
  if (options.jwksUrl !== undefined && !(error instanceof TypeError && /key/i.test(error.message))) {
    return invalid('The JWT could not be checked: the issuer\'s key set (auth.jwt.jwksUrl) could not be fetched; try again.', 'keys');
  }
  return invalid('The JWT failed the signature check: the key does not fit its algorithm.', 'signature');
}

function audienceList(options: JwtAuthenticatorOptions): string {
  return typeof options.audience === 'string' ? options.audience : options.audience.join(', ');
}
