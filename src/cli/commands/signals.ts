import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { apiFor, withApiOptions } from '../api.js';
import { integerIn } from '../arguments.js';
import { CliError, globalOptions, type CliContext } from '../context.js';
import type { DiagnosisView, IncidentView } from '../deps.js';
import { formatTime, renderTable, toJson, truncate } from '../output.js';

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks);
}

/** The media type of a file to send, from its name, unless given. */
function contentTypeOf(file: string): string {
  if (/\.cloudevents?-batch\.json$/i.test(file)) return 'application/cloudevents-batch+json';
  if (/\.cloudevents?\.json$/i.test(file)) return 'application/cloudevents+json';
  return 'application/json';
}

function incidentsTable(incidents: readonly IncidentView[]): string {
  return renderTable(['id', 'status', 'title', 'project', 'alerts', 'opened', 'mission'], incidents.map((incident) => [
    incident.id, `${incident.status}${incident.flapping ? ' (flapping)' : ''}`, truncate(incident.title, 50), incident.project,
    String(incident.alerts.length + incident.untracked), formatTime(incident.openedAt), incident.missionId ?? '-',
  ]));
}

interface HypothesisLike {
  readonly kind?: unknown; readonly service?: unknown; readonly summary?: unknown; readonly confidence?: unknown;
  readonly facts?: ReadonlyArray<{ readonly statement?: unknown; readonly evidence?: readonly unknown[] }>;
  readonly assumptions?: readonly unknown[]; readonly missingEvidence?: readonly unknown[]; readonly checks?: ReadonlyArray<{ readonly description?: unknown }>;
}

/** The diagnosis as text: the ranked hypotheses, each with facts (and their evidence), assumptions, missing evidence and checks. */
function diagnosisText(view: DiagnosisView): string {
  const diagnosis = view.diagnosis ?? {};
  const hypotheses = (Array.isArray(diagnosis.hypotheses) ? diagnosis.hypotheses : []) as HypothesisLike[];
  const text = (value: unknown): string => (typeof value === 'string' ? value : '');
  const lines = [`incident ${view.incidentId}, mission ${view.missionId ?? '-'}: ${hypotheses.length} hypothesis(es) by ${text(diagnosis.engine)}`];
  hypotheses.forEach((hypothesis, i) => {
    const confidence = typeof hypothesis.confidence === 'number' ? hypothesis.confidence.toFixed(2) : '?';
    lines.push('', `${i + 1}. [${confidence}] ${text(hypothesis.kind)}${typeof hypothesis.service === 'string' ? ` in ${hypothesis.service}` : ''}: ${text(hypothesis.summary)}`);
    for (const fact of hypothesis.facts ?? []) lines.push(`   fact: ${text(fact.statement)}${(fact.evidence ?? []).length === 0 ? '' : ` [${(fact.evidence ?? []).map(String).join(', ')}]`}`);
    for (const assumption of hypothesis.assumptions ?? []) lines.push(`   assumes: ${text(assumption)}`);
    for (const missing of hypothesis.missingEvidence ?? []) lines.push(`   missing: ${text(missing)}`);
    for (const check of hypothesis.checks ?? []) lines.push(`   check: ${text(check.description)}`);
  });
  return lines.join('\n');
}

/**
 * Registers `interlock signals send <file>` (post a payload to a configured source, as Alertmanager or
 * a CloudEvents sender would) and `interlock incidents list|show`, through a running server's HTTP
 * API (`--url`, `--token` or `INTERLOCK_TOKEN`). See docs/signals.md.
 */
export function registerSignalsCommands(program: Command, ctx: CliContext): void {
  withApiOptions(program.command('diagnose'))
    .description("show an incident's diagnosis: ranked hypotheses with their evidence (waits for a running diagnosis with --wait)")
    .argument('<incident>', 'incident ID')
    .option('--wait <ms>', 'wait this long for a running diagnosis to finish', integerIn(0, 3_600_000), 0)
    .action(async (id: string, options: { wait: number }, command: Command) => {
      const api = apiFor(ctx, command);
      const deadline = ctx.now() + options.wait;
      let view = await api.getDiagnosis(id);
      while (view.status === 'running' && ctx.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        view = await api.getDiagnosis(id);
      }
      if (globalOptions(command).json === true) {
        ctx.io.out(toJson(view));
        return;
      }
      if (view.status === 'none') throw new CliError(`incident ${id} has no diagnosis mission yet (incidents.startMissions may be off)`);
      if (view.status === 'running') throw new CliError(`the diagnosis of incident ${id} is still running (mission ${view.missionId ?? '?'}); wait with --wait <ms>`);
      if (view.status === 'failed') throw new CliError(`the diagnosis mission ${view.missionId ?? '?'} of incident ${id} ended without a diagnosis; see \`interlock missions show ${view.missionId ?? ''}\``);
      ctx.io.out(diagnosisText(view));
    });

  const signals = withApiOptions(program.command('signals').description("send signals to a running server's intake"));
  signals
    .command('send')
    .description('send a file (an Alertmanager notification, CloudEvents, or JSON for a generic source) to a source')
    .argument('<file>', 'the request body; - reads standard input')
    .option('--source <name>', 'the configured source (intake.sources)', 'alertmanager')
    .option('--content-type <type>', 'media type of the body (default: from the file name: *.cloudevent.json, *.cloudevents-batch.json, else application/json)')
    .action(async (file: string, options: { source: string; contentType?: string }, command: Command) => {
      let body: Buffer;
      try {
        body = file === '-' ? await readStdin() : await readFile(resolve(ctx.cwd, file));
      } catch (error) {
        throw new CliError(`cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`);
      }
      const answer = await apiFor(ctx, command).sendSignals(options.source, body, options.contentType ?? contentTypeOf(file));
      if (globalOptions(command).json === true) {
        ctx.io.out(toJson(answer));
        return;
      }
      ctx.io.out(`accepted ${answer.accepted} signal(s) (intake ${answer.intakeId})`);
      for (const incident of answer.incidents) ctx.io.out(`incident ${incident.id}: ${incident.events.join(', ')}${incident.missionId === null ? '' : `; mission ${incident.missionId}`}`);
      if (answer.truncatedAlerts > 0) ctx.io.out(`Alertmanager left out ${answer.truncatedAlerts} alert(s) of this notification`);
    });

  const incidents = withApiOptions(program.command('incidents').description("list and show incidents through a running server's HTTP API"));
  incidents
    .command('list')
    .description('list incidents, newest first')
    .addOption(new Option('--status <status>', 'only open or resolved incidents').choices(['open', 'resolved']))
    .option('--project <project>', 'only incidents of this project')
    .option('--limit <n>', 'at most this many (the server defaults to 50)', integerIn(1, 500))
    .option('--before <id>', 'only incidents opened before this one (the next page)')
    .action(async (options: { status?: 'open' | 'resolved'; project?: string; limit?: number; before?: string }, command: Command) => {
      const page = await apiFor(ctx, command).listIncidents(options);
      if (globalOptions(command).json === true) {
        ctx.io.out(toJson(page));
        return;
      }
      ctx.io.out(page.incidents.length === 0 ? 'no incidents match' : incidentsTable(page.incidents));
      if (page.next !== null) ctx.io.out(`more: add --before ${page.next}`);
    });
  incidents
    .command('show')
    .description('show an incident, its alerts and its signals')
    .argument('<id>', 'incident ID')
    .action(async (id: string, _options: unknown, command: Command) => {
      const shown = await apiFor(ctx, command).getIncident(id);
      if (globalOptions(command).json === true) {
        ctx.io.out(toJson(shown));
        return;
      }
      const { incident } = shown;
      ctx.io.out(`${incident.title}\n${incident.id}: ${incident.status}${incident.flapping ? ' (flapping)' : ''}, project ${incident.project}, opened ${formatTime(incident.openedAt)}${incident.resolvedAt === null ? '' : `, resolved ${formatTime(incident.resolvedAt)}`}, mission ${incident.missionId ?? 'none'}`);
      ctx.io.out(renderTable(['alert', 'status', 'labels', 'received', 'last seen'], incident.alerts.map((alert) => [alert.name, alert.status, truncate(Object.entries(alert.labels).map(([k, v]) => `${k}=${v}`).join(' '), 60), String(alert.received), formatTime(alert.lastSeenAt)])));
      ctx.io.out(renderTable(['received', 'status', 'name', 'events', 'summary'], shown.signals.map((signal) => [formatTime(signal.receivedAt), signal.status, signal.name, signal.events.join(', '), truncate(signal.annotations.summary ?? signal.annotations.description ?? '', 50)])));
    });
}
