import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readLinesBackward, type ReadBackwardOptions } from './read-backward.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'read-backward-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function linesOf(content: string | Buffer, options: Partial<ReadBackwardOptions> = {}, stopAt?: string): Promise<{ lines: Array<[string, boolean]>; result: Awaited<ReturnType<typeof readLinesBackward>> }> {
  const path = join(dir, 'file.log');
  await writeFile(path, content);
  const lines: Array<[string, boolean]> = [];
  const result = await readLinesBackward(path, { maxBytes: 1_000_000, ...options }, (line, info) => {
    lines.push([line, info.unterminated]);
    return line === stopAt ? 'stop' : undefined;
  });
  return { lines, result };
}

describe('readLinesBackward', () => {
  it('passes the lines last first, without their LF or CRLF and skipping empty ones', async () => {
    const { lines, result } = await linesOf('one\r\ntwo\n\nthree\n', { chunkBytes: 4 });
    expect(lines).toEqual([['three', false], ['two', false], ['one', false]]);
    expect(result).toMatchObject({ reachedStart: true, stopped: false, bytesRead: 16 });
  });

  it('flags a last line without a line end as unterminated (a writer may be in the middle of it)', async () => {
    const { lines } = await linesOf('{"a":1}\n{"b":', { chunkBytes: 3 });
    expect(lines).toEqual([['{"b":', true], ['{"a":1}', false]]);
  });

  it('keeps multi-byte characters whole across chunk boundaries', async () => {
    const { lines } = await linesOf('café ☕ ok\nnaïve 🌙\n', { chunkBytes: 2 });
    expect(lines.map(([line]) => line)).toEqual(['naïve 🌙', 'café ☕ ok']);
  });

  it('reads at most maxBytes from the end and does not pass the line that bound cuts', async () => {
    const { lines, result } = await linesOf('aaaaaaaaaa\nbbbb\ncccc\n', { maxBytes: 12, chunkBytes: 5 });
    expect(lines.map(([line]) => line)).toEqual(['cccc', 'bbbb']);
    expect(result).toMatchObject({ reachedStart: false, stopped: false, bytesRead: 12 });
  });

  it('stops when the callback says so', async () => {
    const { lines, result } = await linesOf('1\n2\n3\n4\n', {}, '3');
    expect(lines.map(([line]) => line)).toEqual(['4', '3']);
    expect(result.stopped).toBe(true);
  });

  it('skips a line longer than maxLineBytes and counts it', async () => {
    const { lines, result } = await linesOf(`first\n${'x'.repeat(100)}\nlast\n`, { chunkBytes: 8, maxLineBytes: 40 });
    expect(lines.map(([line]) => line)).toEqual(['last', 'first']);
    expect(result.overlongLines).toBe(1);
  });

  it('reads an empty file as no lines', async () => {
    const { lines, result } = await linesOf('');
    expect(lines).toEqual([]);
    expect(result).toMatchObject({ reachedStart: true, size: 0 });
  });

  it('throws the file system error of a missing file', async () => {
    await expect(readLinesBackward(join(dir, 'missing.log'), { maxBytes: 10 }, () => undefined)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
