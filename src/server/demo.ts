// `interlock demo`: the governed loop on a small local estate of configuration files, with embedded
// PostgreSQL and nothing else to install. Three missions show the paths a reviewer cares about: an
// approved change that is executed and verified, a change whose third step fails and is compensated
// (saga) and escalated, and a change a reviewer rejects. (The full reference estate with Prometheus,
// nginx and supervisord comes with issue #6.)
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { InterlockConfig } from '../config/index.js';
import type { ApprovalRequest } from '../core/approvals/approval.js';
import type { MissionDetail } from '../core/missions/mission.js';
import { createLogger, startInterlock } from './main.js';

/** How the demo talks to the person running it. */
export interface DemoOptions {
  readonly config: InterlockConfig;
  /** Writes one line of progress. */
  readonly out: (line: string) => void;
  /**
   * Asks the person at the terminal to approve as a reviewer; absent when not interactive, in which
   * case a scripted second identity (`demo-reviewer`) decides.
   */
  readonly confirm?: (question: string) => Promise<boolean>;
}

/** One row of the demo's closing table. */
export interface DemoRow {
  readonly mission: string;
  readonly decision: string;
  readonly approval: string;
  readonly outcome: string;
  readonly steps: string;
  readonly verified: string;
  /** Wall time from request to the end of the mission, ms. */
  readonly durationMs: number;
  /** What the demo expected, and whether it happened. */
  readonly expected: string;
  readonly ok: boolean;
}

/** The demo's closing table: one row per mission, whether every mission ended as expected, and the audit check. */
export interface DemoReport {
  readonly ok: boolean;
  readonly rows: readonly DemoRow[];
  /** `interlock audit verify` of the log the demo wrote, after a fresh checkpoint. */
  readonly audit: { readonly ok: true; readonly size: number; readonly checkpoints: number } | { readonly ok: false; readonly firstBadIndex: number; readonly reason: string };
}

interface Scenario {
  readonly title: string;
  readonly expected: 'resolved' | 'escalated' | 'denied';
  readonly approve: boolean;
  readonly request: Record<string, unknown>;
}

/** The demo's reviewer: an approver principal, a different identity from the requesting agents. */
const REVIEWER = 'demo-reviewer';

const POOL_BEFORE = 'service: checkout\npool:\n  max: 10\n';
const POOL_AFTER = 'service: checkout\npool:\n  max: 20\n';

/**
 * Runs the demo: starts Interlock (embedded PostgreSQL unless `DATABASE_URL` is set) with the files
 * connector on `<dataDir>/demo-estate`, runs the three missions with live progress, and returns the
 * closing table. `ok` is false when any mission did not end as expected.
 */
export async function runDemo(options: DemoOptions): Promise<DemoReport> {
  const { out } = options;
  const estate = join(options.config.dataDir, 'demo-estate');
  await rm(estate, { recursive: true, force: true });
  await mkdir(join(estate, 'checkout'), { recursive: true });
  await writeFile(join(estate, 'checkout/pool.yaml'), POOL_BEFORE);
  await mkdir(join(estate, 'payments/release.yaml'), { recursive: true }); // a directory where a file must go: step 3 will fail

  const config: InterlockConfig = {
    ...options.config,
    server: { ...options.config.server, port: 0 },
    // Every write needs a reviewer in the demo, so the approval path is visible.
    review: { defaults: { ...options.config.review.defaults, 'write-low': 'require_approval' } },
    connectors: { ...options.config.connectors, files: { enabled: true, root: estate } },
    engine: { ...options.config.engine, workerId: options.config.engine.workerId ?? 'demo' },
  };
  out(`Starting Interlock (${config.database.url === undefined ? `embedded PostgreSQL in ${config.database.embedded.dataDir}` : 'PostgreSQL from DATABASE_URL'}) ...`);
  const started = Date.now();
  const running = await startInterlock({
    config,
    logger: createLogger({ ...config, log: { level: 'warn' } }, 'stderr'),
    observer: { stageTransition: (id, to) => out(`  [${id.slice(0, 8)}] → ${to}`) },
  });
  out(`Interlock is serving at ${running.url} (ready in ${Date.now() - started} ms); estate: ${estate}`);
  // The reviewer is a second identity, an approver principal; the missions' requesters are agents.
  const reviewer = (await running.identity.findPrincipal(REVIEWER)) ?? (await running.identity.createPrincipal({ name: REVIEWER, kind: 'human', groups: [], roles: { '*': ['approver'] } }, Date.now()));

  const scenarios: Scenario[] = [
    {
      title: 'Raise the checkout connection pool from 10 to 20',
      expected: 'resolved',
      approve: true,
      request: {
        requester: 'triage-agent',
        context: [{ tool: 'files.read', args: { path: 'checkout/pool.yaml' } }],
        steps: [{ tool: 'files.write', args: { path: 'checkout/pool.yaml', content: POOL_AFTER } }],
      },
    },
    {
      title: 'Release payments 2.4 (its third step fails)',
      expected: 'escalated',
      approve: true,
      request: {
        requester: 'release-agent',
        steps: [
          { tool: 'files.write', args: { path: 'payments/feature-flags.yaml', content: 'new_checkout_flow: true\n' } },
          { tool: 'files.write', args: { path: 'payments/version.txt', content: '2.4.0\n' } },
          { tool: 'files.write', args: { path: 'payments/release.yaml', content: 'version: 2.4.0\n' } },
        ],
      },
    },
    {
      title: 'Delete the checkout pool configuration',
      expected: 'denied',
      approve: false,
      request: { requester: 'cleanup-agent', steps: [{ tool: 'files.delete', args: { path: 'checkout/pool.yaml' } }] },
    },
  ];

  const rows: DemoRow[] = [];
  let audit: DemoReport['audit'] | undefined;
  try {
    for (const scenario of scenarios) {
      out('');
      out(`Mission: ${scenario.title}`);
      const t0 = Date.now();
      const { mission } = await running.engine.create({ title: scenario.title, ...scenario.request });
      let current = await waitFor(running.engine.get.bind(running.engine), mission.id, (m) => m.outcome !== null || m.waitingFor === 'approval');
      let approval = 'not required';
      if (current.waitingFor === 'approval') {
        const reasons = current.decision?.reasons.map((r) => r.message).join('; ') ?? '';
        out(`  review: approval required (${reasons})`);
        for (const step of current.steps.filter((s) => s.phase === 'plan')) out(`    ${step.stepId} ${step.tool} ${JSON.stringify(step.args)} [${step.risk}]`);
        const approved = options.confirm === undefined ? scenario.approve : await options.confirm(`  Approve "${scenario.title}" as ${REVIEWER}? [y/N] `);
        out(`  ${approved ? 'approved' : 'rejected'} by ${REVIEWER}${options.confirm === undefined ? ' (a scripted second identity; run in a terminal to decide yourself)' : ' (your decision at the terminal)'}`);
        // The mission shows `waitingFor: approval` as it enters the wait; its request (and that request's
        // audit entry) is stored a moment later, in the next step.
        let request: ApprovalRequest | undefined;
        for (const deadline = Date.now() + 30_000; request === undefined && Date.now() < deadline; ) {
          [request] = await running.approvals.list({ missionId: mission.id, status: 'pending' });
          if (request === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
        }
        if (request === undefined) throw new Error(`mission ${mission.id} waits for approval but no pending approval request appeared within 30 s`);
        await running.approvals.vote(request.id, reviewer, { decision: approved ? 'approve' : 'deny', actionHash: request.actionHash });
        approval = `${approved ? 'approved' : 'rejected'} by ${REVIEWER}`;
        current = await waitFor(running.engine.get.bind(running.engine), mission.id, (m) => m.outcome !== null);
      }
      const durationMs = Date.now() - t0;
      out(`  outcome: ${current.outcome}${current.escalation === null ? '' : ` (${current.escalation.reason})`}`);
      rows.push(row(current, approval, durationMs, options.confirm === undefined ? scenario.expected : undefined));
    }
    const restored = await readFile(join(estate, 'payments/version.txt'), 'utf8').then(() => 'still there', () => 'restored (absent again)');
    out('');
    out(`After the failed release, payments/version.txt is ${restored}; checkout/pool.yaml reads max ${/max: (\d+)/.exec(await readFile(join(estate, 'checkout/pool.yaml'), 'utf8'))?.[1] ?? '?'}.`);
    // Everything above is on the audit record: sign a checkpoint and verify the whole log, as an auditor would.
    await running.audit.checkpoint();
    audit = await running.audit.verify(undefined);
    out(audit.ok
      ? `Audit log intact: ${audit.size} entries, ${audit.checkpoints} signed checkpoint(s) verified (interlock audit verify).`
      : `Audit log TAMPERED at entry ${audit.firstBadIndex}: ${audit.reason}`);
  } finally {
    await running.stop();
  }
  return { ok: rows.every((r) => r.ok) && audit?.ok === true, rows, audit: audit ?? { ok: false, firstBadIndex: 0, reason: 'the demo stopped before the audit log was verified' } };
}

function row(mission: MissionDetail, approval: string, durationMs: number, expected: string | undefined): DemoRow {
  const plan = mission.steps.filter((s) => s.phase === 'plan');
  const verified = mission.history.find((t) => t.to === 'close');
  return {
    mission: mission.title,
    decision: mission.decision?.reasons[0]?.effect ?? 'none',
    approval,
    outcome: mission.outcome ?? 'running',
    steps: plan.map((s) => `${s.stepId}:${s.status}`).join(' '),
    verified: mission.outcome === 'resolved' && verified !== undefined ? `${verified.at - mission.createdAt} ms after request` : '-',
    durationMs,
    expected: expected ?? 'your decision',
    ok: expected === undefined || mission.outcome === expected,
  };
}

async function waitFor(get: (id: string) => Promise<MissionDetail>, id: string, until: (m: MissionDetail) => boolean, timeoutMs = 60_000): Promise<MissionDetail> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const mission = await get(id);
    if (until(mission)) return mission;
    if (Date.now() > deadline) throw new Error(`mission ${id} is still in stage ${mission.stage} after ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
