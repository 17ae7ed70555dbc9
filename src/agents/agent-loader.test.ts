import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InterlockError } from '../core/errors.js';
import type { PolicyIssue } from '../core/policy/policy-errors.js';
import type { ToolCatalog } from '../core/tools/catalog.js';
import { loadAgentDirectory } from './agent-loader.js';

/** A catalog fake of the two methods the loader reads (fakes of ports are fine in unit tests). */
const TOOLS = ['diagnosis.run', 'supervisor.restart', 'supervisor.status', 'prometheus.check', 'tickets.notify'];
const catalog = {
  find: (name: string) => (TOOLS.includes(name) ? { name } : undefined),
  list: () => TOOLS.map((name) => ({ name })),
} as unknown as Pick<ToolCatalog, 'find' | 'list'>;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'interlock-agents-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function agentYaml(name: string, role: string, spec: string[] = []): string {
  return ['apiVersion: interlock.dev/v1', 'kind: Agent', 'metadata:', `  name: ${name}`, '  owner: sre-team', 'spec:', `  role: ${role}`, '  instructions: Do the job.', ...spec.map((line) => `  ${line}`), ''].join('\n');
}

/** The valid set: triage → resolution → governance → utility, in project shop. */
function writeValidSet(): void {
  writeFileSync(join(dir, 'triage.yaml'), agentYaml('triage', 'triage', ['project: shop', 'tools: [diagnosis.run]', 'handsOffTo: [resolver]']));
  writeFileSync(join(dir, 'resolver.yaml'), agentYaml('resolver', 'resolution', ['project: shop', 'tools: ["supervisor.*", prometheus.check]', 'handsOffTo: [governor, notifier]', 'reasoner: llm:local/qwen2.5-7b', 'autonomyCeiling: suggest']));
  writeFileSync(join(dir, 'governance.yml'), [agentYaml('governor', 'governance', ['project: shop', 'handsOffTo: [notifier]']), '---', agentYaml('notifier', 'utility', ['project: shop', 'tools: [tickets.notify]'])].join('\n'));
}

async function problems(llmProviders: string[] = []): Promise<PolicyIssue[]> {
  const error = await loadAgentDirectory(dir, catalog, llmProviders).then(() => undefined, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(InterlockError);
  expect((error as InterlockError).code).toBe('AGENT_INVALID');
  return ((error as InterlockError).details as { issues: PolicyIssue[] }).issues;
}

describe('loadAgentDirectory', () => {
  it('loads a valid set with defaults applied, its files and a digest', async () => {
    writeValidSet();
    const loaded = await loadAgentDirectory(dir, catalog, ['local']);
    expect([...loaded.agents.keys()].sort()).toEqual(['governor', 'notifier', 'resolver', 'triage']);
    expect(loaded.agents.get('resolver')!.spec).toMatchObject({ role: 'resolution', reasoner: 'llm:local/qwen2.5-7b', autonomyCeiling: 'suggest', tools: ['supervisor.*', 'prometheus.check'] });
    expect(loaded.agents.get('governor')!.spec).toMatchObject({ autonomyCeiling: 'approve', reasoner: 'builtin', budget: { maxDepth: 4, maxCalls: 10, maxDurationMs: 600_000, maxTokens: 100_000 } });
    expect(loaded.files).toHaveLength(3);
    expect(loaded.digest).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses a tool the catalog does not have, and a <connector>.* with no tools, at file:line:column', async () => {
    writeFileSync(join(dir, 'solo.yaml'), agentYaml('solo', 'utility', ['tools: [tickets.notify, shell.run, "kubectl.*"]']));
    const issues = await problems();
    expect(issues.map((i) => [i.source, i.path, i.message])).toEqual([
      [`${join(dir, 'solo.yaml')}:9:27`, 'spec.tools.1', 'the catalog has no tool shell.run (is its connector enabled?)'],
      [`${join(dir, 'solo.yaml')}:9:38`, 'spec.tools.2', 'the catalog has no tool kubectl.* (is its connector enabled?)'],
    ]);
    expect(issues[0]).toMatchObject({ file: join(dir, 'solo.yaml'), line: 9, column: 27 });
  });

  it('refuses a hand-off to an unknown agent', async () => {
    writeFileSync(join(dir, 'triage.yaml'), agentYaml('triage', 'triage', ['handsOffTo: [ghost]']));
    const [issue, ...rest] = await problems();
    expect(rest).toEqual([]);
    expect(issue).toMatchObject({ file: join(dir, 'triage.yaml'), line: 9, column: 16, path: 'spec.handsOffTo.0', message: `no agent named ghost in ${dir}` });
  });

  it('refuses a hand-off against the role direction (resolution → triage)', async () => {
    writeFileSync(join(dir, 'a.yaml'), [agentYaml('triage', 'triage', ['handsOffTo: [resolver]']), '---', agentYaml('resolver', 'resolution', ['handsOffTo: [triage]'])].join('\n'));
    const issues = await problems();
    expect(issues.map((i) => i.message)).toEqual(['a resolution agent hands off to governance or utility, not to triage (triage)']);
    // The second document of the file: its handsOffTo line.
    expect(issues[0]).toMatchObject({ file: join(dir, 'a.yaml'), line: 20, column: 16 });
  });

  it('refuses a hand-off to an agent of another project', async () => {
    writeFileSync(join(dir, 'a.yaml'), [agentYaml('triage', 'triage', ['project: shop', 'handsOffTo: [resolver]']), '---', agentYaml('resolver', 'resolution', ['project: ops'])].join('\n'));
    expect((await problems()).map((i) => [i.path, i.message])).toEqual([['spec.handsOffTo.0', 'resolver works in project ops, not shop']]);
  });

  it('refuses an LLM reasoner whose provider is not configured, naming those that are', async () => {
    writeFileSync(join(dir, 'r.yaml'), agentYaml('resolver', 'resolution', ['reasoner: llm:openai/gpt-4o']));
    expect((await problems(['local'])).map((i) => [i.source, i.message])).toEqual([[`${join(dir, 'r.yaml')}:9:13`, 'no LLM provider "openai" is configured (agents.llm.providers has local)']]);
    expect((await problems()).map((i) => i.message)).toEqual(['no LLM provider "openai" is configured (agents.llm.providers has none)']);
  });

  it('refuses two agents with the same name, pointing at the second', async () => {
    writeFileSync(join(dir, 'a.yaml'), agentYaml('triage', 'triage'));
    writeFileSync(join(dir, 'b.yaml'), agentYaml('triage', 'utility'));
    const issues = await problems();
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ path: 'metadata.name', line: 4 });
    expect(issues[0]!.message).toContain('triage');
  });

  it('lists every problem of the set at once, each with file:line:column, in the error message too', async () => {
    writeFileSync(join(dir, 'bad.yaml'), agentYaml('Bad Name', 'oracle', ['autonomyCeiling: yolo']));
    const error = await loadAgentDirectory(dir, catalog).then(() => { throw new Error('loaded an invalid set'); }, (caught: unknown) => caught as InterlockError);
    const issues = (error.details as { issues: PolicyIssue[] }).issues;
    expect(issues.length).toBeGreaterThanOrEqual(3);
    for (const issue of issues) {
      expect(issue.source).toBe(`${issue.file}:${issue.line}:${issue.column}`);
      expect(error.message).toContain(`${issue.source} ${issue.path}`);
    }
    expect(issues.map((i) => i.path).sort()).toEqual(expect.arrayContaining(['metadata.name', 'spec.autonomyCeiling', 'spec.role']));
  });
});
