/**
 * bench:rag's GDPR part: the questions of packages/rag/eval/gdpr-questions.json asked of a
 * retriever holding the articles, scored at article level per split, next to the BM25 baseline over
 * whole articles computed in the same run.
 */
import {
  type ArticleEvalSet,
  type ArticleQuestion,
  articleOf,
  type Embedder,
  EVAL_SPLITS,
  type EvalSplit,
  type Judgement,
  PostgresRetriever,
  type RankingQuality,
  type Retriever,
  rankingQuality,
  type Thesaurus,
  type UserAccess,
} from '@agent-fleet/rag';
import type { Pool } from 'pg';
import { type Bm25Baseline, bm25Baseline, markdownDocuments } from './bm25-baseline.ts';
import { type Latency, PairedTimer, type TimedQuery } from './rag-latency.ts';

export interface SplitResult {
  split: EvalSplit;
  retriever: RankingQuality;
  baseline: RankingQuality;
}

export interface GdprResult {
  splits: SplitResult[];
  latency: Latency;
  /** Tuning-split questions with no answering article in the top 5 (held-out misses are not shown). */
  tuningMisses: string[];
}

const relevantOf = (q: ArticleQuestion) => new Set(q.articles);

/** One ranking scored on the GDPR questions; `chosen` is the configured default. */
export interface GdprVariant {
  label: string;
  retriever: Retriever;
  chosen?: boolean;
}

/**
 * The Postgres rankings compared on the same database, which holds every chunk's vector: lexical
 * BM25 alone (the ranking before the embedder and thesaurus), with WordNet synonyms, with dense
 * re-scoring by the local word vectors (the default, chosen on the tuning split), and with both.
 */
export function postgresVariants(pool: Pool, embedder: Embedder, thesaurus: Thesaurus): GdprVariant[] {
  return [
    { label: 'postgres BM25', retriever: new PostgresRetriever({ pool }) },
    { label: 'postgres BM25 + WordNet', retriever: new PostgresRetriever({ pool, thesaurus }) },
    {
      label: 'postgres BM25 + word vectors (default)',
      retriever: new PostgresRetriever({ pool, embedder }),
      chosen: true,
    },
    {
      label: 'postgres BM25 + WordNet + word vectors',
      retriever: new PostgresRetriever({ pool, embedder, thesaurus }),
    },
  ];
}

/** The baseline's judgements, once per run: it does not depend on the backend. */
export function baselineJudgements(dir: string, set: ArticleEvalSet): Map<string, Judgement<number>> {
  const baseline: Bm25Baseline = bm25Baseline(markdownDocuments(dir));
  return new Map(
    set.questions.map((q) => [
      q.id,
      {
        ranked: baseline.search(q.question, 10).map((id) => articleOf(id) ?? -1),
        relevant: relevantOf(q),
      },
    ]),
  );
}

/**
 * Asks every question `rounds` times (latency, beside `latencyBaseline` when given) as `access`;
 * the first round's ten results are judged by the article each passage comes from.
 */
export async function evaluateGdpr(
  retriever: Retriever,
  access: UserAccess,
  set: ArticleEvalSet,
  baseline: Map<string, Judgement<number>>,
  opts: { rounds: number; onQuery?: () => void; latencyBaseline?: TimedQuery },
): Promise<GdprResult> {
  const judged = new Map<string, Judgement<number>>();
  const timer = new PairedTimer(opts.latencyBaseline);
  const tuningMisses: string[] = [];
  for (let round = 0; round < opts.rounds; round++) {
    for (const q of set.questions) {
      const hits = await timer.time(access, q.question, 10, () =>
        retriever.search(access, q.question, { k: 10 }),
      );
      opts.onQuery?.();
      if (round > 0) continue;
      const ranked = hits.map((h) => articleOf(h.chunk.source) ?? -1);
      const judgement = { ranked, relevant: relevantOf(q) };
      judged.set(q.id, judgement);
      if (q.split === 'tuning' && !ranked.slice(0, 5).some((a) => judgement.relevant.has(a)))
        tuningMisses.push(
          `${q.id} [${q.articles.join(', ')}] ${q.question} -> ${ranked.slice(0, 5).join(', ')}`,
        );
    }
  }
  const splits = EVAL_SPLITS.map((split) => {
    const ids = set.questions.filter((q) => q.split === split).map((q) => q.id);
    return {
      split,
      retriever: rankingQuality(ids.map((id) => judged.get(id)!)),
      baseline: rankingQuality(ids.map((id) => baseline.get(id)!)),
    };
  });
  return { splits, latency: timer.summary(), tuningMisses };
}
