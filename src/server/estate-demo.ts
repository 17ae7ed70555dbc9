// `interlock demo`: Interlock's main job on the reference estate. It starts the estate (real
// Prometheus, Alertmanager, nginx, supervisord, PostgreSQL and Node services) and Interlock (embedded
// PostgreSQL unless DATABASE_URL is set), injects the five faults one after another and follows each
// through the governed loop (alert, diagnosis, runbook, review and approval, execution, verification,
// close or escalate) with live progress, then prints a table per fault and verifies the audit log.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import getPort from 'get-port';
import { stringify } from 'yaml';
import { createApiClient } from '../cli/api-client.js';
import { loadConfig, type InterlockConfig } from '../config/index.js';
import { isInterlockError } from '../core/errors.js';
import { FAULT_EXPECTATIONS, followFault } from '../estate/closed-loop.js';
import { down, estateInterlockEnv, findEstateBinaries, heal, inject, status, up } from '../estate/estate.js';
import type { EstateFault } from '../estate/estate-layout.js';
import { DIAGNOSIS_WINDOW_MS, ESTATE_AGENTS_DIR, ESTATE_RUNBOOKS_DIR, ESTATE_WARM_UP_MS, managedEstateConfig } from '../estate/managed-config.js';
import { SCRIPTED_MODEL_ID, startScriptedEstateModel, type ScriptedEstateModel } from '../estate/scripted-model.js';
import { loadYamlDirectory } from '../connectors/shared/yaml-directory.js';
import { RunbookSchema } from '../core/runbooks/runbook.js';
import type { EstateDemoOptions, EstateDemoReport, EstateDemoRow } from './estate-demo-types.js';
import { createLogger, startInterlock, type RunningInterlock } from './main.js';
import { ensureAgentPrincipals } from '../agents/runtime.js';

export type { EstateDemoOptions, EstateDemoReport, EstateDemoRow } from './estate-demo-types.js';

/**
 * The order the demo injects the faults in: the canary last, longest after the rollback restarted
 * checkout's own process (a young process's heap grows as it warms up, which the diagnosis must not
 * take for the canary's problem).
 */
const DEMO_FAULT_ORDER: readonly EstateFault[] = ['bad-release', 'memory-leak', 'pool-exhaustion', 'load-surge', 'canary-regression'];

/** The demo's reviewer: an approver principal, another identity than the runbooks that request. */
export const DEMO_REVIEWER = 'demo-reviewer';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until the estate's Prometheus has no alert pending or firing (after a heal), at most `timeoutMs`. */
async function quiet(dir: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { alerts } = await status(dir);
    if (alerts.length === 0) return true;
    if (Date.now() > deadline) return false;
    await sleep(1000);
  }
}

/**
 * Starts Interlock for the estate: writes the managed configuration to `<dataDir>/estate-interlock.yaml`,
 * loads it with the estate's secrets in the environment, starts the server on `port`, and creates the
 * principals: `alertmanager` (sender; its token goes to `tokenFile` for Alertmanager) and the reviewer
 * (approver). Returns the server and the reviewer's token.
 */
export async function startEstateInterlock(options: {
  readonly state: Awaited<ReturnType<typeof up>>['state'];
  readonly dataDir: string;
  readonly port: number;
  readonly tokenFile: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly poolSizeRaised?: number;
  readonly policyDir?: string;
  /** A scripted model for the resolution agent (the LLM path); none: the built-in reasoner. */
  readonly scriptedModel?: { readonly baseUrl: string };
}): Promise<{ running: RunningInterlock; reviewerToken: string; config: InterlockConfig; configFile: string }> {
  const url = `http://127.0.0.1:${options.port}`;
  let llm: Pick<Parameters<typeof managedEstateConfig>[1], 'agentsDir' | 'llm'> = {};
  if (options.scriptedModel !== undefined) {
    // The estate's agents, with the resolution agent reasoning through the LLM path.
    const agentsDir = join(options.dataDir, 'agents');
    await mkdir(agentsDir, { recursive: true });
    const text = await readFile(join(ESTATE_AGENTS_DIR, 'agents.yaml'), 'utf8');
    await writeFile(join(agentsDir, 'agents.yaml'), text.replace('reasoner: builtin', `reasoner: llm:scripted/${SCRIPTED_MODEL_ID}`));
    llm = { agentsDir, llm: { providers: { scripted: { type: 'openai-compatible', baseUrl: options.scriptedModel.baseUrl, timeoutMs: 30_000 } } } };
  }
  const raw = managedEstateConfig(options.state, { url, dataDir: options.dataDir, ...llm, ...(options.poolSizeRaised === undefined ? {} : { poolSizeRaised: options.poolSizeRaised }), ...(options.policyDir === undefined ? {} : { policyDir: options.policyDir }) });
  const configFile = join(options.dataDir, 'estate-interlock.yaml');
  await writeFile(configFile, `# Written by interlock demo for the estate in ${options.state.dir}\n${stringify(raw)}`);
  const env = { ...(options.env ?? process.env), ...(await estateInterlockEnv(options.state)) };
  const config = loadConfig({ files: [configFile], env, cwd: options.dataDir });
  const running = await startInterlock({ config, logger: createLogger(config, 'stderr') });
  const now = Date.now();
  const sender = (await running.identity.findPrincipal('alertmanager')) ?? (await running.identity.createPrincipal({ name: 'alertmanager', kind: 'service', groups: [], roles: { '*': ['sender'] } }, now));
  const senderToken = await running.identity.createToken({ principal: sender.name, label: 'estate alertmanager', expiresAt: null }, now);
  await writeFile(options.tokenFile, `${senderToken.secret}\n`, { mode: 0o600 });
  // The estate's agents act as principals of their own (kind agent: they never decide approvals).
  if (running.agents !== undefined) await ensureAgentPrincipals(running.agents.agents().values(), running.identity, now);
  const reviewer = (await running.identity.findPrincipal(DEMO_REVIEWER)) ?? (await running.identity.createPrincipal({ name: DEMO_REVIEWER, kind: 'human', groups: [], roles: { '*': ['approver'] } }, now));
  const reviewerToken = await running.identity.createToken({ principal: reviewer.name, label: 'demo reviewer', expiresAt: null }, now);
  return { running, reviewerToken: reviewerToken.secret, config, configFile };
}

/**
 * Runs the demo. Returns `missing` (and starts nothing) when a program the estate needs is not
 * installed; `ok` is false when a fault did not end as expected or the audit log does not verify.
 */
export async function runEstateDemo(options: EstateDemoOptions): Promise<EstateDemoReport> {
  const { out } = options;
  try {
    findEstateBinaries(options.searchPath);
  } catch (error) {
    if (isInterlockError(error) && error.code === 'ESTATE_PREREQUISITE_MISSING') {
      out(error.message);
      return { ok: false, rows: [], audit: null, missing: error.message };
    }
    throw error;
  }
  // A fresh Interlock state each run (incidents of an earlier run would be joined, not opened).
  const dataDir = join(options.config.dataDir, 'demo');
  const dir = join(options.config.dataDir, 'estate');
  if (options.config.database.url === undefined) await rm(dataDir, { recursive: true, force: true });
  await mkdir(dataDir, { recursive: true });
  const port = await getPort({ host: '127.0.0.1' });
  const tokenFile = join(dataDir, 'alertmanager.token');
  // Alertmanager reads the file on each notification; the real token is written once Interlock runs.
  await writeFile(tokenFile, `${randomBytes(16).toString('hex')}\n`, { mode: 0o600 });
  out(`Starting the reference estate in ${dir} (PostgreSQL, Prometheus, Alertmanager, nginx, supervisord, 3 services, load) ...`);
  const estate = await up({ dir, watchPid: process.pid, interlockUrl: `http://127.0.0.1:${port}`, tokenFile, onProgress: (line) => out(`  ${line}`), ...(options.searchPath === undefined ? {} : { searchPath: options.searchPath }) });
  if (estate.alreadyRunning) {
    out('  the estate was running already: healing it first');
    await heal(dir);
  }
  out(`Starting Interlock (${options.config.database.url === undefined ? 'embedded PostgreSQL' : 'PostgreSQL from DATABASE_URL'}) on port ${port} ...`);
  let model: ScriptedEstateModel | undefined;
  if (options.reasoner === 'scripted-llm') {
    const vars = (managedEstateConfig(estate.state, { url: `http://127.0.0.1:${port}`, dataDir }) as { runbooks: { vars: Record<string, Record<string, string | number | boolean>> } }).runbooks.vars;
    const runbooks = await loadYamlDirectory(ESTATE_RUNBOOKS_DIR, { noun: 'runbook', schema: RunbookSchema, unreadable: 'RUNBOOK_UNREADABLE', invalid: 'RUNBOOK_INVALID', nameOf: (r) => r.metadata.name, namePath: ['metadata', 'name'] });
    model = await startScriptedEstateModel(runbooks.values, vars);
    out(`The resolution agent reasons through the LLM path: llm:scripted/${SCRIPTED_MODEL_ID} at ${model.baseUrl} (a scripted model that proposes the runbook's plan)`);
  }
  const { running, reviewerToken } = await startEstateInterlock({ state: estate.state, dataDir, port, tokenFile, ...(model === undefined ? {} : { scriptedModel: model }) });
  const api = createApiClient({ baseUrl: running.url, token: reviewerToken, timeoutMs: 30_000 });
  const rows: EstateDemoRow[] = [];
  let audit: EstateDemoReport['audit'] = null;
  try {
    const warm = (estate.state.startedAt ?? Date.now()) + ESTATE_WARM_UP_MS - Date.now();
    if (warm > 0) {
      out(`Letting the estate warm up for ${Math.ceil(warm / 1000)} s (the diagnosis compares the fault with ${DIAGNOSIS_WINDOW_MS / 1000} s of steady traffic before it) ...`);
      await sleep(warm);
    }
    out('Waiting for the estate to be quiet (no alert pending or firing) ...');
    await quiet(dir, 90_000);
    for (const fault of options.faults ?? DEMO_FAULT_ORDER) {
      const expected = FAULT_EXPECTATIONS[fault];
      out('');
      out(`Fault: ${fault} (${expected.service}); expect ${expected.alert} → ${expected.hypothesis} → ${expected.runbook}`);
      const injected = await inject(dir, fault);
      for (const action of injected.actions) out(`  injected: ${action}`);
      const timeline = await followFault({
        api, fault, service: expected.service, alert: expected.alert, injectedAt: injected.at, progress: out, timeoutMs: 240_000,
        decide: async (approval, mission) => {
          out(`  review asks for approval: ${approval.summary}`);
          for (const step of mission.steps.filter((s) => s.phase === 'plan')) out(`    ${step.stepId} ${step.tool} ${JSON.stringify(step.args)} [${step.risk}]`);
          const approved = options.confirm === undefined ? true : await options.confirm(`  Approve as ${DEMO_REVIEWER}? [y/N] `);
          await api.vote(approval.id, approved ? 'approve' : 'deny', { actionHash: approval.actionHash, comment: options.confirm === undefined ? 'approved by the demo (a scripted second identity)' : 'decided at the terminal' });
          return { approved, by: DEMO_REVIEWER };
        },
      });
      // With the scripted model, the plan is the model's: it must have proposed the expected runbook's plan.
      const proposed = model === undefined ? timeline.runbook?.startsWith(`${expected.runbook}@`) === true : timeline.runbook?.startsWith('llm:') === true && model.calls.at(-1)?.runbook === expected.runbook;
      if (model !== undefined && model.calls.length > 0) out(`  the model read ${model.calls.at(-1)!.hypothesis ?? 'no hypothesis'} and proposed ${model.calls.at(-1)!.runbook ?? 'nothing'}'s plan (${model.calls.at(-1)!.totalTokens} tokens)`);
      const ok = timeline.outcome === 'resolved' && proposed;
      rows.push({ ...timeline, expected: `${expected.runbook}, resolved`, ok: options.confirm === undefined ? ok : true });
      out(`  healing the estate ...`);
      await heal(dir);
      if (!(await quiet(dir, 90_000))) out('  (some alert is still pending or firing after 90 s; going on)');
    }
    // Everything above is on the audit record: sign a checkpoint and verify the whole log.
    await running.audit.checkpoint();
    audit = await running.audit.verify(undefined);
    out('');
    out(audit.ok ? `Audit log intact: ${audit.size} entries, ${audit.checkpoints} signed checkpoint(s) verified (interlock audit verify).` : `Audit log TAMPERED at entry ${audit.firstBadIndex}: ${audit.reason}`);
  } finally {
    await running.stop();
    await model?.close();
    if (options.keepEstate !== true) await down(dir);
  }
  return { ok: rows.length > 0 && rows.every((row) => row.ok) && audit?.ok === true, rows, audit };
}
