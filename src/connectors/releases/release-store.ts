// The release directories of a service on disk: immutable `<root>/<service>/<version>/` directories,
// each with a `release.json`, and the `<root>/<service>/current` symlink naming the running one.
import { randomBytes } from 'node:crypto';
import { lstat, open, readdir, readlink, rename, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ConnectorError } from '../../core/errors.js';
import { CURRENT, RELEASE_SLUG } from './releases-config.js';

/** The `system` of the connector's errors about release directories. */
export const RELEASES_SYSTEM = 'releases';

/** Largest `release.json` read, bytes. */
const MAX_RELEASE_JSON_BYTES = 64 * 1024;

/** What a `release.json` must hold: at least the service and version it is; other keys are kept. */
const ReleaseJson = z.looseObject({ service: z.string(), version: z.string() });

/** One version directory of a service. */
export interface ReleaseVersion {
  readonly version: string;
  /** The parsed `release.json`, or null when it is missing or invalid (then `problem` says why). */
  readonly release: Record<string, unknown> | null;
  /** Why the directory cannot be deployed, or null when it can. */
  readonly problem: string | null;
}

/** True when `name` can be a version directory (see {@link RELEASE_SLUG}; not `current`). */
function isVersionName(name: string): boolean {
  return RELEASE_SLUG.test(name) && name !== CURRENT;
}

/** A refusal naming the argument at fault, as the nginx and supervisor connectors word them. */
export function refused(field: string, message: string): ConnectorError {
  return new ConnectorError('TOOL_FAILED', `${field}: ${message}`, { system: RELEASES_SYSTEM, retryable: false, details: { field } });
}

/** A file system failure while doing `what`. */
export function fsFailed(what: string, error: unknown, outcomeUnknown = false): ConnectorError {
  const code = (error as NodeJS.ErrnoException).code;
  return new ConnectorError('TOOL_FAILED', `Could not ${what}: ${code ?? (error instanceof Error ? error.message : String(error))}.`, {
    system: RELEASES_SYSTEM, status: code, retryable: code === 'EBUSY' || code === 'EAGAIN' || code === 'EMFILE', outcomeUnknown, cause: error,
  });
}

/** The directory of `service` under `root` (both already validated: `service` is one safe segment). */
export function serviceDir(root: string, service: string): string {
  if (!isVersionName(service)) throw refused('service', `${JSON.stringify(service)} is not a safe directory name.`);
  return join(root, service);
}

/**
 * The version `<root>/<service>/current` points to, or null when there is no `current`.
 * @throws ConnectorError `TOOL_FAILED` when `current` is not a symlink, or points anywhere but a
 *   sibling version directory (an absolute path, `..`, a nested path): fixed by hand, never guessed.
 */
export async function readCurrent(root: string, service: string): Promise<string | null> {
  const link = join(serviceDir(root, service), CURRENT);
  let target: string;
  try {
    target = await readlink(link);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'EINVAL') throw new ConnectorError('TOOL_FAILED', `${link} is not a symlink; make it a relative symlink to a version directory.`, { system: RELEASES_SYSTEM, retryable: false });
    throw fsFailed(`read the symlink ${link}`, error);
  }
  const version = target.replace(/\/+$/, '');
  if (!isVersionName(version)) {
    throw new ConnectorError('TOOL_FAILED', `${link} points to ${JSON.stringify(target)}, which is not a version directory beside it; point it to one (a relative target such as 1.4.2) by hand.`, { system: RELEASES_SYSTEM, retryable: false });
  }
  return version;
}

/**
 * Reads version directory `<root>/<service>/<version>`: a real directory (not a symlink, so it cannot
 * lead out of `root`) whose `release.json` names the same version (its `service` is not compared: a
 * track such as `checkout-canary` holds releases of service `checkout`).
 * @returns the parsed `release.json`.
 * @throws ConnectorError `TOOL_FAILED` with `details.field` = `field` when the version is not a safe
 *   name, does not exist, is not a directory, or its `release.json` is missing, invalid or names
 *   another version.
 */
export async function checkVersion(root: string, service: string, version: string, field = 'version'): Promise<Record<string, unknown>> {
  if (!isVersionName(version)) throw refused(field, `${JSON.stringify(version)} is not a version name (letters, digits, ".", "_", "+" or "-", starting with a letter or digit; not "current").`);
  const dir = join(serviceDir(root, service), version);
  let stat;
  try {
    stat = await lstat(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw refused(field, `service ${service} has no version ${version} (no directory ${dir}); releases.list shows the versions there are.`);
    }
    throw fsFailed(`read ${dir}`, error);
  }
  if (!stat.isDirectory()) throw refused(field, `${dir} is not a directory${stat.isSymbolicLink() ? ' (a symlink: version directories must be real directories under root)' : ''}.`);
  const release = await readReleaseJson(dir);
  if (!release.ok) throw refused(field, `version ${version} of ${service} cannot be deployed: ${release.problem}.`);
  if (release.value.version !== version) {
    throw refused(field, `${join(dir, 'release.json')} says version ${JSON.stringify(release.value.version)}, not ${version}; the directory is not what its name says.`);
  }
  return release.value;
}

/** The parsed `release.json` of directory `dir`, or why it cannot be read. */
async function readReleaseJson(dir: string): Promise<{ ok: true; value: z.output<typeof ReleaseJson> } | { ok: false; problem: string }> {
  const file = join(dir, 'release.json');
  let text: string;
  try {
    const handle = await open(file, 'r');
    try {
      const buffer = Buffer.alloc(MAX_RELEASE_JSON_BYTES + 1);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      if (bytesRead > MAX_RELEASE_JSON_BYTES) return { ok: false, problem: `release.json is larger than ${MAX_RELEASE_JSON_BYTES} bytes` };
      text = buffer.subarray(0, bytesRead).toString('utf8');
    } finally {
      await handle.close();
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { ok: false, problem: code === 'ENOENT' ? 'it has no release.json' : `release.json cannot be read (${code ?? String(error)})` };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, problem: 'release.json is not JSON' };
  }
  const parsed = ReleaseJson.safeParse(value);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, problem: 'release.json is not an object with string "service" and "version"' };
}

/**
 * The version directories of a service, sorted by version (digits compared as numbers: 1.9 < 1.10),
 * each with its `release.json` or the reason it cannot be deployed. Entries that are not directories
 * or not version names (`current`, hidden files) are left out. A missing service directory gives none.
 */
export async function listVersions(root: string, service: string): Promise<ReleaseVersion[]> {
  const dir = serviceDir(root, service);
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw fsFailed(`list ${dir}`, error);
  }
  const versions: ReleaseVersion[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory() || !isVersionName(entry.name)) continue;
    const release = await readReleaseJson(join(dir, entry.name));
    if (!release.ok) versions.push({ version: entry.name, release: null, problem: release.problem });
    else {
      const mismatch = release.value.version !== entry.name;
      versions.push({ version: entry.name, release: release.value, problem: mismatch ? `release.json says version ${release.value.version}` : null });
    }
  }
  return versions.sort((a, b) => compareVersions(a.version, b.version));
}

/** Orders version names with runs of digits compared as numbers (`1.9` < `1.10`), then as text. */
export function compareVersions(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true }) || (a < b ? -1 : a > b ? 1 : 0);
}

/**
 * Points `<root>/<service>/current` at `version` atomically: a relative symlink created under a
 * temporary hidden name beside it, then renamed over `current` (rename(2) replaces it in one step, so
 * a reader sees the old or the new target, never none).
 * @throws ConnectorError `TOOL_FAILED` when the file system refuses (the old `current` is then intact).
 */
export async function switchCurrent(root: string, service: string, version: string): Promise<void> {
  if (!isVersionName(version)) throw refused('version', `${JSON.stringify(version)} is not a version name.`);
  const dir = serviceDir(root, service);
  const temporary = join(dir, `.${CURRENT}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await symlink(version, temporary);
    await rename(temporary, join(dir, CURRENT));
  } catch (error) {
    await rm(temporary, { force: true }).catch(() => undefined);
    throw fsFailed(`point ${join(dir, CURRENT)} to ${version}`, error);
  }
}
