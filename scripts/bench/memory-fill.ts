/**
 * The bulk of bench:memory: many users' turns driven through the fleet's own Redis code paths (the
 * accept, begin and commit Lua scripts through TurnProducer and TurnGate, the worker's Memory folding
 * the history into a summary past the budget) straight against a redis-server, without the queues,
 * the model or Postgres: what stays in Redis per user is what these paths write.
 */
import {
  createLogger,
  type HistoryMessage,
  hotStateKeys,
  type RedisClient,
  userKeys,
} from '@agent-fleet/core';
import type { PoolChatResult } from '@agent-fleet/llm';
import { PendingUsers, TurnGate, TurnProducer, TurnRecords } from '@agent-fleet/turns';
import { Memory, messageTokens } from '../../packages/worker/src/memory.ts';

const PARTITIONS = 8;

/** A question of about 50 tokens and an answer of about 250, as a compliance officer's turn. */
const QUESTION =
  'How long must we keep the customer due diligence records of a corporate client after the ' +
  'business relationship ended, and does the period restart when the file is reviewed again?';
const ANSWER = Array.from(
  { length: 5 },
  (_, i) =>
    `Point ${i + 1}: the retention policy keeps customer due diligence records, including the ` +
    'identification documents, beneficial ownership evidence and the risk assessment, for five ' +
    'years after the relationship ends [1]; a periodic review does not restart the period [2].',
).join(' ');
/** What the worker's summariser writes when it folds old turns: at most 200 words. */
const SUMMARY = Array.from(
  { length: 8 },
  () => 'The officer asked about retention of due diligence records; five years after the end applies.',
).join(' ');
const CITATIONS = [
  { docId: 'retention-policy', title: 'Record retention policy', section: '4.2 Customer files' },
  { docId: 'cdd-procedure', title: 'Customer due diligence procedure', section: '7 Periodic review' },
];

export interface FillOptions {
  users: number;
  turns: number;
  /** Users filled at once (each user's turns one after the other). */
  concurrency: number;
  recordTtlSeconds: number;
  hotStateTtlSeconds: number;
  historyTokenBudget: number;
  /** Called after each user's last turn, with how many users are done. */
  progress(done: number): void;
}

/** What a filled user left in Redis, by kind: for the MEMORY USAGE breakdown of a sample. */
export interface UserKeySets {
  hot: string[];
  records: string[];
}

export interface Filler {
  fill(namespace: string): Promise<void>;
  /** The keys of user `i` of `namespace`, once filled (turn record keys for sampled users only). */
  keysOf(namespace: string, i: number): UserKeySets;
}

const userName = (i: number) => `user-${i}`;

export function createFiller(redis: RedisClient, o: FillOptions, sampled: number): Filler {
  const turnIds = new Map<string, string[]>();
  return {
    async fill(namespace) {
      const parts = collaborators(redis, namespace, o);
      let next = 0;
      let done = 0;
      await Promise.all(
        Array.from({ length: Math.min(o.concurrency, o.users) }, async () => {
          while (next < o.users) {
            const i = next++;
            const ids = await fillUser(parts, userName(i), o.turns);
            if (i < sampled) turnIds.set(`${namespace}/${i}`, ids);
            o.progress(++done);
          }
        }),
      );
      await forgetIdleUsers(parts.pendingUsers);
    },
    keysOf(namespace, i) {
      const k = userKeys(namespace, userName(i));
      return { hot: hotStateKeys(k), records: (turnIds.get(`${namespace}/${i}`) ?? []).map(k.record) };
    },
  };
}

type Parts = ReturnType<typeof collaborators>;

function collaborators(redis: RedisClient, namespace: string, o: FillOptions) {
  const records = new TurnRecords({ redis, namespace, ttlSeconds: o.recordTtlSeconds });
  const producer = new TurnProducer({
    redis,
    namespace,
    // No queues: jobs are not added, and so not tagged for fair queueing either.
    partitions: { count: PARTITIONS, add: async () => {}, partitionOf: () => 0 },
    order: { kind: 'fifo', turnTokens: 0 },
    records,
    idempotencyTtlSeconds: 24 * 3600,
    recordTtlSeconds: o.recordTtlSeconds,
    seqFloor: async () => 0,
  });
  const gate = new TurnGate({
    redis,
    namespace,
    leaseMs: 15_000,
    recordTtlSeconds: o.recordTtlSeconds,
    hotStateTtlSeconds: o.hotStateTtlSeconds,
  });
  const summariser = {
    chat: async (): Promise<PoolChatResult> => ({
      model: 'summary',
      content: SUMMARY,
      toolCalls: [],
      finishReason: 'stop',
      promptTokens: 0,
      completionTokens: 0,
      cachedTokens: 0,
      server: 'bench',
      attempts: 1,
    }),
  };
  const transcript = {
    latestSummary: async () => null,
    conversation: async () => [],
    saveSummary: async () => {},
  };
  const memory = new Memory({
    gate,
    transcript,
    llm: summariser,
    tokenBudget: o.historyTokenBudget,
    logger: createLogger('bench', 'silent'),
  });
  const pendingUsers = new PendingUsers({ redis, namespace, partitions: PARTITIONS });
  return { producer, gate, memory, pendingUsers };
}

const QUESTION_TOKENS = messageTokens(QUESTION);
const ANSWER_TOKENS = messageTokens(ANSWER);

/** One user's turns, each accepted, begun and committed as the gateway and a worker would. */
async function fillUser(p: Parts, userId: string, turns: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < turns; i++) {
    const { turnId, seq } = await p.producer.accept({ userId, text: QUESTION });
    const lease = `bench.${turnId}`;
    const begun = await p.gate.begin(userId, seq, turnId, lease);
    if (begun.kind !== 'acquired') throw new Error(`turn ${seq} of ${userId}: the gate said ${begun.kind}`);
    const messages: HistoryMessage[] = [
      { role: 'user', content: QUESTION, turnId, seq, tokens: QUESTION_TOKENS },
      { role: 'assistant', content: ANSWER, turnId, seq, tokens: ANSWER_TOKENS },
    ];
    const fin = await p.gate.commit({
      userId,
      seq,
      turnId,
      token: lease,
      status: 'completed',
      outcome: ANSWER,
      messages,
      citations: CITATIONS,
    });
    if (fin.kind === 'finished') await p.memory.foldIfNeeded(userId, fin.historyTokens);
    ids.push(turnId);
  }
  return ids;
}

/** What the recovery sweep does for users with nothing pending: forget them in the index. */
async function forgetIdleUsers(index: PendingUsers): Promise<void> {
  for (let partition = 0; partition < index.partitions; partition++) {
    let cursor = '0';
    do {
      const page = await index.scan(partition, cursor, 1000);
      await Promise.all(page.users.map((u) => index.forget(partition, u)));
      cursor = page.cursor;
    } while (cursor !== '0');
  }
}

/** Tokens of one turn's two messages, for the report. */
export const TURN_TOKENS = QUESTION_TOKENS + ANSWER_TOKENS;
