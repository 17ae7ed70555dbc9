import { describe, expect, it } from 'vitest';
import { authorize, parseRoleSpecs, PERMISSIONS, principalIssues, rolesIn, type Principal } from './identity.js';
import { formatToken, hashToken, tokenId, tokenMatches } from './tokens.js';

const principal = (kind: Principal['kind'], roles: Principal['roles'], name = 'p'): Principal => ({ id: '00000000-0000-4000-8000-000000000001', kind, name, groups: [], roles });

describe('authorize', () => {
  it.each([
    ['viewer', ['missions:read', 'approvals:read', 'tickets:read']],
    ['operator', ['missions:read', 'missions:write', 'approvals:read', 'signals:write', 'tickets:read']],
    ['approver', ['missions:read', 'approvals:read', 'approvals:decide', 'tickets:read']],
    ['auditor', ['missions:read', 'approvals:read', 'audit:read', 'tickets:read']],
    ['sender', ['signals:write']],
    ['admin', [...PERMISSIONS]],
  ] as const)('a human %s holds exactly %j in its project', (role, granted) => {
    const alice = principal('human', { shop: [role] });
    expect(PERMISSIONS.filter((permission) => authorize(alice, permission, 'shop').allowed)).toEqual(granted);
  });

  it('a role for one project holds nowhere else, and not for every project (*)', () => {
    const alice = principal('human', { shop: ['admin'] }, 'alice');
    expect(authorize(alice, 'missions:write', 'shop')).toEqual({ allowed: true });
    const elsewhere = authorize(alice, 'missions:write', 'payments');
    expect(elsewhere).toEqual({ allowed: false, reason: 'alice lacks missions:write in project "payments" (holds no role there); it needs one of the roles operator, admin' });
    expect(authorize(alice, 'admin', '*').allowed).toBe(false);
  });

  it('a role for * holds in every project and for global actions', () => {
    const root = principal('service', { '*': ['admin'] });
    for (const project of ['shop', 'payments', '*']) expect(authorize(root, 'admin', project).allowed).toBe(true);
  });

  it('combines the project roles with the * roles', () => {
    const bob = principal('human', { '*': ['viewer'], shop: ['approver'] }, 'bob');
    expect(rolesIn(bob, 'shop').sort()).toEqual(['approver', 'viewer']);
    expect(authorize(bob, 'approvals:decide', 'shop').allowed).toBe(true);
    expect(authorize(bob, 'approvals:decide', 'payments')).toMatchObject({ allowed: false, reason: expect.stringContaining('holds only viewer there') });
    expect(authorize(bob, 'missions:read', 'payments').allowed).toBe(true);
  });

  it('never lets an agent decide approvals, whatever its roles, but lets it do what its roles allow otherwise', () => {
    const agent = principal('agent', { '*': ['admin', 'approver'] }, 'triage-agent');
    expect(authorize(agent, 'approvals:decide', 'shop')).toEqual({ allowed: false, reason: 'triage-agent is an agent; agents never decide approvals, whatever their roles' });
    expect(authorize(agent, 'approvals:decide', '*').allowed).toBe(false);
    expect(authorize(agent, 'missions:write', 'shop').allowed).toBe(true);
  });

  it('grants nothing to a principal without roles', () => {
    const nobody = principal('human', {});
    expect(PERMISSIONS.some((permission) => authorize(nobody, permission, 'shop').allowed)).toBe(false);
  });
});

describe('role specs and principal validation', () => {
  it('parses role and role:project, without repeats; no project means every project', () => {
    expect(parseRoleSpecs(['approver', 'operator:shop', 'approver', 'viewer:shop'])).toEqual({ roles: { '*': ['approver'], shop: ['operator', 'viewer'] } });
  });

  it('names each malformed spec', () => {
    expect(parseRoleSpecs(['boss', 'viewer:Shop!', 'admin:a:b'])).toEqual({ problems: [expect.stringContaining('"boss"'), expect.stringContaining('"viewer:Shop!"'), expect.stringContaining('"admin:a:b"')] });
  });

  it('names each invalid field of a principal', () => {
    expect(principalIssues({ name: 'alice smith', groups: ['Change Board'], roles: { shop: ['root'] } }).map((issue) => issue.path)).toEqual(['name', 'groups.0', 'roles.shop']);
    expect(principalIssues({ name: 'alice', groups: ['change-board'], roles: { '*': ['viewer'], shop: ['approver'] } })).toEqual([]);
  });
});

describe('API tokens', () => {
  const id = '6f1c3c2e-8d7b-4a53-9a8e-2f0f4a0e9b11';
  const token = formatToken(id, new Uint8Array(32).fill(7));

  it('look like il_<id hex>_<43 base64url characters> and carry their ID', () => {
    expect(token).toMatch(/^il_6f1c3c2e8d7b4a539a8e2f0f4a0e9b11_[A-Za-z0-9_-]{43}$/);
    expect(tokenId(token)).toBe(id);
    for (const bad of ['', 'il_', `${token}x`, token.replace('il_', 'xx_'), `Bearer ${token}`]) expect(tokenId(bad), bad).toBeUndefined();
  });

  it('match only their own SHA-256', () => {
    expect(tokenMatches(token, hashToken(token))).toBe(true);
    const other = formatToken(id, new Uint8Array(32).fill(8));
    expect(tokenMatches(other, hashToken(token))).toBe(false);
    expect(tokenMatches(token, new Uint8Array(31))).toBe(false);
  });
});
