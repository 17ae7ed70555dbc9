import { Option, type Command } from 'commander';
import { APPROVAL_STATUSES, type ApprovalStatus, type VoteDecision } from '../../core/approvals/approval.js';
import { apiFor, withApiOptions } from '../api.js';
import { integerIn } from '../arguments.js';
import { CliError, globalOptions, type CliContext } from '../context.js';
import type { ApprovalView } from '../deps.js';
import { formatAge, formatTime, renderTable, toJson, truncate } from '../output.js';

interface ListOptions {
  readonly status?: ApprovalStatus;
  readonly project?: string;
  readonly mission?: string;
  readonly limit?: number;
}

interface VoteOptions {
  readonly comment?: string;
  readonly hash?: string;
  readonly yes?: boolean;
}

/**
 * Registers `interlock approvals list|show|approve|deny`, which talk to a running server's HTTP API
 * (`--url`, `--token` / `INTERLOCK_TOKEN`). `approve` and `deny` first fetch the request, print its
 * risk summary and exact actions, ask for confirmation at a terminal (unless `--yes`), and send the
 * `actionHash` they printed (or `--hash`, the one you reviewed earlier), so a vote only ever counts
 * for the actions shown.
 */
export function registerApprovalsCommand(program: Command, ctx: CliContext): void {
  const approvals = withApiOptions(program.command('approvals').description("review and decide approval requests through a running server's HTTP API"));

  approvals
    .command('list')
    .description('list approval requests, newest first')
    .addOption(new Option('--status <status>', 'only requests with this status').choices(APPROVAL_STATUSES))
    .option('--project <project>', 'only requests of this project')
    .option('--mission <id>', 'only requests of this mission')
    .option('--limit <n>', 'at most this many (the server defaults to 50)', integerIn(1, 500))
    .action(async (options: ListOptions, command: Command) => {
      const found = await apiFor(ctx, command).listApprovals(options);
      if (globalOptions(command).json === true) {
        ctx.io.out(toJson(found));
        return;
      }
      const now = ctx.now();
      ctx.io.out(
        found.length === 0
          ? 'no approval requests match'
          : renderTable(
              ['ID', 'MISSION', 'PROJECT', 'REQUESTER', 'RISK', 'STATUS', 'VOTES', 'EXPIRES'],
              found.map((a) => [a.id, a.missionId, a.project, truncate(a.requester, 24), a.risk, a.status, `${a.approvals}/${a.requirement.quorum}`, expiry(a.requirement.expiresAt, now)]),
            ),
      );
    });

  approvals
    .command('show')
    .description('show an approval request: risk summary, exact actions, policy reasons, votes and the action hash')
    .argument('<id>', 'approval request ID')
    .action(async (id: string, _options: unknown, command: Command) => {
      const found = await apiFor(ctx, command).getApproval(id);
      ctx.io.out(globalOptions(command).json === true ? toJson(found) : approvalReport(found, ctx.now()));
    });

  for (const decision of ['approve', 'deny'] as const) {
    approvals
      .command(decision)
      .description(decision === 'approve' ? 'approve a request after reviewing its actions (the quorum-th approval grants it)' : 'deny a request after reviewing its actions (one eligible deny denies it)')
      .argument('<id>', 'approval request ID')
      .option('--comment <text>', 'why; shown with the vote and recorded on the mission')
      .option('--hash <sha256>', 'the action hash you reviewed (default: the one printed now)')
      .option('--yes', 'do not ask for confirmation at the terminal')
      .action(async (id: string, options: VoteOptions, command: Command) => vote(ctx, command, id, decision, options));
  }
}

async function vote(ctx: CliContext, command: Command, id: string, decision: VoteDecision, options: VoteOptions): Promise<void> {
  const api = apiFor(ctx, command);
  const json = globalOptions(command).json === true;
  const request = await api.getApproval(id);
  if (!json) ctx.io.out(approvalReport(request, ctx.now()));
  const actionHash = options.hash ?? request.actionHash;
  if (options.yes !== true && ctx.confirm !== undefined) {
    const count = request.actions.length;
    const answer = await ctx.confirm(`${decision === 'approve' ? 'Approve' : 'Deny'} ${count === 1 ? 'this action' : `these ${count} actions`} (hash ${actionHash.slice(0, 12)}…)? [y/N] `);
    if (!answer) throw new CliError(`not ${decision === 'approve' ? 'approved' : 'denied'}: nothing was sent`);
  }
  const after = await api.vote(id, decision, { actionHash, ...(options.comment === undefined ? {} : { comment: options.comment }) });
  if (json) {
    ctx.io.out(toJson(after));
    return;
  }
  const progress = after.status === 'pending' ? `still pending: ${after.approvals} of ${after.requirement.quorum} approvals` : `now ${after.status}`;
  ctx.io.out(`${decision === 'approve' ? 'approved' : 'denied'} approval ${after.id} (mission ${after.missionId}); ${progress}`);
}

/** `in 12m`, `12m ago`, for an expiry instant. */
function expiry(at: number, now: number): string {
  return at > now ? `in ${formatAge(at - now)}` : `${formatAge(now - at)} ago`;
}

/** The review report of an approval request, as `show`, `approve` and `deny` print it. */
function approvalReport(request: ApprovalView, now: number): string {
  const { quorum, groups, expiresAt } = request.requirement;
  const fields: Array<[string, string]> = [
    ['mission', `${request.missionId} (project ${request.project})`],
    ['requester', request.requester],
    ['risk', request.risk],
    ['summary', request.summary],
    ['quorum', `${request.approvals} of ${quorum} approval${quorum === 1 ? '' : 's'}${groups.length === 0 ? '' : `, from ${groups.join(' or ')}`}`],
    ['expires', `${formatTime(expiresAt)} (${expiry(expiresAt, now)})`],
    ['policy', request.binding.policyDigest],
    ['hash', request.actionHash],
  ];
  const width = Math.max(...fields.map(([name]) => name.length));
  const lines = [`Approval ${request.id}: ${request.status}`, ...fields.map(([name, value]) => `  ${name.padEnd(width)}  ${value}`)];
  lines.push('', 'Actions');
  for (const action of request.actions) {
    const { service, environment, tier } = action.target;
    const target = [service, environment].filter((part) => part !== null && part !== '').join('/') || '(no target)';
    lines.push(`  ${action.stepId}  ${action.tool} on ${target}${tier === null ? '' : ` (tier ${tier})`}`);
    lines.push(`      args  ${JSON.stringify(action.args)}`);
    lines.push(`      diff  ${action.diff ?? '(not available: the tool computes none)'}`);
  }
  lines.push('', 'Policy reasons');
  lines.push(...(request.reasons.length === 0 ? ['  (none)'] : request.reasons.map((reason) => `  - ${reason.rule} (${reason.effect}): ${reason.message}`)));
  lines.push('', 'Votes');
  lines.push(request.votes.length === 0 ? '  (none yet)' : renderTable(['WHO', 'DECISION', 'WHEN', 'COMMENT'], request.votes.map((v) => [v.principal, v.decision, formatTime(v.at), v.comment ?? '-'])));
  return lines.join('\n');
}
