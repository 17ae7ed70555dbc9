import { InternalError } from '../core/errors.js';
import { createApiClient } from './api-client.js';
import type { CliDeps, ServerMain } from './deps.js';

/**
 * The real CLI dependencies: `serve`, `migrate`, `doctor` and `openIdentity` from
 * `src/server/main.ts`, `openAudit` and `exportAudit`, imported on first use (so `--help`, `config print`, `missions` and
 * `approvals` never load the server, the engine or PostgreSQL), and the HTTP {@link createApiClient}.
 * When the server module cannot be loaded, the call rejects with `INTERNAL` naming the reason.
 */
export function createDefaultDeps(): CliDeps {
  let server: Promise<ServerMain> | undefined;
  const load = (): Promise<ServerMain> => (server ??= importServerMain());
  return {
    serve: async (config) => (await load()).serve(config),
    migrate: async (config) => (await load()).migrate(config),
    doctor: async (config) => (await load()).doctor(config),
    demo: async (options) => (await load()).demo(options),
    estateDemo: async (options) => (await load()).estateDemo(options),
    openIdentity: async (config) => (await load()).openIdentity(config),
    openAudit: async (config) => (await importAuditWiring()).openAudit(config),
    exportAudit: async (config, options) => (await importAuditWiring()).exportAudit(config, options),
    mcpBridge: async (options) => (await import('../server/mcp/stdio-bridge.js')).runStdioBridge(options),
    createApiClient,
  };
}

async function importAuditWiring(): Promise<{ openAudit: NonNullable<CliDeps['openAudit']>; exportAudit: NonNullable<CliDeps['exportAudit']> }> {
  try {
    return await import('../server/main.js');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new InternalError(`the server module (server/main.js) could not be loaded (${reason}); reinstall Interlock or run \`npm run build\``, { cause: error });
  }
}

async function importServerMain(): Promise<ServerMain> {
  try {
    const [{ serve, migrate, doctor, openIdentity }, { runDemo }, { runEstateDemo }] = await Promise.all([import('../server/main.js'), import('../server/demo.js'), import('../server/estate-demo.js')]);
    // `satisfies` keeps src/server/main.ts and the ServerMain contract in deps.ts in agreement at compile time.
    return { serve, migrate, doctor, demo: runDemo, estateDemo: runEstateDemo, openIdentity } satisfies ServerMain;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new InternalError(`the server module (server/main.js) could not be loaded (${reason}); reinstall Interlock or run \`npm run build\``, { cause: error });
  }
}
