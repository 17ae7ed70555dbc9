import { z } from 'zod';

/** Configuration of the built-in connector: whether its tools are in the catalog. */
export const BuiltinConfigSchema = z.object({
  enabled: z.boolean().default(true).describe('Put the built-in tools (builtin.noop) in the catalog.'),
}).strict();

/** Configuration of the built-in connector. */
export type BuiltinConfig = z.output<typeof BuiltinConfigSchema>;
