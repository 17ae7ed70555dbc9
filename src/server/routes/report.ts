import { z } from 'zod';
import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import { missionReport, type MissionReportRecord } from '../../core/audit/report.js';
import type { MissionDetail } from '../../core/missions/mission.js';
import type { MissionService } from '../../core/ports.js';
import type { AuditCheckpointRecord, AuditPage, AuditQuery } from '../../store/index.js';
import { requirePermission } from '../auth.js';
import { errorResponse, MissionParamsSchema, UNAUTHENTICATED } from '../schemas.js';

/** What the report reads from the audit log (`AuditService` or `PgAuditLog`). */
export interface MissionReportAudit {
  query(query: AuditQuery): Promise<AuditPage>;
  latestCheckpoint(): Promise<AuditCheckpointRecord | undefined>;
}

/** What the mission report route needs. */
export interface MissionReportRoutesOptions {
  readonly missions: MissionService;
  readonly audit: MissionReportAudit;
  /** Clock for the end of a running mission's time span, ms since the epoch. @default Date.now */
  readonly now?: () => number;
}

/** Every entry matching `query`, reading page after page. */
async function readAll(audit: MissionReportAudit, query: AuditQuery): Promise<MissionReportRecord[]> {
  const records: MissionReportRecord[] = [];
  let after: number | undefined;
  for (;;) {
    const page = await audit.query({ ...query, limit: 1000, ...(after === undefined ? {} : { after }) });
    records.push(...page.entries.map(({ index, entry }) => ({ index, entry })));
    if (page.next === null) return records;
    after = page.next;
  }
}

/**
 * The mission report of `mission` (`missionReport`, Markdown) from the audit log: its entries, the
 * policy changes of its time span, the kill-switch changes before its end (`now` for a running
 * mission, ms since the epoch) and the latest checkpoint. The caller checks `missions:read`.
 */
export async function buildMissionReport(mission: MissionDetail, audit: MissionReportAudit, now: number): Promise<string> {
  const end = (mission.finishedAt ?? now) + 1;
  const [own, policy, killSwitches, checkpoint] = await Promise.all([
    readAll(audit, { missionId: mission.id }),
    readAll(audit, { kinds: ['policy.changed'], since: mission.createdAt, until: end }),
    readAll(audit, { kinds: ['kill_switch.changed'], until: end }),
    audit.latestCheckpoint(),
  ]);
  return missionReport({ mission, records: [...own, ...policy, ...killSwitches], checkpoint: checkpoint ?? null });
}

/**
 * `GET /missions/:id/report`: the mission report (`missionReport`), Markdown built from the audit
 * log: the mission's entries, the policy changes of its time span, the kill-switch changes before
 * its end, and the latest checkpoint. Needs `missions:read` in the mission's project. Register under
 * `/v1`, behind `addAuthentication`.
 */
export const missionReportRoutes: FastifyPluginCallbackZod<MissionReportRoutesOptions> = (app, { missions, audit, now = Date.now }, done) => {
  app.get(
    '/missions/:id/report',
    {
      schema: {
        tags: ['missions'],
        summary: 'The mission report, from the audit log',
        description:
          'Markdown (text/markdown) telling what the mission did from its audit entries alone: summary, signals, evidence, plan, ' +
          'policy decisions, approvals and votes (refused ones too), tool calls, compensations, verifications, where it failed ' +
          'closed or was parked, and who corrected what. Every fact cites its entry index, e.g. [#12], for an inclusion proof.',
        params: MissionParamsSchema,
        produces: ['text/markdown'],
        response: {
          200: z.string().describe('The report, Markdown (CommonMark with GFM tables).'),
          400: errorResponse('INPUT_INVALID: the ID is not a UUID.'),
          401: UNAUTHENTICATED,
          403: errorResponse("FORBIDDEN: the caller lacks missions:read in the mission's project."),
          404: errorResponse('MISSION_NOT_FOUND'),
        },
      },
    },
    async (request, reply) => {
      const mission = await missions.get(request.params.id);
      requirePermission(request, 'missions:read', mission.project);
      return reply.type('text/markdown; charset=utf-8').send(await buildMissionReport(mission, audit, now()));
    },
  );
  done();
};
