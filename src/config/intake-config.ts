import { z } from 'zod';

/**
 * Configuration of signal intake (`intake`) and incident grouping (`incidents`); docs/signals.md
 * explains both, docs/configuration.md lists every key.
 */

const SLUG = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const ENV_NAME = /^[A-Z_][A-Z0-9_]{0,127}$/;
const HEADER = /^[a-z0-9!#$%&'*+.^_`|~-]{1,100}$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]{0,199}$/;

/** How a source's requests are authenticated. */
const AuthSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('token') }).strict()
    .describe('An Interlock API token (Authorization: Bearer il_...) of a principal with signals:write in the source project.'),
  z.object({
    type: z.literal('hmac'),
    secretEnv: z.string().regex(ENV_NAME, 'an environment variable name').describe('Environment variable holding the shared secret (never the secret itself).'),
    header: z.string().regex(HEADER, 'a lower-case header name').default('x-signature-256').describe('Header carrying the signature.'),
    algorithm: z.enum(['sha256', 'sha512']).default('sha256'),
    prefix: z.string().max(20).default('sha256=').describe('Text before the hex digest in the header, e.g. sha256=.'),
  }).strict().describe('An HMAC of the raw body with a shared secret, hex, in a header (as GitHub webhooks sign).'),
]);

/** The CEL mapping of a `generic` source (src/core/signals/generic.ts). */
const MappingSchema = z.object({
  items: z.string().min(1).optional(),
  name: z.string().min(1),
  status: z.string().min(1).optional(),
  fingerprint: z.string().min(1).optional(),
  labels: z.string().min(1).optional(),
  annotations: z.string().min(1).optional(),
  startsAt: z.string().min(1).optional(),
}).strict();

const SourceSchema = z.object({
  name: z.string().regex(SLUG, 'a lowercase slug').describe('Its path: POST /v1/signals/<name>.'),
  type: z.enum(['alertmanager', 'cloudevents', 'generic']),
  project: z.string().regex(SLUG, 'a lowercase slug').default('default').describe('Project of the incidents and missions it starts.'),
  auth: AuthSchema.default({ type: 'token' }),
  mapping: MappingSchema.optional().describe('For type generic: CEL expressions from the body to signal fields.'),
  busyStatus: z.union([z.literal(429), z.literal(503)]).optional()
    .describe('Status of the answer beyond intake.maxInFlight: 429, or 503 for senders that retry only 5xx. Default: 503 for alertmanager sources (Alertmanager never retries a 429), else 429.'),
}).strict().superRefine((source, ctx) => {
  if (source.type === 'generic' && source.mapping === undefined) ctx.addIssue({ code: 'custom', path: ['mapping'], message: 'is required for a generic source' });
  if (source.type !== 'generic' && source.mapping !== undefined) ctx.addIssue({ code: 'custom', path: ['mapping'], message: `is only for generic sources, not ${source.type}` });
});

/** Signal intake: the sources and the bound on work in progress. */
export const IntakeConfigSchema = z.object({
  sources: z.array(SourceSchema).max(100)
    .default([{ name: 'alertmanager', type: 'alertmanager', project: 'default', auth: { type: 'token' } }, { name: 'cloudevents', type: 'cloudevents', project: 'default', auth: { type: 'token' } }])
    .superRefine((sources, ctx) => {
      const seen = new Set<string>();
      sources.forEach((source, i) => {
        if (seen.has(source.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate source name "${source.name}"` });
        seen.add(source.name);
      });
    })
    .describe('Where signals come in; each is POST /v1/signals/<name>.'),
  maxInFlight: z.int().min(1).max(10_000).default(64).describe('Intake requests handled at once by a worker; more are answered 429 with Retry-After before their body is read.'),
  retryAfterSeconds: z.int().min(1).max(3600).default(1).describe('The Retry-After of a 429, seconds.'),
}).strict();

/** Incident grouping (src/core/incidents/incident.ts). */
export const IncidentsConfigSchema = z.object({
  groupBy: z.array(z.string().regex(LABEL, 'a label name')).max(20).default(['service']).describe('Labels whose values group signals into one incident, besides the alert name.'),
  reopenWindowMs: z.int().min(0).default(5 * 60_000).describe('A firing signal within this long after its incident resolved reopens it, ms.'),
  flapping: z.object({
    maxTransitions: z.int().min(2).max(1000).default(4).describe('Status changes of one alert within windowMs above which the incident is flapping.'),
    windowMs: z.int().min(1000).default(10 * 60_000),
  }).strict().prefault({}),
  maxAlerts: z.int().min(1).max(100_000).default(1000).describe('Distinct alerts one incident tracks; more are counted only.'),
  startMissions: z.boolean().default(true).describe('Start a diagnosis mission when an incident opens (or reopens, unless flapping).'),
  sweepIntervalMs: z.int().min(1000).max(2_147_483_647).default(30_000).describe('How often missions missed by a crash are started and quiet flapping incidents resolved, ms.'),
}).strict();

/** A configured source, as parsed. */
export type SourceConfig = z.output<typeof SourceSchema>;
