/**
 * pnpm bench:rag: retrieval quality and speed per backend. Ingests the sample corpus (and, when
 * present, the GDPR articles read in place from ../shared/data/gdpr), then reports recall@5 and
 * MRR@10 over packages/rag/corpus/eval.json, ingestion chunks/s, query p50/p95 latency, checks
 * that no restricted document reaches a user without its groups, and scores the GDPR questions of
 * packages/rag/eval/gdpr-questions.json at article level per split next to a BM25 baseline over
 * whole articles. Postgres always (embedded, as configured by default: BM25 and local word
 * vectors), with each of its ranking variants scored on the GDPR questions in the same run; Qdrant
 * when QDRANT_URL is set.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startPostgres } from '@agent-fleet/devstack';
import { LlmPool } from '@agent-fleet/llm';
import {
  createQdrantClient,
  type Embedder,
  type EvalQuestion,
  HashingEmbedder,
  type IngestReport,
  isRelevant,
  type Judgement,
  LocalEmbedder,
  loadArticleEvalSet,
  loadEvalSet,
  PoolEmbedder,
  PostgresRetriever,
  QdrantRetriever,
  type Retriever,
  SAMPLE_CORPUS_DIR,
  SAMPLE_TENANT,
  WordnetThesaurus,
} from '@agent-fleet/rag';
import { createPool, migrate } from '@agent-fleet/state';
import { SingleBar } from 'cli-progress';
import { Command } from 'commander';
import { positiveInt } from './cli-args.ts';
import {
  baselineJudgements,
  evaluateGdpr,
  type GdprResult,
  type GdprVariant,
  postgresVariants,
} from './rag-gdpr.ts';
import { type Latency, PairedTimer, type TimedQuery, tsRankQuery } from './rag-latency.ts';
import { ROOT } from './stack.ts';

/** Read once; flags win over the environment. */
const env: Record<string, string | undefined> = { ...process.env };

const int = positiveInt;
const opts = new Command('bench:rag')
  .description('recall@5, MRR, ingestion throughput and query latency of each reachable retriever backend')
  .option('--rounds <n>', 'times each eval question is asked for latency', int, 10)
  .option('--gdpr <dir>', 'GDPR articles, read in place', join(ROOT, '..', 'shared', 'data', 'gdpr'))
  .option('--qdrant-url <url>', 'Qdrant to benchmark (default: $QDRANT_URL)', env.QDRANT_URL)
  .option(
    '--embeddings-url <url>',
    'OpenAI-compatible /v1 base for dense vectors in Qdrant (default: $EMBEDDINGS_URL)',
  )
  .option('--embeddings-model <name>', 'embeddings model', env.EMBEDDINGS_MODEL ?? 'text-embedding-3-small')
  .option('--embeddings-dims <n>', 'embedding dimensions', int, Number(env.EMBEDDINGS_DIMS ?? 1536))
  .option(
    '--hashing-embedder',
    'give Qdrant the deterministic hashing embedder when no embeddings URL is set',
  )
  .parse()
  .opts<{
    rounds: number;
    gdpr: string;
    qdrantUrl?: string;
    embeddingsUrl?: string;
    embeddingsModel: string;
    embeddingsDims: number;
    hashingEmbedder?: boolean;
  }>();

interface Row {
  backend: string;
  corpusChunksPerSec: number;
  gdprChunksPerSec: number | null;
  /** GDPR ingestion by the same backend without an embedder, when measured. */
  gdprLexicalChunksPerSec?: number;
  recall5: number;
  mrr10: number;
  latency: Latency;
  leaks: number;
  gdpr: { variant: string; result: GdprResult }[];
}

const GDPR_TENANT = 'eu-law';
/** The GDPR articles again, ingested without vectors: ingestion with and without them, same run. */
const GDPR_LEXICAL_TENANT = 'eu-law-lexical';
const articleSet = loadArticleEvalSet();

function bar(label: string) {
  return new SingleBar({ format: `${label.padEnd(28)} [{bar}] {value}/{total} {file}`, hideCursor: true });
}

async function ingestWithBar(
  label: string,
  retriever: Retriever,
  dir: string,
  tenant: string,
  isPublic?: boolean,
) {
  const { ingestPaths } = await import('@agent-fleet/rag');
  const b = bar(label);
  const report: IngestReport = await ingestPaths([dir], {
    tenant,
    retriever,
    root: dir,
    concurrency: 4,
    ...(isPublic ? { public: true } : {}),
    onStart: (total) => b.start(total, 0, { file: '' }),
    onProgress: (p) => b.update(p.done, { file: p.file.source }),
  });
  b.stop();
  for (const f of report.files.filter((x) => x.status === 'failed'))
    console.log(`  failed ${f.source}: ${f.error?.message}`);
  return { report, chunksPerSec: report.chunks / (report.durationMs / 1000) };
}

async function evaluate(
  label: string,
  retriever: Retriever,
  questions: EvalQuestion[],
  latencyBaseline?: TimedQuery,
) {
  let found = 0;
  let rr = 0;
  let leaks = 0;
  const restricted = new Set(questions.filter((q) => q.groups.length > 0).map((q) => q.docId));
  const timer = new PairedTimer(latencyBaseline);
  const misses: string[] = [];
  const b = bar(`${label} queries`);
  b.start(questions.length * opts.rounds, 0, { file: '' });
  for (let round = 0; round < opts.rounds; round++) {
    for (const q of questions) {
      const access = { tenant: SAMPLE_TENANT, groups: q.groups };
      const hits = await timer.time(access, q.question, 10, () =>
        retriever.search(access, q.question, { k: 10 }),
      );
      b.increment(1, { file: q.id });
      if (round > 0) continue;
      const rank = hits.findIndex((h) => isRelevant(q, h.chunk));
      if (rank >= 0 && rank < 5) found++;
      else
        misses.push(
          `${q.id} ${q.question} -> ${hits[0]?.chunk.docId} / ${hits[0]?.chunk.sectionPath.at(-1)}`,
        );
      if (rank >= 0) rr += 1 / (rank + 1);
      // The same question from a user with no groups: no restricted document may come back.
      const open = await retriever.search({ tenant: SAMPLE_TENANT, groups: [] }, q.question, { k: 20 });
      leaks += open.filter((h) => restricted.has(h.chunk.docId)).length;
    }
  }
  b.stop();
  if (misses.length > 0) console.log(`  ${label}: not in top 5:\n    ${misses.join('\n    ')}`);
  return {
    recall5: found / questions.length,
    mrr10: rr / questions.length,
    latency: timer.summary(),
    leaks,
  };
}

async function benchBackend(
  label: string,
  retriever: Retriever,
  questions: EvalQuestion[],
  baseline: Map<string, Judgement<number>> | null,
  extra: { latencyBaseline?: TimedQuery; variants?: GdprVariant[] } = {},
): Promise<Row> {
  const corpus = await ingestWithBar(`${label} sample corpus`, retriever, SAMPLE_CORPUS_DIR, SAMPLE_TENANT);
  let gdprRate: number | null = null;
  if (baseline) {
    gdprRate = (await ingestWithBar(`${label} GDPR articles`, retriever, opts.gdpr, GDPR_TENANT, true))
      .chunksPerSec;
  }
  const q = await evaluate(label, retriever, questions, extra.latencyBaseline);
  const gdpr: Row['gdpr'] = [];
  if (baseline) {
    for (const v of extra.variants ?? [{ label, retriever, chosen: true }]) {
      const b = bar(`${v.label} GDPR`);
      b.start(articleSet.questions.length * opts.rounds, 0, { file: '' });
      const result = await evaluateGdpr(
        v.retriever,
        { tenant: GDPR_TENANT, groups: [] },
        articleSet,
        baseline,
        {
          rounds: opts.rounds,
          onQuery: () => b.increment(1),
          ...(extra.latencyBaseline ? { latencyBaseline: extra.latencyBaseline } : {}),
        },
      );
      b.stop();
      gdpr.push({ variant: v.label, result });
      if (v.chosen && result.tuningMisses.length > 0)
        console.log(
          `  ${v.label}: GDPR tuning questions not in top 5:\n    ${result.tuningMisses.join('\n    ')}`,
        );
    }
  }
  return { backend: label, corpusChunksPerSec: corpus.chunksPerSec, gdprChunksPerSec: gdprRate, ...q, gdpr };
}

/** How long `load` took and what it added to the process's RSS and heap (after a GC when exposed). */
async function timedLoad(what: string, load: () => Promise<void>): Promise<string> {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = process.memoryUsage();
  const t0 = performance.now();
  await load();
  const ms = performance.now() - t0;
  gc?.();
  const after = process.memoryUsage();
  const mib = (key: 'rss' | 'heapUsed') => ((after[key] - before[key]) / 2 ** 20).toFixed(0);
  return `${what} loaded in ${ms.toFixed(0)} ms, +${mib('rss')} MiB RSS, +${mib('heapUsed')} MiB heap (once per process)`;
}

function embedder(): Embedder | undefined {
  const url = opts.embeddingsUrl ?? env.EMBEDDINGS_URL;
  if (url) {
    const pool = new LlmPool({
      servers: [url],
      apiKey: env.EMBEDDINGS_API_KEY ?? 'EMPTY',
      model: opts.embeddingsModel,
    });
    return new PoolEmbedder({ pool, model: opts.embeddingsModel, dimensions: opts.embeddingsDims });
  }
  return opts.hashingEmbedder ? new HashingEmbedder(256) : undefined;
}

async function main() {
  const evalSet = loadEvalSet();
  const baseline = existsSync(opts.gdpr) ? baselineJudgements(opts.gdpr, articleSet) : null;
  mkdirSync(join(ROOT, '.fleet'), { recursive: true });
  const dir = mkdtempSync(join(ROOT, '.fleet', 'bench-rag-'));
  const server = await startPostgres({ dataDir: join(dir, 'postgres') });
  const rows: Row[] = [];
  const notes: string[] = [];
  try {
    await server.createDatabase('bench');
    const url = server.urlFor('bench');
    await migrate(url);
    const pool = createPool(url, 8);
    try {
      const embedder = new LocalEmbedder();
      const thesaurus = new WordnetThesaurus();
      notes.push(`postgres: ${await timedLoad('word vectors', () => embedder.warm())}`);
      notes.push(`postgres: ${await timedLoad('WordNet', () => thesaurus.warm())}`);
      const variants = postgresVariants(pool, embedder, thesaurus);
      const chosen = variants.find((v) => v.chosen)!;
      const row = await benchBackend('postgres', chosen.retriever, evalSet.questions, baseline, {
        latencyBaseline: tsRankQuery(pool),
        variants,
      });
      if (baseline)
        row.gdprLexicalChunksPerSec = (
          await ingestWithBar(
            'postgres GDPR, no vectors',
            new PostgresRetriever({ pool }),
            opts.gdpr,
            GDPR_LEXICAL_TENANT,
            true,
          )
        ).chunksPerSec;
      rows.push(row);
    } finally {
      await pool.end();
    }
    if (!existsSync(opts.gdpr))
      notes.push(`GDPR corpus not found at ${opts.gdpr}: its ingestion was skipped`);
    if (opts.qdrantUrl) {
      const client = createQdrantClient({
        url: opts.qdrantUrl,
        ...(env.QDRANT_API_KEY ? { apiKey: env.QDRANT_API_KEY } : {}),
      });
      const emb = embedder();
      const retriever = new QdrantRetriever({
        client,
        alias: `bench_rag_${Date.now().toString(36)}`,
        ...(emb ? { embedder: emb } : {}),
      });
      await retriever.ensureCollection();
      try {
        const label = emb
          ? `qdrant (hybrid, ${emb instanceof HashingEmbedder ? 'hashing' : opts.embeddingsModel})`
          : 'qdrant (sparse only)';
        rows.push(await benchBackend(label, retriever, evalSet.questions, baseline));
      } finally {
        const current = await retriever.currentCollection();
        if (current) await client.deleteCollection(current);
      }
    } else {
      notes.push('Qdrant skipped: QDRANT_URL not set');
    }
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }

  const restricted = evalSet.questions.filter((q) => q.groups.length > 0).length;
  console.log('');
  console.log(
    `bench:rag: ${evalSet.questions.length} labelled questions (${restricted} on restricted documents), ` +
      `${opts.rounds} rounds for latency`,
  );
  const header = [
    'backend',
    'recall@5',
    'MRR@10',
    'corpus chunks/s',
    'GDPR chunks/s',
    'without vectors',
    'query p50',
    'query p95',
    'ts_rank p50',
    'ts_rank p95',
    'leaks',
  ];
  const table = rows.map((r) => [
    r.backend,
    r.recall5.toFixed(3),
    r.mrr10.toFixed(3),
    r.corpusChunksPerSec.toFixed(0),
    r.gdprChunksPerSec === null ? 'skipped' : r.gdprChunksPerSec.toFixed(0),
    r.gdprLexicalChunksPerSec === undefined ? '–' : r.gdprLexicalChunksPerSec.toFixed(0),
    ...latencyCells(r.latency),
    String(r.leaks),
  ]);
  printTable(header, table);
  printGdpr(rows);
  for (const n of notes) console.log(n);
  if (rows.some((r) => r.leaks > 0)) {
    console.error('LEAK: a restricted document reached a user without its groups');
    process.exitCode = 1;
  }
}

await main();

/** The retriever's p50 and p95, then the previous ranking's timed beside it ('–' where there is none). */
function latencyCells(l: Latency): string[] {
  const ms = (n: number) => `${n.toFixed(2)} ms`;
  return [ms(l.p50), ms(l.p95), l.baseline ? ms(l.baseline.p50) : '–', l.baseline ? ms(l.baseline.p95) : '–'];
}

function printTable(header: string[], table: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of table) console.log(line(row));
}

/** Article-level figures per backend and split, the baseline beside them and the ratio. */
function printGdpr(rows: Row[]): void {
  const measured = rows.filter((r) => r.gdpr.length > 0);
  if (measured.length === 0) return;
  console.log('');
  console.log(
    `GDPR, article level: ${articleSet.questions.length} questions; baseline: MiniSearch BM25+ over whole articles`,
  );
  const f = (n: number) => n.toFixed(3);
  const ratio = (a: number, b: number) => (b === 0 ? 'n/a' : (a / b).toFixed(2));
  printTable(
    [
      'ranking',
      'split',
      'questions',
      'recall@5',
      'MRR@10',
      'nDCG@10',
      'BM25 recall@5',
      'BM25 MRR@10',
      'BM25 nDCG@10',
      'ratio R/MRR/nDCG',
      'query p50',
      'query p95',
      'ts_rank p50',
      'ts_rank p95',
    ],
    measured.flatMap((r) =>
      r.gdpr.flatMap(({ variant, result }) =>
        result.splits.map((s) => [
          variant,
          s.split,
          String(s.retriever.questions),
          f(s.retriever.recall5),
          f(s.retriever.mrr10),
          f(s.retriever.ndcg10),
          f(s.baseline.recall5),
          f(s.baseline.mrr10),
          f(s.baseline.ndcg10),
          [
            ratio(s.retriever.recall5, s.baseline.recall5),
            ratio(s.retriever.mrr10, s.baseline.mrr10),
            ratio(s.retriever.ndcg10, s.baseline.ndcg10),
          ].join(' / '),
          ...latencyCells(result.latency),
        ]),
      ),
    ),
  );
}
