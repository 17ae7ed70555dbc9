// The store's public API: PostgreSQL (server or embedded) implementations of the core ports and
// the schema migrations. Listed by hand: anything added here becomes public API.
export { checkConnection, createDatabase, withAdvisoryLock, type DatabaseHandle, type DatabaseOptions } from './database.js';
export { startEmbeddedPostgres, type EmbeddedPostgres, type EmbeddedPostgresOptions } from './embedded-postgres.js';
export { migrateToLatest, migrationStatus, type MigrationReport, type MigrationState } from './migrate.js';
export { PgAuditLog, type AuditCheckpointRecord, type AuditCheckpointResult, type AuditConsistencyProof, type AuditPage, type AuditProof, type AuditQuery, type AuditRecord, type AuditVerification } from './audit-log.js';
export { PgGuardStore } from './guard-store.js';
export { PgApprovalStore, type ConsumeResult, type NewApproval } from './approval-store.js';
export { PgIdentityStore } from './identity-store.js';
export { PgMissionStore } from './mission-store.js';
export type { Database } from './schema.js';
export { PgWorkerRegistry } from './worker-registry.js';
export { PgNotificationOutbox, type ClaimedNotification } from './notification-outbox.js';
export { PgTicketStore, type NotificationRecord, type NotificationTarget, type PgTicketStoreOptions, type TicketFilter } from './ticket-store.js';
export { PgSignalStore, incidentTitle, type IncidentFilter, type IncidentRecord, type IntakeInput, type IntakeResult, type SignalOutcome, type SignalRecord, type TouchedIncident } from './signal-store.js';
export { PgMcpPinStore, type McpAcceptedPin, type McpHeldPin, type McpToolPinRecord } from './mcp-pin-store.js';
export { PgTrackRecordStore, type TrackRecordFilter } from './track-record-store.js';
