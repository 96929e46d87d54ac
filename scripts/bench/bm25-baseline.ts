/**
 * The baseline bench:rag compares the retrievers with: plain BM25 over whole documents, computed by
 * a well-known library rather than by anything of ours. MiniSearch (BM25+ with its default k 1.2,
 * b 0.7, d 0.5, scores multiplied by the number of query terms a document matches) over a title and
 * a text field; terms lower-cased, Lucene's English stop words dropped, Porter-stemmed.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import MiniSearch from 'minisearch';
import { stemmer } from 'stemmer';

/** Lucene's `EnglishAnalyzer.ENGLISH_STOP_WORDS_SET`. */
const LUCENE_STOP_WORDS = new Set(
  (
    'a an and are as at be but by for if in into is it no not of on or such that the their then there ' +
    'these they this to was will with'
  ).split(' '),
);

interface WholeDocument {
  id: string;
  title: string;
  text: string;
}

export interface Bm25Baseline {
  /** Ids of the best `k` documents for `query`, best first. */
  search(query: string, k: number): string[];
}

/** Each Markdown file of `dir` as one document: its first line (the `#` heading) is the title. */
export function markdownDocuments(dir: string): WholeDocument[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => {
      const [first = '', ...rest] = readFileSync(join(dir, f), 'utf8').split('\n');
      return { id: f, title: first.replace(/^#+\s*/, ''), text: rest.join('\n') };
    });
}

export function bm25Baseline(docs: WholeDocument[]): Bm25Baseline {
  const index = new MiniSearch<WholeDocument>({
    fields: ['title', 'text'],
    processTerm: (term) => {
      const t = term.toLowerCase();
      return LUCENE_STOP_WORDS.has(t) ? null : stemmer(t);
    },
  });
  index.addAll(docs);
  return {
    search: (query, k) =>
      index
        .search(query)
        .slice(0, k)
        .map((r) => String(r.id)),
  };
}
