import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';

/**
 * A table of word vectors as kept in memory and on disk: one row per word, most frequent first,
 * each unit vector stored as signed bytes times its row's scale (a quarter of Float32's memory;
 * a component's error is at most half a step, 1/254 of the row's largest, which moves cosine
 * similarities by about 0.001).
 */
export interface QuantizedTable {
  dimensions: number;
  words: string[];
  scales: Float32Array;
  codes: Int8Array;
}

/** The cache file's first line; a file whose header differs in any field is rebuilt. */
const headerSchema = z.object({
  format: z.literal(1),
  source: z.string(),
  limit: z.number().int().positive(),
  dimensions: z.number().int().positive(),
  size: z.number().int().nonnegative(),
  wordBytes: z.number().int().nonnegative(),
});
type Header = z.infer<typeof headerSchema>;

/** Appends `vector`, made unit length and quantised, as the next row of a table being built. */
export function quantizeInto(table: QuantizedTable, row: number, vector: ArrayLike<number>): void {
  const dim = table.dimensions;
  let norm = 0;
  let max = 0;
  for (let d = 0; d < dim; d++) norm += vector[d]! ** 2;
  norm = Math.sqrt(norm) || 1;
  for (let d = 0; d < dim; d++) max = Math.max(max, Math.abs(vector[d]! / norm));
  const scale = max / 127 || 1;
  table.scales[row] = scale;
  for (let d = 0; d < dim; d++) table.codes[row * dim + d] = Math.round(vector[d]! / norm / scale);
}

/**
 * Writes the table to `path` as a header line, the words (UTF-8, one per line), the scales and
 * the codes; through a temporary file renamed into place, so a reader never sees half a file and
 * two processes building at once both leave a whole one.
 */
export async function writeTable(path: string, table: QuantizedTable, source: string, limit: number) {
  const words = Buffer.from(table.words.join('\n'), 'utf8');
  const header: Header = {
    format: 1,
    source,
    limit,
    dimensions: table.dimensions,
    size: table.words.length,
    wordBytes: words.length,
  };
  const head = Buffer.from(`${JSON.stringify(header)}\n`, 'utf8');
  const pad = Buffer.alloc((4 - ((head.length + words.length) % 4)) % 4);
  const scales = Buffer.from(table.scales.buffer, table.scales.byteOffset, header.size * 4);
  const codes = Buffer.from(table.codes.buffer, table.codes.byteOffset, header.size * header.dimensions);
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, Buffer.concat([head, words, pad, scales, codes]));
    await rename(tmp, path);
  } finally {
    await rm(tmp, { force: true });
  }
}

/**
 * The table cached at `path` when it can be read and was built from `source` with `limit`, else
 * undefined: a missing or unreadable file is rebuilt, never a reason to fail a search.
 */
export async function readTable(
  path: string,
  source: string,
  limit: number,
): Promise<QuantizedTable | undefined> {
  const file = await readFile(path).catch(() => undefined);
  if (!file) return undefined;
  const newline = file.indexOf(10);
  const parsed = headerSchema.safeParse(safeJson(file.toString('utf8', 0, Math.max(newline, 0))));
  if (!parsed.success) return undefined;
  const h = parsed.data;
  if (h.source !== source || h.limit !== limit) return undefined;
  const wordsAt = newline + 1;
  const scalesAt = wordsAt + h.wordBytes + ((4 - ((wordsAt + h.wordBytes) % 4)) % 4);
  const codesAt = scalesAt + h.size * 4;
  if (file.length !== codesAt + h.size * h.dimensions) return undefined;
  const words = h.size === 0 ? [] : file.toString('utf8', wordsAt, wordsAt + h.wordBytes).split('\n');
  if (words.length !== h.size) return undefined;
  return {
    dimensions: h.dimensions,
    words,
    scales: new Float32Array(file.buffer.slice(file.byteOffset + scalesAt, file.byteOffset + codesAt)),
    codes: new Int8Array(file.buffer.slice(file.byteOffset + codesAt, file.byteOffset + file.length)),
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
