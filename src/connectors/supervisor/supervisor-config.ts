import { z } from 'zod';
import { checkHttpApiConfig, httpApiConfigShape, type HttpSecrets } from '../shared/http-config.js';

/** The longest timer Node accepts, ms. */
const MAX_TIMER_MS = 2_147_483_647;

/** A supervisord program or group name: what `[program:x]` or `[group:x]` names, without `:` or spaces. */
const SupervisorName = z.string().regex(/^[^:\s]{1,200}$/, 'a supervisord program or group name (no ":" or spaces)');

/** One process the connector may touch, with the labels policy reads as `target`. */
const SupervisorProcessSchema = z.object({
  name: SupervisorName.describe('Process name as supervisord knows it (the `[program:x]` name, or `x_00` for numprocs > 1).'),
  group: SupervisorName.optional().describe('Its group, when it is not a homogeneous group of the same name ([group:x] sections, numprocs).'),
  service: z.string().min(1).max(200).optional().describe('Service label of the target, for policy and the circuit breaker.'),
  tier: z.string().min(1).max(200).optional().describe('Tier label of the target (e.g. prod), for policy and autonomy rules.'),
  risk: z.enum(['write-low', 'write-prod']).default('write-low').describe('Risk class of start, stop and restart on this process.'),
}).strict();

/**
 * Configuration of the supervisor connector: where supervisord's XML-RPC interface is
 * (`[inet_http_server]`, path `/RPC2`), its basic-auth credentials (password from the environment), and
 * the processes the tools may touch; any other process is refused (least privilege).
 * @see http://supervisord.org/api.html
 */
export const SupervisorConfigSchema = z.object({
  enabled: z.boolean().default(false).describe('Put supervisor.status, supervisor.start, supervisor.stop and supervisor.restart in the catalog.'),
  url: httpApiConfigShape({ url: 'http://127.0.0.1:9001/RPC2', system: 'supervisord XML-RPC' }).url
    .describe('URL of supervisord\'s XML-RPC endpoint: the [inet_http_server] address with path /RPC2.'),
  basicAuth: httpApiConfigShape({ url: '', system: 'supervisord' }).basicAuth
    .describe('supervisord\'s [inet_http_server] username, and the environment variable holding its password.'),
  timeoutMs: z.int().min(1).max(MAX_TIMER_MS).default(30_000)
    .describe('Longest one XML-RPC call may take, ms; longer than the programs\' startsecs and stopwaitsecs, since start and stop wait for them.'),
  verifyWindowMs: z.int().min(0).max(3_600_000).default(5000)
    .describe('How long a process must stay in the state a write left it in (same pid) for the verification to pass, ms.'),
  processes: z.array(SupervisorProcessSchema).max(1000).default([]).describe('The processes the tools may touch; others are refused.'),
}).strict().superRefine((config, ctx) => {
  checkHttpApiConfig(config, ctx);
  const seen = new Set<string>();
  config.processes.forEach((process, index) => {
    const id = processId(process);
    if (seen.has(id)) ctx.addIssue({ code: 'custom', path: ['processes', index, 'name'], input: id, params: { expected: 'each process listed once' }, message: `lists ${id} twice` });
    seen.add(id);
  });
  if (config.enabled && config.processes.length === 0) {
    ctx.addIssue({ code: 'custom', path: ['processes'], input: [], params: { expected: 'at least one process when enabled' }, message: 'is empty, so no tool could touch anything' });
  }
});

/** One configured process. */
export type SupervisorProcess = Readonly<z.output<typeof SupervisorProcessSchema>>;

/**
 * Resolved configuration of the supervisor connector, read-only as `loadConfig` returns it, with the
 * password `loadConfig` read from the environment.
 */
export type SupervisorConfig = Readonly<Omit<z.output<typeof SupervisorConfigSchema>, 'processes'>> & {
  readonly processes: readonly SupervisorProcess[];
} & Pick<HttpSecrets, 'basicAuthPassword'>;

/**
 * How tools name a configured process: `name`, or `group:name` when its group has another name.
 * supervisord accepts the same string as its own name (a bare name means group = name).
 */
export function processId(process: { readonly name: string; readonly group?: string | undefined }): string {
  return process.group === undefined || process.group === process.name ? process.name : `${process.group}:${process.name}`;
}
