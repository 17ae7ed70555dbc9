import { randomBytes, randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { AccessError, ConnectorError, InputError } from '../core/errors.js';
import { PRINCIPAL_KINDS, principalIssues, type Principal } from '../core/identity/identity.js';
import { formatToken, hashToken, tokenId, tokenMatches, type ApiToken } from '../core/identity/tokens.js';
import type { IdentityStore, NewPrincipal } from '../core/ports.js';
import { timestamptz, type Database } from './schema.js';
import { isTransientDatabaseError } from './transient.js';

/** SQLSTATE of a unique violation. */
const UNIQUE_VIOLATION = '23505';
/** `last_used_at` is written at most once per this many ms per token, so reads stay cheap. */
const LAST_USED_RESOLUTION_MS = 60_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface PrincipalRow {
  id: string;
  name: string;
  kind: Principal['kind'];
  groups: string[];
  roles: Principal['roles'];
}

/**
 * The {@link IdentityStore} on PostgreSQL (tables `interlock.principals` and `interlock.api_tokens`;
 * run `migrateToLatest` first). Token secrets are never stored: only the SHA-256 of the token text,
 * compared in constant time after the record is found by the token ID the text carries. Times are ms
 * since the Unix epoch.
 */
export class PgIdentityStore implements IdentityStore {
  readonly #db: Kysely<Database>;

  /** `db` comes from `createDatabase`. */
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /**
   * Creates a principal with a new UUID.
   * @throws InputError `INPUT_INVALID` naming each bad field (`name`, `kind`, `groups.N`, `roles.P`).
   * @throws InputError `PRINCIPAL_NAME_TAKEN` when the name is in use.
   */
  async createPrincipal(principal: NewPrincipal, now: number): Promise<Principal> {
    const issues = principalIssues(principal);
    if (!(PRINCIPAL_KINDS as readonly string[]).includes(principal.kind)) issues.push({ path: 'kind', message: `"${principal.kind}" is not a principal kind`, expected: `one of ${PRINCIPAL_KINDS.join(', ')}` });
    if (issues.length > 0) throw new InputError('INPUT_INVALID', `The principal is invalid; fix ${issues.map((issue) => issue.path).join(', ')}.`, issues);
    const row = {
      id: randomUUID(),
      name: principal.name,
      kind: principal.kind,
      groups: [...new Set(principal.groups)],
      roles: Object.fromEntries(Object.entries(principal.roles).map(([project, roles]) => [project, [...new Set(roles)]])),
    };
    try {
      await this.#db
        .insertInto('interlock.principals')
        .values({ ...row, groups: JSON.stringify(row.groups), roles: JSON.stringify(row.roles), created_at: new Date(now) })
        .execute();
    } catch (error) {
      if (sqlState(error) === UNIQUE_VIOLATION) {
        throw new InputError('PRINCIPAL_NAME_TAKEN', `A principal named "${principal.name}" already exists; names are unique. Choose another name.`, [{ path: 'name', message: 'already in use' }], { details: { name: principal.name } });
      }
      throw error;
    }
    return row;
  }

  /** The principal named `name`, or undefined. */
  async findPrincipal(name: string): Promise<Principal | undefined> {
    const row = await this.#db.selectFrom('interlock.principals').select(['id', 'name', 'kind', 'groups', 'roles']).where('name', '=', name).executeTakeFirst();
    return row === undefined ? undefined : toPrincipal(row);
  }

  /** Every principal, by name. */
  async listPrincipals(): Promise<Principal[]> {
    const rows = await this.#db.selectFrom('interlock.principals').select(['id', 'name', 'kind', 'groups', 'roles']).orderBy('name').execute();
    return rows.map(toPrincipal);
  }

  /**
   * Creates an API token for principal `input.principal` (a name). The token text is returned once and
   * stored nowhere; only its SHA-256 is kept.
   * @throws InputError `PRINCIPAL_NOT_FOUND`, or `INPUT_INVALID` when `expiresAt` is not after `now`.
   */
  async createToken(input: { readonly principal: string; readonly label?: string; readonly expiresAt: number | null }, now: number): Promise<{ token: ApiToken; secret: string }> {
    if (input.expiresAt !== null && input.expiresAt <= now) {
      throw new InputError('INPUT_INVALID', 'The token expiry is not in the future; give a later expiry or none.', [{ path: 'expiresAt', message: 'not after now', expected: 'an instant in the future' }]);
    }
    const principal = await this.findPrincipal(input.principal);
    if (principal === undefined) throw principalNotFound(input.principal);
    const id = randomUUID();
    const secret = formatToken(id, randomBytes(32));
    const token: ApiToken = { id, principalId: principal.id, principalName: principal.name, label: input.label ?? null, createdAt: now, expiresAt: input.expiresAt, revokedAt: null, lastUsedAt: null };
    await this.#db
      .insertInto('interlock.api_tokens')
      .values({ id, principal_id: principal.id, hash: hashToken(secret), label: token.label, created_at: new Date(now), expires_at: input.expiresAt === null ? null : new Date(input.expiresAt), revoked_at: null, last_used_at: null })
      .execute();
    return { token, secret };
  }

  /**
   * Revokes token `id` at `now`; revoking a revoked token keeps the first revocation time.
   * @throws InputError `TOKEN_NOT_FOUND`.
   */
  async revokeToken(id: string, now: number): Promise<ApiToken> {
    if (UUID.test(id)) {
      const revoked = await this.#db
        .updateTable('interlock.api_tokens')
        .set({ revoked_at: sql<Date>`coalesce(revoked_at, ${new Date(now)})` })
        .where('id', '=', id)
        .returning('id')
        .executeTakeFirst();
      if (revoked !== undefined) {
        const [token] = await this.#tokens(id);
        if (token !== undefined) return token;
      }
    }
    throw new InputError('TOKEN_NOT_FOUND', `No API token has ID ${id}; list them with \`interlock tokens list\`.`, [], { details: { id } });
  }

  /**
   * Tokens, newest first, without secrets or hashes; only principal `filter.principal`'s when given.
   * @throws InputError `PRINCIPAL_NOT_FOUND` when `filter.principal` names no principal.
   */
  async listTokens(filter: { readonly principal?: string } = {}): Promise<ApiToken[]> {
    if (filter.principal !== undefined && (await this.findPrincipal(filter.principal)) === undefined) throw principalNotFound(filter.principal);
    return this.#tokens(undefined, filter.principal);
  }

  async #tokens(id?: string, principal?: string): Promise<ApiToken[]> {
    let query = this.#db
      .selectFrom('interlock.api_tokens as t')
      .innerJoin('interlock.principals as p', 'p.id', 't.principal_id')
      .select(['t.id', 't.principal_id', 'p.name', 't.label', 't.created_at', 't.expires_at', 't.revoked_at', 't.last_used_at'])
      .orderBy('t.created_at', 'desc')
      .orderBy('t.id', 'desc');
    if (id !== undefined) query = query.where('t.id', '=', id);
    if (principal !== undefined) query = query.where('p.name', '=', principal);
    const rows = await query.execute();
    return rows.map((row) => ({
      id: row.id,
      principalId: row.principal_id,
      principalName: row.name,
      label: row.label,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
      revokedAt: row.revoked_at,
      lastUsedAt: row.last_used_at,
    }));
  }

  /**
   * The principal `token` authenticates at `now`. The record is found by the ID inside the token; the
   * token's SHA-256 is compared with the stored one in constant time; only then are revocation and
   * expiry told apart (so they are never revealed to someone without the secret). Records the use
   * (`lastUsedAt`, at most once a minute).
   * @throws AccessError `AUTH_TOKEN_INVALID` (malformed, unknown ID, wrong secret), `AUTH_TOKEN_REVOKED`,
   *   `AUTH_TOKEN_EXPIRED`.
   * @throws ConnectorError `DATABASE_UNREACHABLE` (retryable) when PostgreSQL is away: fail closed, 503.
   */
  async authenticate(token: string, now: number): Promise<Principal> {
    const id = tokenId(token);
    let row;
    try {
      row =
        id === undefined
          ? undefined
          : await this.#db
              .selectFrom('interlock.api_tokens as t')
              .innerJoin('interlock.principals as p', 'p.id', 't.principal_id')
              .select(['t.hash', 't.expires_at', 't.revoked_at', 't.last_used_at', 'p.id', 'p.name', 'p.kind', 'p.groups', 'p.roles'])
              .where('t.id', '=', id)
              .executeTakeFirst();
    } catch (error) {
      if (!isTransientDatabaseError(error)) throw error;
      throw new ConnectorError('DATABASE_UNREACHABLE', 'Cannot check the API token: PostgreSQL is unreachable. Try again shortly.', { system: 'postgres', retryable: true, cause: error });
    }
    if (row === undefined || !tokenMatches(token, row.hash)) {
      throw new AccessError('AUTH_TOKEN_INVALID', 'The API token is not valid (malformed or unknown); check it, or create a new one with `interlock tokens create`.');
    }
    if (row.revoked_at !== null) {
      throw new AccessError('AUTH_TOKEN_REVOKED', `API token ${id} was revoked at ${new Date(row.revoked_at).toISOString()}; create a new one with \`interlock tokens create\`.`, { details: { tokenId: id } });
    }
    if (row.expires_at !== null && now >= row.expires_at) {
      throw new AccessError('AUTH_TOKEN_EXPIRED', `API token ${id} expired at ${new Date(row.expires_at).toISOString()}; create a new one with \`interlock tokens create\`.`, { details: { tokenId: id, expiredAt: row.expires_at } });
    }
    if (row.last_used_at === null || now - row.last_used_at >= LAST_USED_RESOLUTION_MS) {
      await this.#db
        .updateTable('interlock.api_tokens')
        .set({ last_used_at: new Date(now) })
        .where('id', '=', id as string)
        .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<=', timestamptz(now - LAST_USED_RESOLUTION_MS))]))
        .execute();
    }
    return toPrincipal(row);
  }
}

function toPrincipal(row: PrincipalRow): Principal {
  return { id: row.id, name: row.name, kind: row.kind, groups: row.groups, roles: row.roles };
}

function principalNotFound(name: string): InputError {
  return new InputError('PRINCIPAL_NOT_FOUND', `No principal is named "${name}"; list them with \`interlock principals list\`.`, [], { details: { name } });
}

function sqlState(error: unknown): string | undefined {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}
