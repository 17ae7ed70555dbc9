import pg from 'pg';

/**
 * Admin URL of the machine's PostgreSQL server, the one `test/support/postgres.ts` creates its
 * databases on (trust auth). Override with `TEST_DATABASE_ADMIN_URL`, as for the tests.
 */
const ADMIN_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** The admin URL without its password, for messages. */
function displayUrl(): string {
  const url = new URL(ADMIN_URL);
  if (url.password !== '') url.password = '***';
  return url.toString();
}

/**
 * Connects to {@link ADMIN_URL} and returns the server's `version()`; the benchmarks need it for
 * their databases. Throws an error that says how to fix it when the server cannot be reached
 * within `timeoutMs`.
 */
export async function requirePostgres(timeoutMs = 5000): Promise<string> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const result = await client.query<{ version: string }>('select version()');
    return result.rows[0]?.version ?? 'unknown';
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const reason = error instanceof Error && error.message !== '' ? error.message : typeof code === 'string' ? code : String(error);
    throw new Error(
      `PostgreSQL is not reachable at ${displayUrl()} (${reason}). The benchmarks create their databases there: start the server (e.g. \`service postgresql start\`) or point TEST_DATABASE_ADMIN_URL at one.`,
      { cause: error },
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}
