/**
 * pnpm bench:review: a batch review run on the whole stack (gateway, worker processes, the simulator
 * as a process with its engine model), alone and beside closed-loop chat users:
 * 1. chat alone: turn latency p95 of the chat users;
 * 2. the run alone: documents/min, the share of the simulator's configured generation capacity it
 *    used, tokens per document;
 * 3. the run and chat together: the same for the run, and chat p95 next to the first phase's.
 */
import { join } from 'node:path';
import { PostgresRetriever } from '@agent-fleet/rag';
import { createPool } from '@agent-fleet/state';
import { count, factor, millis, parseBenchOptions, seconds } from './cli-args.ts';
import { BenchProcesses } from './fleet-processes.ts';
import {
  chatLoad,
  p95,
  type RunOutcome,
  reviewCorpus,
  reviewRun,
  seedReviewData,
  turnLatencies,
} from './review-load.ts';
import { startBenchStack } from './stack.ts';

const opts = parseBenchOptions(
  'bench:review',
  'review run throughput and its effect on chat latency, on the whole stack',
  {
    documents: count(500, 'documents in the run'),
    chatUsers: count(8, 'closed-loop chat users'),
    thinkMs: millis(500, 'pause of a chat user between an answer and the next question'),
    chatSeconds: seconds(30, 'length of the chat-alone phase'),
    workers: count(2, 'worker processes'),
    reviewConcurrency: count(4, 'REVIEW_CONCURRENCY (documents in flight per worker)'),
    timeScale: factor(0.2, 'simulator time scale (0.2 = 5x faster than modelled)'),
  },
);

const say = (line: string) => process.stdout.write(`${line}\n`);

async function main() {
  const stack = await startBenchStack();
  const processes = new BenchProcesses(join(stack.dir, 'logs'));
  // createPool ignores errors of idle clients: pool.end() returns before their sockets close, and
  // Postgres, stopped right after, sends each of them a termination notice.
  const pool = createPool(stack.databaseUrl, 4);
  try {
    const simUrl = await processes.simulator({
      SIM_MODE: 'extractive',
      SIM_TIME_SCALE: String(opts.timeScale),
    });
    const gatewayUrl = await processes.fleet({
      stack,
      llmUrl: simUrl,
      workers: opts.workers,
      env: {
        REVIEW_CONCURRENCY: String(opts.reviewConcurrency),
        REVIEW_MAX_DOCUMENTS: String(Math.max(20_000, opts.documents)),
      },
    });

    // Two corpora of the same shape, one per run, so the second run finds nothing of the first in
    // the simulator's prefix cache.
    const corpora = ['bench-a-', 'bench-b-'].map((prefix) => reviewCorpus(opts.documents, prefix));
    const users = Array.from({ length: opts.chatUsers }, (_, i) => `bench-chat-${i}`);
    await seedReviewData({
      retriever: new PostgresRetriever({ pool }),
      gatewayUrl,
      documents: corpora.flat(),
      users: ['bench-reviewer', ...users],
    });
    const run = (name: string, corpus: number) =>
      reviewRun({
        gatewayUrl,
        simUrl,
        userId: 'bench-reviewer',
        docIds: corpora[corpus]!.map((d) => d.docId),
        name,
        timeoutMs: 3_600_000,
      });
    const chat = (signal: AbortSignal) => chatLoad({ gatewayUrl, users, thinkMs: opts.thinkMs, signal });

    say(`chat alone: ${opts.chatUsers} users for ${opts.chatSeconds} s ...`);
    const aloneFrom = new Date();
    const stopAlone = AbortSignal.timeout(opts.chatSeconds * 1000);
    await chat(stopAlone);
    const alone = await turnLatencies(pool, users, aloneFrom, new Date());

    say(`review run alone: ${opts.documents} documents ...`);
    const runAlone = await run('bench alone', 0);

    say(`review run with ${opts.chatUsers} chat users ...`);
    const stopChat = new AbortController();
    const withFrom = new Date();
    const chatting = chat(stopChat.signal);
    const runWith = await run('bench with chat', 1).finally(() => stopChat.abort());
    const withTo = new Date();
    await chatting;
    const withRun = await turnLatencies(pool, users, withFrom, withTo);
    report(alone, withRun, runAlone, runWith);
  } finally {
    await processes.stopAll();
    await pool.end();
    await stack.stop();
  }
}

function report(alone: number[], withRun: number[], runAlone: RunOutcome, runWith: RunOutcome) {
  const row = (label: string, r: RunOutcome) =>
    `| ${label} | ${r.reviewed}/${r.total} ${r.status} in ${r.seconds.toFixed(1)} s | ${r.documentsPerMinute.toFixed(0)} | ` +
    `${(r.capacityShare * 100).toFixed(1)}% | ${r.tokensPerDocument.toFixed(0)} |`;
  say('');
  say(
    `simulator time scale ${opts.timeScale}, ${opts.workers} workers, REVIEW_CONCURRENCY ${opts.reviewConcurrency}`,
  );
  say('| run | documents | documents/min | share of configured generation capacity | tokens/document |');
  say('| --- | --- | --- | --- | --- |');
  say(row('alone', runAlone));
  say(row(`with ${opts.chatUsers} chat users`, runWith));
  say('');
  say('| chat | turns | p50 | p95 |');
  say('| --- | --- | --- | --- |');
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? Number.NaN;
  say(`| alone | ${alone.length} | ${median(alone).toFixed(0)} ms | ${p95(alone).toFixed(0)} ms |`);
  say(
    `| during the run | ${withRun.length} | ${median(withRun).toFixed(0)} ms | ${p95(withRun).toFixed(0)} ms |`,
  );
  say(
    `| ratio (during ÷ alone) | | ${(median(withRun) / median(alone)).toFixed(2)} | ${(p95(withRun) / p95(alone)).toFixed(2)} (aim ≤ 1.5) |`,
  );
}

await main();
