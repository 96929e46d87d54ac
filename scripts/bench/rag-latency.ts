/**
 * Query latency next to a baseline in the same run: the previous ranking of the embedded retriever
 * (`ts_rank` over an OR query of the question's words, as it was before BM25), asked the same
 * questions on the same database, interleaved with the retriever and alternating which goes first,
 * so load on the machine falls on both alike.
 */
import { type UserAccess, words } from '@agent-fleet/rag';
import type { Pool } from 'pg';
import { percentile } from './stack.ts';

export type TimedQuery = (access: UserAccess, question: string, k: number) => Promise<unknown>;

/** The embedded retriever's query before BM25, with its visibility rule, for timing only. */
export function tsRankQuery(pool: Pool): TimedQuery {
  return async (access, question, k) => {
    const q = [...new Set(words(question))].filter((w) => w !== 'or').join(' or ');
    if (!q) return [];
    return pool.query(
      `SELECT c.tenant, c.doc_id, c.chunk_index, c.title, c.section_path, c.acl, c.public, c.source,
              c.content_hash, c.text, c.token_count, c.start_offset, c.end_offset,
              ts_rank(c.tsv, q.query, 1) AS score
       FROM rag_chunks c, websearch_to_tsquery('english', $3) AS q(query)
       WHERE c.tenant = $1 AND (c.public OR c.acl && $2::text[]) AND c.tsv @@ q.query
       ORDER BY score DESC, c.doc_id, c.chunk_index
       LIMIT $4`,
      [access.tenant, access.groups, q, k],
    );
  };
}

export interface Latency {
  p50: number;
  p95: number;
  baseline: { p50: number; p95: number } | null;
}

/** Times questions with the retriever and, when there is one, the baseline beside it. */
export class PairedTimer {
  readonly #baseline: TimedQuery | undefined;
  readonly #mine: number[] = [];
  readonly #theirs: number[] = [];
  #turn = 0;

  constructor(baseline?: TimedQuery) {
    this.#baseline = baseline;
  }

  async time<T>(access: UserAccess, question: string, k: number, run: () => Promise<T>): Promise<T> {
    const baseline = this.#baseline;
    const timeBaseline = async () => {
      if (!baseline) return;
      const t0 = performance.now();
      await baseline(access, question, k);
      this.#theirs.push(performance.now() - t0);
    };
    const first = this.#turn++ % 2 === 0;
    if (!first) await timeBaseline();
    const t0 = performance.now();
    const result = await run();
    this.#mine.push(performance.now() - t0);
    if (first) await timeBaseline();
    return result;
  }

  summary(): Latency {
    return {
      p50: percentile(this.#mine, 0.5),
      p95: percentile(this.#mine, 0.95),
      baseline:
        this.#theirs.length === 0
          ? null
          : { p50: percentile(this.#theirs, 0.5), p95: percentile(this.#theirs, 0.95) },
    };
  }
}
