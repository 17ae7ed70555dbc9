import { createHash } from 'node:crypto';
import { hostname } from 'node:os';

/**
 * The worker ID used when `engine.workerId` is not set: `<hostname>-<first 8 hex digits of
 * sha256(dataDir)>`, e.g. `web-1-3f9a0c12`. Stable across restarts of one installation, and distinct
 * for two installations on one host. The hostname is lowercased, characters outside `[a-z0-9._-]`
 * become `-`, and it is cut to 54 characters, so the ID always matches `WORKER_ID_PATTERN`.
 *
 * @param dataDir the absolute data directory, as in `InterlockConfig.dataDir`.
 * @param host the host name. @default os.hostname()
 */
export function defaultWorkerId(dataDir: string, host: string = hostname()): string {
  const hash = createHash('sha256').update(dataDir).digest('hex').slice(0, 8);
  const name = host.toLowerCase().replace(/[^a-z0-9._-]/g, '-').replace(/^[^a-z0-9]+/, '').slice(0, 54);
  return `${name === '' ? 'worker' : name}-${hash}`;
}
