// The `principals`, `tokens` and `approvals` commands in-process against a real Interlock on the
// machine's PostgreSQL: principals and tokens straight in the database (as on a fresh server),
// approvals through the HTTP API with a token from `tokens create`.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openIdentity } from '../../src/server/main.js';
import { startTestInterlock, type TestInterlock } from '../support/interlock.js';
import { runCliInProcess } from '../support/cli.js';

let it_: TestInterlock;
let cwd: string;

beforeAll(async () => {
  it_ = await startTestInterlock('cli_approvals');
  cwd = await mkdtemp(join(tmpdir(), 'interlock-cli-approvals-'));
});

afterAll(async () => {
  await it_?.close();
  if (cwd !== undefined) await rm(cwd, { recursive: true, force: true });
});

/** Runs `interlock ...args` in-process with the real dependencies; `token` is INTERLOCK_TOKEN, `confirm` the terminal's answer. */
async function cli(args: string[], options: { token?: string; confirm?: boolean } = {}) {
  return runCliInProcess(args, {
    cwd, env: { DATABASE_URL: it_.database.url, INTERLOCK_DATA_DIR: join(cwd, 'data'), INTERLOCK_LOG_LEVEL: 'warn' }, deps: { openIdentity },
    ...(options.token === undefined ? {} : { token: options.token }), ...(options.confirm === undefined ? {} : { confirm: options.confirm }),
  });
}

const api = () => ['--url', it_.running.url];

describe('principals and tokens (on the database)', () => {
  it('creates principals with kinds, groups and per-project roles, and refuses a taken name or a bad role', async () => {
    const created = await cli(['principals', 'create', 'bob', '--kind', 'human', '--group', 'change-board', '--role', 'approver:shop', '--role', 'viewer']);
    expect(created.stderr).toEqual([]);
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^created human bob \([0-9a-f-]{36}\); roles: viewer@\*, approver@shop; groups: change-board$/);
    expect(await it_.running.identity.findPrincipal('bob')).toMatchObject({ kind: 'human', groups: ['change-board'], roles: { shop: ['approver'], '*': ['viewer'] } });

    const taken = await cli(['principals', 'create', 'bob', '--kind', 'agent']);
    expect(taken.code).toBe(1);
    expect(taken.stderr[0]).toBe('interlock: A principal named "bob" already exists; names are unique. Choose another name.');
    const badRole = await cli(['principals', 'create', 'zed', '--kind', 'human', '--role', 'boss:shop']);
    expect(badRole.code).toBe(2);
    expect(badRole.stderr[0]).toContain('"boss:shop" is not a role spec');
    const badKind = await cli(['principals', 'create', 'zed', '--kind', 'robot']);
    expect(badKind.code).toBe(2);

    const listed = await cli(['principals', 'list']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/│ bob\s+│ human │ change-board │ viewer@\*, approver@shop │/);
  });

  it('prints a new token once on stdout, lists tokens without secrets, and revokes them', async () => {
    await cli(['principals', 'create', 'ci', '--kind', 'service', '--role', 'operator:shop']);
    const created = await cli(['tokens', 'create', '--principal', 'ci', '--label', 'pipeline', '--expires-in', '30d']);
    expect(created.code).toBe(0);
    const token = created.stdout;
    expect(token).toMatch(/^il_[0-9a-f]{32}_[A-Za-z0-9_-]{43}$/);
    expect(created.stderr.join('\n')).toMatch(/shown only now/);
    expect((await it_.get('/v1/missions?project=shop', token)).status).toBe(200);

    const listed = await cli(['tokens', 'list', '--principal', 'ci', '--json']);
    expect(listed.stdout).not.toContain(token.slice(36));
    const [record] = JSON.parse(listed.stdout) as Array<{ id: string; label: string; expiresAt: number; lastUsedAt: number | null }>;
    expect(record).toMatchObject({ label: 'pipeline', lastUsedAt: expect.any(Number) });
    expect(record!.expiresAt - Date.now()).toBeGreaterThan(29 * 86_400_000);

    const revoked = await cli(['tokens', 'revoke', record!.id]);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toMatch(new RegExp(`^revoked token ${record!.id} of ci`));
    const refused = await cli(['missions', 'list', '--project', 'shop', ...api()], { token });
    expect(refused.code).toBe(1);
    expect(refused.stderr[0]).toMatch(/^interlock: API token .* was revoked at .*; create a new one/);
    const unknown = await cli(['tokens', 'revoke', '6f1c3c2e-8d7b-4a53-9a8e-2f0f4a0e9b11']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr[0]).toMatch(/No API token has ID/);
  });

  it('tells a CLI user without a token how to give one', async () => {
    const run = await cli(['missions', 'list', ...api()]);
    expect(run.code).toBe(1);
    expect(run.stderr).toEqual([`interlock: Interlock at ${it_.running.url} needs an API token: set INTERLOCK_TOKEN or pass --token (an admin creates one with \`interlock tokens create --principal <name>\`)`]);
  });
});

describe('approvals (through the API)', () => {
  let carol: string;
  let alice: string;
  let approvalId: string;
  let actionHash: string;

  beforeAll(async () => {
    await cli(['principals', 'create', 'carol', '--kind', 'human', '--group', 'change-board', '--role', 'approver:shop']);
    await cli(['principals', 'create', 'alice', '--kind', 'human', '--group', 'change-board', '--role', 'operator:shop', '--role', 'approver:shop']);
    carol = (await cli(['tokens', 'create', '--principal', 'carol'])).stdout;
    alice = (await cli(['tokens', 'create', '--principal', 'alice'])).stdout;
    const created = await it_.post('/v1/missions', { title: 'credit the ledger', project: 'shop', steps: [{ tool: 'builtin.noop' }] }, alice);
    await it_.waitFor(created.json.mission.id);
    ({ approvalId, actionHash } = await it_.running.approvals.request({
      binding: { missionId: created.json.mission.id, project: 'shop', policyDigest: 'd'.repeat(64), actions: [{ stepId: 's1', tool: 'ledger.append-prod', args: { amount: 7 }, target: { service: 'ledger', environment: 'production', tier: null, labels: {} } }] },
      requester: 'alice',
      requirement: { quorum: 1, groups: ['change-board'], expiresInMs: 600_000 },
      reasons: [{ rule: 'prod/ledger', effect: 'require_approval', message: 'production ledger writes need the change board' }],
      risk: 'write-prod',
      now: Date.now(),
    }));
  });

  it('lists pending requests and shows one with its risk summary, actions, reasons and hash', async () => {
    const list = await cli(['approvals', 'list', '--status', 'pending', '--project', 'shop', ...api()], { token: carol });
    expect(list.stderr).toEqual([]);
    expect(list.stdout).toContain(approvalId);
    expect(list.stdout).toMatch(/│ alice\s+│ write-prod │ pending │ 0\/1\s+│ in \d+m/);
    const show = await cli(['approvals', 'show', approvalId, ...api()], { token: carol });
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(new RegExp(`^Approval ${approvalId}: pending\\n`));
    for (const text of ['write-prod: 1 action (ledger.append-prod on ledger/production)', 's1  ledger.append-prod on ledger/production', 'args  {"amount":7}', 'diff  (not available: the tool computes none)', '- prod/ledger (require_approval): production ledger writes need the change board', `hash       ${actionHash}`]) {
      expect(show.stdout).toContain(text);
    }
  });

  it('the requester approving its own request is refused with the server\'s reason', async () => {
    const run = await cli(['approvals', 'approve', approvalId, '--yes', ...api()], { token: alice });
    expect(run.code).toBe(1);
    expect(run.stderr[0]).toMatch(/^interlock: alice requested mission .* and cannot vote on its own approval request/);
  });

  it('a vote for a hash other than the request\'s is refused', async () => {
    const run = await cli(['approvals', 'approve', approvalId, '--hash', 'e'.repeat(64), '--yes', ...api()], { token: carol });
    expect(run.code).toBe(1);
    expect(run.stderr[0]).toMatch(/^interlock: The action hash you sent/);
  });

  it('asks at the terminal and sends nothing when the answer is no; approves with the hash it showed when yes', async () => {
    const declined = await cli(['approvals', 'approve', approvalId, ...api()], { token: carol, confirm: false });
    expect(declined.code).toBe(1);
    expect(declined.asked).toEqual([expect.stringMatching(/^Approve this action \(hash [0-9a-f]{12}…\)\? \[y\/N\] $/)]);
    expect(declined.stderr).toEqual(['interlock: not approved: nothing was sent']);
    expect((await it_.get(`/v1/approvals/${approvalId}`)).json.approval.votes).toEqual([]);

    const approved = await cli(['approvals', 'approve', approvalId, '--comment', 'amount checked', ...api()], { token: carol, confirm: true });
    expect(approved.stderr).toEqual([]);
    expect(approved.code).toBe(0);
    expect(approved.stdout).toContain('write-prod: 1 action');
    expect(approved.stdout.split('\n').at(-1)).toMatch(new RegExp(`^approved approval ${approvalId} \\(mission [0-9a-f-]{36}\\); now granted$`));
    expect((await it_.get(`/v1/approvals/${approvalId}`)).json.approval).toMatchObject({ status: 'granted', votes: [{ principal: 'carol', comment: 'amount checked' }] });
  });
});
