import { lstat, mkdir, mkdtemp, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConnectorError } from '../../core/errors.js';
import { checkVersion, compareVersions, listVersions, readCurrent, switchCurrent } from './release-store.js';
import { rejection as rejectionOf } from '../../../test/support/errors.js';

let root: string;

/** A version directory with `json` as its release.json (none for null). */
async function release(service: string, version: string, json: unknown = { service, version }): Promise<void> {
  await mkdir(join(root, service, version), { recursive: true });
  if (json !== null) await writeFile(join(root, service, version, 'release.json'), typeof json === 'string' ? json : JSON.stringify(json));
}

/** The error `promise` rejects with. */
function rejection(promise: Promise<unknown>): Promise<ConnectorError> {
  return rejectionOf(promise, ConnectorError);
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'releases-store-'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('version directories', () => {
  it('accepts a real directory whose release.json names the version, and returns release.json', async () => {
    await release('web', '1.4.2', { service: 'web', version: '1.4.2', commit: 'abc' });
    await expect(checkVersion(root, 'web', '1.4.2')).resolves.toEqual({ service: 'web', version: '1.4.2', commit: 'abc' });
  });

  it('refuses names that could leave the service directory, naming the field', async () => {
    await release('web', 'v1');
    for (const version of ['..', '.', '../web', 'a/b', '/etc', 'current', '.hidden', '-rf', '']) {
      const error = await rejection(checkVersion(root, 'web', version, 'to'));
      expect(error.details, version).toMatchObject({ field: 'to' });
      expect(error.message, version).toMatch(/^to: /);
    }
    await expect(checkVersion(root, '..', 'v1')).rejects.toMatchObject({ details: { field: 'service' } });
  });

  it('refuses a version that does not exist, saying where it looked', async () => {
    const error = await rejection(checkVersion(root, 'web', 'v9'));
    expect(error).toMatchObject({ code: 'TOOL_FAILED', retryable: false, details: { field: 'version' } });
    expect(error.message).toContain(`service web has no version v9 (no directory ${join(root, 'web', 'v9')})`);
  });

  it('refuses a symlinked version directory, a file, and a release.json that is missing, invalid or names another version', async () => {
    const outside = await mkdtemp(join(tmpdir(), 'releases-outside-'));
    try {
      await writeFile(join(outside, 'release.json'), JSON.stringify({ service: 'web', version: 'escape' }));
      await mkdir(join(root, 'web'), { recursive: true });
      await symlink(outside, join(root, 'web', 'escape'));
      await expect(checkVersion(root, 'web', 'escape')).rejects.toThrow(/not a directory \(a symlink/);
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
    await writeFile(join(root, 'web', 'file'), 'x');
    await expect(checkVersion(root, 'web', 'file')).rejects.toThrow(/is not a directory/);
    await release('web', 'bare', null);
    await expect(checkVersion(root, 'web', 'bare')).rejects.toThrow(/it has no release\.json/);
    await release('web', 'garbled', '{');
    await expect(checkVersion(root, 'web', 'garbled')).rejects.toThrow(/release\.json is not JSON/);
    await release('web', 'v2', { service: 'web', version: 'v3' });
    await expect(checkVersion(root, 'web', 'v2')).rejects.toThrow(/says version "v3", not v2/);
  });

  it('lists versions sorted with digits as numbers, leaving out current, files, hidden entries and symlinks', async () => {
    for (const version of ['1.10.0', '1.9.0', '1.9.0-rc1', '2.0.0']) await release('web', version);
    await release('web', '3.0.0', { service: 'web', version: 'other' });
    await mkdir(join(root, 'web', '.interlock'));
    await writeFile(join(root, 'web', 'notes.txt'), 'x');
    await symlink('2.0.0', join(root, 'web', 'current'));
    const versions = await listVersions(root, 'web');
    expect(versions.map((v) => v.version)).toEqual(['1.9.0', '1.9.0-rc1', '1.10.0', '2.0.0', '3.0.0']);
    expect(versions[0]).toEqual({ version: '1.9.0', release: { service: 'web', version: '1.9.0' }, problem: null });
    expect(versions[4]?.problem).toBe('release.json says version other');
    await expect(listVersions(root, 'nothing')).resolves.toEqual([]);
    expect(['b', 'a10', 'a9'].sort(compareVersions)).toEqual(['a9', 'a10', 'b']);
  });
});

describe('the current pointer', () => {
  it('reads a relative symlink, and null when there is none', async () => {
    await release('web', 'v1');
    await expect(readCurrent(root, 'web')).resolves.toBeNull();
    await symlink('v1', join(root, 'web', 'current'));
    await expect(readCurrent(root, 'web')).resolves.toBe('v1');
  });

  it('refuses a current that points anywhere but a sibling version, or is not a symlink', async () => {
    await mkdir(join(root, 'web'), { recursive: true });
    for (const target of ['/etc', '../other/v1', 'v1/sub', '..']) {
      await rm(join(root, 'web', 'current'), { force: true });
      await symlink(target, join(root, 'web', 'current'));
      await expect(readCurrent(root, 'web'), target).rejects.toThrow(/is not a version directory beside it/);
    }
    await rm(join(root, 'web', 'current'));
    await mkdir(join(root, 'web', 'current'));
    await expect(readCurrent(root, 'web')).rejects.toThrow(/is not a symlink/);
  });

  it('switches by renaming a new relative symlink over current, leaving no temporary file', async () => {
    await release('web', 'v1');
    await release('web', 'v2');
    await symlink('v1', join(root, 'web', 'current'));
    await switchCurrent(root, 'web', 'v2');
    expect(await readlink(join(root, 'web', 'current'))).toBe('v2');
    expect((await lstat(join(root, 'web', 'current'))).isSymbolicLink()).toBe(true);
    expect((await readdir(join(root, 'web'))).sort()).toEqual(['current', 'v1', 'v2']);
    // Also when there was no current yet.
    await release('api', 'r1');
    await switchCurrent(root, 'api', 'r1');
    await expect(readCurrent(root, 'api')).resolves.toBe('r1');
    await expect(switchCurrent(root, 'web', '../v1')).rejects.toMatchObject({ details: { field: 'version' } });
  });
});
