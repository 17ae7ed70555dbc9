export { FilesConfigSchema, type FilesConfig } from './files-config.js';
export { createFilesConnector } from './files-connector.js';
