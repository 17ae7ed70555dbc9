// `interlock kill-switch` and `interlock policy reload` in-process against a real Interlock through its
// HTTP API: an admin engages, lists and releases a kill switch; a non-admin is refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openIdentity } from '../../src/server/main.js';
import { createPrincipalWithToken, startTestInterlock, type TestInterlock } from '../support/interlock.js';
import { runCliInProcess } from '../support/cli.js';

let it_: TestInterlock;
let operatorToken: string;

beforeAll(async () => {
  it_ = await startTestInterlock('cli_governance');
  ({ token: operatorToken } = await createPrincipalWithToken(it_.running, { name: 'ops', kind: 'human', roles: { '*': ['operator'] } }));
});

afterAll(async () => {
  await it_?.close();
});

async function cli(args: string[], token: string) {
  return runCliInProcess([...args, '--url', it_.running.url], { cwd: process.cwd(), token, deps: { openIdentity } });
}

describe('kill-switch commands', () => {
  it('[GOV-KILL] an admin engages, lists and releases a kill switch; the engine sees it', async () => {
    const engaged = await cli(['kill-switch', 'engage', 'agent:scaler-a', '--reason', 'flapping memory limits'], it_.adminToken);
    expect(engaged).toMatchObject({ code: 0, stdout: 'kill switch agent:scaler-a engaged by test-admin: flapping memory limits' });
    expect(await it_.running.engine.listKillSwitches()).toEqual([expect.objectContaining({ scope: 'agent:scaler-a', engaged: true })]);
    const listed = await cli(['kill-switch', 'list'], it_.adminToken);
    expect(listed.stdout).toMatch(/agent:scaler-a\s+│\s+ENGAGED\s+│\s+flapping memory limits\s+│\s+test-admin/);
    const released = await cli(['kill-switch', 'release', 'agent:scaler-a'], it_.adminToken);
    expect(released.stdout).toBe('kill switch agent:scaler-a released by test-admin');
    expect((await cli(['kill-switch', 'release', 'agent:scaler-a'], it_.adminToken)).stdout).toBe('kill switch agent:scaler-a was not engaged');
  });

  it('refuses an operator with a one-line reason, and a malformed scope', async () => {
    const refused = await cli(['kill-switch', 'engage', 'global', '--reason', 'x'], operatorToken);
    expect(refused.code).toBe(1);
    expect(refused.stderr[0]).toMatch(/^interlock: .*admin/);
    const bad = await cli(['kill-switch', 'engage', 'everything', '--reason', 'x'], it_.adminToken);
    expect(bad.code).toBe(1);
    expect(bad.stderr.join('\n')).toMatch(/body\.scope/);
  });
});

describe('policy reload', () => {
  it('asks the server to reload its policy set and reports the digest', async () => {
    const reloaded = await cli(['policy', 'reload'], it_.adminToken);
    expect(reloaded.code).toBe(0);
    expect(reloaded.stdout).toMatch(/^policy set unchanged: digest [0-9a-f]{64}, 0 file\(s\)$/);
  });
});
