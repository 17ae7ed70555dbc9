import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { REQUIREMENTS } from './requirements.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name === 'node_modules' || entry.name === 'dist') return [];
    const path = join(dir, entry.name);
    return entry.isDirectory() ? testFiles(path) : entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('governance requirements manifest', () => {
  const files = [...testFiles(join(ROOT, 'src')), ...testFiles(join(ROOT, 'test'))].filter((f) => !f.endsWith('requirements.test.ts'));
  const cited = new Map<string, string[]>();
  for (const file of files) {
    for (const match of readFileSync(file, 'utf8').matchAll(/\[(GOV-[A-Z-]+)\]/g)) {
      cited.set(match[1]!, [...(cited.get(match[1]!) ?? []), relative(ROOT, file)]);
    }
  }

  it.each(REQUIREMENTS.map((r) => [r.id, r.rule]))('%s has a test citing it', (id) => {
    expect(cited.get(id), `no test title cites [${id}]`).toBeDefined();
  });

  it('cites no rule that the manifest does not list', () => {
    const known = new Set(REQUIREMENTS.map((r) => r.id));
    expect([...cited.keys()].filter((id) => !known.has(id))).toEqual([]);
  });
});
