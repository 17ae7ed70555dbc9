import { describe, expect, it } from 'vitest';
import { checkHostAndOrigin, defaultAllowedHosts } from './dns-rebinding.js';

const local = { allowedHosts: defaultAllowedHosts({ host: '127.0.0.1', port: 7411 }), allowedOrigins: [] };

describe('checkHostAndOrigin', () => {
  it('accepts the loopback names on the server port, without an Origin or with their own', () => {
    for (const host of ['127.0.0.1:7411', 'localhost:7411', 'LOCALHOST:7411', '[::1]:7411']) expect(checkHostAndOrigin({ host }, local), host).toBeUndefined();
    expect(checkHostAndOrigin({ host: 'localhost:7411', origin: 'http://localhost:7411' }, local)).toBeUndefined();
  });

  it('refuses a rebound name, another port, a missing or malformed Host', () => {
    expect(checkHostAndOrigin({ host: 'evil.example:7411' }, local)).toBe('the Host evil.example:7411 is not one of mcp.server.allowedHosts');
    expect(checkHostAndOrigin({ host: 'localhost:8080' }, local)).toMatch(/not one of/);
    expect(checkHostAndOrigin({ host: 'localhost' }, local)).toMatch(/not one of/);
    expect(checkHostAndOrigin({}, local)).toBe('the request has no Host header');
    expect(checkHostAndOrigin({ host: 'user@localhost:7411' }, local)).toBe('the Host header is not host[:port]');
  });

  it('refuses an Origin of another site, null, or several, even with an allowed Host', () => {
    expect(checkHostAndOrigin({ host: 'localhost:7411', origin: 'http://evil.example' }, local)).toBe('the Origin http://evil.example is neither the Host\'s own origin nor one of mcp.server.allowedOrigins');
    expect(checkHostAndOrigin({ host: 'localhost:7411', origin: 'http://localhost:6274' }, local)).toMatch(/neither/);
    expect(checkHostAndOrigin({ host: 'localhost:7411', origin: 'null' }, local)).toMatch(/not an http\(s\) origin|not an origin/);
    expect(checkHostAndOrigin({ host: 'localhost:7411', origin: ['http://localhost:7411', 'http://evil.example'] }, local)).toMatch(/more than one/);
  });

  it('accepts an Origin listed in allowedOrigins, compared as origins', () => {
    const policy = { ...local, allowedOrigins: ['http://LOCALHOST:6274/'] };
    expect(checkHostAndOrigin({ host: 'localhost:7411', origin: 'http://localhost:6274' }, policy)).toBeUndefined();
  });

  it('matches a bare host name on any port, and the default port of the Origin\'s scheme', () => {
    const policy = { allowedHosts: ['interlock.example.com'], allowedOrigins: [] };
    expect(checkHostAndOrigin({ host: 'interlock.example.com', origin: 'https://interlock.example.com' }, policy)).toBeUndefined();
    expect(checkHostAndOrigin({ host: 'interlock.example.com:443', origin: 'https://interlock.example.com' }, policy)).toBeUndefined();
    expect(checkHostAndOrigin({ host: 'interlock.example.com:8443', origin: 'https://interlock.example.com' }, policy)).toMatch(/neither/);
  });
});

describe('defaultAllowedHosts', () => {
  it('lists the loopback names on the port, a specific listen address, and the public URL host', () => {
    expect(defaultAllowedHosts({ host: '0.0.0.0', port: 7411 })).toEqual(['127.0.0.1:7411', 'localhost:7411', '[::1]:7411']);
    expect(defaultAllowedHosts({ host: '10.0.0.5', port: 80, publicUrl: 'https://interlock.example.com' })).toEqual(['127.0.0.1:80', 'localhost:80', '[::1]:80', '10.0.0.5:80', 'interlock.example.com']);
    expect(defaultAllowedHosts({ host: 'fd00::5', port: 7411 })).toContain('[fd00::5]:7411');
  });
});
