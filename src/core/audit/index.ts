// The audit log's pure core (issue #4): RFC 6962 / RFC 9162 Merkle tree hashing and proofs, C2SP
// signed notes and checkpoints, and the audit entry envelope. Any new export added here becomes
// public API.
export {
  HASH_SIZE,
  MerkleAccumulator,
  consistencyProof,
  emptyRoot,
  inclusionProof,
  leafHash,
  nodeHash,
  rootFromLeafHashes,
  verifyConsistency,
  verifyInclusion,
  type ProofVerification,
} from './merkle.js';
export {
  MAX_NOTE_SIGNATURES,
  formatVerifierKey,
  generateSigner,
  parseNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
  verifyNote,
  type Ed25519NoteSigner,
  type NoteSignature,
  type NoteSigner,
  type NoteVerification,
  type NoteVerifier,
  type ParsedNote,
} from './signed-note.js';
export { formatCheckpoint, parseCheckpoint, type Checkpoint, type CheckpointInput } from './checkpoint.js';
export {
  AUDIT_ENTRY_KINDS,
  AUDIT_ENTRY_SCHEMA_VERSION,
  REDACTED,
  isSecretKey,
  encodeEntry,
  redactSecrets,
  type AuditEntry,
  type AuditEntryKind,
} from './entry.js';
