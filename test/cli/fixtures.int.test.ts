// The CLI's unit tests replay HTTP API answers saved in src/cli/fixtures. This test records them again
// from a real Interlock (test/cli/record-fixtures.ts) and fails when the saved ones no longer match what
// the server answers, so the unit tests cannot drift away from the real API.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { FIXTURES_DIR, recordFixtures } from './record-fixtures.js';

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** `value` with what differs between two recordings replaced: mission IDs (wherever they appear) and instants (`at`, `*At`). */
function normalise(value: unknown, key = ''): unknown {
  if (typeof value === 'string') return value.replace(UUID, '<id>');
  if (typeof value === 'number' && /^at$|At$/.test(key)) return '<instant>';
  if (Array.isArray(value)) return value.map((item) => normalise(item));
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalise(v, k)]));
  return value;
}

describe('src/cli/fixtures', () => {
  it('hold what the HTTP API answers today (re-record with `npx tsx test/cli/record-fixtures.ts`)', async () => {
    const recorded = await recordFixtures();
    for (const [name, answer] of Object.entries(recorded)) {
      const saved: unknown = JSON.parse(await readFile(new URL(name, FIXTURES_DIR), 'utf8'));
      expect(normalise(saved), `${name} differs from what the server answers now; re-record it`).toEqual(normalise(answer));
    }
  });
});
