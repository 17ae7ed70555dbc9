import { z } from 'zod';
import type { AnyToolContract, ToolContract } from '../../core/tools/tool.js';
import type { BuiltinConfig } from './builtin-config.js';

const NoopInput = z.object({ note: z.string().max(500).optional().describe('Echoed back in the result.') }).strict();
const NoopOutput = z.object({ ok: z.literal(true), note: z.string().nullable(), idempotencyKey: z.string() });

/**
 * `builtin.noop`: a read tool that does nothing and returns its idempotency key. For smoke tests of
 * a deployment (`interlock doctor`, a first mission) and the engine-overhead benchmark.
 */
export const noopTool: ToolContract<z.output<typeof NoopInput>, z.output<typeof NoopOutput>> = {
  name: 'builtin.noop',
  description: 'Does nothing and succeeds; use it to check that missions run end to end.',
  input: NoopInput,
  output: NoopOutput,
  risk: 'read',
  idempotent: true,
  timeoutMs: 1000,
  permission: 'builtin:noop',
  execute: (args, context) => Promise.resolve({ ok: true as const, note: args.note ?? null, idempotencyKey: context.idempotencyKey }),
};

/** The tools of the built-in connector, or none when it is disabled. */
export function createBuiltinConnector(config: BuiltinConfig): AnyToolContract[] {
  return config.enabled ? [noopTool] : [];
}
