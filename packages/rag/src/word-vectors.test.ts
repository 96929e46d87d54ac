import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type QuantizedTable, quantizeInto, readTable, writeTable } from './word-vectors-file.ts';
import { streamWordVectors } from './word-vectors-json.ts';

const dir = await mkdtemp(join(tmpdir(), 'word-vectors-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('streamWordVectors', () => {
  it('reads every entry of the vectors object in order across chunks, whatever the keys hold, never the words list', async () => {
    const words = Array.from({ length: 60_000 }, (_, i) => `w${i}`);
    const vectors: Record<string, number[]> = { 'say "hi"]:[': [1, 2, 3] };
    for (const [i, w] of words.entries()) vectors[w] = [i, -i, 0.5];
    const path = join(dir, 'vectors.json');
    await writeFile(
      path,
      JSON.stringify({ dimensions: 2, words: ['"vectors"', ...words], vectors, unk: [0] }),
    );
    const read = [];
    for await (const entry of streamWordVectors(path)) read.push(entry);
    expect(read[0]).toEqual({ word: 'say "hi"]:[', numbers: [1, 2, 3], dimensions: 2 });
    expect(read.slice(1).map((e) => e.word)).toEqual(words);
    expect(read[60_000]!.numbers).toEqual([59_999, -59_999, 0.5]);
  });

  it('fails on a file whose vectors object is cut off', async () => {
    const path = join(dir, 'cut.json');
    await writeFile(path, '{"dimensions":2,"vectors":{"a":[1,2],"b":[1,');
    await expect(async () => {
      for await (const _ of streamWordVectors(path));
    }).rejects.toThrow(/ends early/);
  });
});

describe('the cached table', () => {
  const table = (): QuantizedTable => {
    const t = {
      dimensions: 3,
      words: ['alpha', 'beta'],
      scales: new Float32Array(2),
      codes: new Int8Array(6),
    };
    quantizeInto(t, 0, [3, 4, 0]);
    quantizeInto(t, 1, [-1, 1, 1]);
    return t;
  };

  it('reads back what was written, each row within a quantisation step of its unit vector', async () => {
    const path = join(dir, 'a', 'table.bin');
    await writeTable(path, table(), 'pkg@1.0.0', 2);
    const back = await readTable(path, 'pkg@1.0.0', 2);
    expect(back?.words).toEqual(['alpha', 'beta']);
    const row = (r: number) => [0, 1, 2].map((d) => back!.codes[r * 3 + d]! * back!.scales[r]!);
    const third = 1 / Math.sqrt(3);
    for (const [r, unit] of [
      [0.6, 0.8, 0],
      [-third, third, third],
    ].entries()) {
      for (const [d, x] of row(r).entries()) expect(x).toBeCloseTo(unit[d]!, 2);
    }
    expect(await readdir(join(dir, 'a'))).toEqual(['table.bin']);
  });

  it('is not used when it was built from another package version or limit, is damaged or cannot be read', async () => {
    const path = join(dir, 'b.bin');
    await writeTable(path, table(), 'pkg@1.0.0', 2);
    expect(await readTable(path, 'pkg@1.0.1', 2)).toBeUndefined();
    expect(await readTable(path, 'pkg@1.0.0', 3)).toBeUndefined();
    const bytes = await readFile(path);
    await writeFile(path, bytes.subarray(0, bytes.length - 1));
    expect(await readTable(path, 'pkg@1.0.0', 2)).toBeUndefined();
    expect(await readTable(join(dir, 'missing.bin'), 'pkg@1.0.0', 2)).toBeUndefined();
    expect(await readTable(join(path, 'under-a-file.bin'), 'pkg@1.0.0', 2)).toBeUndefined();
  });
});
