/**
 * The conversations of bench:llm, shared by every client it measures (the pool, the direct
 * reference): the same prompts, answer lengths and per-conversation turn order whoever sends them.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PoolChatRequest, PoolMessage } from '@agent-fleet/llm';
import { ROOT } from './stack.ts';

const SYSTEM =
  'You are the personal assistant of a compliance officer at a large bank. You answer from the ' +
  'bank policies and the regulations in force, cite your sources, flag uncertainty, and never give ' +
  'legal advice beyond the policies. '.repeat(6);

/**
 * Answers of about 250 tokens, as a compliance assistant's are: the simulator's `script` mode
 * replies with this text to every request, so each turn generates far more than it prefills.
 */
const ANSWER = [
  'Under the Record Retention Standard, customer due diligence records, including identification documents,',
  'beneficial ownership information and the risk assessment, are kept for seven years after the business',
  'relationship ends or the occasional transaction is completed [1]. Transaction records are kept for the same',
  'period and must allow each transaction to be reconstructed, with amounts, currencies, dates and the accounts',
  'involved [2]. Where a suspicious activity report was filed, the supporting analysis and the report itself are',
  'retained for at least ten years, and the retention period is extended while any investigation, litigation or',
  'regulatory inquiry is pending; Legal places a hold and the scheduled deletion is suspended until the hold is',
  'lifted [3]. Recordings of telephone conversations and electronic communications that relate to transactions',
  'in financial instruments are kept for five years, or seven where the supervisor requests it [4]. Records are',
  'stored in the approved archive, protected against alteration, and deleted or anonymised at the end of the',
  'period unless a hold applies. If you are unsure which period applies to a document, treat it under the longest',
  'applicable period and ask Compliance Advisory for a ruling, which will be recorded in the retention register.',
  'Business units review their retention schedules every year and confirm to Compliance that expired records were',
  'deleted; exceptions are reported to the Records Committee with the reason and the date by which they will be closed.',
].join(' ');

/** The simulator's `script` fixtures: {@link ANSWER} to every request. Returns the file's path. */
export function writeAnswerScript(): string {
  const dir = join(ROOT, '.fleet', 'bench-logs');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'answers.json');
  writeFileSync(file, JSON.stringify([{ reply: ANSWER, times: 1_000_000 }]));
  return file;
}

function question(user: number, turn: number, words: number): string {
  const topics = ['retention', 'sanctions', 'gifts', 'complaints', 'insider lists', 'vendors', 'training'];
  const filler = Array.from({ length: words }, (_, i) => topics[(user + turn + i) % topics.length]).join(' ');
  return `Turn ${turn} of officer ${user}: what does the policy say about ${filler}?`;
}

/** The pool's routing key (the OpenAI `user`) of conversation `conversation`. */
export function userIdOf(conversation: number): string {
  return `officer-${conversation}`;
}

/** What one turn's sender reports back. */
export interface TurnReply {
  content: string;
  completionTokens: number;
  /** Streamed turns only: from sending to the first delta. */
  ttftMs?: number;
}

/** Sends conversation `conversation`'s next turn and resolves with the answer. */
export type TurnSender = (conversation: number, req: PoolChatRequest) => Promise<TurnReply>;

export interface Workload {
  conversations: number;
  turns: number;
  /** Filler words per question. */
  words: number;
}

/**
 * Plays every conversation at once; within one, a turn is sent only after the previous answer came
 * back, with the history as the worker lays it out (system prompt, earlier turns unchanged, the
 * new message last), so each prompt extends the last one and the prefix cache can serve it.
 * Answer lengths vary by conversation and turn (`max_tokens` 120..319), as real ones do.
 */
export async function converse(
  workload: Workload,
  send: TurnSender,
  onTurn: (reply: TurnReply) => void,
): Promise<void> {
  await Promise.all(
    Array.from({ length: workload.conversations }, async (_, u) => {
      const history: PoolMessage[] = [];
      for (let t = 1; t <= workload.turns; t++) {
        const q = question(u, t, workload.words);
        const messages: PoolMessage[] = [
          { role: 'system', content: SYSTEM },
          ...history,
          { role: 'user', content: q },
        ];
        const maxTokens = 120 + ((u * 7919 + t * 104_729) % 200);
        const reply = await send(u, { userId: userIdOf(u), tenant: 'acme-bank', messages, maxTokens });
        history.push({ role: 'user', content: q }, { role: 'assistant', content: reply.content });
        onTurn(reply);
      }
    }),
  );
}
