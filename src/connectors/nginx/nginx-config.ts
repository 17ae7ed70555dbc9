import { z } from 'zod';

/**
 * Name of an upstream: letters, digits, `_`, `.` or `-`, at most 64 characters. It is written into
 * the generated file and its name, so it can hold nothing nginx or a path would read specially.
 */
const UPSTREAM_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

/**
 * Address of a server of an upstream as nginx's `server` directive takes it: `host:port` (a name or
 * IPv4 address) or `[IPv6]:port`. No spaces, `;`, braces or quotes, so it can never add a directive.
 */
const SERVER_ADDRESS = /^(?:[A-Za-z0-9][A-Za-z0-9.-]{0,252}|\[[0-9A-Fa-f:.]{2,45}\]):[0-9]{1,5}$/;

/** One server of an upstream. */
const UpstreamServerSchema = z
  .object({
    address: z.string().regex(SERVER_ADDRESS, 'host:port or [IPv6]:port').describe('The server as nginx addresses it, e.g. 127.0.0.1:8081.'),
  })
  .strict();

/** One upstream whose generated include file Interlock owns. */
const UpstreamSchema = z
  .object({
    name: z.string().regex(UPSTREAM_NAME, 'letters, digits, "_", "." or "-", at most 64 characters').describe('The upstream block name; the file is <confDir>/upstream-<name>.conf.'),
    servers: z.array(UpstreamServerSchema).min(1).max(64)
      .check(z.superRefine((servers: unknown, ctx) => {
        if (!Array.isArray(servers)) return;
        const seen = new Set<string>();
        (servers as unknown[]).forEach((server, index) => {
          const address = (server as { address?: unknown } | null)?.address;
          if (typeof address !== 'string') return;
          if (seen.has(address)) ctx.addIssue({ code: 'custom', path: [index, 'address'], input: address, params: { expected: 'an address no other server of the upstream has' }, message: 'is the address of another server' });
          seen.add(address);
        });
      }, { when: () => true }))
      .describe('The only servers the tools may set weights of.'),
    service: z.string().min(1).max(200).optional().describe('The service behind the upstream: the target\'s service for policy.'),
    tier: z.string().min(1).max(200).optional().describe('The service tier: the target\'s tier for policy and autonomy.'),
    risk: z.enum(['write-low', 'write-prod']).default('write-low').describe('Risk class of changing this upstream; nginx.set_weights takes the highest of all upstreams.'),
    maxShiftPercent: z.int().min(1).max(100).optional()
      .describe('Largest change of any one server\'s share of the traffic one call may make, percentage points; unset: no limit.'),
  })
  .strict();

/**
 * Configuration of the nginx connector: the nginx binary, its main configuration and pid file, the
 * directory of the include files Interlock generates, and the upstreams (and their servers) it may
 * touch (docs/connectors/nginx.md).
 */
export const NginxConfigSchema = z
  .object({
    enabled: z.boolean().default(false).describe('Put nginx.upstream, nginx.set_weights and nginx.restore_upstream in the catalog.'),
    binary: z.string().min(1).default('/usr/sbin/nginx').describe('The nginx executable, run as `<binary> -t -c <mainConfig>`.'),
    mainConfig: z.string().min(1).default('/etc/nginx/nginx.conf').describe('The main configuration file nginx runs with; it includes the generated files.'),
    confDir: z.string().min(1).default('/etc/nginx/interlock').describe('Directory of the generated files upstream-<name>.conf; nothing else in it is touched.'),
    pidFile: z.string().min(1).default('/run/nginx.pid').describe('The pid file of the nginx master (its `pid` directive); reloads send SIGHUP to that pid.'),
    timeoutMs: z.int().min(1000).max(600_000).default(10_000).describe('Longest one run of `nginx -t` may take, ms.'),
    upstreams: z.array(UpstreamSchema).max(100).default([])
      // Checked even when an item has other problems (`when`), so every problem is listed at once.
      .check(z.superRefine((upstreams: unknown, ctx) => {
        if (!Array.isArray(upstreams)) return;
        const seen = new Set<string>();
        (upstreams as unknown[]).forEach((upstream, index) => {
          const name = (upstream as { name?: unknown } | null)?.name;
          if (typeof name !== 'string') return;
          if (seen.has(name)) ctx.addIssue({ code: 'custom', path: [index, 'name'], input: name, params: { expected: 'a name no other upstream has' }, message: 'is the name of another upstream' });
          seen.add(name);
        });
      }, { when: () => true }))
      .describe('The upstreams the tools may touch; no other upstream or file is ever written.'),
  })
  .strict();

/** A value and everything inside it read-only, as `loadConfig` returns the configuration. */
type Frozen<T> = T extends readonly (infer E)[] ? ReadonlyArray<Frozen<E>> : T extends object ? { readonly [K in keyof T]: Frozen<T[K]> } : T;

/** Resolved configuration of the nginx connector; paths absolute after `loadConfig`. */
export type NginxConfig = Frozen<z.output<typeof NginxConfigSchema>>;

/** One configured upstream. */
export type NginxUpstreamConfig = NginxConfig['upstreams'][number];
