// MTTR on the reference estate (issue #6): for each of the five faults, the time from injection to
// verified recovery and its parts (alert delivery, diagnosis, decision, action, verification), beside
// the floor the set-up imposes, measured in the same run: the alert rule's `for` plus one scrape and
// one evaluation interval (detection), the diagnosis settle time, and the runbook's verification
// windows. Needs the estate's Debian packages; writes a section saying so when they are missing.
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import getPort from 'get-port';
import { parse } from 'yaml';
import { createApiClient } from '../src/cli/api-client.js';
import { FAULT_EXPECTATIONS, followFault, type FaultTimeline } from '../src/estate/closed-loop.js';
import { down, findEstateBinaries, heal, inject, status, up } from '../src/estate/estate.js';
import { ESTATE_FAULTS } from '../src/estate/estate-layout.js';
import { DIAGNOSIS_SETTLE_MS, ESTATE_RUNBOOKS_DIR, ESTATE_WARM_UP_MS } from '../src/estate/managed-config.js';
import { DEMO_REVIEWER, startEstateInterlock } from '../src/server/estate-demo.js';
import { createTestDatabase } from '../test/support/postgres.js';
import type { Benchmark, BenchmarkReport, Progress } from './support/benchmark.js';
import { formatNumber, markdownTable, REPO_ROOT } from './support/report.js';

const PARAMETERS = {
  faults: ESTATE_FAULTS,
  /** Rounds of all five faults. */
  rounds: 1,
  /** Prometheus' scrape and rule evaluation interval in the estate, ms. */
  scrapeIntervalMs: 1000,
  evaluationIntervalMs: 1000,
  diagnosisSettleMs: DIAGNOSIS_SETTLE_MS,
} as const;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function durationMs(text: string): number {
  const match = /^(\d+)(ms|s|m)$/.exec(text.trim());
  if (match === null) throw new Error(`not a duration: ${text}`);
  return Number(match[1]) * ({ ms: 1, s: 1000, m: 60_000 } as const)[match[2] as 'ms' | 's' | 'm'];
}

/** `for` of each alert rule of the estate, ms. */
async function alertFor(): Promise<Map<string, number>> {
  const rules = parse(await readFile(join(REPO_ROOT, 'examples/estate/alert-rules.yml'), 'utf8')) as { groups: Array<{ rules: Array<{ alert?: string; for?: string }> }> };
  return new Map(rules.groups.flatMap((group) => group.rules).filter((rule) => rule.alert !== undefined).map((rule) => [rule.alert!, rule.for === undefined ? 0 : durationMs(rule.for)]));
}

/** The sum of the windows of a runbook's verifications (they run one after another), ms. */
async function verificationFloor(runbook: string): Promise<number> {
  const document = parse(await readFile(join(ESTATE_RUNBOOKS_DIR, `${runbook}.yaml`), 'utf8')) as { spec: { verify: Array<{ windowMs?: number }> } };
  return document.spec.verify.reduce((sum, check) => sum + (check.windowMs ?? 0), 0);
}

interface Row {
  readonly fault: string;
  readonly round: number;
  readonly outcome: string;
  readonly mttrMs: number | null;
  readonly parts: { readonly detectionMs: number | null; readonly diagnosisMs: number | null; readonly decisionMs: number | null; readonly actionMs: number | null; readonly verificationMs: number | null };
  readonly floorMs: number;
  readonly floorParts: { readonly detectionMs: number; readonly settleMs: number; readonly verificationMs: number };
}

function parts(t: FaultTimeline): Row['parts'] {
  const span = (from: number | null, to: number | null): number | null => (from === null || to === null ? null : to - from);
  return {
    detectionMs: span(t.injectedAt, t.detectedAt),
    diagnosisMs: span(t.detectedAt, t.diagnosedAt),
    decisionMs: span(t.diagnosedAt, t.decidedAt),
    actionMs: span(t.decidedAt, t.actedAt),
    verificationMs: span(t.actedAt, t.verifiedAt),
  };
}

async function run(progress: Progress): Promise<BenchmarkReport> {
  try {
    findEstateBinaries();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    progress(reason);
    return { parameters: PARAMETERS, figures: { skipped: reason }, ratios: {}, markdown: `Not measured on this machine: ${reason}\n` };
  }
  const database = await createTestDatabase('bench_mttr');
  const dataDir = await mkdtemp(join(tmpdir(), 'interlock-mttr-'));
  // The estate's PostgreSQL runs as user postgres when run as root: it must reach the directory.
  await chmod(dataDir, 0o755);
  const dir = join(dataDir, 'estate');
  const forByAlert = await alertFor();
  const rows: Row[] = [];
  let running: Awaited<ReturnType<typeof startEstateInterlock>>['running'] | undefined;
  try {
    const port = await getPort({ host: '127.0.0.1' });
    const tokenFile = join(dataDir, 'alertmanager.token');
    await writeFile(tokenFile, 'not-yet\n', { mode: 0o600 });
    progress('starting the estate');
    const estate = await up({ dir, watchPid: process.pid, interlockUrl: `http://127.0.0.1:${port}`, tokenFile });
    const started = await startEstateInterlock({ state: estate.state, dataDir, port, tokenFile, env: { ...process.env, DATABASE_URL: database.url } });
    running = started.running;
    const api = createApiClient({ baseUrl: running.url, token: started.reviewerToken, timeoutMs: 30_000 });
    await sleep(Math.max(0, (estate.state.startedAt ?? Date.now()) + ESTATE_WARM_UP_MS - Date.now()));
    for (let round = 1; round <= PARAMETERS.rounds; round++) {
      for (const fault of PARAMETERS.faults) {
        while ((await status(dir)).alerts.length > 0) await sleep(1000);
        const expected = FAULT_EXPECTATIONS[fault];
        const injected = await inject(dir, fault);
        const timeline = await followFault({
          api, fault, service: expected.service, alert: expected.alert, injectedAt: injected.at, timeoutMs: 300_000,
          decide: async (approval) => {
            await api.vote(approval.id, 'approve', { actionHash: approval.actionHash, comment: 'MTTR benchmark' });
            return { approved: true, by: DEMO_REVIEWER };
          },
        });
        await heal(dir);
        const floorParts = { detectionMs: (forByAlert.get(expected.alert) ?? 0) + PARAMETERS.scrapeIntervalMs + PARAMETERS.evaluationIntervalMs, settleMs: DIAGNOSIS_SETTLE_MS, verificationMs: await verificationFloor(expected.runbook) };
        const row: Row = { fault, round, outcome: timeline.outcome, mttrMs: timeline.mttrMs, parts: parts(timeline), floorMs: floorParts.detectionMs + floorParts.settleMs + floorParts.verificationMs, floorParts };
        rows.push(row);
        progress(`${fault}: ${row.outcome}, MTTR ${row.mttrMs === null ? '-' : `${(row.mttrMs / 1000).toFixed(1)} s`} (floor ${(row.floorMs / 1000).toFixed(1)} s)`);
      }
    }
  } finally {
    await running?.stop();
    await down(dir).catch(() => undefined);
    await database.drop();
    await rm(dataDir, { recursive: true, force: true });
  }
  const s = (ms: number | null): string => (ms === null ? '-' : `${formatNumber(ms / 1000, 1)} s`);
  const ratios = Object.fromEntries(rows.filter((row) => row.mttrMs !== null).map((row) => [`${row.fault}.${row.round}.mttrOverFloor`, Math.round((row.mttrMs! / row.floorMs) * 100) / 100]));
  const markdown = [
    `MTTR from injection to verified recovery on the reference estate, ${PARAMETERS.rounds} round(s) of the five faults, one after another; the floor is what the set-up imposes: the alert's \`for\` plus one scrape (${PARAMETERS.scrapeIntervalMs / 1000} s) and one rule evaluation (${PARAMETERS.evaluationIntervalMs / 1000} s), the diagnosis settle time (${DIAGNOSIS_SETTLE_MS / 1000} s) and the runbook's verification windows. The approval of the checkout rollback is given by a script as soon as it is asked for.`,
    '',
    markdownTable(
      ['fault', 'outcome', 'MTTR', 'alert delivery', 'diagnosis', 'decision', 'action', 'verification', 'floor (detection + settle + verification)', 'MTTR / floor'],
      rows.map((row) => [
        row.fault, row.outcome, s(row.mttrMs), s(row.parts.detectionMs), s(row.parts.diagnosisMs), s(row.parts.decisionMs), s(row.parts.actionMs), s(row.parts.verificationMs),
        `${s(row.floorMs)} (${s(row.floorParts.detectionMs)} + ${s(row.floorParts.settleMs)} + ${s(row.floorParts.verificationMs)})`,
        row.mttrMs === null ? '-' : `${formatNumber(row.mttrMs / row.floorMs, 2)}×`,
      ]),
    ),
    '',
  ].join('\n');
  return { parameters: PARAMETERS, figures: { rows }, ratios, markdown };
}

export const benchmark: Benchmark = { name: 'mttr', run };
