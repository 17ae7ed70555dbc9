import { InvalidArgumentError, type Command } from 'commander';
import { apiFor, withApiOptions } from '../api.js';
import { durationMs } from '../arguments.js';
import { globalOptions, type CliContext } from '../context.js';
import type { AgentView, TrackRecordView } from '../deps.js';
import { formatTime, renderTable, toJson, truncate } from '../output.js';

/** `--since`: a duration back from now (`90m`, `12h`, `30d`), passed as is, or an ISO 8601 date-time, passed normalised. */
function sinceArgument(value: string): string {
  if (/^\d{1,6}[mhd]$/.test(value.trim())) {
    durationMs(value);
    return value.trim();
  }
  const at = Date.parse(value);
  if (Number.isNaN(at) || !/^\d{4}-\d{2}-\d{2}/.test(value.trim())) throw new InvalidArgumentError('expected a duration such as 30d, or an ISO 8601 date-time such as 2026-03-01T00:00:00Z');
  return new Date(at).toISOString();
}

function agentsTable(agents: readonly AgentView[]): string {
  return renderTable(['name', 'role', 'project', 'reasoner', 'ceiling', 'owner', 'tools', 'hands off to'], agents.map((agent) => [
    agent.name, agent.role, agent.project, agent.reasoner, agent.autonomyCeiling, agent.owner, truncate(agent.tools.join(', ') || '-', 40), agent.handsOffTo.join(', ') || '-',
  ]));
}

function rate(value: number | null): string {
  return value === null ? '-' : `${(value * 100).toFixed(0)}%`;
}

const FIGURES = ['proposals', 'approved', 'denied', 'corrections', 'verified', 'failed verif.', 'escalations', 'shadowed', 'success'];

function figureCells(r: TrackRecordView['agents'][number] | TrackRecordView['runbooks'][number]): string[] {
  return [r.proposals, r.approved, r.denied, r.corrections, r.verifiedSuccesses, r.failedVerifications, r.escalations, r.shadowed].map(String).concat(rate(r.successRate));
}

/** The track record as text: one table of agents, one of runbooks, each row with its suggestion. */
function statsText(record: TrackRecordView): string {
  const lines = [`track record of missions created from ${formatTime(record.since)} to ${formatTime(record.until)} (suggestions only: nothing changes until an owner edits the agent or the autonomy rules)`, ''];
  lines.push(record.agents.length === 0
    ? 'agents: no missions proposed by an agent'
    : `agents:\n${renderTable(['agent', 'ceiling', ...FIGURES, 'suggestion'], record.agents.map((a) => [a.agent, a.autonomyCeiling ?? '-', ...figureCells(a), a.suggestion.text]))}`);
  lines.push('', record.runbooks.length === 0
    ? 'runbooks: no missions planned by a runbook'
    : `runbooks:\n${renderTable(['runbook', 'versions', ...FIGURES, 'suggestion'], record.runbooks.map((r) => [r.runbook, r.versions.join(', ') || '-', ...figureCells(r), r.suggestion.text]))}`);
  return lines.join('\n');
}

/**
 * Registers `interlock agents list|stats`: the agents loaded from `agents.dir`, and the track record
 * of agents and runbooks (proposals, approvals, corrections, verified successes, failed
 * verifications, success rate and a suggested autonomy level with its evidence), through a running
 * server's HTTP API (`--url`, `--token` or `INTERLOCK_TOKEN`). See docs/agents.md, "Track record".
 */
export function registerAgentsCommand(program: Command, ctx: CliContext): void {
  const agents = withApiOptions(program.command('agents').description("list agents and their track record through a running server's HTTP API"));
  agents
    .command('list')
    .description('list the agents loaded from agents.dir')
    .option('--project <project>', 'only agents of this project')
    .action(async (options: { project?: string }, command: Command) => {
      const listed = await apiFor(ctx, command).listAgents(options);
      if (globalOptions(command).json === true) {
        ctx.io.out(toJson(listed));
        return;
      }
      ctx.io.out(listed.length === 0 ? 'no agents (set agents.dir in the configuration)' : agentsTable(listed));
    });
  agents
    .command('stats')
    .description('the track record per agent and per runbook, with a suggested autonomy level (never applied automatically)')
    .option('--since <duration|ISO>', 'missions created since: a duration back from now (90m, 12h, 30d) or an ISO 8601 date-time (default 30d)', sinceArgument)
    .option('--project <project>', 'only missions of this project')
    .option('--json', 'print JSON for scripts instead of tables')
    .action(async (options: { since?: string; project?: string; json?: boolean }, command: Command) => {
      const record = await apiFor(ctx, command).agentStats({ ...(options.since === undefined ? {} : { since: options.since }), ...(options.project === undefined ? {} : { project: options.project }) });
      ctx.io.out(options.json === true || globalOptions(command).json === true ? toJson(record) : statsText(record));
    });
}
