import { z } from 'zod';
import { createSupervisorClient, type ProcessInfo, type SupervisorClient } from '../supervisor/supervisor-client.js';
import { checkHttpApiConfig, httpApiConfigShape, requireHttpSecrets, type HttpSecrets } from './http-config.js';

/** The longest timer Node accepts, ms. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * How a connector other than `supervisor` reaches supervisord's XML-RPC interface (the releases and
 * scale connectors restart and start processes through it): the same `url` and `basicAuth` keys as
 * `connectors.supervisor` (password from the environment variable `basicAuth.passwordEnv` names), and
 * the longest one call may take.
 * @see http://supervisord.org/api.html
 */
export const SupervisordAccessSchema = z.object({
  url: httpApiConfigShape({ url: 'http://127.0.0.1:9001/RPC2', system: 'supervisord XML-RPC' }).url
    .describe('URL of supervisord\'s XML-RPC endpoint: the [inet_http_server] address with path /RPC2.'),
  basicAuth: httpApiConfigShape({ url: '', system: 'supervisord' }).basicAuth
    .describe('supervisord\'s [inet_http_server] username, and the environment variable holding its password.'),
  timeoutMs: z.int().min(1).max(MAX_TIMER_MS).default(30_000)
    .describe('Longest one XML-RPC call may take, ms; longer than the programs\' startsecs and stopwaitsecs, since start and stop wait for them.'),
}).strict().superRefine((access, ctx) => checkHttpApiConfig(access, ctx));

/** Resolved supervisord access, with the password `loadConfig` read from the environment. */
export type SupervisordAccess = Readonly<z.output<typeof SupervisordAccessSchema>> & Pick<HttpSecrets, 'basicAuthPassword'>;

/**
 * The supervisord client for `access` (see `supervisor-client.ts`).
 * @param key the configuration key of `access`, for messages, e.g. `connectors.releases.supervisor`.
 * @throws ConfigError `CONFIG_INVALID` naming `<key>.basicAuth.passwordEnv` when that variable is unset.
 */
export function createSupervisordAccessClient(key: string, access: SupervisordAccess): SupervisorClient {
  return createSupervisorClient({ url: access.url, timeoutMs: access.timeoutMs, headers: requireHttpSecrets(key, access) });
}

/**
 * The namespec supervisord takes for a process configured as `name` or `group:name`: `group:name`
 * (a bare name is a process in the group of the same name, as `[program:x]` defines it).
 */
export function namespec(process: string): string {
  return process.includes(':') ? process : `${process}:${process}`;
}

/** States a process passes through on its way to RUNNING (or to FATAL). */
const STARTING_STATES = new Set(['STARTING', 'BACKOFF']);

/**
 * The process' description once it has left STARTING and BACKOFF (supervisord's start in progress,
 * e.g. someone else's start that made ours answer ALREADY_STARTED), polling every 200 ms for at most
 * `timeoutMs`; the last description when that passes.
 */
export async function settledInfo(client: SupervisorClient, process: string, timeoutMs: number, signal: AbortSignal): Promise<ProcessInfo> {
  const deadline = Date.now() + timeoutMs;
  let info = await client.getProcessInfo(namespec(process), signal);
  while (STARTING_STATES.has(info.statename) && Date.now() < deadline && !signal.aborted) {
    await new Promise((done) => setTimeout(done, 200));
    info = await client.getProcessInfo(namespec(process), signal);
  }
  return info;
}
