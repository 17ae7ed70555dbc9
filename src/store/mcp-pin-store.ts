import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/** The accepted definition of an external MCP server's tool: its digest, who accepted it, when (ms). */
export interface McpAcceptedPin {
  readonly digest: string;
  readonly definition: unknown;
  readonly at: number;
  /** `trust-on-first-use` for a tool pinned when its server was first seen, else the reviewer. */
  readonly by: string;
}

/** A definition of the tool that differs from the accepted one (or a new tool), held for review. */
export interface McpHeldPin {
  readonly digest: string;
  readonly definition: unknown;
  readonly at: number;
}

/** The pins of one tool of one external MCP server. */
export interface McpToolPinRecord {
  readonly server: string;
  readonly tool: string;
  readonly accepted: McpAcceptedPin | null;
  readonly held: McpHeldPin | null;
}

/**
 * Tool pins of external MCP servers in PostgreSQL (`interlock.mcp_tool_pins`, migration 0008): what
 * the gateway compares each `tools/list` answer with. Shared by the workers of one database, so a
 * review on one worker is seen by the others at their next check.
 */
export class PgMcpPinStore {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Every pin of `server`, sorted by tool name. */
  async list(server: string): Promise<McpToolPinRecord[]> {
    const rows = await this.#db.selectFrom('interlock.mcp_tool_pins').selectAll().where('server', '=', server).orderBy('tool').execute();
    return rows.map((row) => ({
      server: row.server,
      tool: row.tool,
      accepted: row.accepted_digest === null || row.accepted_at === null
        ? null
        : { digest: row.accepted_digest, definition: row.accepted_definition, at: row.accepted_at, by: row.accepted_by ?? 'unknown' },
      held: row.held_digest === null || row.held_at === null ? null : { digest: row.held_digest, definition: row.held_definition, at: row.held_at },
    }));
  }

  /** Pins `pin` as the accepted definition of `server`'s `tool` and clears any held one. */
  async accept(server: string, tool: string, pin: McpAcceptedPin): Promise<void> {
    const values = {
      accepted_digest: pin.digest, accepted_definition: JSON.stringify(pin.definition), accepted_at: new Date(pin.at), accepted_by: pin.by,
      held_digest: null, held_definition: null, held_at: null,
    };
    await this.#db.insertInto('interlock.mcp_tool_pins').values({ server, tool, ...values })
      .onConflict((oc) => oc.columns(['server', 'tool']).doUpdateSet(values))
      .execute();
  }

  /** Holds `pin` for review as `server`'s `tool`, keeping its accepted definition (if any). */
  async hold(server: string, tool: string, pin: McpHeldPin): Promise<void> {
    const values = { held_digest: pin.digest, held_definition: JSON.stringify(pin.definition), held_at: new Date(pin.at) };
    await this.#db.insertInto('interlock.mcp_tool_pins').values({ server, tool, ...values })
      .onConflict((oc) => oc.columns(['server', 'tool']).doUpdateSet(values))
      .execute();
  }
}
