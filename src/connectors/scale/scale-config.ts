import { z } from 'zod';
import { NginxConfigSchema } from '../nginx/nginx-config.js';
import { SupervisordAccessSchema, type SupervisordAccess } from '../shared/supervisord-access.js';

/** A service name: a lowercase slug, as the other connectors label services. */
const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
/** A supervisord process as `name` (group of the same name) or `group:name`, without spaces. */
const PROCESS = /^[^:\s]{1,200}(?::[^:\s]{1,200})?$/;

/** The nginx connector's own checks of an upstream (its name, its servers' addresses), reused as they are. */
const NginxUpstream = NginxConfigSchema.shape.upstreams.unwrap().element.shape;

/** One instance of a service: a supervisord process and the upstream server it serves as. */
const InstanceSchema = z.object({
  process: z.string().regex(PROCESS, 'a supervisord process: name, or group:name (no spaces)').describe('The supervisord process running the instance (name, or group:name).'),
  address: NginxUpstream.servers.element.shape.address
    .describe('The instance as the nginx upstream addresses it (host:port or [IPv6]:port).'),
  weight: z.int().min(1).max(100).default(1).describe('Its upstream weight while in service, 1..100.'),
}).strict();

/** One service whose instances the tools may start and stop. */
const ScaleServiceSchema = z.object({
  name: z.string().regex(SERVICE_NAME, 'letters, digits, ".", "_" or "-", at most 100 characters').describe('The service: the target of the tools and what policy sees.'),
  tier: z.string().min(1).max(200).optional().describe('Tier label of the target (e.g. prod), for policy and autonomy rules.'),
  risk: z.enum(['write-low', 'write-prod']).default('write-low').describe('Risk class of scaling this service out or in.'),
  upstream: NginxUpstream.name.describe('The nginx upstream the instances serve in; its file is <nginx.confDir>/upstream-<name>.conf.'),
  instances: z.array(InstanceSchema).min(1).max(64).describe('The instances, in the order scale.out starts them (scale.in stops the last one in service first).'),
  minInstances: z.int().min(1).max(64).default(1).describe('Fewest instances in service; scale.in refuses to go below.'),
  maxInstances: z.int().min(1).max(64).optional().describe('Most instances in service; scale.out refuses to go beyond. Unset: all instances.'),
}).strict().superRefine((service, ctx) => {
  if (service.instances.length === 0) return; // `instances` reports it
  const max = service.maxInstances ?? service.instances.length;
  if (service.minInstances > max) {
    ctx.addIssue({ code: 'custom', path: ['minInstances'], input: service.minInstances, params: { expected: `<= ${max} (maxInstances)` }, message: 'is more than maxInstances' });
  }
  if (max > service.instances.length) {
    ctx.addIssue({ code: 'custom', path: ['maxInstances'], input: max, params: { expected: `<= ${service.instances.length} (the instances listed)` }, message: 'is more than the instances listed' });
  }
  const processes = new Set<string>();
  const addresses = new Set<string>();
  service.instances.forEach((instance, index) => {
    if (processes.has(instance.process)) ctx.addIssue({ code: 'custom', path: ['instances', index, 'process'], input: instance.process, params: { expected: 'each process once' }, message: 'is the process of another instance' });
    if (addresses.has(instance.address)) ctx.addIssue({ code: 'custom', path: ['instances', index, 'address'], input: instance.address, params: { expected: 'each address once' }, message: 'is the address of another instance' });
    processes.add(instance.process);
    addresses.add(instance.address);
  });
});

/**
 * The nginx the scale connector drives: the same keys and defaults as `connectors.nginx` (binary,
 * main configuration, the directory of the generated upstream files, pid file, `nginx -t` timeout).
 */
const ScaleNginxSchema = NginxConfigSchema.pick({ binary: true, mainConfig: true, confDir: true, pidFile: true, timeoutMs: true });

/**
 * Configuration of the scale connector: the services it may scale out and in, each an nginx upstream
 * whose servers are supervisord processes; how to reach supervisord and which nginx to reload.
 * docs/connectors/scale.md.
 */
export const ScaleConfigSchema = z.object({
  enabled: z.boolean().default(false).describe('Put scale.status, scale.out and scale.in in the catalog.'),
  supervisor: SupervisordAccessSchema.prefault({}).describe('How to reach supervisord to start and stop the instances (the keys of connectors.supervisor).'),
  nginx: ScaleNginxSchema.prefault({}).describe('The nginx whose upstream files are written (the keys of connectors.nginx; point them at the same nginx).'),
  verifyWindowMs: z.int().min(0).max(3_600_000).default(5000)
    .describe('How long the instance must hold its new state (process and upstream weight) for the verification to pass, ms.'),
  services: z.array(ScaleServiceSchema).max(100).default([])
    // Checked even when an item has other problems (`when`), so every problem is listed at once.
    .check(z.superRefine((services: unknown, ctx) => {
      if (!Array.isArray(services)) return;
      const names = new Set<string>();
      const upstreams = new Set<string>();
      const owners = new Map<string, number>();
      (services as unknown[]).forEach((service, index) => {
        const { name, upstream, instances } = (service ?? {}) as { name?: unknown; upstream?: unknown; instances?: unknown };
        if (typeof name === 'string') {
          if (names.has(name)) ctx.addIssue({ code: 'custom', path: [index, 'name'], input: name, params: { expected: 'a name no other service has' }, message: 'is the name of another service' });
          names.add(name);
        }
        if (typeof upstream === 'string') {
          if (upstreams.has(upstream)) ctx.addIssue({ code: 'custom', path: [index, 'upstream'], input: upstream, params: { expected: 'an upstream no other service has' }, message: 'is the upstream of another service' });
          upstreams.add(upstream);
        }
        if (!Array.isArray(instances)) return;
        (instances as unknown[]).forEach((instance, at) => {
          const process = (instance as { process?: unknown } | null)?.process;
          if (typeof process !== 'string') return;
          const owner = owners.get(process) ?? index;
          if (owner !== index) ctx.addIssue({ code: 'custom', path: [index, 'instances', at, 'process'], input: process, params: { expected: 'a process no other service has' }, message: 'is an instance of another service' });
          owners.set(process, owner);
        });
      });
    }, { when: () => true }))
    .describe('The services the tools may scale; others are refused.'),
}).strict().superRefine((config, ctx) => {
  if (config.enabled && config.services.length === 0) {
    ctx.addIssue({ code: 'custom', path: ['services'], input: [], params: { expected: 'at least one service when enabled' }, message: 'is empty, so no tool could scale anything' });
  }
});

/** One configured service, `maxInstances` unset meaning all its instances. */
export type ScaleService = Readonly<Omit<z.output<typeof ScaleServiceSchema>, 'instances'>> & {
  readonly instances: ReadonlyArray<Readonly<z.output<typeof InstanceSchema>>>;
};

/**
 * Resolved configuration of the scale connector, read-only as `loadConfig` returns it: nginx paths
 * absolute, the supervisord password read from the environment.
 */
export type ScaleConfig = Readonly<Omit<z.output<typeof ScaleConfigSchema>, 'services' | 'supervisor' | 'nginx'>> & {
  readonly supervisor: SupervisordAccess;
  readonly nginx: Readonly<z.output<typeof ScaleNginxSchema>>;
  readonly services: readonly ScaleService[];
};
