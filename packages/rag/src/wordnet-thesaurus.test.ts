import { describe, expect, it } from 'vitest';
import { WordnetThesaurus } from './wordnet-thesaurus.ts';

describe('WordnetThesaurus', () => {
  const thesaurus = new WordnetThesaurus();

  it('gives the one-word synonyms of a word from every synset of its lemma', async () => {
    expect(await thesaurus.synonyms('delete')).toContain('erase');
    expect(await thesaurus.synonyms('correct')).toContain('rectify');
  });

  it('finds the lemma of an inflected word', async () => {
    expect(await thesaurus.synonyms('deleted')).toContain('erase');
    expect(await thesaurus.synonyms('Deleting')).toContain('erase');
  });

  it('never gives the word itself, a phrase, or anything for an unknown word', async () => {
    const synonyms = await thesaurus.synonyms('erase');
    expect(synonyms).not.toContain('erase');
    expect(synonyms.every((s) => /^[a-z][a-z'-]*$/.test(s))).toBe(true);
    expect(await thesaurus.synonyms('zqxvwplk')).toEqual([]);
  });
});
