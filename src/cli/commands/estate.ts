import { resolve } from 'node:path';
import { Argument, type Command } from 'commander';
import { httpUrl, integerIn } from '../arguments.js';
import { globalOptions, type CliContext } from '../context.js';
import { formatTime, renderTable, toJson } from '../output.js';
import type * as EstateModule from '../../estate/index.js';

/** The estate directory when `--dir` is not given, relative to the working directory. */
const DEFAULT_DIR = '.interlock-estate';

/** The faults `inject` takes (the same list as src/estate/estate-layout.ts, kept here so `--help` loads nothing). */
const FAULTS = ['bad-release', 'memory-leak', 'pool-exhaustion', 'canary-regression', 'load-surge'] as const;

/** The estate's module, loaded on first use so `interlock --help` never loads pg or the estate. */
const estate = (): Promise<typeof EstateModule> => import('../../estate/index.js');

/** `<time> (<ms>)`: an instant as ISO 8601 and as ms since the epoch, as inject and heal print it. */
function stamp(at: number): string {
  return `${formatTime(at)} (${at})`;
}

/**
 * Registers `interlock estate up|down|status|inject|heal`: the reference estate (docs/estate.md), a
 * small real system of services, PostgreSQL, nginx, Prometheus and Alertmanager under supervisord,
 * with faults to inject for Interlock to detect, diagnose and fix. Every subcommand takes `--dir`
 * (default `./.interlock-estate`) and the global `--json`.
 */
export function registerEstateCommand(program: Command, ctx: CliContext): void {
  const command = program.command('estate').description('run the reference estate: real services to inject faults into (docs/estate.md)');
  const dirOf = (options: { dir?: string }): string => resolve(ctx.cwd, options.dir ?? DEFAULT_DIR);

  command
    .command('up')
    .description('start the estate (or report the one running in --dir) and wait until it is ready')
    .option('--dir <dir>', `estate directory (default: ./${DEFAULT_DIR})`)
    .option('--base-port <port>', 'take 11 consecutive ports from here (default: any free ports)', integerIn(1024, 65_524))
    .option('--watch-pid <pid>', 'stop the estate when this process ends (tests pass their own PID)', integerIn(1, 4_194_304))
    .option('--interlock-url <url>', 'Interlock\'s URL, where Alertmanager sends alerts (default: http://127.0.0.1:7411)', httpUrl)
    .option('--token-file <file>', 'file with the Interlock API token Alertmanager sends (Authorization: Bearer)')
    .option('--source-name <name>', 'the intake source Alertmanager notifies, POST /v1/signals/<name> (default: alertmanager)')
    .action(async (options: { dir?: string; basePort?: number; watchPid?: number; interlockUrl?: string; tokenFile?: string; sourceName?: string }, sub: Command) => {
      const { up } = await estate();
      const result = await up({
        dir: dirOf(options),
        ...(options.basePort === undefined ? {} : { basePort: options.basePort }),
        ...(options.watchPid === undefined ? {} : { watchPid: options.watchPid }),
        ...(options.interlockUrl === undefined ? {} : { interlockUrl: options.interlockUrl }),
        ...(options.tokenFile === undefined ? {} : { tokenFile: resolve(ctx.cwd, options.tokenFile) }),
        ...(options.sourceName === undefined ? {} : { sourceName: options.sourceName }),
        ...(ctx.env.PATH === undefined ? {} : { searchPath: ctx.env.PATH }),
        onProgress: (line) => ctx.io.err(`estate: ${line}`),
      });
      if (globalOptions(sub).json === true) {
        ctx.io.out(toJson({ alreadyRunning: result.alreadyRunning, durationMs: result.durationMs, state: result.state }));
        return;
      }
      const { state } = result;
      ctx.io.out(renderTable(['WHAT', 'WHERE'], [
        ['services (nginx)', `${state.urls.http}/{checkout,payments,catalog}/`],
        ['Prometheus', state.urls.prometheus],
        ['Alertmanager', `${state.urls.alertmanager} -> ${state.alertmanager.webhookUrl}`],
        ['supervisord', state.urls.supervisor],
        ['PostgreSQL', `127.0.0.1:${state.postgres.port}/${state.postgres.database}`],
        ['state', state.paths.stateFile],
        ['Interlock config', state.paths.interlockConfig],
      ]));
      ctx.io.out(result.alreadyRunning ? 'The estate was running already.' : `The estate is up (${(result.durationMs / 1000).toFixed(1)} s). Inject a fault with: interlock estate inject <fault> --dir ${state.dir}`);
    });

  command
    .command('down')
    .description('stop the estate; the directory stays unless --purge')
    .option('--dir <dir>', `estate directory (default: ./${DEFAULT_DIR})`)
    .option('--purge', 'also remove the directory (database, logs, releases)')
    .action(async (options: { dir?: string; purge?: boolean }, sub: Command) => {
      const { down } = await estate();
      const result = await down(dirOf(options), { purge: options.purge === true });
      if (globalOptions(sub).json === true) ctx.io.out(toJson(result));
      else ctx.io.out(`${result.stopped ? 'stopped' : 'was not running'}: ${result.dir}${result.purged ? ' (removed)' : ''}`);
    });

  command
    .command('status')
    .description('programs, Prometheus targets, alerts, releases, pools, load and weights')
    .option('--dir <dir>', `estate directory (default: ./${DEFAULT_DIR})`)
    .action(async (options: { dir?: string }, sub: Command) => {
      const { status } = await estate();
      const report = await status(dirOf(options));
      if (globalOptions(sub).json === true) {
        ctx.io.out(toJson(report));
        return;
      }
      ctx.io.out(`estate ${report.dir}: ${report.running ? `running (supervisord ${report.supervisordPid})` : 'not running'}`);
      if (report.running) {
        const health = new Map(report.targets.map((t) => [t.program, t.health]));
        ctx.io.out(renderTable(['PROGRAM', 'STATE', 'PID', 'UPTIME', 'TARGET'], report.programs.map((p) => [p.name, p.state, p.pid === null ? '' : String(p.pid), p.uptimeSeconds === null ? '' : `${p.uptimeSeconds}s`, health.get(p.name) ?? ''])));
      }
      ctx.io.out(renderTable(['SERVICE', 'RELEASE', 'POOL', 'LOAD', 'UPSTREAM', 'FAULT'], Object.keys(report.load).map((service) => [
        service,
        report.releases.filter((r) => r.track === service || r.track.startsWith(`${service}-`)).map((r) => `${r.track} ${r.current ?? '-'}${r.current === r.healthy ? '' : ` (healthy: ${r.healthy})`}`).join(', '),
        String(report.pools[service] ?? '-'),
        `${report.load[service]}/s`,
        (report.upstreams[service] ?? []).map((s) => `${s.address}=${s.weight === 0 ? 'down' : s.weight}`).join(' '),
        faultName(report.faults[service]),
      ])));
      ctx.io.out(report.alerts.length === 0 ? 'no alert firing or pending' : renderTable(['ALERT', 'SERVICE', 'STATE', 'SINCE'], report.alerts.map((a) => [a.alertname, a.service ?? '', a.state, a.activeAt ?? ''])));
      const last = report.injections.at(-1);
      if (last !== undefined) ctx.io.out(`last fault: ${last.fault} at ${stamp(last.at)}${report.healedAt !== null && report.healedAt > last.at ? `, healed at ${stamp(report.healedAt)}` : ''}`);
    });

  command
    .command('inject')
    .description('inject a fault into the running estate and print when it took effect')
    .addArgument(new Argument('<fault>', 'the fault').choices(FAULTS))
    .option('--dir <dir>', `estate directory (default: ./${DEFAULT_DIR})`)
    .action(async (fault: (typeof FAULTS)[number], options: { dir?: string }, sub: Command) => {
      const { inject } = await estate();
      const change = await inject(dirOf(options), fault);
      if (globalOptions(sub).json === true) ctx.io.out(toJson({ fault, ...change }));
      else for (const action of change.actions) ctx.io.out(`${stamp(change.at)} ${fault}: ${action}`);
    });

  command
    .command('heal')
    .description('put the estate back to its healthy, seeded state')
    .option('--dir <dir>', `estate directory (default: ./${DEFAULT_DIR})`)
    .action(async (options: { dir?: string }, sub: Command) => {
      const { heal } = await estate();
      const change = await heal(dirOf(options));
      if (globalOptions(sub).json === true) ctx.io.out(toJson(change));
      else if (change.actions.length === 0) ctx.io.out(`${stamp(change.at)} healthy already; nothing to do`);
      else for (const action of change.actions) ctx.io.out(`${stamp(change.at)} heal: ${action}`);
    });
}

/** The `fault` of a fault file as status shows it: its name, `yes` when it has none, '' when there is no file. */
function faultName(fault: unknown): string {
  if (fault === undefined) return '';
  const name: unknown = typeof fault === 'object' && fault !== null && 'fault' in fault ? fault.fault : undefined;
  return typeof name === 'string' ? name : 'yes';
}
