export { PrometheusConfigSchema, type PrometheusConfig } from './prometheus-config.js';
export { createPrometheusConnector } from './prometheus-connector.js';
