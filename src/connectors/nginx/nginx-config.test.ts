import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/index.js';
import { ConfigError } from '../../core/errors.js';

let cwd: string;
beforeEach(() => {
  cwd = mkdtempSync(join(tmpdir(), 'nginx-config-'));
  mkdirSync(join(cwd, 'etc'));
});
afterEach(() => rmSync(cwd, { recursive: true, force: true }));

describe('connectors.nginx', () => {
  it('resolves its paths against the configuration file and defaults risk to write-low', () => {
    const file = join(cwd, 'etc', 'interlock.yaml');
    writeFileSync(file, [
      'connectors:',
      '  nginx:',
      '    enabled: true',
      '    mainConfig: nginx/nginx.conf',
      '    confDir: nginx/interlock',
      '    pidFile: /run/nginx.pid',
      '    upstreams: [{ name: web, servers: [{ address: "127.0.0.1:8081" }, { address: "[::1]:8082" }], maxShiftPercent: 25 }]',
      '',
    ].join('\n'));
    const { nginx } = loadConfig({ env: {}, files: [file], cwd }).connectors;
    expect(nginx).toMatchObject({ enabled: true, binary: '/usr/sbin/nginx', mainConfig: join(cwd, 'etc', 'nginx', 'nginx.conf'), confDir: join(cwd, 'etc', 'nginx', 'interlock'), pidFile: '/run/nginx.pid', timeoutMs: 10_000 });
    expect(nginx.upstreams).toEqual([{ name: 'web', servers: [{ address: '127.0.0.1:8081' }, { address: '[::1]:8082' }], risk: 'write-low', maxShiftPercent: 25 }]);
  });

  it('names every problem: duplicate upstreams and servers, an address that could add a directive, a bad name and shift', () => {
    const file = join(cwd, 'interlock.yaml');
    writeFileSync(file, [
      'connectors:',
      '  nginx:',
      '    upstreams:',
      '      - { name: web, servers: [{ address: "127.0.0.1:8081" }, { address: "127.0.0.1:8081" }] }',
      '      - { name: web, servers: [{ address: "127.0.0.1:80; include /etc/passwd" }] }',
      '      - { name: "a b", servers: [{ address: "127.0.0.1:8082" }], maxShiftPercent: 0, risk: read }',
      '',
    ].join('\n'));
    let error: unknown;
    try {
      loadConfig({ env: {}, files: [file], cwd });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.map((issue) => issue.path).sort()).toEqual([
      'connectors.nginx.upstreams.0.servers.1.address', 'connectors.nginx.upstreams.1.name', 'connectors.nginx.upstreams.1.servers.0.address',
      'connectors.nginx.upstreams.2.maxShiftPercent', 'connectors.nginx.upstreams.2.name', 'connectors.nginx.upstreams.2.risk',
    ]);
  });
});
