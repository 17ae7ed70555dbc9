import { open } from 'node:fs/promises';

/**
 * Reading a text file from its end, line by line, with a bound on the bytes read: how the evidence
 * connectors find the recent records of append-only files (deploy logs, service logs) without reading
 * them whole.
 */

/** Bounds of {@link readLinesBackward}. */
export interface ReadBackwardOptions {
  /** Most bytes read from the end of the file; lines that start before them are not seen. */
  readonly maxBytes: number;
  /** Aborts the read between chunks (the call's timeout or cancellation). */
  readonly signal?: AbortSignal | undefined;
  /** Bytes read at a time. @default 65536 */
  readonly chunkBytes?: number;
  /** A line longer than this (bytes) is skipped whole and counted in `overlongLines`. @default 1048576 */
  readonly maxLineBytes?: number;
}

/** What {@link readLinesBackward} read. */
export interface ReadBackwardResult {
  /** Size of the file when it was opened, bytes. */
  readonly size: number;
  /** Bytes read from the end. */
  readonly bytesRead: number;
  /** True when the read went back to the first line of the file. */
  readonly reachedStart: boolean;
  /** True when `onLine` returned `'stop'`. */
  readonly stopped: boolean;
  /** Lines skipped for being longer than `maxLineBytes`. */
  readonly overlongLines: number;
}

/** Facts about one line handed to the callback of {@link readLinesBackward}. */
export interface LineInfo {
  /**
   * True for the last line of a file that does not end with a line end: a writer may be in the middle
   * of it, so it may be incomplete.
   */
  readonly unterminated: boolean;
}

const LF = 0x0a;

/**
 * Calls `onLine` for each non-empty line of the file at `path`, last line first, decoded as UTF-8
 * without its line end (LF or CRLF), until the callback returns `'stop'`, the first line has been
 * passed, or `maxBytes` have been read (a line cut by that bound is not passed). The file's size is
 * taken when it is opened; bytes appended later are not read.
 *
 * Throws the file system's error (`ENOENT`, `EACCES`, `EISDIR` ...) or the signal's abort reason.
 */
export async function readLinesBackward(path: string, options: ReadBackwardOptions, onLine: (line: string, info: LineInfo) => 'stop' | undefined): Promise<ReadBackwardResult> {
  const chunkBytes = options.chunkBytes ?? 65_536;
  const maxLineBytes = options.maxLineBytes ?? 1_048_576;
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const floor = Math.max(0, size - options.maxBytes);
    let position = size;
    let carry: Buffer = Buffer.alloc(0); // the bytes of the line whose start has not been read yet
    let skipping = false; // inside an overlong line: drop bytes until its start
    let atEnd = true; // the next line found is the file's last
    let overlongLines = 0;

    const emit = (bytes: Buffer, start: number, end: number): 'stop' | undefined => {
      const unterminated = atEnd;
      atEnd = false;
      let line = bytes.toString('utf8', start, end);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line === '') return undefined;
      return onLine(line, { unterminated });
    };

    if (size === 0 || (await lastByte(handle, size)) === LF) atEnd = false;

    while (position > floor) {
      options.signal?.throwIfAborted();
      const length = Math.min(chunkBytes, position - floor);
      position -= length;
      const chunk = await readExactly(handle, position, length);
      const data = carry.length === 0 ? chunk : Buffer.concat([chunk, carry]);
      let end = data.length;
      for (let index = data.length - 1; index >= 0; index--) {
        if (data[index] !== LF) continue;
        if (skipping) {
          skipping = false;
          overlongLines++;
        } else if (index + 1 < end || atEnd) {
          if (emit(data, index + 1, end) === 'stop') return { size, bytesRead: size - position, reachedStart: false, stopped: true, overlongLines };
        }
        end = index;
      }
      if (skipping) carry = Buffer.alloc(0);
      else if (end > maxLineBytes) {
        skipping = true;
        atEnd = false;
        carry = Buffer.alloc(0);
      } else carry = data.subarray(0, end);
    }

    const reachedStart = position === 0;
    if (reachedStart && skipping) overlongLines++;
    else if (reachedStart && carry.length > 0 && emit(carry, 0, carry.length) === 'stop') {
      return { size, bytesRead: size, reachedStart, stopped: true, overlongLines };
    }
    return { size, bytesRead: size - position, reachedStart, stopped: false, overlongLines };
  } finally {
    await handle.close();
  }
}

/** Reads `length` bytes at `position`, looping over short reads. */
async function readExactly(handle: Awaited<ReturnType<typeof open>>, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break; // the file shrank (truncated by a rotation): use what was read
    filled += bytesRead;
  }
  return filled === length ? buffer : buffer.subarray(0, filled);
}

async function lastByte(handle: Awaited<ReturnType<typeof open>>, size: number): Promise<number | undefined> {
  const buffer = Buffer.alloc(1);
  const { bytesRead } = await handle.read(buffer, 0, 1, size - 1);
  return bytesRead === 1 ? buffer[0] : undefined;
}
