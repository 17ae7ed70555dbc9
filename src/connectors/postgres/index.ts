export { PostgresConfigSchema, withPostgresSecrets, type PostgresConfig, type PostgresServiceConfig } from './postgres-config.js';
export { createPostgresConnector, type PostgresConnectorOptions } from './postgres-connector.js';
