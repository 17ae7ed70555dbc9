import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { InputError, InterlockError } from '../../core/errors.js';
import { ALL_PROJECTS } from '../../core/identity/identity.js';
import type { Authenticator, MissionService } from '../../core/ports.js';
import type { IncidentRecord, PgSignalStore, SignalRecord } from '../../store/index.js';
import { authenticateRequest, requirePermission } from '../auth.js';
import type { SignalIntake } from '../intake.js';
import { errorResponse, UNAUTHENTICATED } from '../schemas.js';

/** What the signal and incident routes need. */
export interface SignalRoutesOptions {
  readonly intake: SignalIntake;
  readonly store: PgSignalStore;
  readonly authenticator: Authenticator;
  /** The engine: the incidents' diagnosis missions. */
  readonly missions: Pick<MissionService, 'get'>;
  /** Intake requests handled at once; more are answered 429 before their body is read. */
  readonly maxInFlight: number;
  readonly retryAfterSeconds: number;
  readonly now?: () => number;
}

const SourceParams = z.object({ source: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'a source name').describe('The configured source (intake.sources).') }).strict();

const IntakeResponseSchema = z.object({
  intakeId: z.uuid(),
  accepted: z.number().int().describe('Signals stored.'),
  incidents: z.array(z.object({ id: z.uuid(), events: z.array(z.string()), missionId: z.uuid().nullable() })),
  truncatedAlerts: z.number().int().describe('Alerts Alertmanager left out of this notification.'),
}).meta({ id: 'IntakeResponse' });

const AlertSchema = z.object({
  fingerprint: z.string(), name: z.string(), status: z.enum(['firing', 'resolved']), labels: z.record(z.string(), z.string()),
  firstSeenAt: z.number().int(), lastSeenAt: z.number().int(), received: z.number().int(),
});

const IncidentSchema = z.object({
  id: z.uuid(), title: z.string(), project: z.string(), source: z.string(), groupKey: z.string(), status: z.enum(['open', 'resolved']), flapping: z.boolean(),
  openedAt: z.number().int(), resolvedAt: z.number().int().nullable(), lastSignalAt: z.number().int(), missionId: z.uuid().nullable(),
  alerts: z.array(AlertSchema), untracked: z.number().int(),
}).meta({ id: 'Incident' });

const SignalSchema = z.object({
  id: z.uuid(), source: z.string(), kind: z.string(), fingerprint: z.string(), status: z.enum(['firing', 'resolved']), name: z.string(),
  labels: z.record(z.string(), z.string()), annotations: z.record(z.string(), z.string()).describe('Untrusted text from the sender.'),
  startsAt: z.number().int(), endsAt: z.number().int().nullable(), receivedAt: z.number().int(), events: z.array(z.string()),
});

function incidentView(incident: IncidentRecord) {
  return {
    id: incident.id, title: incident.title, project: incident.project, source: incident.source, groupKey: incident.groupKey, status: incident.status, flapping: incident.flapping,
    openedAt: incident.openedAt, resolvedAt: incident.resolvedAt, lastSignalAt: incident.lastSignalAt, missionId: incident.missionId,
    alerts: incident.state.alerts.map(({ fingerprint, name, status, labels, firstSeenAt, lastSeenAt, received }) => ({ fingerprint, name, status, labels, firstSeenAt, lastSeenAt, received })),
    untracked: incident.state.untracked,
  };
}

function signalView(signal: SignalRecord) {
  return {
    id: signal.id, source: signal.source, kind: signal.kind, fingerprint: signal.fingerprint, status: signal.status, name: signal.name, labels: signal.labels,
    annotations: signal.annotations, startsAt: signal.startsAt, endsAt: signal.endsAt, receivedAt: signal.receivedAt, events: [...signal.events],
  };
}

/**
 * Signal intake (`POST /signals/:source`) and incidents (`GET /incidents`, `GET /incidents/:id`).
 * Register under `/v1`. The intake route takes any body as raw bytes (the source's type decides how
 * to read it, and an HMAC is over the exact bytes), authenticates by the source's `auth` (an API
 * token with `signals:write` in the source's project, or an HMAC signature), and is bounded: beyond
 * `maxInFlight` requests at once it answers 429 with `Retry-After` before reading the body.
 */
export const signalRoutes: FastifyPluginCallbackZod<SignalRoutesOptions> = (app, options, done) => {
  const { intake, store, authenticator, maxInFlight, retryAfterSeconds, missions } = options;
  const now = options.now ?? Date.now;
  let inFlight = 0;
  const counted = new WeakSet<object>();

  // Raw bytes for every media type in this scope (JSON too: an HMAC covers the exact body).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, parsed) => parsed(null, body));

  app.post('/signals/:source', {
    schema: {
      tags: ['signals'],
      summary: 'Send signals to a source',
      description: 'An Alertmanager webhook notification, CloudEvents (binary, structured or batch mode), or a JSON body for a generic source. Stored, de-duplicated and grouped into incidents before the answer.',
      params: SourceParams,
      security: [{ bearerAuth: [] }, {}],
      response: {
        202: IntakeResponseSchema,
        400: errorResponse('INPUT_INVALID: each bad field is named (body.alerts.0.labels.alertname, headers.ce-id, body[item 2], ...).'),
        401: errorResponse('AUTH_REQUIRED, AUTH_TOKEN_INVALID, AUTH_TOKEN_REVOKED, AUTH_TOKEN_EXPIRED, or AUTH_SIGNATURE_INVALID (HMAC sources).'),
        403: errorResponse("FORBIDDEN: the token's principal lacks signals:write in the source's project."),
        404: errorResponse('SIGNAL_SOURCE_UNKNOWN'),
        413: errorResponse('BODY_TOO_LARGE'),
        415: errorResponse('MEDIA_TYPE_UNSUPPORTED: an Alertmanager or generic source takes application/json.'),
        429: errorResponse('INTAKE_BUSY: send again after Retry-After seconds; nothing was stored.'),
        503: errorResponse('AUDIT_UNAVAILABLE (the signals could not be stored and audited) or INTAKE_OVERLOADED (busy, for a source with busyStatus 503): nothing was stored, send again.'),
      },
    },
    onRequest: (request, reply, next) => {
      if (inFlight >= maxInFlight) {
        void reply.header('retry-after', String(retryAfterSeconds));
        // Alertmanager retries 5xx, never 429: its sources answer 503 (busyStatus).
        const code = intake.busyStatus((request.params as { source?: string }).source ?? '') === 503 ? 'INTAKE_OVERLOADED' : 'INTAKE_BUSY';
        next(new InterlockError(code, `This worker is handling ${maxInFlight} intake requests already; send again in ${retryAfterSeconds} s.`, { details: { maxInFlight, retryAfterSeconds } }));
        return;
      }
      inFlight += 1;
      counted.add(request);
      // Freed when the answer is sent or the connection closes (a sender that hangs up mid-body).
      reply.raw.once('close', () => {
        if (counted.delete(request)) inFlight -= 1;
      });
      next();
    },
  }, async (request, reply) => {
    const source = intake.source(request.params.source);
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    let principal: string;
    if (source.config.auth.type === 'hmac') {
      intake.verifySignature(source, request.headers, body);
      principal = `hmac:${source.config.name}`;
    } else {
      await authenticateRequest(request, authenticator, now());
      principal = requirePermission(request, 'signals:write', source.config.project).name;
    }
    const response = await intake.receive(source, { headers: request.headers, body }, principal);
    return reply.code(202).send({ ...response, incidents: response.incidents.map((incident) => ({ ...incident, events: [...incident.events] })) });
  });

  app.get('/incidents', {
    schema: {
      tags: ['signals'],
      summary: 'List incidents',
      description: 'Newest first. When a page is full, `next` is the ID to pass as `before`.',
      querystring: z.object({
        status: z.enum(['open', 'resolved']).optional(),
        project: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'a lowercase slug').optional(),
        limit: z.coerce.number().int().min(1).max(500).default(50),
        before: z.uuid().optional(),
      }).strict(),
      response: { 200: z.object({ incidents: z.array(IncidentSchema), next: z.uuid().nullable() }), 400: errorResponse('INPUT_INVALID'), 401: UNAUTHENTICATED, 403: errorResponse('FORBIDDEN: missions:read is needed in the project (or, without project, in every project).') },
    },
  }, async (request) => {
    requirePermission(request, 'missions:read', request.query.project ?? ALL_PROJECTS);
    const { status, project, limit, before } = request.query;
    const incidents = await store.listIncidents({ limit, ...(status === undefined ? {} : { status }), ...(project === undefined ? {} : { project }), ...(before === undefined ? {} : { before }) });
    return { incidents: incidents.map(incidentView), next: incidents.length >= limit ? incidents.at(-1)!.id : null };
  });

  app.get('/incidents/:id', {
    schema: {
      tags: ['signals'],
      summary: 'Show an incident with its signals',
      params: z.object({ id: z.uuid() }).strict(),
      response: { 200: z.object({ incident: IncidentSchema, signals: z.array(SignalSchema) }), 400: errorResponse('INPUT_INVALID'), 401: UNAUTHENTICATED, 403: errorResponse("FORBIDDEN: missions:read is needed in the incident's project."), 404: errorResponse('INCIDENT_NOT_FOUND') },
    },
  }, async (request) => {
    const incident = await store.getIncident(request.params.id);
    if (incident === undefined) throw new InputError('INCIDENT_NOT_FOUND', `No incident has ID ${request.params.id}; list them with GET /v1/incidents.`, [], { details: { id: request.params.id } });
    requirePermission(request, 'missions:read', incident.project);
    return { incident: incidentView(incident), signals: (await store.signalsOf(incident.id, 1000)).map(signalView) };
  });

  app.get('/incidents/:id/diagnosis', {
    schema: {
      tags: ['signals'],
      summary: "The incident's diagnosis",
      description: 'The ranked hypotheses of its latest diagnosis mission, with their facts, assumptions, missing evidence and checks; `status` says whether the mission has finished.',
      params: z.object({ id: z.uuid() }).strict(),
      response: {
        200: z.object({
          incidentId: z.uuid(),
          missionId: z.uuid().nullable(),
          status: z.enum(['none', 'running', 'done', 'failed']).describe('none: no mission yet; failed: the mission ended without a diagnosis (see the mission).'),
          diagnosis: z.record(z.string(), z.unknown()).nullable().describe("diagnosis.run's result: engine, onset, hypotheses, ranking, evidence, unavailable."),
        }),
        400: errorResponse('INPUT_INVALID'), 401: UNAUTHENTICATED, 403: errorResponse("FORBIDDEN: missions:read is needed in the incident's project."), 404: errorResponse('INCIDENT_NOT_FOUND'),
      },
    },
  }, async (request) => {
    const incident = await store.getIncident(request.params.id);
    if (incident === undefined) throw new InputError('INCIDENT_NOT_FOUND', `No incident has ID ${request.params.id}; list them with GET /v1/incidents.`, [], { details: { id: request.params.id } });
    requirePermission(request, 'missions:read', incident.project);
    if (incident.missionId === null) return { incidentId: incident.id, missionId: null, status: 'none' as const, diagnosis: null };
    const mission = await missions.get(incident.missionId);
    const step = mission.steps.find((candidate) => candidate.tool === 'diagnosis.run' && candidate.phase === 'plan');
    const result = step?.status === 'succeeded' && typeof step.result === 'object' && step.result !== null ? (step.result as Record<string, unknown>) : null;
    const status = result !== null ? 'done' as const : mission.outcome === null ? 'running' as const : 'failed' as const;
    return { incidentId: incident.id, missionId: mission.id, status, diagnosis: result };
  });

  done();
};
