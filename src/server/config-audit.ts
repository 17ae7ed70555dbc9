// The `config.changed` audit entry a worker records when it starts serving: which configuration
// (redacted, and its digest) it runs under, so an auditor can tell what every later entry ran under.
import { createHash } from 'node:crypto';
import { canonicalJson } from '../core/approvals/binding-hash.js';
import { redactSecrets } from '../core/audit/entry.js';
import { InterlockError } from '../core/errors.js';
import type { AuditLog } from '../core/ports.js';
import { redactConfig, type InterlockConfig } from '../config/index.js';

/** What a worker records about itself with its configuration. */
export interface ConfigRecordOptions {
  /** The worker's ID; also the entry's actor. */
  readonly workerId: string;
  /** Interlock's package version. */
  readonly version: string;
  /** Digest of the policy set in force at start (later changes are `policy.changed` entries). */
  readonly policyDigest: string;
  /** ms since the epoch. */
  readonly at: number;
}

/**
 * The configuration as the audit log stores it, and its digest: `config` is `redactConfig(config)`
 * with the entry redaction (`redactSecrets`) applied too, so the stored value is exactly what was
 * hashed; `digest` is the SHA-256 (hex) of its RFC 8785 canonical JSON. Two workers with the same
 * digest run under the same configuration (up to secrets).
 */
export function recordedConfig(config: InterlockConfig): { readonly config: Record<string, unknown>; readonly digest: string } {
  const redacted = redactSecrets(redactConfig(config) as unknown as Record<string, unknown>);
  return { config: redacted, digest: createHash('sha256').update(canonicalJson(redacted), 'utf8').digest('hex') };
}

/**
 * Appends the `config.changed` entry of a worker starting to serve: the redacted configuration, its
 * digest (see {@link recordedConfig}), the worker ID, the version and the policy digest; actor = the
 * worker ID. Call it before the worker takes work: a worker whose configuration is not on the record
 * does not serve.
 *
 * @throws InterlockError `AUDIT_UNAVAILABLE` when the audit log cannot record it.
 */
export async function recordConfig(audit: AuditLog, config: InterlockConfig, options: ConfigRecordOptions): Promise<void> {
  const recorded = recordedConfig(config);
  const data = { workerId: options.workerId, version: options.version, digest: recorded.digest, policyDigest: options.policyDigest, config: recorded.config };
  try {
    await audit.append([{ schemaVersion: 1, kind: 'config.changed', actor: options.workerId, missionId: null, at: options.at, data }]);
  } catch (error) {
    throw new InterlockError('AUDIT_UNAVAILABLE', `The audit log could not record the configuration of worker ${options.workerId}, so it does not start; check the database and start it again.`, { cause: error, details: { workerId: options.workerId } });
  }
}
