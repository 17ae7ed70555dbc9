export { AlertmanagerConfigSchema, type AlertmanagerConfig } from './alertmanager-config.js';
export { createAlertmanagerConnector } from './alertmanager-connector.js';
