import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConnectorError } from '../core/errors.js';
import { newMission } from '../../test/support/missions.js';
import { createDatabase } from './database.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded-postgres.js';
import { migrateToLatest } from './migrate.js';
import { PgMissionStore } from './mission-store.js';
import { isAlive } from '../../test/support/processes.js';

let base: string;
let servers: EmbeddedPostgres[];
let children: ChildProcess[];

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'interlock-embedded-'));
  // As root the server runs as user `postgres`, which must be able to reach the data directory.
  await chmod(base, 0o755);
  servers = [];
  children = [];
});

afterEach(async () => {
  await Promise.all(servers.map((server) => server.stop()));
  for (const child of children) child.kill('SIGKILL');
  await rm(base, { recursive: true, force: true });
});

async function start(dataDir: string): Promise<EmbeddedPostgres> {
  const server = await startEmbeddedPostgres({ dataDir });
  servers.push(server);
  return server;
}

async function postmasterPid(dataDir: string): Promise<number> {
  return Number.parseInt((await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0] ?? '', 10);
}

async function killHard(dataDir: string): Promise<void> {
  const pid = await postmasterPid(dataDir);
  process.kill(pid, 'SIGKILL');
  await expect.poll(() => isAlive(pid)).toBe(false);
}

/** The user the server runs as when this process is root (`postgres`), else this process's own. */
function serverUser(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const id = (flag: string) => Number.parseInt(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }), 10);
  return { uid: id('-u'), gid: id('-g') };
}


async function startFailure(dataDir: string): Promise<ConnectorError> {
  const error: unknown = await startEmbeddedPostgres({ dataDir }).then(
    async (server) => {
      await server.stop();
      return undefined;
    },
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ConnectorError);
  return error as ConnectorError;
}

/** Migrates the server's database, stores one mission and returns its ID. */
async function storeMission(url: string): Promise<string> {
  const handle = createDatabase({ url });
  try {
    await migrateToLatest(handle.db);
    const { mission } = await new PgMissionStore(handle.db).createMission(newMission({ title: 'Survive restarts' }));
    return mission.id;
  } finally {
    await handle.close();
  }
}

async function readMissionTitle(url: string, id: string): Promise<string | undefined> {
  const handle = createDatabase({ url });
  try {
    return (await new PgMissionStore(handle.db).getMission(id))?.title;
  } finally {
    await handle.close();
  }
}

describe('startEmbeddedPostgres', () => {
  it('initialises a cluster on first start and keeps its data and port across a warm restart', async () => {
    const dataDir = join(base, 'postgres');
    const first = await start(dataDir);
    expect(first.url).toMatch(new RegExp(`^postgres://postgres:[^@]+@127\\.0\\.0\\.1:${first.port}/interlock$`));
    const id = await storeMission(first.url);
    await first.stop();
    await first.stop();

    const second = await start(dataDir);

    expect(second.port).toBe(first.port);
    expect(second.url).toBe(first.url);
    expect(await readMissionTitle(second.url, id)).toBe('Survive restarts');
    await second.stop();
  });

  it('comes back after the server was killed with SIGKILL', async () => {
    const dataDir = join(base, 'postgres');
    const first = await start(dataDir);
    const id = await storeMission(first.url);

    await killHard(dataDir);
    await first.stop();

    const second = await start(dataDir);
    expect(await readMissionTitle(second.url, id)).toBe('Survive restarts');
  });

  it('removes a stale postmaster.pid whose PID now belongs to another program', async () => {
    const dataDir = join(base, 'postgres');
    const first = await start(dataDir);
    const id = await storeMission(first.url);
    await killHard(dataDir);
    await first.stop();
    // After a container restart the dead server's PID often belongs to something else. PostgreSQL
    // itself only ignores the PID of a process it may not signal, so the stand-in runs as its user.
    const other = spawn('sleep', ['60'], { stdio: 'ignore', ...serverUser() });
    children.push(other);
    const lockFile = join(dataDir, 'postmaster.pid');
    const lines = (await readFile(lockFile, 'utf8')).split('\n');
    await writeFile(lockFile, [String(other.pid), ...lines.slice(1)].join('\n'));

    const second = await start(dataDir);

    expect(await readMissionTitle(second.url, id)).toBe('Survive restarts');
  });

  it('refuses to start a second server on a data directory in use, and leaves the first running', async () => {
    const dataDir = join(base, 'postgres');
    const first = await start(dataDir);
    const id = await storeMission(first.url);
    const pid = await postmasterPid(dataDir);

    const error = await startFailure(dataDir);

    expect(error.code).toBe('EMBEDDED_POSTGRES_FAILED');
    expect(error.message).toContain(`PostgreSQL (PID ${pid}) is already running on this data directory, started by Interlock process ${process.pid}`);
    expect(error.retryable).toBe(false);
    expect(await readMissionTitle(first.url, id)).toBe('Survive restarts');
  });

  it('refuses a non-empty directory that holds no cluster, and leaves its files alone', async () => {
    const dataDir = join(base, 'not-a-cluster');
    await mkdir(dataDir);
    await writeFile(join(dataDir, 'notes.txt'), 'keep me');

    const error = await startFailure(dataDir);

    expect(error.code).toBe('EMBEDDED_POSTGRES_FAILED');
    expect(error.message).toContain('not empty');
    expect(await readFile(join(dataDir, 'notes.txt'), 'utf8')).toBe('keep me');
  });

  it.skipIf(process.getuid?.() !== 0)('as root, names a parent directory the postgres user cannot search', async () => {
    const hidden = join(base, 'private');
    await mkdir(hidden, { mode: 0o700 });

    const error = await startFailure(join(hidden, 'postgres'));

    expect(error.code).toBe('EMBEDDED_POSTGRES_FAILED');
    expect(error.message).toContain(`user "postgres", which cannot search ${hidden}`);
  });

  it('does not override the exit code of the process that used it', async () => {
    const script = join(base, 'exit-code.mjs');
    const modulePath = fileURLToPath(new URL('./embedded-postgres.ts', import.meta.url));
    await writeFile(
      script,
      [
        `import { startEmbeddedPostgres } from ${JSON.stringify(modulePath)};`,
        `const server = await startEmbeddedPostgres({ dataDir: ${JSON.stringify(join(base, 'postgres'))} });`,
        'await server.stop();',
        'process.exitCode = 3;',
      ].join('\n'),
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: 'ignore' });
    children.push(child);

    const [code] = (await once(child, 'exit')) as [number | null];

    expect(code).toBe(3);
  });
});
