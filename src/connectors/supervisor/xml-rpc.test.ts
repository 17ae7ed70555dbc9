import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeMethodResponse, encodeMethodCall, XmlRpcParseError } from './xml-rpc.js';

const recorded = (name: string): string => readFileSync(new URL(`../../../test/fixtures/supervisor/${name}.xml`, import.meta.url), 'utf8');
const response = (value: string): string => `<?xml version="1.0"?><methodResponse><params><param><value>${value}</value></param></params></methodResponse>`;

describe('XML-RPC encoding', () => {
  it('encodes a call with every value type, escaping markup in strings', () => {
    const xml = encodeMethodCall('supervisor.startProcess', ['a<b>&c', true, 42, 1.5, null, ['x', 0], { name: 'web', wait: false }]);
    expect(xml).toBe('<?xml version="1.0"?>\n<methodCall><methodName>supervisor.startProcess</methodName><params>'
      + '<param><value><string>a&lt;b&gt;&amp;c</string></value></param>'
      + '<param><value><boolean>1</boolean></value></param>'
      + '<param><value><int>42</int></value></param>'
      + '<param><value><double>1.5</double></value></param>'
      + '<param><value><nil/></value></param>'
      + '<param><value><array><data><value><string>x</string></value><value><int>0</int></value></data></array></value></param>'
      + '<param><value><struct><member><name>name</name><value><string>web</string></value></member><member><name>wait</name><value><boolean>0</boolean></value></member></struct></value></param>'
      + '</params></methodCall>');
  });

  it('refuses what XML or XML-RPC cannot carry', () => {
    expect(() => encodeMethodCall('supervisor.getProcessInfo', ['web\u0000'])).toThrow(TypeError);
    expect(() => encodeMethodCall('a<b', [])).toThrow(TypeError);
    expect(() => encodeMethodCall('m', [Number.NaN])).toThrow(TypeError);
  });

  it('decodes what it encodes, strings with markup included', () => {
    const value = encodeMethodCall('m', [{ text: 'a<b>&"c"' }]).replace(/^[\s\S]*<param>(<value>[\s\S]*<\/value>)<\/param>[\s\S]*$/, '$1');
    expect(decodeMethodResponse(`<methodResponse><params><param>${value}</param></params></methodResponse>`)).toEqual({ kind: 'result', value: { text: 'a<b>&"c"' } });
  });
});

describe('XML-RPC decoding of real supervisord answers', () => {
  it('decodes getProcessInfo and getAllProcessInfo', () => {
    const info = decodeMethodResponse(recorded('get-process-info-starting'));
    expect(info).toMatchObject({ kind: 'result', value: { name: 'web', group: 'web', statename: 'STARTING', state: 10, stop: 0, spawnerr: '', description: '' } });
    expect((info as unknown as { value: { pid: number } }).value.pid).toBeGreaterThan(0);
    const all = decodeMethodResponse(recorded('get-all-process-info'));
    expect(all).toMatchObject({ kind: 'result', value: [{ name: 'web', group: 'web' }] });
    expect(decodeMethodResponse(recorded('stop-process'))).toEqual({ kind: 'result', value: true });
  });

  it('decodes faults with their code and string', () => {
    expect(decodeMethodResponse(recorded('fault-bad-name'))).toEqual({ kind: 'fault', code: 10, message: 'BAD_NAME: nope' });
    expect(decodeMethodResponse(recorded('fault-already-started'))).toEqual({ kind: 'fault', code: 60, message: 'ALREADY_STARTED: web' });
    expect(decodeMethodResponse(recorded('fault-not-running'))).toEqual({ kind: 'fault', code: 70, message: 'NOT_RUNNING: web' });
  });

  it('reads an untyped value as a string, and i4, nil and double', () => {
    expect(decodeMethodResponse(response('plain'))).toEqual({ kind: 'result', value: 'plain' });
    expect(decodeMethodResponse(response('<i4>-7</i4>'))).toEqual({ kind: 'result', value: -7 });
    expect(decodeMethodResponse(response('<nil/>'))).toEqual({ kind: 'result', value: null });
    expect(decodeMethodResponse(response('<double>-2.5e3</double>'))).toEqual({ kind: 'result', value: -2500 });
  });
});

describe('XML-RPC decoding is strict', () => {
  it.each([
    ['not well-formed XML', '<methodResponse><params>'],
    ['a DOCTYPE (entity expansion)', '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><methodResponse><params><param><value>&lol;</value></param></params></methodResponse>'],
    ['another root element', '<methodCall><params/></methodCall>'],
    ['two params', '<methodResponse><params><param><value>a</value></param><param><value>b</value></param></params></methodResponse>'],
    ['an int that is not one', response('<int>12abc</int>')],
    ['an int beyond safe integers', response('<i8>99999999999999999</i8>')],
    ['a boolean other than 0 or 1', response('<boolean>true</boolean>')],
    ['an unknown type', response('<float>1</float>')],
    ['a struct member without a value', response('<struct><member><name>a</name></member></struct>')],
    ['a fault without faultCode', '<methodResponse><fault><value><struct><member><name>faultString</name><value>x</value></member></struct></value></fault></methodResponse>'],
    ['an empty document', ''],
  ])('refuses %s', (_, xml) => {
    expect(() => decodeMethodResponse(xml)).toThrow(XmlRpcParseError);
  });
});
