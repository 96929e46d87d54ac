import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/**
 * The GDPR evaluation set (`packages/rag/eval/gdpr-questions.json`): questions a compliance officer
 * asks, labelled with the articles that answer them, written from the articles before any ranking
 * change. Every third question is held out: ranking changes are never tuned on it.
 */
export const GDPR_EVAL_PATH = fileURLToPath(new URL('../eval/gdpr-questions.json', import.meta.url));

export const EVAL_SPLITS = ['tuning', 'held-out'] as const;
export type EvalSplit = (typeof EVAL_SPLITS)[number];

const articleQuestionSchema = z.object({
  id: z.string().regex(/^q\d{2,}$/),
  question: z.string().min(1),
  /** Article numbers; any one of them answers the question. */
  articles: z.array(z.number().int().min(1).max(99)).min(1),
  split: z.enum(EVAL_SPLITS),
});
export type ArticleQuestion = z.infer<typeof articleQuestionSchema>;

const articleEvalSetSchema = z.object({
  description: z.string(),
  method: z.string(),
  split: z.string(),
  questions: z.array(articleQuestionSchema).min(1),
});
export type ArticleEvalSet = z.infer<typeof articleEvalSetSchema>;

export function loadArticleEvalSet(path = GDPR_EVAL_PATH): ArticleEvalSet {
  return articleEvalSetSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
}

/**
 * The article a GDPR chunk or file belongs to, from its source (`article-33.md`), or null. The
 * articles are ingested from `../shared/data/gdpr`, one file per article.
 */
export function articleOf(source: string): number | null {
  const m = /(?:^|\/)article-(\d+)\.md$/.exec(source);
  return m ? Number(m[1]) : null;
}

/** A ranked list (best first) of what each result belongs to, and what answers the question. */
export interface Judgement<T> {
  ranked: readonly T[];
  relevant: ReadonlySet<T>;
}

/** 1 when an answering unit is among the first `k` results, else 0. */
export function hitAt<T>(k: number, { ranked, relevant }: Judgement<T>): number {
  return ranked.slice(0, k).some((u) => relevant.has(u)) ? 1 : 0;
}

/** 1 / rank of the first answering result within the first `k`, else 0. */
export function reciprocalRankAt<T>(k: number, { ranked, relevant }: Judgement<T>): number {
  const i = ranked.slice(0, k).findIndex((u) => relevant.has(u));
  return i < 0 ? 0 : 1 / (i + 1);
}

/**
 * Binary-gain nDCG over the first `k` results: each answering unit gains once, at the first result
 * that belongs to it (a second passage of the same article adds nothing); the ideal ranking puts
 * every answering unit first.
 */
export function ndcgAt<T>(k: number, { ranked, relevant }: Judgement<T>): number {
  const seen = new Set<T>();
  let dcg = 0;
  for (const [i, u] of ranked.slice(0, k).entries()) {
    if (!relevant.has(u) || seen.has(u)) continue;
    seen.add(u);
    dcg += 1 / Math.log2(i + 2);
  }
  let ideal = 0;
  for (let i = 0; i < Math.min(k, relevant.size); i++) ideal += 1 / Math.log2(i + 2);
  return ideal === 0 ? 0 : dcg / ideal;
}

export interface RankingQuality {
  questions: number;
  /** Share of questions with an answering unit among the first five results. */
  recall5: number;
  mrr10: number;
  ndcg10: number;
}

/** Mean recall@5, MRR@10 and nDCG@10 over `judgements`. */
export function rankingQuality<T>(judgements: readonly Judgement<T>[]): RankingQuality {
  const n = judgements.length;
  const mean = (f: (j: Judgement<T>) => number) =>
    n === 0 ? 0 : judgements.reduce((sum, j) => sum + f(j), 0) / n;
  return {
    questions: n,
    recall5: mean((j) => hitAt(5, j)),
    mrr10: mean((j) => reciprocalRankAt(10, j)),
    ndcg10: mean((j) => ndcgAt(10, j)),
  };
}
