/**
 * Principals, roles and permissions: who may do what, in which project. Pure: no I/O. A principal is
 * an identity (a person, an agent, a service); API tokens authenticate a principal but are not it, so
 * an SSO login can later resolve to the same principal. See docs/security.md.
 */

/** What a principal is: a person, an AI agent, or a non-AI system (a CI job, an alert bridge). */
export const PRINCIPAL_KINDS = ['human', 'agent', 'service'] as const;

/** The kind of a principal. Agents can never decide approvals, whatever their roles. */
export type PrincipalKind = (typeof PRINCIPAL_KINDS)[number];

/**
 * Roles, from least to most powerful. `viewer` reads missions and approvals; `operator` also creates
 * and cancels missions; `approver` reads and decides approvals (but does not create missions);
 * `admin` may do everything, including token management, kill switches and policy reload.
 */
export const ROLES = ['viewer', 'operator', 'approver', 'auditor', 'sender', 'admin'] as const;

/** A role a principal holds in a project (or in every project, `*`). */
export type Role = (typeof ROLES)[number];

/** The project key that means "every project" in a principal's roles. */
export const ALL_PROJECTS = '*';

/**
 * What a principal may ask for: `missions:read` (list and show missions), `missions:write` (create,
 * cancel), `approvals:read` (list and show approval requests), `approvals:decide` (vote),
 * `audit:read` (query the audit log, its checkpoints and proofs; always checked against `*`, since
 * the log spans projects), `signals:write` (send signals to a source of the project), `tickets:read`
 * (list and show tickets and their notifications), `admin` (tokens, kill switches, policy reload,
 * checkpoints on demand).
 */
export const PERMISSIONS = ['missions:read', 'missions:write', 'approvals:read', 'approvals:decide', 'audit:read', 'signals:write', 'tickets:read', 'admin'] as const;

/** One permission; see {@link PERMISSIONS}. */
export type Permission = (typeof PERMISSIONS)[number];

/** The permissions each role grants. */
export const ROLE_PERMISSIONS: Readonly<Record<Role, readonly Permission[]>> = {
  viewer: ['missions:read', 'approvals:read', 'tickets:read'],
  operator: ['missions:read', 'missions:write', 'approvals:read', 'signals:write', 'tickets:read'],
  approver: ['missions:read', 'approvals:read', 'approvals:decide', 'tickets:read'],
  auditor: ['missions:read', 'approvals:read', 'audit:read', 'tickets:read'],
  sender: ['signals:write'],
  admin: PERMISSIONS,
};

/**
 * An identity Interlock knows: a person, an agent or a service. `name` is unique and is what missions
 * record as their `requester` and votes as their voter; `id` is stable and is not a token ID.
 */
export interface Principal {
  /** UUID. */
  readonly id: string;
  readonly kind: PrincipalKind;
  /** Unique, 1..200 characters without whitespace, e.g. `alice` or `triage-agent`. */
  readonly name: string;
  /** Groups the principal belongs to, e.g. `change-board`; approval requirements name groups. */
  readonly groups: readonly string[];
  /** Roles by project; the key `*` ({@link ALL_PROJECTS}) applies to every project. */
  readonly roles: Readonly<Record<string, readonly Role[]>>;
}

/** The answer of {@link authorize}: allowed, or refused with a reason a person can act on. */
export type Authorization = { readonly allowed: true } | { readonly allowed: false; readonly reason: string };

/**
 * Whether `principal` may do `permission` in `project`. Roles held for `project` and for `*` both
 * count; for a global action (e.g. `admin`, or listing missions of every project) pass `*`, and then
 * only roles held for `*` count. An agent never holds `approvals:decide`, whatever its roles
 * (DESIGN.md: the LLM never holds approval rights).
 */
export function authorize(principal: Principal, permission: Permission, project: string): Authorization {
  if (permission === 'approvals:decide' && principal.kind === 'agent') {
    return { allowed: false, reason: `${principal.name} is an agent; agents never decide approvals, whatever their roles` };
  }
  const roles = rolesIn(principal, project);
  if (roles.some((role) => ROLE_PERMISSIONS[role].includes(permission))) return { allowed: true };
  const where = project === ALL_PROJECTS ? 'every project (*)' : `project "${project}"`;
  const granting = ROLES.filter((role) => ROLE_PERMISSIONS[role].includes(permission));
  const held = roles.length === 0 ? 'no role there' : `only ${roles.join(', ')} there`;
  return { allowed: false, reason: `${principal.name} lacks ${permission} in ${where} (holds ${held}); it needs one of the roles ${granting.join(', ')}` };
}

/** The roles `principal` holds in `project`: those for the project itself and those for `*`, without repeats. */
export function rolesIn(principal: Principal, project: string): Role[] {
  const own = project === ALL_PROJECTS ? [] : (principal.roles[project] ?? []);
  return [...new Set([...own, ...(principal.roles[ALL_PROJECTS] ?? [])])];
}

const NAME = /^[^\s]{1,200}$/;
const GROUP = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
const PROJECT = /^(\*|[a-z0-9][a-z0-9_-]{0,62})$/;

/**
 * The problems of a principal's `name`, `groups` and `roles` as the CLI and the store accept them,
 * as `{ path, message, expected }` issues; empty when valid. Names have no whitespace (they appear in
 * reasons and audit entries), groups and projects are lowercase slugs (`*` for every project).
 */
export function principalIssues(input: { readonly name: string; readonly groups: readonly string[]; readonly roles: Readonly<Record<string, readonly string[]>> }): Array<{ path: string; message: string; expected: string }> {
  const issues: Array<{ path: string; message: string; expected: string }> = [];
  if (!NAME.test(input.name)) issues.push({ path: 'name', message: 'not a valid principal name', expected: '1 to 200 characters without whitespace' });
  input.groups.forEach((group, index) => {
    if (!GROUP.test(group)) issues.push({ path: `groups.${index}`, message: `"${group}" is not a valid group`, expected: 'a lowercase slug: letters, digits, "_", "." or "-"' });
  });
  for (const [project, roles] of Object.entries(input.roles)) {
    if (!PROJECT.test(project)) issues.push({ path: `roles.${project}`, message: `"${project}" is not a valid project`, expected: 'a project slug, or * for every project' });
    for (const role of roles) {
      if (!(ROLES as readonly string[]).includes(role)) issues.push({ path: `roles.${project}`, message: `"${role}" is not a role`, expected: `one of ${ROLES.join(', ')}` });
    }
  }
  return issues;
}

/**
 * Parses role specs as the CLI takes them, `role` or `role:project` (`approver:shop`; no project means
 * every project, `*`), into a roles map. Returns the problems instead when a spec is malformed.
 */
export function parseRoleSpecs(specs: readonly string[]): { roles: Record<string, Role[]> } | { problems: string[] } {
  const roles: Record<string, Role[]> = {};
  const problems: string[] = [];
  for (const spec of specs) {
    const [role = '', project = ALL_PROJECTS, ...rest] = spec.split(':');
    if (rest.length > 0 || !(ROLES as readonly string[]).includes(role) || !PROJECT.test(project)) {
      problems.push(`"${spec}" is not a role spec; expected role or role:project with role one of ${ROLES.join(', ')}`);
      continue;
    }
    const list = (roles[project] ??= []);
    if (!list.includes(role as Role)) list.push(role as Role);
  }
  return problems.length > 0 ? { problems } : { roles };
}
