import { Option, type Command } from 'commander';
import type { EstateDemoReport } from '../../server/estate-demo-types.js';
import { ESTATE_FAULTS, type EstateFault } from '../../estate/estate-layout.js';
import { CliError, configFor, globalOptions, type CliContext } from '../context.js';
import { formatTime, renderTable, toJson } from '../output.js';

function seconds(from: number | null, to: number | null): string {
  return from === null || to === null ? '-' : `${((to - from) / 1000).toFixed(1)} s`;
}

/** The closing table of the estate demo: one row per fault. */
function estateTable(report: EstateDemoReport): string {
  return renderTable(
    ['FAULT', 'DETECTED', 'TOP HYPOTHESIS', 'RUNBOOK', 'DECISION', 'APPROVAL', 'ACTION', 'VERIFIED', 'MTTR', 'OUTCOME'],
    report.rows.map((row) => [
      row.fault,
      row.detectedAt === null ? '-' : `${formatTime(row.detectedAt)} (+${seconds(row.injectedAt, row.detectedAt)})`,
      row.hypothesis === null ? '-' : `${row.hypothesis.kind} ${row.hypothesis.service ?? ''} ${row.hypothesis.confidence.toFixed(2)}`,
      row.runbook ?? '-',
      row.decision ?? '-',
      row.approval,
      row.action ?? '-',
      row.verifiedAt === null ? '-' : `${formatTime(row.verifiedAt)}`,
      row.mttrMs === null ? '-' : `${(row.mttrMs / 1000).toFixed(1)} s`,
      `${row.outcome}${row.ok ? '' : ` (expected ${row.expected})`}`,
    ]),
  );
}

/**
 * Registers `interlock demo`: the governed loop on the reference estate (Prometheus, Alertmanager,
 * nginx, supervisord, PostgreSQL and three services; docs/estate.md), five faults one after another,
 * with live progress and a closing table; `--files` runs the small demo on a directory of files that
 * needs nothing installed. In a terminal it asks you to approve; otherwise a scripted second identity
 * decides. Exits 1 when a fault (or mission) did not end as expected, or when a program the estate
 * needs is missing (saying what to install).
 */
export function registerDemoCommand(program: Command, ctx: CliContext): void {
  program
    .command('demo')
    .description('run the governed loop on the reference estate: five faults detected, diagnosed, fixed under policy and verified')
    .option('--files', 'run the small demo on a directory of files instead (nothing to install)')
    .addOption(new Option('--faults <list>', `comma-separated faults to inject, in order (${ESTATE_FAULTS.join(', ')})`))
    .option('--keep-estate', 'leave the estate running at the end (stop it with `interlock estate down`)')
    .addOption(new Option('--reasoner <reasoner>', "the resolution agent's reasoner: builtin (the runbooks) or scripted-llm (the LLM path against a local scripted model)").choices(['builtin', 'scripted-llm']).default('builtin'))
    .action(async (options: { files?: boolean; faults?: string; keepEstate?: boolean; reasoner?: 'builtin' | 'scripted-llm' }, command: Command) => {
      const json = globalOptions(command).json === true;
      const out = (line: string): void => { if (!json) ctx.io.out(line); };
      const confirm = ctx.confirm === undefined || json ? {} : { confirm: ctx.confirm };
      if (options.files === true) {
        const report = await ctx.deps.demo({ config: configFor(ctx, command), out, ...confirm });
        if (json) ctx.io.out(toJson(report));
        else {
          ctx.io.out('');
          ctx.io.out(renderTable(
            ['MISSION', 'DECISION', 'APPROVAL', 'STEPS', 'VERIFIED', 'OUTCOME', 'TIME', 'EXPECTED'],
            report.rows.map((r) => [r.mission, r.decision, r.approval, r.steps, r.verified, r.outcome, `${(r.durationMs / 1000).toFixed(1)} s`, `${r.expected}${r.ok ? '' : ' (MISMATCH)'}`]),
          ));
        }
        if (!report.ok) throw new CliError('a demo mission did not end as expected; see the table');
        return;
      }
      const faults = options.faults?.split(',').map((fault) => fault.trim()).filter((fault) => fault !== '');
      const unknown = faults?.filter((fault) => !(ESTATE_FAULTS as readonly string[]).includes(fault)) ?? [];
      if (unknown.length > 0) throw new CliError(`unknown fault(s) ${unknown.join(', ')}; choose from ${ESTATE_FAULTS.join(', ')}`, 2);
      const report = await ctx.deps.estateDemo({
        config: configFor(ctx, command), out, ...confirm,
        ...(faults === undefined ? {} : { faults: faults as EstateFault[] }),
        ...(options.keepEstate === true ? { keepEstate: true } : {}),
        ...(options.reasoner === 'scripted-llm' ? { reasoner: 'scripted-llm' as const } : {}),
      });
      if (report.missing !== undefined) throw new CliError(`${report.missing}\n(or run \`interlock demo --files\`, which needs nothing installed)`);
      if (json) ctx.io.out(toJson(report));
      else {
        ctx.io.out('');
        ctx.io.out(estateTable(report));
        if (report.audit !== null) ctx.io.out(report.audit.ok ? `audit verify: intact, ${report.audit.size} entries, ${report.audit.checkpoints} checkpoint(s)` : `audit verify: TAMPERED at entry ${report.audit.firstBadIndex}`);
      }
      if (!report.ok) throw new CliError('a fault did not end as expected; see the table');
    });
}
