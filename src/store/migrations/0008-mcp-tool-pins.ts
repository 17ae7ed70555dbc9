import type { Kysely, Migration } from 'kysely';

/**
 * Migration `0008-mcp-tool-pins`: the pins of external MCP servers' tools (docs/connectors/mcp.md).
 * `mcp_tool_pins` holds one row per (server, tool): the accepted definition and its digest (SHA-256 of
 * its RFC 8785 canonical JSON), who accepted it and when, and the definition held for operator review
 * when the server later offered a different one (or a new tool), until someone accepts it.
 */
export const migration0008McpToolPins: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .withSchema('interlock')
      .createTable('mcp_tool_pins')
      .addColumn('server', 'text', (col) => col.notNull())
      .addColumn('tool', 'text', (col) => col.notNull())
      .addColumn('accepted_digest', 'text')
      .addColumn('accepted_definition', 'jsonb')
      .addColumn('accepted_at', 'timestamptz')
      .addColumn('accepted_by', 'text')
      .addColumn('held_digest', 'text')
      .addColumn('held_definition', 'jsonb')
      .addColumn('held_at', 'timestamptz')
      .addPrimaryKeyConstraint('mcp_tool_pins_pkey', ['server', 'tool'])
      .execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.withSchema('interlock').dropTable('mcp_tool_pins').ifExists().execute();
  },
};
