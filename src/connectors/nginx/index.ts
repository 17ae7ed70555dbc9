export { NginxConfigSchema, type NginxConfig, type NginxUpstreamConfig } from './nginx-config.js';
export { createNginxConnector, type NginxConnectorOptions } from './nginx-connector.js';
