export { ReleasesConfigSchema, type ReleasesConfig, type ReleaseService } from './releases-config.js';
export { createReleasesConnector, type ReleasesConnectorOptions } from './releases-connector.js';
export { deployRelease, type DeployReleaseRequest, type DeployReleaseResult, type ReleaseEnvironment, type RestartedProcess } from './deploy-release.js';
