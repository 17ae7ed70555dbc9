export { LogsConfigSchema, type LogsConfig } from './logs-config.js';
export { createLogsConnector, type LogsConnectorOptions } from './logs-connector.js';
