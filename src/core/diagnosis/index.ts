// Diagnosis (issue #5): the built-in, deterministic diagnosis engine and the detectors it is made of.
// Connectors fill an evidence bundle; `diagnose` returns ranked hypotheses with calibrated
// confidences, facts citing the evidence, assumptions, missing evidence, checks and a remediation
// hint. Pure: no I/O. Any new export added here becomes public API.
export { DIAGNOSIS_ENGINE, diagnose, resolveDiagnosisOptions, type Diagnosis, type DiagnosisOptions, type OnsetSource, type ResolvedDiagnosisOptions, type SeriesAnomaly, type SignatureCoverage } from './engine.js';
export {
  CHANGE_KINDS,
  EVIDENCE_LIMITS,
  EvidenceBundleSchema,
  SERIES_ROLES,
  emptyEvidenceBundle,
  parseEvidenceBundle,
  type ChangeKind,
  type EvidenceBundle,
  type EvidenceChange,
  type EvidenceLatencySamples,
  type EvidenceLogLine,
  type EvidenceLogs,
  type EvidenceReference,
  type EvidenceSeries,
  type EvidenceSignal,
  type SeriesRole,
} from './evidence.js';
export { HYPOTHESIS_KINDS, REMEDIATION_ACTIONS, type Check, type Fact, type Hypothesis, type HypothesisKind, type Remediation, type RemediationAction } from './hypothesis.js';
export { DIAGNOSIS_CALIBRATION, calibratedConfidence, type DiagnosisCalibration, type PlattParameters } from './calibration.js';
export type { SignatureOptions } from './signatures.js';
// The detectors, for callers that need one on its own.
export { createAnomalyDetector, scoreSeries, type AnomalyDetector, type AnomalyDetectorOptions, type AnomalyScore, type SeriesPoint } from './anomaly.js';
export { rankRootCauses, type MetricScore, type MetricSeries, type RcaOptions, type RcaWindow, type RootCauseHypothesis, type RootCauseRanking } from './rca.js';
export { detectOnset, type OnsetDetection, type OnsetDetectionOptions } from './change-point.js';
export { checkCanary, ksTwoSample, type CanaryCheck, type CanaryOptions, type CanaryVerdict, type KsResult } from './canary.js';
export { createLogLineFormat, type LogLineFormat } from './log-format.js';
export { DEFAULT_MASKING_RULES, createLogTemplateMiner, restoreLogTemplateMiner, type LogTemplate, type LogTemplateMiner, type LogTemplateMinerOptions, type MaskingRule } from './log-templates.js';
export { findLogNovelties, looksLikeError, type LogLine, type LogNoveltyOptions, type LogNoveltyReport, type LogNoveltyWindows, type LogTemplateFinding } from './log-novelty.js';
