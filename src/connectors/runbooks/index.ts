export { loadRunbookDirectory, isRunbookFileName, type LoadedRunbooks } from './runbook-loader.js';
export { createRunbooksConnector, type RunbookDispatchSources } from './runbooks-connector.js';
export { RunbooksConfigSchema, type RunbooksConfig } from './runbooks-config.js';
