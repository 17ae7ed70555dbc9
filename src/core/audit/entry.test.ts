import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type InterlockError } from '../errors.js';
import { AUDIT_ENTRY_KINDS, encodeEntry, REDACTED, redactSecrets, type AuditEntry } from './entry.js';
import { leafHash } from './merkle.js';
import { codeOf } from '../../../test/support/errors.js';

const decode = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);


const entry: AuditEntry = {
  schemaVersion: 1,
  kind: 'tool.called',
  actor: 'agent:triage',
  missionId: '5f2b1c9e-8a4d-4f3e-9b1a-2c3d4e5f6a7b',
  at: 1_700_000_000_000,
  data: { tool: 'nginx.reload', args: { host: 'web-1', dryRun: false }, attempt: 1, note: 'café ✓' },
};

describe('encodeEntry', () => {
  it('is the UTF-8 of the RFC 8785 canonical JSON: keys sorted at every level, no whitespace', () => {
    expect(decode(encodeEntry(entry))).toBe(
      '{"actor":"agent:triage","at":1700000000000,"data":{"args":{"dryRun":false,"host":"web-1"},"attempt":1,"note":"café ✓","tool":"nginx.reload"},"kind":"tool.called","missionId":"5f2b1c9e-8a4d-4f3e-9b1a-2c3d4e5f6a7b","schemaVersion":1}',
    );
  });

  // A saved audit log stays verifiable only if these bytes never change: this pins envelope version 1.
  // The hash was computed independently: SHA-256(0x00 || the canonical JSON above) in Python.
  it('keeps the leaf hash of a saved version 1 entry', () => {
    expect(Buffer.from(leafHash(encodeEntry(entry))).toString('hex')).toBe('979b6918d34355e5ff844f14de78fce958e305cceccf48d54ceb7431467e9db5');
  });

  it('encodes numbers in their shortest form and null missions', () => {
    const text = decode(encodeEntry({ ...entry, kind: 'policy.changed', missionId: null, data: { ratio: 1.0, big: 1e21, tiny: 1e-7, negZero: -0 } }));
    expect(text).toContain('"data":{"big":1e+21,"negZero":0,"ratio":1,"tiny":1e-7}');
    expect(text).toContain('"missionId":null');
  });

  it('gives the same bytes whatever the key order', () => {
    const reorder = (value: unknown): unknown => {
      if (Array.isArray(value)) return value.map(reorder);
      if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, reorder(v)]));
      return value;
    };
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 6 }).filter((k) => k !== '__proto__'), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 }), (data) => {
        const a = encodeEntry({ ...entry, data });
        const b = encodeEntry(reorder({ ...entry, data }) as AuditEntry);
        expect(decode(b)).toBe(decode(a));
      }),
    );
  });

  it('redacts secrets in data before encoding, so they are never hashed', () => {
    const text = decode(encodeEntry({ ...entry, data: { headers: { Authorization: 'Bearer il_abc123' }, db: { password: 'hunter2' }, items: [{ apiKey: 'k-999' }] } }));
    for (const secret of ['il_abc123', 'hunter2', 'k-999']) expect(text).not.toContain(secret);
    expect(text).toContain('"Authorization":"[REDACTED]"');
  });

  it('accepts every kind the loop records', () => {
    expect(AUDIT_ENTRY_KINDS).toHaveLength(28);
    for (const kind of AUDIT_ENTRY_KINDS) expect(decode(encodeEntry({ ...entry, kind }))).toContain(`"kind":"${kind}"`);
  });

  const invalid: [string, unknown][] = [
    ['schemaVersion', { ...entry, schemaVersion: 2 }],
    ['kind', { ...entry, kind: 'tool.invented' }],
    ['actor', { ...entry, actor: '' }],
    ['missionId', { ...entry, missionId: 42 }],
    ['missionId', { ...entry, missionId: '' }],
    ['at', { ...entry, at: 1.5 }],
    ['at', { ...entry, at: -1 }],
    ['at', { ...entry, at: '2024-01-01' }],
    ['data', { ...entry, data: [1, 2] }],
    ['data', { ...entry, data: null }],
    ['extra', { ...entry, extra: true }],
    ['data (NaN)', { ...entry, data: { value: Number.NaN } }],
    ['data (BigInt)', { ...entry, data: { value: 1n } }],
  ];

  it.each(invalid)('rejects a bad %s with AUDIT_ENTRY_INVALID', (field, bad) => {
    let error: unknown;
    try {
      encodeEntry(bad as AuditEntry);
    } catch (caught) {
      error = caught;
    }
    expect((error as InterlockError).code).toBe('AUDIT_ENTRY_INVALID');
    expect((error as Error).message).toContain(field.split(' ')[0]);
  });
});

describe('redactSecrets', () => {
  it('keeps keys that merely contain a secret word inside another word', () => {
    const input = { maxTokens: 4096, inputTokens: 10, bypass: true, passengers: 3, tokenizer: 'bpe', secretary: 'bob' };
    expect(redactSecrets(input)).toEqual(input);
  });

  it('replaces the values of secret-looking keys at any depth, inside arrays too, whatever the value', () => {
    const input = {
      user: 'alice',
      password: 'p1',
      Passphrase: 'p2',
      clientSecret: { nested: 'p3' },
      accessToken: 42,
      AUTHORIZATION: ['Bearer p4'],
      api_key: 'p5',
      'api-key': 'p6',
      apikey: 'p7',
      private_key: 'p8',
      privateKey: 'p9',
      config: { servers: [{ host: 'db', secret: 'p10', port: 5432 }] },
    };
    expect(redactSecrets(input)).toEqual({
      user: 'alice',
      password: REDACTED,
      Passphrase: REDACTED,
      clientSecret: REDACTED,
      accessToken: REDACTED,
      AUTHORIZATION: REDACTED,
      api_key: REDACTED,
      'api-key': REDACTED,
      apikey: REDACTED,
      private_key: REDACTED,
      privateKey: REDACTED,
      config: { servers: [{ host: 'db', secret: REDACTED, port: 5432 }] },
    });
  });

  it('leaves the input unchanged and other keys alone', () => {
    const input = { host: 'web-1', nested: { token: 't', keep: [1, { ok: true }] } };
    const copy = structuredClone(input);
    expect(redactSecrets(input)).toEqual({ host: 'web-1', nested: { token: REDACTED, keep: [1, { ok: true }] } });
    expect(input).toEqual(copy);
    expect(redactSecrets(['a', { key: 'public' }, null, 3])).toEqual(['a', { key: 'public' }, null, 3]);
    expect(redactSecrets('password')).toBe('password');
  });

  it('keeps a "__proto__" key a plain key', () => {
    const input = JSON.parse('{"__proto__": {"token": "t", "x": 1}}') as Record<string, unknown>;
    const output = redactSecrets(input);
    expect(Object.getPrototypeOf(output)).toBe(Object.prototype);
    expect(Object.keys(output)).toEqual(['__proto__']);
    expect(JSON.stringify(output)).toBe('{"__proto__":{"token":"[REDACTED]","x":1}}');
  });

  it('sees what JSON sees: a Date as its ISO string', () => {
    expect(redactSecrets({ when: new Date(0) })).toEqual({ when: '1970-01-01T00:00:00.000Z' });
  });

  it('rejects a cycle with AUDIT_ENTRY_INVALID', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic['self'] = cyclic;
    expect(codeOf(() => redactSecrets(cyclic))).toBe('AUDIT_ENTRY_INVALID');
    const shared = { x: 1 };
    expect(redactSecrets({ a: shared, b: shared })).toEqual({ a: { x: 1 }, b: { x: 1 } });
  });
});
