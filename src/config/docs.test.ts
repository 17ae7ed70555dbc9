import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_ENV_VARS, loadConfig } from './load-config.js';
import { knownKeys } from './schema.js';

/** The rows of the key table in docs/configuration.md: key, type, default, environment, flag. */
function documentedRows(): Map<string, string[]> {
  const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
  const rows = new Map<string, string[]>();
  for (const line of doc.split('\n')) {
    const match = /^\| `([^`]+)` \|(.*)\|$/.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined) rows.set(match[1], match[2].split('|').map((cell) => cell.trim()));
  }
  return rows;
}

/** Every leaf key path of the schema, e.g. `engine.leaseMs`. */
function schemaKeys(path: string[] = []): string[] {
  return knownKeys(path).flatMap((key) => (knownKeys([...path, key]).length > 0 ? schemaKeys([...path, key]) : [[...path, key].join('.')]));
}

function valueAt(tree: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], tree);
}

describe('docs/configuration.md', () => {
  const rows = documentedRows();

  it('documents every configuration key, and no key that does not exist', () => {
    expect([...rows.keys()].sort()).toEqual(schemaKeys().sort());
  });

  it('names the environment variable of each key that has one', () => {
    for (const [key, row] of rows) {
      const variable = Object.entries(CONFIG_ENV_VARS).find(([, setting]) => setting.path.join('.') === key)?.[0];
      expect(row[2], key).toBe(variable === undefined ? '' : `\`${variable}\``);
    }
  });

  it('gives the default that loadConfig applies for each key with a literal default', () => {
    const defaults = loadConfig({ env: {}, files: [], cwd: '/' });
    for (const [key, row] of rows) {
      const value = valueAt(defaults, key);
      if ((typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') || key.endsWith('dataDir') || key === 'connectors.files.root' || key === 'audit.signingKeyFile') continue; // derived from dataDir
      expect(row[1], key).toMatch(new RegExp(`^\`${String(value)}\``));
    }
  });
});
