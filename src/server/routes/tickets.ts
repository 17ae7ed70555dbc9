import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { InputError } from '../../core/errors.js';
import { ALL_PROJECTS } from '../../core/identity/identity.js';
import { OUTCOMES } from '../../core/missions/stages.js';
import { NOTIFICATION_EVENTS, TICKET_STATUSES, type Ticket } from '../../core/tickets/ticket.js';
import type { NotificationRecord, TicketFilter } from '../../store/index.js';
import { requirePermission } from '../auth.js';
import { errorResponse, UNAUTHENTICATED } from '../schemas.js';

/** Where the ticket routes read tickets and their deliveries (`PgTicketStore`). */
export interface TicketReader {
  getTicket(id: string): Promise<Ticket | undefined>;
  ticketOfIncident(incidentId: string): Promise<Ticket | undefined>;
  listTickets(filter: TicketFilter): Promise<Ticket[]>;
  notificationsOf(ticketId: string): Promise<NotificationRecord[]>;
}

/** What the ticket routes need. */
export interface TicketRoutesOptions {
  readonly tickets: TicketReader;
}

const TAGS = ['tickets'];
const TICKET_ID = z.string().regex(/^INC-\d{1,15}$/, 'a ticket ID: INC-<number>').describe('The ticket ID, e.g. INC-42.');
const epochMs = z.number().int().describe('Milliseconds since the Unix epoch.');
const STEP_STATUSES = ['pending', 'running', 'succeeded', 'failed', 'unknown', 'skipped', 'compensated', 'compensation_failed'] as const;
const args = z.record(z.string(), z.unknown()).describe('The arguments, values under secret-looking keys redacted.');

const TicketSchema = z.object({
  id: z.string(),
  incidentId: z.uuid().nullable().describe('Null for a ticket of a mission tied to no incident.'),
  project: z.string(),
  title: z.string(),
  service: z.string().nullable(),
  status: z.enum(TICKET_STATUSES),
  diagnosis: z.object({
    missionId: z.uuid(),
    engine: z.string().nullable(),
    hypotheses: z.array(z.object({ kind: z.string(), service: z.string().nullable(), confidence: z.number().min(0).max(1), summary: z.string() })).describe('The top hypotheses, highest confidence first.'),
  }).nullable().describe('The latest diagnosis (a diagnosis.run step), or null.'),
  actions: z.array(z.object({
    missionId: z.uuid(), stepId: z.string(), tool: z.string(), args, status: z.enum(STEP_STATUSES), result: z.string().describe('One line: the result or the error.'),
    compensation: z.object({ stepId: z.string(), tool: z.string(), args, status: z.enum(STEP_STATUSES), result: z.string() }).nullable(),
    finishedAt: epochMs.nullable(),
  })).describe('Executed plan steps of every mission of the ticket.'),
  outcome: z.enum(OUTCOMES).describe('How the latest mission ended.'),
  reason: z.string().describe('Why: the escalation reason (what failed, what was compensated) or the closing reason.'),
  missions: z.array(z.object({ id: z.uuid(), title: z.string(), outcome: z.enum(OUTCOMES), reason: z.string(), finishedAt: epochMs })),
  timeline: z.array(z.object({ at: epochMs, kind: z.enum(['opened', 'diagnosis', 'action', 'compensation', 'verification', 'mission', 'status']), missionId: z.uuid(), message: z.string() })),
  createdAt: epochMs,
  updatedAt: epochMs,
}).meta({ id: 'Ticket' });

const TicketSummarySchema = z.object({
  id: z.string(), incidentId: z.uuid().nullable(), project: z.string(), title: z.string(), service: z.string().nullable(), status: z.enum(TICKET_STATUSES),
  outcome: z.enum(OUTCOMES), reason: z.string(), missions: z.number().int().describe('Missions recorded on it.'), createdAt: epochMs, updatedAt: epochMs,
}).meta({ id: 'TicketSummary' });

const DeliverySchema = z.object({
  id: z.uuid().describe('The delivery ID, sent as X-Interlock-Delivery.'),
  webhook: z.string(),
  event: z.enum(NOTIFICATION_EVENTS),
  status: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.number().int(),
  missionId: z.uuid().nullable(),
  createdAt: epochMs,
  nextAttemptAt: epochMs.nullable(),
  deliveredAt: epochMs.nullable(),
  lastError: z.string().nullable(),
  lastStatus: z.number().int().nullable().describe('HTTP status of the last failed answer.'),
});

const TicketViewSchema = z.object({
  ticket: TicketSchema,
  notifications: z.object({
    webhooks: z.array(z.object({ webhook: z.string(), pending: z.number().int(), delivered: z.number().int(), failed: z.number().int() })).describe('Deliveries per webhook by state.'),
    deliveries: z.array(DeliverySchema).describe('Oldest first.'),
  }),
}).meta({ id: 'TicketView' });

function summary(ticket: Ticket) {
  return {
    id: ticket.id, incidentId: ticket.incidentId, project: ticket.project, title: ticket.title, service: ticket.service, status: ticket.status,
    outcome: ticket.outcome, reason: ticket.reason, missions: ticket.missions.length, createdAt: ticket.createdAt, updatedAt: ticket.updatedAt,
  };
}

async function view(tickets: TicketReader, ticket: Ticket) {
  const deliveries = await tickets.notificationsOf(ticket.id);
  const byWebhook = new Map<string, { webhook: string; pending: number; delivered: number; failed: number }>();
  for (const delivery of deliveries) {
    const counts = byWebhook.get(delivery.target) ?? { webhook: delivery.target, pending: 0, delivered: 0, failed: 0 };
    counts[delivery.status] += 1;
    byWebhook.set(delivery.target, counts);
  }
  return {
    ticket: {
      ...ticket,
      diagnosis: ticket.diagnosis === null ? null : { ...ticket.diagnosis, hypotheses: [...ticket.diagnosis.hypotheses] },
      actions: [...ticket.actions], missions: [...ticket.missions], timeline: [...ticket.timeline],
    },
    notifications: {
      webhooks: [...byWebhook.values()],
      deliveries: deliveries.map(({ target, ticketId: _ticketId, ...delivery }) => ({ ...delivery, webhook: target })),
    },
  };
}

/**
 * The ticket routes: list (`GET /tickets?status&project&limit&before`), show (`GET /tickets/:id`)
 * and an incident's ticket (`GET /incidents/:id/ticket`), each ticket with its notifications
 * (deliveries per webhook: pending, delivered, failed). Register under `/v1`, behind
 * `addAuthentication`. Reading needs `tickets:read` in the ticket's project (listing without
 * `project` needs it for `*`). See docs/tickets.md.
 */
export const ticketRoutes: FastifyPluginCallbackZod<TicketRoutesOptions> = (app, options, done) => {
  const { tickets } = options;

  app.get('/tickets', {
    schema: {
      tags: TAGS,
      summary: 'List tickets',
      description: 'Newest first. When a page is full, `next` is the ID to pass as `before`.',
      querystring: z.object({
        status: z.enum(TICKET_STATUSES).optional(),
        project: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'a lowercase slug').optional(),
        limit: z.coerce.number().int().min(1).max(500).default(50),
        before: TICKET_ID.optional(),
      }).strict(),
      response: { 200: z.object({ tickets: z.array(TicketSummarySchema), next: z.string().nullable() }), 400: errorResponse('INPUT_INVALID'), 401: UNAUTHENTICATED, 403: errorResponse('FORBIDDEN: tickets:read is needed in the project (or, without project, in every project).') },
    },
  }, async (request) => {
    const { status, project, limit, before } = request.query;
    requirePermission(request, 'tickets:read', project ?? ALL_PROJECTS);
    const found = await tickets.listTickets({ limit, ...(status === undefined ? {} : { status }), ...(project === undefined ? {} : { project }), ...(before === undefined ? {} : { before }) });
    return { tickets: found.map(summary), next: found.length >= limit ? found.at(-1)!.id : null };
  });

  app.get('/tickets/:id', {
    schema: {
      tags: TAGS,
      summary: 'Show a ticket with its notifications',
      params: z.object({ id: TICKET_ID }).strict(),
      response: { 200: TicketViewSchema, 400: errorResponse('INPUT_INVALID'), 401: UNAUTHENTICATED, 403: errorResponse("FORBIDDEN: tickets:read is needed in the ticket's project."), 404: errorResponse('TICKET_NOT_FOUND') },
    },
  }, async (request) => {
    const ticket = await tickets.getTicket(request.params.id);
    if (ticket === undefined) throw new InputError('TICKET_NOT_FOUND', `No ticket has ID ${request.params.id}; list them with GET /v1/tickets.`, [], { details: { id: request.params.id } });
    requirePermission(request, 'tickets:read', ticket.project);
    return view(tickets, ticket);
  });

  app.get('/incidents/:id/ticket', {
    schema: {
      tags: TAGS,
      summary: "The incident's ticket",
      description: 'The ticket every mission of the incident updates when it ends, with its notifications.',
      params: z.object({ id: z.uuid() }).strict(),
      response: { 200: TicketViewSchema, 400: errorResponse('INPUT_INVALID'), 401: UNAUTHENTICATED, 403: errorResponse("FORBIDDEN: tickets:read is needed in the ticket's project."), 404: errorResponse('TICKET_NOT_FOUND: no such incident, or none of its missions has ended yet.') },
    },
  }, async (request) => {
    const ticket = await tickets.ticketOfIncident(request.params.id);
    if (ticket === undefined) throw new InputError('TICKET_NOT_FOUND', `Incident ${request.params.id} has no ticket: it does not exist, or none of its missions has ended yet (see GET /v1/incidents/${request.params.id}).`, [], { details: { incidentId: request.params.id } });
    requirePermission(request, 'tickets:read', ticket.project);
    return view(tickets, ticket);
  });

  done();
};
