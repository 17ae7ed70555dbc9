import type { Migration } from 'kysely';
import { migration0001Missions } from './0001-missions.js';
import { migration0002IdentityApprovals } from './0002-identity-approvals.js';
import { migration0003Guards } from './0003-guards.js';
import { migration0004Audit } from './0004-audit.js';
import { migration0005AuditQueryExport } from './0005-audit-query-export.js';
import { migration0006SignalsIncidents } from './0006-signals-incidents.js';
import { migration0007Tickets } from './0007-tickets.js';
import { migration0008McpToolPins } from './0008-mcp-tool-pins.js';

/**
 * Every schema migration, by name, in the order they apply (names sort in that order). A static
 * list rather than a directory scan, so migrations ship inside the compiled `dist/`. Append new
 * migrations here; never rename or edit a released one.
 */
export const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0001-missions': migration0001Missions,
  '0002-identity-approvals': migration0002IdentityApprovals,
  '0003-guards': migration0003Guards,
  '0004-audit': migration0004Audit,
  '0005-audit-query-export': migration0005AuditQueryExport,
  '0006-signals-incidents': migration0006SignalsIncidents,
  '0007-tickets': migration0007Tickets,
  '0008-mcp-tool-pins': migration0008McpToolPins,
};
