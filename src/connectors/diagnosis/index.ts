export { buildEvidenceBundle, createDiagnosisConnector, createDiagnosisWaitTool, type DiagnosisSources } from './diagnosis-connector.js';
export { MAX_EVIDENCE_STEPS, planIncidentDiagnosis, type DiagnosisPlanSettings, type DiagnosisQuery, type DiagnosisRunArgs, type EvidenceStep } from './diagnosis-plan.js';
export { DiagnosisConfigSchema, type DiagnosisConfig } from './diagnosis-config.js';
