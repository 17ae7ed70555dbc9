import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { WORKER_ID_PATTERN } from './schema.js';
import { defaultWorkerId } from './worker-id.js';

describe('defaultWorkerId', () => {
  it('is the host name and 8 hex digits of sha256(dataDir), the same on every call', () => {
    // sha256('/srv/interlock/.interlock') starts with these 8 hex digits (`printf %s /srv/interlock/.interlock | sha256sum`).
    expect(defaultWorkerId('/srv/interlock/.interlock', 'web-1')).toBe('web-1-de0816cf');
    expect(defaultWorkerId('/srv/interlock/.interlock')).toBe(defaultWorkerId('/srv/interlock/.interlock'));
    expect(defaultWorkerId('/srv/interlock/.interlock')).toBe(defaultWorkerId('/srv/interlock/.interlock', hostname()));
  });

  it('differs between two installations on one host', () => {
    expect(defaultWorkerId('/srv/a/.interlock', 'web-1')).not.toBe(defaultWorkerId('/srv/b/.interlock', 'web-1'));
  });

  it('always satisfies the engine.workerId pattern, whatever the host name', () => {
    for (const host of ['Web-1.Example.COM', '-weird host!', '', 'x'.repeat(300)]) {
      expect(defaultWorkerId('/data', host)).toMatch(WORKER_ID_PATTERN);
    }
  });
});
