/**
 * Interlock's configuration: `interlock.yaml`, the environment and flags, validated once at start-up.
 * Every export here is public API; add one only when a caller needs it.
 */
export {
  InterlockConfigSchema,
  LOG_LEVELS,
  WORKER_ID_PATTERN,
  type AuditConfig,
  type AuthConfig,
  type JwtAuthConfig,
  type McpServerConfig,
  type IncidentsConfig,
  type IntakeConfig,
  type ConnectorsConfig,
  type DatabaseConfig,
  type EngineConfig,
  type InterlockConfig,
  type LogConfig,
  type NotificationsConfig,
  type ReviewConfig,
  type ServerConfig,
} from './schema.js';
export { formatConfigIssue, loadConfig, type ConfigEnv, type ConfigFlags, type ConfigIssue, type LoadConfigOptions } from './load-config.js';
export { redactConfig, redactDatabaseUrl } from './redact.js';
export { defaultWorkerId } from './worker-id.js';
