export { BuiltinConfigSchema, type BuiltinConfig } from './builtin-config.js';
export { createBuiltinConnector, noopTool } from './builtin-connector.js';
