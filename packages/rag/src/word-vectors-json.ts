import { createReadStream } from 'node:fs';

/** One entry of the package's `vectors` object: a word and its raw numbers. */
export interface RawWordVector {
  word: string;
  numbers: number[];
}

const VECTORS_KEY = '"vectors":{';
const DIMENSIONS = /"dimensions":(\d+)/;

/**
 * The `dimensions` field and the entries of the `vectors` object of the package's JSON
 * (`{"dimensions":100,"words":[…],"vectors":{"the":[…],…}}`), read as a stream in file order, so
 * the file is never held whole: the reader holds one chunk and one unfinished entry at a time.
 * Returning from the loop early stops reading.
 */
export async function* streamWordVectors(
  path: string,
): AsyncGenerator<RawWordVector & { dimensions: number }> {
  let buffer = '';
  let dimensions: number | undefined;
  let inVectors = false;
  const stream = createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 });
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      buffer += chunk;
      if (!inVectors) {
        dimensions ??= Number(DIMENSIONS.exec(buffer)?.[1] ?? Number.NaN) || undefined;
        const at = buffer.indexOf(VECTORS_KEY);
        if (at < 0) {
          buffer = buffer.slice(-VECTORS_KEY.length);
          continue;
        }
        if (dimensions === undefined) throw new Error(`${path}: no "dimensions" before "vectors"`);
        inVectors = true;
        buffer = buffer.slice(at + VECTORS_KEY.length);
      }
      let at = 0;
      for (;;) {
        const entry = nextEntry(buffer, at);
        if (entry === 'incomplete') break;
        if (entry === 'end') return;
        at = entry.next;
        yield { word: entry.word, numbers: entry.numbers, dimensions: dimensions! };
      }
      buffer = buffer.slice(at);
    }
    throw new Error(`${path}: the "vectors" object ends early`);
  } finally {
    stream.destroy();
  }
}

type Entry = { word: string; numbers: number[]; next: number } | 'incomplete' | 'end';

/** The `"word":[n,…]` entry starting at `from` (after separators), or why there is none. */
function nextEntry(text: string, from: number): Entry {
  let i = from;
  while (i < text.length && (text[i] === ',' || text[i] === ' ' || text[i] === '\n')) i++;
  if (i >= text.length) return 'incomplete';
  if (text[i] === '}') return 'end';
  if (text[i] !== '"') throw new Error(`unexpected ${JSON.stringify(text.slice(i, i + 20))} in "vectors"`);
  const keyEnd = endOfString(text, i);
  if (keyEnd < 0) return 'incomplete';
  const open = keyEnd + 1;
  if (open + 1 >= text.length) return 'incomplete';
  if (text[open] !== ':' || text[open + 1] !== '[') throw new Error('a "vectors" entry is not an array');
  const close = text.indexOf(']', open + 2);
  if (close < 0) return 'incomplete';
  return {
    // Parsed, not sliced: a slice would keep the whole chunk it was cut from alive.
    word: JSON.parse(text.slice(i, keyEnd + 1)) as string,
    numbers: text
      .slice(open + 2, close)
      .split(',')
      .map(Number),
    next: close + 1,
  };
}

/** The index of the quote closing the JSON string that opens at `start`, or -1 when it is cut off. */
function endOfString(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '"') return i;
  }
  return -1;
}
