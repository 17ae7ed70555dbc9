export { ChangesConfigSchema, type ChangesConfig } from './changes-config.js';
export { createChangesConnector, type ChangesConnectorOptions } from './changes-connector.js';
