import { PostgresRetriever } from '@agent-fleet/rag';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  chatLoad,
  p95,
  reviewCorpus,
  reviewRun,
  seedReviewData,
  turnLatencies,
} from '../scripts/bench/review-load.ts';
import { useSimProcessFleet } from './support/sim-fleet.ts';

const DOCUMENTS = 500;
const CHAT_USERS = Array.from({ length: 6 }, (_, i) => `chat-${i}`);
const THINK_MS = 300;
const ALONE_MS = 12_000;
/**
 * The simulator's modelled time runs 5x faster than real time, so the 500-document run fits the
 * test: a chat turn that takes about 1.5 s modelled (prefill of the retrieved passages, then about
 * 60 generated tokens) takes about 0.3 s here, a document about 0.5 s.
 */
const TIME_SCALE = 0.2;

/**
 * Chat stays fast while a 500-document review run is in flight, on real processes: the simulator
 * (its engine model: continuous batching, priorities, step time growing with the batch), a gateway
 * and two workers with the default review settings (REVIEW_CONCURRENCY 4 per worker,
 * LLM_BATCH_MAX_SHARE 0.75). Chat p95 turn latency is measured alone, then while the run is in
 * flight, in the same test; the run must still finish.
 */
describe('chat latency while a 500-document review run is in flight', () => {
  const { sim, fleet } = useSimProcessFleet({
    simEnv: { SIM_MODE: 'extractive', SIM_TIME_SCALE: String(TIME_SCALE) },
    workers: 2,
    env: { LOG_LEVEL: 'warn' },
  });
  let docIds: string[];

  beforeAll(async () => {
    const corpus = reviewCorpus(DOCUMENTS, 'contract-');
    await seedReviewData({
      retriever: new PostgresRetriever({ pool: fleet.pool }),
      gatewayUrl: fleet.gatewayUrl,
      documents: corpus,
      users: ['reviewer', ...CHAT_USERS],
    });
    docIds = corpus.map((d) => d.docId);
    await fleet.workersReady();
  });

  it('keeps chat p95 within 1.5x of chat alone, and the run finishes', async () => {
    const chat = (signal: AbortSignal) =>
      chatLoad({ gatewayUrl: fleet.gatewayUrl, users: CHAT_USERS, thinkMs: THINK_MS, signal });

    const aloneFrom = new Date();
    await chat(AbortSignal.timeout(ALONE_MS));
    const alone = await turnLatencies(fleet.pool, CHAT_USERS, aloneFrom, new Date());

    const stop = new AbortController();
    const duringFrom = new Date();
    const chatting = chat(stop.signal);
    const run = await reviewRun({
      gatewayUrl: fleet.gatewayUrl,
      simUrl: sim.url,
      userId: 'reviewer',
      docIds,
      name: 'chat latency',
      timeoutMs: 120_000,
    }).finally(() => stop.abort());
    const duringTo = new Date();
    await chatting;
    const during = await turnLatencies(fleet.pool, CHAT_USERS, duringFrom, duringTo);

    const ratio = p95(during) / p95(alone);
    process.stdout.write(
      `chat p95 alone ${p95(alone).toFixed(0)} ms (${alone.length} turns), during the run ${p95(during).toFixed(0)} ms ` +
        `(${during.length} turns): ratio ${ratio.toFixed(2)}; run of ${run.total} documents ${run.status} in ` +
        `${run.seconds.toFixed(1)} s (${run.documentsPerMinute.toFixed(0)} documents/min, ` +
        `${run.tokensPerDocument.toFixed(0)} tokens/document)\n`,
    );
    expect(run).toMatchObject({ status: 'completed', reviewed: DOCUMENTS, total: DOCUMENTS });
    // Enough turns on both sides for a p95 to mean something, and chat overlapped the whole run.
    expect(alone.length).toBeGreaterThanOrEqual(60);
    expect(during.length).toBeGreaterThanOrEqual(60);
    expect(ratio).toBeLessThanOrEqual(1.5);
  });
});
