export { SupervisorConfigSchema, type SupervisorConfig } from './supervisor-config.js';
export { createSupervisorConnector } from './supervisor-connector.js';
