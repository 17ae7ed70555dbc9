import { describe, expect, it } from 'vitest';
import { GENERATED_HEADER, parseUpstream, renderUpstream, trafficShift } from './upstream-file.js';

describe('the generated upstream file', () => {
  it('writes one server line per server, weight 0 as down', () => {
    expect(renderUpstream('web', [{ address: '127.0.0.1:8081', weight: 90 }, { address: '[::1]:8082', weight: 0 }])).toBe([
      GENERATED_HEADER,
      'upstream web {',
      '    server 127.0.0.1:8081 weight=90;',
      '    server [::1]:8082 down;',
      '}',
      '',
    ].join('\n'));
  });

  it('reads back exactly what it wrote, and nothing else', () => {
    const servers = [{ address: '127.0.0.1:8081', weight: 100 }, { address: '127.0.0.1:8082', weight: 0 }];
    const text = renderUpstream('web', servers);
    expect(parseUpstream('web', text)).toEqual(servers);
    expect(parseUpstream('api', text)).toBeUndefined();
    expect(parseUpstream('web', 'upstream web {\n    server 127.0.0.1:8081;\n}\n')).toBeUndefined();
    expect(parseUpstream('web', text.replace('weight=100;', 'weight=100 max_fails=0;'))).toBeUndefined();
    expect(parseUpstream('web', `${text}include /etc/passwd;\n`)).toBeUndefined();
  });

  it('measures a shift as the largest change of one server\'s share of the traffic', () => {
    const w = (a: number, b: number) => [{ address: 'a:1', weight: a }, { address: 'b:1', weight: b }];
    expect(trafficShift(w(90, 10), w(80, 20))).toBe(10);
    expect(trafficShift(w(100, 0), w(0, 100))).toBe(100);
    expect(trafficShift(w(1, 1), w(50, 50))).toBe(0);
    expect(trafficShift(w(1, 1), w(100, 0))).toBe(50);
  });
});
