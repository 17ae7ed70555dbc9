import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AGENT_ROLES, type AgentDefinition } from '../../core/agents/agent.js';
import { computeTrackRecord, DEFAULT_TRACK_RECORD_WINDOW_MS, type MissionFacts } from '../../core/agents/track-record.js';
import { InputError } from '../../core/errors.js';
import { ALL_PROJECTS } from '../../core/identity/identity.js';
import { AUTONOMY_LEVELS, type AutonomyLevel } from '../../core/guards/autonomy.js';
import { requirePermission } from '../auth.js';
import { errorResponse, UNAUTHENTICATED } from '../schemas.js';

/** Where `GET /v1/agents/stats` reads the facts of missions (`PgTrackRecordStore`). */
export interface TrackRecordReader {
  facts(filter: { readonly since: number; readonly project?: string }): Promise<MissionFacts[]>;
}

/** What the agent routes need; every field is optional (no agents: empty lists). */
export interface AgentsRoutesOptions {
  /** The agents in force, by name (`AgentsRuntime.agents`); absent: none. */
  readonly agents?: () => ReadonlyMap<string, AgentDefinition>;
  /** The mission facts of the track record; absent: the track record is empty. */
  readonly trackRecord?: TrackRecordReader;
  /** The clock, ms since the epoch. @default Date.now */
  readonly now?: () => number;
}

const TAGS = ['agents'];
const SLUG = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'a lowercase slug');
const epochMs = z.number().int().describe('Milliseconds since the Unix epoch.');

const AgentSchema = z.object({
  name: z.string().describe('The agent, and the principal (kind agent) it acts as.'),
  role: z.enum(AGENT_ROLES),
  project: z.string(),
  reasoner: z.string().describe('builtin, or llm:<provider>/<model>.'),
  autonomyCeiling: z.enum(AUTONOMY_LEVELS).describe('The most autonomy its proposals get.'),
  owner: z.string().describe('The person or team answerable for the agent.'),
  description: z.string().nullable(),
  tools: z.array(z.string()).describe('Its tool set: tool names and <connector>.* entries.'),
  handsOffTo: z.array(z.string()).describe('The agents it may hand work to.'),
}).meta({ id: 'Agent' });

const SuggestionSchema = z.object({
  action: z.enum(['raise', 'lower', 'keep', 'supports']).describe('raise or lower one rung from `from`, keep it, or (current level unknown) the highest rung the evidence supports.'),
  from: z.enum(AUTONOMY_LEVELS).nullable(),
  to: z.enum(AUTONOMY_LEVELS),
  text: z.string().describe('The suggestion with its evidence. A suggestion only: never applied automatically.'),
}).meta({ id: 'AutonomySuggestion' });

const figures = {
  projects: z.array(z.string()),
  proposals: z.number().int().describe('Missions proposed in the window.'),
  approved: z.number().int().describe('Approval requests of its missions that were granted.'),
  denied: z.number().int().describe('Approval requests of its missions that an approver denied.'),
  corrections: z.number().int().describe('Missions people corrected: an approval denied, cancelled by a person, or approved again after the re-check.'),
  verifiedSuccesses: z.number().int().describe('Missions resolved with every verification step passed.'),
  failedVerifications: z.number().int().describe('Missions escalated because a verification did not hold.'),
  escalations: z.number().int().describe('Missions escalated, for any reason.'),
  shadowed: z.number().int().describe('Missions that ended shadowed or suggested: nothing executed.'),
  judged: z.number().int().describe('Verified successes plus missions escalated, denied or cancelled by a person.'),
  successRate: z.number().min(0).max(1).nullable().describe('verifiedSuccesses / judged; null when nothing was judged.'),
  suggestion: SuggestionSchema,
};

const TrackRecordSchema = z.object({
  since: epochMs.describe('Start of the window: missions created at or after it.'),
  until: epochMs.describe('End of the window: when the track record was computed.'),
  agents: z.array(z.object({ agent: z.string(), autonomyCeiling: z.enum(AUTONOMY_LEVELS).nullable().describe('Null when no loaded agent has this name.'), ...figures })),
  runbooks: z.array(z.object({ runbook: z.string(), versions: z.array(z.number().int()), ...figures })),
}).meta({ id: 'TrackRecord' });

function view(agent: AgentDefinition): z.output<typeof AgentSchema> {
  const { metadata, spec } = agent;
  return {
    name: metadata.name, role: spec.role, project: spec.project, reasoner: spec.reasoner, autonomyCeiling: spec.autonomyCeiling,
    owner: metadata.owner, description: metadata.description ?? null, tools: [...spec.tools], handsOffTo: [...spec.handsOffTo],
  };
}

/** `since` as ms since the epoch: an ISO 8601 date-time, or a duration back from `now` (`90m`, `12h`, `30d`). */
function parseSince(value: string | undefined, now: number): number {
  if (value === undefined) return now - DEFAULT_TRACK_RECORD_WINDOW_MS;
  const duration = /^(\d{1,6})([mhd])$/.exec(value);
  const at = duration === null ? Date.parse(value) : now - Number(duration[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[duration[2] as 'm' | 'h' | 'd'];
  if (Number.isNaN(at) || at > now) {
    throw new InputError('INPUT_INVALID', `since must be an ISO 8601 date-time in the past or a duration such as 30d, not "${value}".`, [{ path: 'since', message: 'not a past instant or a duration', expected: 'ISO 8601 date-time or <n>m|h|d', received: JSON.stringify(value) }]);
  }
  return at;
}

/**
 * The agent routes: the loaded agents (`GET /agents?project`) and their track record with the
 * runbooks' (`GET /agents/stats?since&project`: proposals, approvals, corrections, verified
 * successes, failed verifications, escalations, success rate and a suggested autonomy level with its
 * evidence; see docs/agents.md, "Track record"). Register under `/v1`, behind `addAuthentication`.
 * Both need `missions:read` in the project (without `project`, in every project).
 */
export const agentRoutes: FastifyPluginCallbackZod<AgentsRoutesOptions> = (app, options, done) => {
  const agents = options.agents ?? (() => new Map<string, AgentDefinition>());
  const now = options.now ?? Date.now;
  const FORBIDDEN = errorResponse('FORBIDDEN: missions:read is needed in the project (or, without project, in every project).');

  app.get('/agents', {
    schema: {
      tags: TAGS,
      summary: 'List the agents',
      description: 'The agents loaded from agents.dir, by name; empty when none are configured.',
      querystring: z.object({ project: SLUG.optional() }).strict(),
      response: { 200: z.object({ agents: z.array(AgentSchema) }), 400: errorResponse('INPUT_INVALID'), 401: UNAUTHENTICATED, 403: FORBIDDEN },
    },
  }, (request) => {
    const { project } = request.query;
    requirePermission(request, 'missions:read', project ?? ALL_PROJECTS);
    const listed = [...agents().values()].filter((agent) => project === undefined || agent.spec.project === project);
    return { agents: listed.sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1)).map(view) };
  });

  app.get('/agents/stats', {
    schema: {
      tags: TAGS,
      summary: 'Track record of the agents and runbooks',
      description: 'Per agent and per runbook, over the missions created since `since` (default: the last 30 days). The suggested autonomy level is advice for the owner; Interlock never applies it.',
      querystring: z.object({
        since: z.string().min(1).max(40).optional().describe('An ISO 8601 date-time, or a duration back from now: 90m, 12h, 30d. Default 30d.'),
        project: SLUG.optional(),
      }).strict(),
      response: { 200: TrackRecordSchema, 400: errorResponse('INPUT_INVALID'), 401: UNAUTHENTICATED, 403: FORBIDDEN },
    },
  }, async (request) => {
    const { project } = request.query;
    requirePermission(request, 'missions:read', project ?? ALL_PROJECTS);
    const until = now();
    const since = parseSince(request.query.since, until);
    const facts = options.trackRecord === undefined ? [] : await options.trackRecord.facts({ since, ...(project === undefined ? {} : { project }) });
    const ceilings = new Map<string, AutonomyLevel>([...agents().values()].map((agent) => [agent.metadata.name, agent.spec.autonomyCeiling]));
    const record = computeTrackRecord({ facts, since, until, ceilings });
    return {
      since: record.since, until: record.until,
      agents: record.agents.map((a) => ({ ...a, projects: [...a.projects] })),
      runbooks: record.runbooks.map((r) => ({ ...r, projects: [...r.projects], versions: [...r.versions] })),
    };
  });

  done();
};
