import { SaxesParser } from 'saxes';

/**
 * An XML-RPC value as this client encodes and decodes it: `<int>`/`<i4>` and `<double>` as numbers,
 * `<boolean>`, `<string>` (and untyped values), `<nil/>` as null, `<array>` and `<struct>`.
 * `<base64>` and `<dateTime.iso8601>` are decoded as their text. Supervisord's answers use these only.
 * @see http://xmlrpc.com/spec.md
 */
export type XmlRpcValue = string | number | boolean | null | readonly XmlRpcValue[] | { readonly [name: string]: XmlRpcValue };

/** A decoded `<methodResponse>`: the one returned value, or a fault with its code and string. */
export type XmlRpcResponse =
  | { readonly kind: 'result'; readonly value: XmlRpcValue }
  | { readonly kind: 'fault'; readonly code: number; readonly message: string };

/** An XML-RPC document that is not well-formed XML or not a valid `<methodResponse>`. */
export class XmlRpcParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XmlRpcParseError';
  }
}

/** Characters XML 1.0 cannot carry at all (control characters other than tab, LF and CR). */
const INVALID_XML_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;

/** `text` with `&`, `<`, `>` escaped for XML character data. Throws when it holds a character XML cannot carry. */
function escapeText(text: string): string {
  if (INVALID_XML_CHARS.test(text)) throw new TypeError('XML-RPC strings cannot hold control characters other than tab, LF and CR.');
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

function encodeValue(value: XmlRpcValue): string {
  if (value === null) return '<value><nil/></value>';
  if (typeof value === 'string') return `<value><string>${escapeText(value)}</string></value>`;
  if (typeof value === 'boolean') return `<value><boolean>${value ? 1 : 0}</boolean></value>`;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('XML-RPC cannot carry NaN or Infinity.');
    return Number.isInteger(value) && Math.abs(value) <= 2_147_483_647 ? `<value><int>${value}</int></value>` : `<value><double>${value}</double></value>`;
  }
  if (Array.isArray(value)) return `<value><array><data>${(value as readonly XmlRpcValue[]).map(encodeValue).join('')}</data></array></value>`;
  const members = Object.entries(value as Record<string, XmlRpcValue>).map(([name, member]) => `<member><name>${escapeText(name)}</name>${encodeValue(member)}</member>`);
  return `<value><struct>${members.join('')}</struct></value>`;
}

/**
 * The XML-RPC request document calling `method` with `params`.
 * Throws `TypeError` for a method name outside `[A-Za-z0-9_.:/]`, NaN, or a string with control characters.
 */
export function encodeMethodCall(method: string, params: readonly XmlRpcValue[]): string {
  if (!/^[A-Za-z0-9_.:/]+$/.test(method)) throw new TypeError(`Invalid XML-RPC method name ${JSON.stringify(method)}.`);
  return `<?xml version="1.0"?>\n<methodCall><methodName>${method}</methodName><params>${params.map((p) => `<param>${encodeValue(p)}</param>`).join('')}</params></methodCall>`;
}

/** An element of the parsed document: its name, child elements, and its own text. */
interface Element {
  readonly name: string;
  readonly children: Element[];
  text: string;
}

/** Parses `xml` with a strict XML 1.0 parser into elements; refuses DTDs (no entity tricks). */
function parseXml(xml: string): Element {
  const parser = new SaxesParser({ xmlns: false });
  const root: Element = { name: '#document', children: [], text: '' };
  const stack: Element[] = [root];
  let failure: Error | undefined;
  parser.on('error', (error) => {
    failure ??= error;
  });
  parser.on('doctype', () => {
    failure ??= new Error('a DOCTYPE, which XML-RPC does not use');
  });
  parser.on('opentag', (tag) => {
    const element: Element = { name: tag.name, children: [], text: '' };
    stack.at(-1)?.children.push(element);
    stack.push(element);
  });
  parser.on('closetag', () => {
    stack.pop();
  });
  const addText = (text: string): void => {
    const current = stack.at(-1);
    if (current !== undefined && current !== root) current.text += text;
  };
  parser.on('text', addText);
  parser.on('cdata', addText);
  try {
    parser.write(xml).close();
  } catch (error) {
    failure ??= error as Error;
  }
  if (failure !== undefined) throw new XmlRpcParseError(`not well-formed XML: ${failure.message}`);
  const [document] = root.children;
  if (document === undefined) throw new XmlRpcParseError('an empty document');
  return document;
}

/** The only element child of `element`, which must be named `name` (one of `names`). */
function only(element: Element, ...names: string[]): Element {
  if (element.children.length !== 1 || !names.includes(element.children[0]!.name)) {
    throw new XmlRpcParseError(`<${element.name}> must hold exactly one <${names.join('> or <')}>, found ${element.children.map((c) => `<${c.name}>`).join(', ') || 'none'}`);
  }
  return element.children[0]!;
}

/** Decodes one `<value>` element. */
function decodeValue(value: Element): XmlRpcValue {
  if (value.children.length === 0) return value.text; // an untyped value is a string
  const typed = only(value, 'string', 'int', 'i4', 'i8', 'double', 'boolean', 'nil', 'array', 'struct', 'base64', 'dateTime.iso8601');
  const text = typed.text.trim();
  switch (typed.name) {
    case 'string':
    case 'base64':
    case 'dateTime.iso8601':
      if (typed.children.length > 0) throw new XmlRpcParseError(`<${typed.name}> holds elements`);
      return typed.name === 'string' ? typed.text : text;
    case 'int':
    case 'i4':
    case 'i8': {
      if (!/^[+-]?\d{1,19}$/.test(text)) throw new XmlRpcParseError(`<${typed.name}> holds ${JSON.stringify(text.slice(0, 40))}, not an integer`);
      const number = Number(text);
      if (!Number.isSafeInteger(number)) throw new XmlRpcParseError(`<${typed.name}> ${text} is beyond JavaScript's safe integers`);
      return number;
    }
    case 'double': {
      if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) throw new XmlRpcParseError(`<double> holds ${JSON.stringify(text.slice(0, 40))}, not a number`);
      return Number(text);
    }
    case 'boolean':
      if (text !== '0' && text !== '1') throw new XmlRpcParseError(`<boolean> holds ${JSON.stringify(text.slice(0, 40))}, not 0 or 1`);
      return text === '1';
    case 'nil':
      return null;
    case 'array': {
      const data = only(typed, 'data');
      return data.children.map((child) => {
        if (child.name !== 'value') throw new XmlRpcParseError(`<data> holds <${child.name}>, not <value>`);
        return decodeValue(child);
      });
    }
    default: {
      // struct
      const struct: Record<string, XmlRpcValue> = Object.create(null) as Record<string, XmlRpcValue>;
      for (const member of typed.children) {
        if (member.name !== 'member') throw new XmlRpcParseError(`<struct> holds <${member.name}>, not <member>`);
        const name = member.children.find((c) => c.name === 'name');
        const memberValue = member.children.find((c) => c.name === 'value');
        if (member.children.length !== 2 || name === undefined || memberValue === undefined) throw new XmlRpcParseError('a <member> must hold one <name> and one <value>');
        struct[name.text] = decodeValue(memberValue);
      }
      return struct;
    }
  }
}

/**
 * Decodes an XML-RPC `<methodResponse>`: one `<param>` (the result) or a `<fault>` with an integer
 * `faultCode` and a string `faultString`. Strict: anything else throws.
 * @throws XmlRpcParseError when the document is not well-formed XML or not a valid method response.
 */
export function decodeMethodResponse(xml: string): XmlRpcResponse {
  const document = parseXml(xml);
  if (document.name !== 'methodResponse') throw new XmlRpcParseError(`the root element is <${document.name}>, not <methodResponse>`);
  const body = only(document, 'params', 'fault');
  if (body.name === 'params') {
    const param = only(body, 'param');
    return { kind: 'result', value: decodeValue(only(param, 'value')) };
  }
  const fault = decodeValue(only(body, 'value'));
  const code = typeof fault === 'object' && fault !== null && !Array.isArray(fault) ? (fault as Record<string, XmlRpcValue>).faultCode : undefined;
  const message = typeof fault === 'object' && fault !== null && !Array.isArray(fault) ? (fault as Record<string, XmlRpcValue>).faultString : undefined;
  if (typeof code !== 'number' || typeof message !== 'string') throw new XmlRpcParseError('a <fault> must be a struct with an int faultCode and a string faultString');
  return { kind: 'fault', code, message };
}
