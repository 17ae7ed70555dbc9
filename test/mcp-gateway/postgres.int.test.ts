// The gateway against a real infrastructure MCP server from npm, `@modelcontextprotocol/server-postgres`,
// pointed at a test database on the machine's PostgreSQL.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createMcpGateway, type McpGateway } from '../../src/connectors/mcp/index.js';
import { PgMcpPinStore } from '../../src/store/index.js';
import { createMigratedTestDatabase, type MigratedTestDatabase } from '../support/postgres.js';
import { context, RecordingAuditLog, serverConfig, silentLogger } from './support.js';

const require = createRequire(import.meta.url);
const SERVER_POSTGRES = join(dirname(require.resolve('@modelcontextprotocol/server-postgres/package.json')), 'dist/index.js');

let db: MigratedTestDatabase;
let gateway: McpGateway;

beforeAll(async () => {
  db = await createMigratedTestDatabase('mcp_postgres');
  gateway = await createMcpGateway({
    // The database URL reaches the server through envFrom, as a secret would, never through config.
    servers: [serverConfig({ name: 'pgmcp', transport: 'stdio', command: 'sh', args: ['-c', `exec "${process.execPath}" "${SERVER_POSTGRES}" "$PG_URL"`], envFrom: { PG_URL: 'TEST_PG_URL' }, tools: { query: { risk: 'read' } } })],
    pins: new PgMcpPinStore(db.handle.db),
    audit: new RecordingAuditLog(),
    logger: silentLogger,
    env: { TEST_PG_URL: db.url },
  });
}, 30_000);

afterAll(async () => {
  await gateway?.stop();
  await db?.close();
});

it('runs the postgres MCP server\'s read-only query tool with SELECT 1', async () => {
  expect(gateway.status()[0]).toMatchObject({ state: 'connected', lastError: null });
  const query = gateway.tools().find((t) => t.name === 'pgmcp.query')!;
  expect(query.risk).toBe('read');
  const result = await query.execute({ sql: 'SELECT 1 AS one' }, context());
  expect(result.isError).toBe(false);
  expect(JSON.parse((result.content as Array<{ text: string }>)[0]!.text)).toEqual([{ one: 1 }]);
});
