import type { Io } from '../commands/keys.ts';

/** An `Io` that keeps what a command writes, line by line, for a test to read. */
export function captureIo(): { io: Io; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l) => out.push(l), err: (l) => err.push(l) }, out, err };
}
