import { Option, type Command } from 'commander';
import { TICKET_STATUSES, type TicketStatus } from '../../core/tickets/ticket.js';
import { apiFor, withApiOptions } from '../api.js';
import { integerIn } from '../arguments.js';
import { globalOptions, type CliContext } from '../context.js';
import type { TicketSummaryView, TicketView } from '../deps.js';
import { formatTime, renderTable, toJson, truncate } from '../output.js';

function ticketsTable(tickets: readonly TicketSummaryView[]): string {
  return renderTable(['id', 'status', 'title', 'project', 'service', 'missions', 'updated', 'reason'], tickets.map((ticket) => [
    ticket.id, ticket.status, truncate(ticket.title, 40), ticket.project, ticket.service ?? '-', String(ticket.missions), formatTime(ticket.updatedAt), truncate(ticket.reason, 60),
  ]));
}

/** The ticket as text: header, diagnosis, actions, missions, timeline and notifications per webhook. */
function ticketText(view: TicketView): string {
  const { ticket, notifications } = view;
  const lines = [
    `${ticket.id}: ${ticket.title}`,
    `status ${ticket.status}, project ${ticket.project}${ticket.service === null ? '' : `, service ${ticket.service}`}, incident ${ticket.incidentId ?? 'none'}, opened ${formatTime(ticket.createdAt)}, updated ${formatTime(ticket.updatedAt)}`,
    `outcome ${ticket.outcome}: ${ticket.reason}`,
  ];
  if (ticket.diagnosis !== null) {
    lines.push('', `diagnosis (${ticket.diagnosis.engine ?? 'unknown engine'}, mission ${ticket.diagnosis.missionId}):`);
    ticket.diagnosis.hypotheses.forEach((h, i) => lines.push(`  ${i + 1}. [${h.confidence.toFixed(2)}] ${h.kind}${h.service === null ? '' : ` in ${h.service}`}: ${h.summary}`));
  }
  if (ticket.actions.length > 0) {
    lines.push('', 'actions:', renderTable(['mission', 'step', 'tool', 'status', 'result', 'compensation'], ticket.actions.map((action) => [
      action.missionId.slice(0, 8), action.stepId, action.tool, action.status, truncate(action.result, 50),
      action.compensation === null ? '-' : `${action.compensation.tool}: ${action.compensation.status}`,
    ])));
  }
  lines.push('', 'missions:', renderTable(['id', 'outcome', 'finished', 'title'], ticket.missions.map((m) => [m.id, m.outcome, formatTime(m.finishedAt), truncate(m.title, 50)])));
  lines.push('', 'timeline:', ...ticket.timeline.map((entry) => `  ${formatTime(entry.at)} ${entry.kind.padEnd(12)} ${entry.message}`));
  lines.push('', notifications.webhooks.length === 0
    ? 'notifications: none'
    : `notifications:\n${renderTable(['webhook', 'delivered', 'pending', 'failed'], notifications.webhooks.map((w) => [w.webhook, String(w.delivered), String(w.pending), String(w.failed)]))}`);
  for (const delivery of notifications.deliveries.filter((d) => d.status !== 'delivered' && d.lastError !== null)) {
    lines.push(`  ${delivery.status} ${delivery.event} to ${delivery.webhook} (${delivery.attempts} attempt(s)): ${delivery.lastError ?? ''}`);
  }
  return lines.join('\n');
}

/**
 * Registers `interlock tickets list|show`: the built-in tickets (one per incident: diagnosis, actions,
 * outcome and why) with their notifications, through a running server's HTTP API (`--url`, `--token`
 * or `INTERLOCK_TOKEN`). See docs/tickets.md.
 */
export function registerTicketsCommand(program: Command, ctx: CliContext): void {
  const tickets = withApiOptions(program.command('tickets').description("list and show tickets through a running server's HTTP API"));
  tickets
    .command('list')
    .description('list tickets, newest first')
    .addOption(new Option('--status <status>', 'only tickets with this status').choices(TICKET_STATUSES))
    .option('--project <project>', 'only tickets of this project')
    .option('--limit <n>', 'at most this many (the server defaults to 50)', integerIn(1, 500))
    .option('--before <id>', 'only tickets opened before this one (the next page)')
    .action(async (options: { status?: TicketStatus; project?: string; limit?: number; before?: string }, command: Command) => {
      const page = await apiFor(ctx, command).listTickets(options);
      if (globalOptions(command).json === true) {
        ctx.io.out(toJson(page));
        return;
      }
      ctx.io.out(page.tickets.length === 0 ? 'no tickets match' : ticketsTable(page.tickets));
      if (page.next !== null) ctx.io.out(`more: add --before ${page.next}`);
    });
  tickets
    .command('show')
    .description("show a ticket: diagnosis, actions, missions, timeline and notifications per webhook")
    .argument('<id>', 'ticket ID (INC-42), or an incident ID for its ticket')
    .action(async (id: string, _options: unknown, command: Command) => {
      const view = await apiFor(ctx, command).getTicket(id);
      ctx.io.out(globalOptions(command).json === true ? toJson(view) : ticketText(view));
    });
}
