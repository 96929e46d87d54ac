/**
 * What the chat-latency test (test/review-chat-latency.test.ts) and `pnpm bench:review` share: the
 * review corpus and checklist, the data a run and its chat users read, closed-loop chat users, a
 * review run followed to its end, turn
 * latencies from the transcript, and the simulator's generation counters.
 */
import { Agent, request } from 'node:http';
import type { Retriever } from '@agent-fleet/rag';
import { ingestDocument, ingestPaths, SAMPLE_CORPUS_DIR, SAMPLE_TENANT } from '@agent-fleet/rag';
import type pg from 'pg';

export const REVIEW_CHECKLIST = {
  name: 'supplier contracts',
  items: [
    { id: 'retention', requirement: 'Customer records are kept for five years after the relationship ends.' },
    { id: 'gifts', requirement: 'Gifts above the threshold need approval before they are accepted.' },
    {
      id: 'screening',
      requirement: 'Counterparties are screened against sanctions lists before onboarding.',
    },
  ],
};

const CLAUSES = [
  'Customer records are kept for five years after the relationship ends, in the approved archive.',
  'Customer records are deleted when the contract ends, without any retention period.',
  'Gifts above the threshold are accepted only after approval by Compliance.',
  'Gifts above the threshold were accepted without approval by the account team.',
  'Counterparties are screened against sanctions lists before onboarding and every month after.',
  'The supplier is onboarded before any screening takes place.',
  'Invoices are paid within thirty days of receipt, and late payments accrue interest.',
  'Either party may end the agreement with ninety days of written notice.',
  'The supplier keeps its staff trained on data protection once a year.',
  'Disputes are settled by the courts of the bank’s home jurisdiction.',
];

/** `n` short contracts (about 150 tokens each) that differ in which clauses they hold. */
export function reviewCorpus(n: number, prefix: string): { docId: string; title: string; text: string }[] {
  return Array.from({ length: n }, (_, i) => {
    const clauses = CLAUSES.filter((_, c) => (i + c) % 3 !== 0);
    return {
      docId: `${prefix}${String(i + 1).padStart(4, '0')}`,
      title: `Supplier contract ${i + 1}`,
      text: `# Supplier contract ${i + 1}\n\n## Terms\n\n${clauses.slice(0, 4).join(' ')}\n\n## Obligations\n\n${clauses.slice(4).join(' ')}\n`,
    };
  });
}

/**
 * What a review run and its chat users read: the sample corpus and `documents`, all in the sample
 * tenant for the `compliance` group (into the fleet's retriever), and a profile in that group for
 * each of `users`.
 */
export async function seedReviewData(o: {
  retriever: Retriever;
  gatewayUrl: string;
  documents: { docId: string; title: string; text: string }[];
  users: string[];
}): Promise<void> {
  const { retriever } = o;
  await ingestPaths([SAMPLE_CORPUS_DIR], { tenant: SAMPLE_TENANT, retriever });
  for (const d of o.documents)
    await ingestDocument({ tenant: SAMPLE_TENANT, acl: ['compliance'], ...d }, { retriever });
  for (const userId of o.users) {
    const res = await fetch(`${o.gatewayUrl}/v1/users/${userId}/profile`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tenant: SAMPLE_TENANT, groups: ['compliance'] }),
    });
    if (!res.ok) throw new Error(`profile of ${userId}: ${res.status} ${await res.text()}`);
  }
}

const QUESTIONS = [
  'How long do we keep customer due diligence records?',
  'What do I do with a gift from a supplier above the threshold?',
  'When must a new counterparty be screened against sanctions lists?',
  'Who approves an exception to the record retention standard?',
  'What should I report when I suspect money laundering?',
];

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

/** One chat turn through the OpenAI-compatible endpoint, which answers once the turn has ended. */
function chatTurn(gatewayUrl: string, userId: string, text: string, auth?: string): Promise<void> {
  const body = JSON.stringify({
    model: 'fleet-agent',
    user: userId,
    messages: [{ role: 'user', content: text }],
  });
  return new Promise((resolve, reject) => {
    const req = request(
      `${gatewayUrl}/v1/chat/completions`,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          ...(auth ? { authorization: auth } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          res.statusCode === 200
            ? resolve()
            : reject(
                new Error(
                  `chat answered ${res.statusCode}: ${Buffer.concat(chunks).toString().slice(0, 300)}`,
                ),
              ),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Closed-loop chat: each of `users` users asks a question, waits for the answer, pauses `thinkMs`,
 * and asks the next, until `signal` aborts (a turn in flight then still finishes). Resolves when
 * every user has stopped, with the number of turns; latencies come from `turnLatencies`.
 */
export async function chatLoad(opts: {
  gatewayUrl: string;
  users: string[];
  thinkMs: number;
  signal: AbortSignal;
  auth?: string;
}): Promise<number> {
  let turns = 0;
  await Promise.all(
    opts.users.map(async (userId, u) => {
      // Users start spread over one think time, so their turns do not move in lockstep.
      await new Promise((r) => setTimeout(r, (opts.thinkMs * u) / opts.users.length));
      for (let i = 0; !opts.signal.aborted; i++) {
        await chatTurn(opts.gatewayUrl, userId, QUESTIONS[(u + i) % QUESTIONS.length]!, opts.auth);
        turns++;
        await new Promise((r) => setTimeout(r, opts.thinkMs));
      }
    }),
  );
  return turns;
}

/** Latencies (ms, accepted → completed, as the transcript records them) of `users`' turns accepted in [from, to). */
export async function turnLatencies(pool: pg.Pool, users: string[], from: Date, to: Date): Promise<number[]> {
  const res = await pool.query<{ ms: number }>(
    `SELECT extract(epoch FROM (completed_at - enqueued_at)) * 1000 AS ms FROM turns
     WHERE user_id = ANY($1) AND enqueued_at >= $2 AND enqueued_at < $3 AND status = 'completed'`,
    [users, from, to],
  );
  return res.rows.map((r) => Number(r.ms));
}

/** The simulator's cumulative generated tokens and its configured ceiling in wall-clock tokens/s. */
export async function simGeneration(simUrl: string): Promise<{ tokens: number; capacityPerSecond: number }> {
  const stats = (await (await fetch(`${simUrl.replace(/\/v1$/, '')}/sim/stats`)).json()) as {
    engine: { generationTokens: number; capacity: { wallClockMaxGenerationTokensPerSecond: number | null } };
  };
  return {
    tokens: stats.engine.generationTokens,
    capacityPerSecond:
      stats.engine.capacity.wallClockMaxGenerationTokensPerSecond ?? Number.POSITIVE_INFINITY,
  };
}

export interface RunOutcome {
  seconds: number;
  documentsPerMinute: number;
  status: string;
  reviewed: number;
  total: number;
  tokensPerDocument: number;
  /** The run's generated tokens per second over the simulator's configured ceiling (wall clock). */
  capacityShare: number;
}

/**
 * Starts a review run over `docIds` for `userId`, waits for it to end (polling its status), and
 * measures it: documents per minute, tokens per document, and the tokens it generated per second
 * (as the server reported them) against the simulator's configured ceiling.
 */
export async function reviewRun(opts: {
  gatewayUrl: string;
  simUrl: string;
  userId: string;
  docIds: string[];
  name: string;
  timeoutMs: number;
  auth?: string;
}): Promise<RunOutcome> {
  const headers = { 'content-type': 'application/json', ...(opts.auth ? { authorization: opts.auth } : {}) };
  const { capacityPerSecond } = await simGeneration(opts.simUrl);
  const started = performance.now();
  const res = await fetch(`${opts.gatewayUrl}/v1/reviews`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      userId: opts.userId,
      name: opts.name,
      documents: opts.docIds,
      checklist: REVIEW_CHECKLIST,
    }),
  });
  if (res.status !== 202) throw new Error(`POST /v1/reviews answered ${res.status}: ${await res.text()}`);
  const { reviewId } = (await res.json()) as { reviewId: string };
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const s = (await (await fetch(`${opts.gatewayUrl}/v1/reviews/${reviewId}`, { headers })).json()) as {
      status: string;
      documents: { total: number; reviewed: number };
      tokens: { total: number; completion: number };
    };
    if (['completed', 'failed', 'cancelled'].includes(s.status) || Date.now() > deadline) {
      const seconds = (performance.now() - started) / 1000;
      return {
        seconds,
        documentsPerMinute: (s.documents.reviewed / seconds) * 60,
        status: s.status,
        reviewed: s.documents.reviewed,
        total: s.documents.total,
        tokensPerDocument: s.documents.reviewed > 0 ? s.tokens.total / s.documents.reviewed : 0,
        capacityShare: s.tokens.completion / seconds / capacityPerSecond,
      };
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

export function p95(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)]!;
}
