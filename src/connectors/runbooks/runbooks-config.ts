import { z } from 'zod';

/** A site value a runbook reads as `${vars.<key>}`: an address, a limit, a name. */
const VarValue = z.union([z.string().max(1000), z.number(), z.boolean()]);

/**
 * Runbooks (docs/runbooks.md): the directory of runbook files, and per service the site's values
 * for their `${vars.<key>}` placeholders, so the versioned runbooks hold no addresses or limits of
 * one installation.
 */
export const RunbooksConfigSchema = z.object({
  dir: z.string().min(1).optional().describe('Directory of runbook files (*.yaml). Unset: no runbooks; an incident ends with its diagnosis.'),
  vars: z.record(z.string().min(1).max(200), z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'a name: letters, digits and "_"'), VarValue))
    .default({}).describe('Per service, the values of ${vars.<key>} in runbooks, e.g. { checkout: { canaryAddress: "127.0.0.1:8082" } }.'),
}).strict();

/** Resolved runbook settings; `dir` absolute after `loadConfig`. */
export type RunbooksConfig = Readonly<z.output<typeof RunbooksConfigSchema>>;
