import { z } from 'zod';
import { SupervisordAccessSchema, type SupervisordAccess } from '../shared/supervisord-access.js';

/**
 * A service or version name as it appears on disk: letters, digits, `.`, `_`, `+` or `-`, starting with
 * a letter or digit, at most 128 characters. So it is one path segment, never `.`, `..`, hidden or an
 * option, and never holds `/`.
 */
export const RELEASE_SLUG = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;

/** The name of the pointer to the running release inside a service directory; never a version. */
export const CURRENT = 'current';

/** A release slug: {@link RELEASE_SLUG}, and not `current`. */
export const ReleaseSlug = z.string()
  .regex(RELEASE_SLUG, 'letters, digits, ".", "_", "+" or "-", starting with a letter or digit, at most 128 characters (no "/" or "..")')
  .refine((value) => value !== CURRENT, { message: `"${CURRENT}" is the pointer to the running release, not a version` });

/** A supervisord process as `name` (group of the same name) or `group:name`, without spaces. */
const ProcessSpec = z.string().regex(/^[^:\s]{1,200}(?::[^:\s]{1,200})?$/, 'a supervisord process: name, or group:name (no spaces)');

/** One service whose releases the tools may switch. */
const ReleaseServiceSchema = z.object({
  name: ReleaseSlug.describe('The service: its directory under root (<root>/<name>/<version>/, <root>/<name>/current).'),
  processes: z.array(ProcessSpec).min(1).max(50)
    .describe('The supervisord processes running the service, restarted in this order after the switch (name, or group:name).'),
  tier: z.string().min(1).max(200).optional().describe('Tier label of the target (e.g. prod), for policy and autonomy rules.'),
  risk: z.enum(['write-low', 'write-prod']).default('write-low').describe('Risk class of deploying or rolling back this service.'),
  healthUrl: z.url({ protocol: /^https?$/, error: 'an http:// or https:// URL' }).optional()
    .describe('A URL whose GET answers the running version: the whole body, or the `version` of a JSON object; checked by the verification.'),
}).strict();

/**
 * Configuration of the releases connector: where the immutable release directories are
 * (`<root>/<service>/<version>/` with a `current` symlink), the deploy log it appends to, the Git
 * repository it commits `<service>.version` to, supervisord's access, and the services the tools may
 * deploy; any other service is refused (least privilege). docs/connectors/releases.md.
 */
export const ReleasesConfigSchema = z.object({
  enabled: z.boolean().default(false).describe('Put releases.list, releases.deploy and releases.rollback in the catalog.'),
  root: z.string().min(1).optional().describe('Directory holding one directory per service (<root>/<service>/<version>/, <root>/<service>/current); required when enabled.'),
  deployLog: z.string().min(1).optional().describe('The JSON Lines deploy log appended to (docs/connectors/changes.md, "Deploy log"); required when enabled.'),
  gitDir: z.string().min(1).optional().describe('A Git working tree where each deploy commits <service>.version; unset: no commit (records carry no ref).'),
  author: z.object({
    name: z.string().min(1).max(200).regex(/^[^<>\n]+$/, 'a name without "<", ">" or line breaks').default('Interlock').describe('Author and committer name of the commits.'),
    email: z.string().min(3).max(200).regex(/^[^<>\s]+@[^<>\s]+$/, 'an e-mail address').default('interlock@localhost').describe('Author and committer e-mail of the commits.'),
  }).strict().prefault({}).describe('Who the commits are by.'),
  supervisor: SupervisordAccessSchema.prefault({}).describe('How to reach supervisord to restart the processes (the keys of connectors.supervisor).'),
  verifyWindowMs: z.int().min(0).max(3_600_000).default(5000)
    .describe('How long the new release must hold (current, processes with the same pids, health) for the verification to pass, ms.'),
  services: z.array(ReleaseServiceSchema).max(200).default([])
    // Checked even when an item has other problems (`when`), so every problem is listed at once.
    .check(z.superRefine((services: unknown, ctx) => {
      if (!Array.isArray(services)) return;
      const seen = new Set<string>();
      (services as unknown[]).forEach((service, index) => {
        const name = (service as { name?: unknown } | null)?.name;
        if (typeof name !== 'string') return;
        if (seen.has(name)) ctx.addIssue({ code: 'custom', path: [index, 'name'], input: name, params: { expected: 'a name no other service has' }, message: 'is the name of another service' });
        seen.add(name);
      });
    }, { when: () => true }))
    .describe('The services the tools may deploy; others are refused.'),
}).strict().superRefine((config, ctx) => {
  if (!config.enabled) return;
  for (const key of ['root', 'deployLog'] as const) {
    if (config[key] === undefined) ctx.addIssue({ code: 'custom', path: [key], input: undefined, params: { expected: 'a path when enabled' }, message: 'is required when the connector is enabled' });
  }
  if (config.services.length === 0) {
    ctx.addIssue({ code: 'custom', path: ['services'], input: [], params: { expected: 'at least one service when enabled' }, message: 'is empty, so no tool could deploy anything' });
  }
});

/** One configured service. */
export type ReleaseService = Readonly<Omit<z.output<typeof ReleaseServiceSchema>, 'processes'>> & { readonly processes: readonly string[] };

/**
 * Resolved configuration of the releases connector, read-only as `loadConfig` returns it: paths
 * absolute, the supervisord password read from the environment.
 */
export type ReleasesConfig = Readonly<Omit<z.output<typeof ReleasesConfigSchema>, 'services' | 'supervisor' | 'author'>> & {
  readonly author: Readonly<z.output<typeof ReleasesConfigSchema>['author']>;
  readonly supervisor: SupervisordAccess;
  readonly services: readonly ReleaseService[];
};
