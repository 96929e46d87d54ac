import { describe, expect, it } from 'vitest';
import { LocalEmbedder } from './local-embedder.ts';

const cosine = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0);

describe('LocalEmbedder', () => {
  const embedder = new LocalEmbedder();

  it('gives unit vectors of 100 dimensions, the same for the same text', async () => {
    const [a, b] = await embedder.embed([
      'Notify the supervisory authority.',
      'Notify the supervisory authority.',
    ]);
    expect(a).toHaveLength(100);
    expect(Math.hypot(...a!)).toBeCloseTo(1, 5);
    expect(b).toEqual(a);
    expect(embedder.dimensions).toBe(100);
  });

  it.each([
    [
      'puts a sentence nearer one about the same thing in other words than one about something else',
      [
        'A former client asks us to wipe every record we hold about him.',
        'The data subject shall have the right to obtain the erasure of personal data concerning him.',
        'Processing of the personal data of a child below the age of 16 requires parental consent.',
      ],
    ],
    [
      'weighs rare words above frequent ones: the shared frequent words do not make two texts alike',
      ['the breach of the encryption keys', 'the breach of the firewall', 'of the and the in the'],
    ],
  ])('%s', async (_, texts) => {
    const [text, near, far] = await embedder.embed(texts);
    expect(cosine(text!, near!)).toBeGreaterThan(cosine(text!, far!));
  });

  it('gives the zero vector to a text without a known word', async () => {
    const [v] = await embedder.embed(['zqxv wplk']);
    expect(v!.every((x) => x === 0)).toBe(true);
  });

  it('names its vectors by the settings that make them', () => {
    expect(new LocalEmbedder({ smoothing: 0.01 }).id).not.toBe(embedder.id);
  });
});
