// The governance rules Interlock must never break (issue #3, part 7), each with an ID that tests cite
// in their titles as `[ID]`. test/requirements.test.ts fails when a rule has no test citing it.

/** One governance rule. */
export interface Requirement {
  readonly id: string;
  readonly rule: string;
}

/** Every governance rule, in the words a reviewer checks them by. */
export const REQUIREMENTS: readonly Requirement[] = [
  { id: 'GOV-GATE', rule: 'No write step runs without a recorded policy decision for exactly that mission plan, made in the review stage before execute.' },
  { id: 'GOV-CONTRACT', rule: 'A call to an unknown tool, or with arguments that violate its schema, is refused before any I/O, naming every violation.' },
  { id: 'GOV-APPROVAL-BINDING', rule: 'A plan that needs approval runs only after approvals bound to the SHA-256 of the RFC 8785 canonical JSON of its exact actions and policy digest; a different hash is refused.' },
  { id: 'GOV-APPROVAL-SINGLE-USE', rule: 'A grant is consumed once; a replayed or second use is refused.' },
  { id: 'GOV-SELF-APPROVAL', rule: 'The requester of an action, human or agent, can never approve it.' },
  { id: 'GOV-AGENT-NO-APPROVE', rule: 'An agent never holds approval rights, whatever its roles.' },
  { id: 'GOV-QUORUM', rule: 'M-of-N quorum from the eligible groups; fewer approvals leave the request pending.' },
  { id: 'GOV-APPROVAL-EXPIRY', rule: 'An expired approval request cannot be approved or consumed.' },
  { id: 'GOV-APPROVER-SCOPE', rule: 'Approvers are authenticated principals holding the approve permission on the mission project.' },
  { id: 'GOV-AUTH', rule: 'Every API call is authenticated; a missing, unknown or revoked token is refused.' },
  { id: 'GOV-RECHECK', rule: 'Right before execution the policy is evaluated again on fresh state; if the approved actions no longer match, the plan goes back to review.' },
  { id: 'GOV-POLICY-LOAD', rule: 'A policy set naming an unknown field or mistyping one is rejected at load with file and line, and the last valid set stays in force.' },
  { id: 'GOV-POLICY-FAIL-CLOSED', rule: 'A policy condition that fails at evaluation contributes escalate, never a silent false.' },
  { id: 'GOV-PRECEDENCE', rule: 'The most restrictive decision wins: deny > escalate > require_approval > allow.' },
  { id: 'GOV-KILL', rule: 'An engaged kill switch stops new write steps in its scope; running missions park before their next write.' },
  { id: 'GOV-BREAKER', rule: 'The same action on the same target X times within Y minutes without the observed state changing freezes it and escalates.' },
  { id: 'GOV-SHADOW', rule: 'Shadow mode records what would have run and executes nothing.' },
  { id: 'GOV-SUGGEST', rule: 'Autonomy level suggest never executes; approve always asks a person.' },
  { id: 'GOV-AUDIT-FAIL-CLOSED', rule: 'A vote, an approval decision or a policy change takes effect only together with its audit entry; when the audit log cannot record it, it does not take effect (503 AUDIT_UNAVAILABLE).' },
];
