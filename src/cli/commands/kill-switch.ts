import type { Command } from 'commander';
import { apiFor, withApiOptions } from '../api.js';
import { globalOptions, type CliContext } from '../context.js';
import type { KillSwitchView } from '../deps.js';
import { formatTime, renderTable, toJson } from '../output.js';

/**
 * Registers `interlock kill-switch engage|release|list`, through a running server's HTTP API (admin
 * role): while a switch is engaged no new write step starts in its scope (`global`,
 * `project:<name>`, `agent:<name>`), and running missions park before their next write.
 */
export function registerKillSwitchCommand(program: Command, ctx: CliContext): void {
  const killSwitch = withApiOptions(program.command('kill-switch').description('stop and resume writes: global, per project or per agent (admin)'));

  killSwitch
    .command('engage')
    .description('stop new write steps in a scope at once; running missions park before their next write')
    .argument('<scope>', 'global, project:<name> or agent:<name>')
    .requiredOption('--reason <text>', 'why, for the people who will release it')
    .action(async (scope: string, options: { reason: string }, command: Command) => {
      const engaged = await apiFor(ctx, command).engageKillSwitch(scope, options.reason);
      ctx.io.out(globalOptions(command).json === true ? toJson(engaged) : `kill switch ${engaged.scope} engaged by ${engaged.engagedBy ?? '?'}: ${engaged.reason}`);
    });

  killSwitch
    .command('release')
    .description('release a scope; parked missions review their remaining steps again and continue if still allowed')
    .argument('<scope>', 'global, project:<name> or agent:<name>')
    .action(async (scope: string, _options: unknown, command: Command) => {
      const released = await apiFor(ctx, command).releaseKillSwitch(scope);
      if (globalOptions(command).json === true) ctx.io.out(toJson(released));
      else ctx.io.out(released === null ? `kill switch ${scope} was not engaged` : `kill switch ${released.scope} released by ${released.releasedBy ?? '?'}`);
    });

  killSwitch
    .command('list')
    .description('list kill switches and their state')
    .action(async (_options: unknown, command: Command) => {
      const switches = await apiFor(ctx, command).listKillSwitches();
      if (globalOptions(command).json === true) ctx.io.out(toJson(switches));
      else ctx.io.out(switches.length === 0 ? 'no kill switch was ever engaged' : renderTable(['SCOPE', 'STATE', 'REASON', 'BY', 'SINCE'], switches.map(row)));
    });
}

function row(s: KillSwitchView): string[] {
  return s.engaged
    ? [s.scope, 'ENGAGED', s.reason, s.engagedBy ?? '', formatTime(s.engagedAt)]
    : [s.scope, 'released', s.reason, s.releasedBy ?? '', formatTime(s.releasedAt)];
}
