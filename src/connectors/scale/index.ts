export { ScaleConfigSchema, type ScaleConfig, type ScaleService } from './scale-config.js';
export { createScaleConnector, type ScaleConnectorOptions } from './scale-connector.js';
