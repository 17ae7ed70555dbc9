// Records the HTTP API answers that the CLI's unit tests replay (src/cli/fixtures/*.json) from a real
// Interlock: started in this process on a fresh database with the ledger tools, given three missions
// (each created by its requester's own principal: alice, a person, and triage-agent, an agent), then
// asked as the test admin. IDs and times are kept as they came. Re-record after changing what the API answers:
//
//   npx tsx test/cli/record-fixtures.ts
//
// test/cli/fixtures.int.test.ts records again and fails when the saved fixtures no longer match.
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { createPrincipalWithToken, startTestInterlock } from '../support/interlock.js';

/** Where the fixtures live. */
export const FIXTURES_DIR = new URL('../../src/cli/fixtures/', import.meta.url);

/** An error answer of the API as recorded: the request, the status and the body. */
interface RecordedError {
  readonly request: string;
  readonly status: number;
  readonly body: unknown;
}

/** What is recorded, by fixture file name. */
export interface RecordedFixtures {
  /** `GET /v1/missions`: three missions, newest first: waiting for approval, escalated, resolved. */
  readonly 'missions-list.json': unknown;
  /** `GET /v1/missions/:id` of the escalated mission: context, plan and compensation steps, a failed step. */
  readonly 'mission-detail.json': unknown;
  /** Error answers: cancel of a finished mission, an unknown ID, an ID that is not a UUID. */
  readonly 'api-errors.json': { readonly alreadyFinished: RecordedError; readonly notFound: RecordedError; readonly invalidId: RecordedError };
}

/** The requests, oldest first. */
const MISSIONS = [
  {
    title: 'Collect evidence for disk pressure on db-1',
    requester: 'alice',
    context: [{ id: 'df', tool: 'builtin.noop', args: { note: 'df -h /var/lib/postgresql' } }],
    steps: [{ tool: 'builtin.noop', args: { note: 'nothing to change' } }],
  },
  {
    title: 'Credit the ledger twice; the second entry is refused',
    project: 'shop',
    requester: 'triage-agent',
    idempotencyKey: 'alert:7f3a9c',
    labels: { service: 'ledger', environment: 'staging' },
    context: [{ id: 'balance', tool: 'builtin.noop', args: { note: 'read the balance' } }],
    steps: [
      { id: 'credit', tool: 'ledger.append', args: { amount: 5 } },
      { tool: 'ledger.append', args: { amount: 3, fail: true } },
    ],
  },
  {
    title: 'Credit 7 to the production ledger',
    project: 'shop',
    requester: 'triage-agent',
    steps: [{ tool: 'ledger.append-prod', args: { amount: 7 } }],
  },
] as const;

/** An ID no mission has. */
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

/** Starts Interlock, runs the missions until each has finished (or waits for approval) and records the answers. */
export async function recordFixtures(): Promise<RecordedFixtures> {
  const interlock = await startTestInterlock('cli_fixtures');
  const api = interlock.running.url;
  const get = async (method: 'GET' | 'POST', path: string): Promise<{ status: number; json: unknown }> => {
    const response = await fetch(`${api}${path}`, { method, headers: { authorization: `Bearer ${interlock.adminToken}` } });
    return { status: response.status, json: await response.json() };
  };
  const recordError = async (method: 'GET' | 'POST', path: string): Promise<RecordedError> => {
    const { status, json } = await get(method, path);
    return { request: `${method} ${path}`, status, body: json };
  };
  try {
    const requesters: Record<string, string> = {
      alice: (await createPrincipalWithToken(interlock.running, { name: 'alice', kind: 'human', roles: { '*': ['operator'] } })).token,
      'triage-agent': (await createPrincipalWithToken(interlock.running, { name: 'triage-agent', kind: 'agent', roles: { shop: ['operator'] } })).token,
    };
    const ids: string[] = [];
    for (const request of MISSIONS) {
      const { status, json } = await interlock.post('/v1/missions', request, requesters[request.requester]);
      if (status !== 201) throw new Error(`POST /v1/missions answered ${status}: ${JSON.stringify(json)}`);
      const id = json.mission.id as string;
      await interlock.waitFor(id, (mission) => mission.outcome !== null || mission.waitingFor === 'approval');
      ids.push(id);
    }
    const [, escalated] = ids as [string, string, string];
    const list = await get('GET', '/v1/missions');
    const detail = await get('GET', `/v1/missions/${escalated}`);
    const errors = {
      alreadyFinished: await recordError('POST', `/v1/missions/${escalated}/cancel`),
      notFound: await recordError('GET', `/v1/missions/${UNKNOWN_ID}`),
      invalidId: await recordError('GET', '/v1/missions/nope'),
    };
    return { 'missions-list.json': list.json, 'mission-detail.json': detail.json, 'api-errors.json': errors };
  } finally {
    await interlock.close();
  }
}

/** Writes `fixtures` into {@link FIXTURES_DIR}, two-space indented. */
async function writeFixtures(fixtures: RecordedFixtures): Promise<void> {
  for (const [name, value] of Object.entries(fixtures)) {
    await writeFile(new URL(name, FIXTURES_DIR), `${JSON.stringify(value, null, 2)}\n`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await writeFixtures(await recordFixtures());
  console.log(`recorded ${fileURLToPath(FIXTURES_DIR)}`);
}
