import { describe, expect, it } from 'vitest';
import { ApiError } from '../api-client.js';
import type { AgentView, InterlockApi, TrackRecordView } from '../deps.js';
import { runCli } from '../program.js';
import { fakeApiContext } from '../../../test/support/cli.js';

const NOW = Date.parse('2026-03-25T03:00:00Z');

const AGENTS: AgentView[] = [
  { name: 'resolver', role: 'resolution', project: 'shop', reasoner: 'llm:local/qwen2.5', autonomyCeiling: 'approve', owner: 'sre-team', description: null, tools: ['supervisor.*', 'nginx.reload'], handsOffTo: ['governor'] },
  { name: 'triage', role: 'triage', project: 'shop', reasoner: 'builtin', autonomyCeiling: 'approve', owner: 'sre-team', description: null, tools: ['diagnosis.run'], handsOffTo: ['resolver'] },
];

const FIGURES = { projects: ['shop'], approved: 20, denied: 0, corrections: 0, failedVerifications: 0, escalations: 0, shadowed: 0 };
const RECORD: TrackRecordView = {
  since: NOW - 30 * 86_400_000,
  until: NOW,
  agents: [{
    agent: 'resolver', autonomyCeiling: 'approve', ...FIGURES, proposals: 20, verifiedSuccesses: 20, judged: 20, successRate: 1,
    suggestion: { action: 'raise', from: 'approve', to: 'auto-notify', text: 'raise to auto-notify: 20 verified successes, 0 corrections, 0 failed verifications in the last 30 days' },
  }],
  runbooks: [{
    runbook: 'restart-on-leak', versions: [1, 2], ...FIGURES, proposals: 4, approved: 4, verifiedSuccesses: 2, failedVerifications: 1, escalations: 1, judged: 3, successRate: 2 / 3,
    suggestion: { action: 'supports', from: null, to: 'approve', text: 'supports approve: 2 verified successes, 0 corrections, 1 failed verification in the last 30 days' },
  }],
};

/** Runs `interlock agents ...` in-process with a fake API client; records the API calls. */
async function cli(args: string[], api: Partial<InterlockApi> = {}) {
  const calls: unknown[] = [];
  const fakeApi = {
    listAgents: (filter) => { calls.push(['listAgents', filter]); return Promise.resolve(AGENTS.filter((a) => filter.project === undefined || a.project === filter.project)); },
    agentStats: (filter) => { calls.push(['agentStats', filter]); return Promise.resolve(RECORD); },
    ...api,
  } as Partial<InterlockApi> as InterlockApi;
  const { ctx, stdout, stderr, clients } = fakeApiContext(fakeApi, { now: NOW, apiToken: 'il_test' });
  const code = await runCli(['agents', ...args, '--url', 'http://127.0.0.1:7411'], ctx);
  return { code, stdout: stdout.join('\n'), stderr: stderr.join('\n'), calls, clients };
}

describe('interlock agents list', () => {
  it('prints the agents as a table, through the API with the token', async () => {
    const { code, stdout, calls, clients } = await cli(['list', '--project', 'shop']);
    expect(code).toBe(0);
    expect(calls).toEqual([['listAgents', { project: 'shop' }]]);
    expect(clients).toEqual([{ baseUrl: 'http://127.0.0.1:7411', timeoutMs: 10_000, token: 'il_test' }]);
    const [head, ...rows] = stdout.split('\n').filter((line) => /resolver|triage|name/.test(line));
    expect(head).toMatch(/name\s.*role\s.*project\s.*reasoner\s.*ceiling\s.*owner\s.*tools\s.*hands off to/);
    expect(rows[0]).toMatch(/resolver\s.*resolution\s.*shop\s.*llm:local\/qwen2\.5\s.*approve\s.*sre-team\s.*supervisor\.\*, nginx\.reload\s.*governor/);
  });

  it('says how to configure agents when there are none, and prints JSON with --json', async () => {
    expect((await cli(['list'], { listAgents: () => Promise.resolve([]) })).stdout).toBe('no agents (set agents.dir in the configuration)');
    expect(JSON.parse((await cli(['list', '--json'])).stdout)).toEqual(AGENTS);
  });
});

describe('interlock agents stats', () => {
  it('prints a table per agent and per runbook with the figures and the suggestion', async () => {
    const { code, stdout, calls } = await cli(['stats']);
    expect(code).toBe(0);
    expect(calls).toEqual([['agentStats', {}]]);
    expect(stdout).toContain('track record of missions created from 2026-02-23T03:00:00.000Z to 2026-03-25T03:00:00.000Z');
    const agentRow = stdout.split('\n').find((line) => line.includes('resolver'));
    expect(agentRow).toMatch(/resolver\s.*approve\s.*\b20\b.*\b20\b.*\b0\b.*\b0\b.*\b20\b.*100%.*raise to auto-notify: 20 verified successes, 0 corrections, 0 failed verifications in the last 30 days/);
    const header = stdout.split('\n').find((line) => line.includes('agent') && line.includes('proposals'));
    expect(header).toMatch(/agent\s.*ceiling\s.*proposals\s.*approved\s.*denied\s.*corrections\s.*verified\s.*failed verif\.\s.*escalations\s.*shadowed\s.*success\s.*suggestion/);
    expect(stdout.split('\n').find((line) => line.includes('restart-on-leak'))).toMatch(/1, 2\s.*67%.*supports approve/);
  });

  it('passes --since as a duration or a normalised ISO date-time, and --project; --json prints the record', async () => {
    expect((await cli(['stats', '--since', '7d', '--project', 'shop'])).calls).toEqual([['agentStats', { since: '7d', project: 'shop' }]]);
    expect((await cli(['stats', '--since', '2026-03-01'])).calls).toEqual([['agentStats', { since: '2026-03-01T00:00:00.000Z' }]]);
    expect(JSON.parse((await cli(['stats', '--json'])).stdout)).toEqual(RECORD);
  });

  it('refuses a malformed --since as a usage error, and reports an API refusal', async () => {
    const bad = await cli(['stats', '--since', 'last week']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('expected a duration such as 30d, or an ISO 8601 date-time');
    const forbidden = await cli(['stats'], { agentStats: () => Promise.reject(new ApiError('FORBIDDEN', 'Forbidden: viewer has no missions:read in *.', { httpStatus: 403 })) });
    expect(forbidden.code).toBe(1);
    expect(forbidden.stderr).toContain('Forbidden: viewer has no missions:read in *.');
  });
});
