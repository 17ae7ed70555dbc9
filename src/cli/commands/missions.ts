import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import type { Escalation, Mission, MissionDetail, MissionStep } from '../../core/missions/mission.js';
import { OUTCOMES, STAGES, type Outcome, type Stage } from '../../core/missions/stages.js';
import type { MissionFilter } from '../../core/ports.js';
import { apiFor, withApiOptions } from '../api.js';
import { integerIn } from '../arguments.js';
import { globalOptions, type CliContext } from '../context.js';
import { formatAge, formatDuration, formatTime, renderTable, toJson, truncate } from '../output.js';

interface ListOptions {
  readonly project?: string;
  readonly stage?: Stage;
  readonly outcome?: Outcome;
  readonly running?: boolean;
  readonly finished?: boolean;
  readonly limit?: number;
  readonly before?: string;
}

/**
 * Registers `interlock missions list|show|cancel|report`, which talk to a running server's HTTP API at
 * `--url` (default `http://<server.host>:<server.port>` from the configuration) with the token of
 * `--token` or `INTERLOCK_TOKEN`, through `deps.createApiClient`. Tables by default, the API's JSON with `--json` (`{ missions, next }` for
 * `list`, the mission for `show` and `cancel`, `{ id, report }` for `report`). `report` prints the
 * Markdown report, or writes it to `--output <file>` (relative to the working directory).
 */
export function registerMissionsCommand(program: Command, ctx: CliContext): void {
  const missions = withApiOptions(program.command('missions').description("list, inspect, cancel and report on missions through a running server's HTTP API"));

  missions
    .command('list')
    .description('list missions, newest first')
    .option('--project <project>', 'only missions of this project')
    .addOption(new Option('--stage <stage>', 'only missions in this stage').choices(STAGES))
    .addOption(new Option('--outcome <outcome>', 'only missions that ended this way').choices(OUTCOMES))
    .addOption(new Option('--running', 'only missions still running').conflicts('finished'))
    .option('--finished', 'only finished missions')
    .option('--limit <n>', 'at most this many missions (the server defaults to 50)', integerIn(1, 500))
    .option('--before <id>', 'only missions created before this mission (the next page)')
    .action(async (options: ListOptions, command: Command) => {
      const filter: MissionFilter = {
        ...(options.project === undefined ? {} : { project: options.project }),
        ...(options.stage === undefined ? {} : { stage: options.stage }),
        ...(options.outcome === undefined ? {} : { outcome: options.outcome }),
        ...(options.running === true ? { running: true } : options.finished === true ? { running: false } : {}),
        ...(options.limit === undefined ? {} : { limit: options.limit }),
        ...(options.before === undefined ? {} : { before: options.before }),
      };
      const page = await apiFor(ctx, command).list(filter);
      if (globalOptions(command).json === true) {
        ctx.io.out(toJson(page));
        return;
      }
      ctx.io.out(page.missions.length === 0 ? 'no missions match' : missionsTable(page.missions, ctx.now()));
      if (page.next !== null) ctx.io.out(`more: add --before ${page.next}`);
    });

  missions
    .command('show')
    .description('show a mission with its steps and stage history')
    .argument('<id>', 'mission ID')
    .action(async (id: string, _options: unknown, command: Command) => {
      const mission = await apiFor(ctx, command).get(id);
      ctx.io.out(globalOptions(command).json === true ? toJson(mission) : missionReport(mission, ctx.now()));
    });

  missions
    .command('cancel')
    .description('ask a running mission to stop: it compensates what it did and ends cancelled')
    .argument('<id>', 'mission ID')
    .action(async (id: string, _options: unknown, command: Command) => {
      const mission = await apiFor(ctx, command).cancel(id);
      ctx.io.out(globalOptions(command).json === true ? toJson(mission) : `cancel requested for mission ${mission.id} (stage ${mission.stage}); it stops before its next write`);
    });

  missions
    .command('report')
    .description('the mission report from the audit log (Markdown): every fact cites its audit entry, for an inclusion proof')
    .argument('<id>', 'mission ID')
    .option('--output <file>', 'write the report to this file instead of standard output')
    .action(async (id: string, options: { output?: string }, command: Command) => {
      const report = await apiFor(ctx, command).report(id);
      if (options.output !== undefined) {
        const file = resolve(ctx.cwd, options.output);
        await writeFile(file, report, 'utf8');
        ctx.io.out(globalOptions(command).json === true ? toJson({ id, file }) : `wrote the report of mission ${id} to ${file}`);
        return;
      }
      ctx.io.out(globalOptions(command).json === true ? toJson({ id, report }) : report.replace(/\n$/, ''));
    });
}

function missionsTable(missions: readonly Mission[], now: number): string {
  return renderTable(
    ['ID', 'TITLE', 'PROJECT', 'STAGE', 'OUTCOME', 'RISK', 'AGE'],
    missions.map((mission) => [mission.id, truncate(mission.title, 48), mission.project, stageLabel(mission), mission.outcome ?? '-', mission.risk, formatAge(now - mission.createdAt)]),
  );
}

/** The stage, with what the mission waits for when it waits. */
function stageLabel(mission: Mission): string {
  return mission.waitingFor === 'approval' ? `${mission.stage} (awaiting approval)` : mission.stage;
}

function missionReport(mission: MissionDetail, now: number): string {
  const fields: Array<[string, string]> = [
    ['project', mission.project],
    ['requester', mission.requester],
    ['stage', stageLabel(mission)],
    ['outcome', mission.outcome ?? '-'],
    ['risk', mission.risk],
    ['decision', mission.decision === null ? '-' : `${mission.decision.effect} (${mission.decision.reasons.map((reason) => `${reason.rule}: ${reason.message}`).join('; ')})`],
    ['created', `${formatTime(mission.createdAt)} (${formatAge(now - mission.createdAt)} ago)`],
    ['finished', formatTime(mission.finishedAt)],
    ['workflow', mission.workflowVersion],
  ];
  if (mission.cancelRequested) fields.push(['cancel', 'requested']);
  if (mission.escalation !== null) fields.push(['escalation', escalationText(mission.escalation)]);
  const width = Math.max(...fields.map(([name]) => name.length));
  const lines = [`Mission ${mission.id}: ${mission.title}`, ...fields.map(([name, value]) => `  ${name.padEnd(width)}  ${value}`)];

  lines.push('', 'Steps');
  lines.push(mission.steps.length === 0 ? '  (none recorded yet)' : renderTable(['STEP', 'TOOL', 'RISK', 'STATUS', 'ATTEMPTS', 'DURATION'], mission.steps.map(stepRow)));
  lines.push('', 'Stage history');
  lines.push(
    mission.history.length === 0
      ? '  (none)'
      : renderTable(['TIME', 'FROM → TO', 'REASON'], mission.history.map((transition) => [formatTime(transition.at), `${transition.from ?? '(new)'} → ${transition.to}`, transition.reason])),
  );
  return lines.join('\n');
}

/** The escalation reason, naming its step unless the reason already does. */
function escalationText({ reason, stepId }: Escalation): string {
  if (stepId === null) return reason;
  const named = new RegExp(`\\bstep ${stepId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w.-])`).test(reason);
  return named ? reason : `${reason} (step ${stepId})`;
}

function stepRow(step: MissionStep): string[] {
  const status = step.error === null ? step.status : `${step.status} (${step.error.code})`;
  return [step.phase === 'context' ? `context/${step.stepId}` : step.stepId, step.tool, step.risk, status, String(step.attempts), formatDuration(step.startedAt, step.finishedAt)];
}
