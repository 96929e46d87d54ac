import { FleetError } from '@agent-fleet/core';
import type { PoolChatRequest, PoolChatResult, PoolMessage } from '@agent-fleet/llm';
import type { ChecklistItem } from './checklist.ts';
import { contextAround, type ReviewDocument, sectionAt } from './document.ts';
import { addCall, type Finding, type Usage } from './finding.ts';
import { type ModelFinding, parseReviewReply, reviewResponseFormat } from './output.ts';
import { reaskMessage } from './prompt.ts';

/** What asking needs of the LLM pool. */
export interface ChatPort {
  chat(req: PoolChatRequest): Promise<PoolChatResult>;
}

export interface AskContext {
  llm: ChatPort;
  userId: string;
  tenant: string;
  model?: string;
  /** Times an invalid reply is asked again before its items are recorded `unclear` (invalid_output). */
  jsonRetries: number;
  signal: AbortSignal;
  /** Checked before every model call: true stops the work (the run was cancelled or resumed elsewhere). */
  shouldStop: () => Promise<boolean>;
  usage: Usage;
}

/** Thrown between model calls when the run no longer wants this work. */
export class ReviewStopped extends Error {
  constructor() {
    super('the review run was cancelled or superseded');
    this.name = 'ReviewStopped';
  }
}

/**
 * Asks about `items` of `doc` and returns one finding per item, each one trustworthy or `unclear`:
 * - a reply that is not valid JSON of the schema is asked again (naming the problem) up to
 *   `jsonRetries` times, then its items are `unclear` with reason `invalid_output`;
 * - every evidence quote must occur verbatim (whitespace aside) in the document, and a compliant or
 *   non-compliant verdict needs one; an item failing that is asked again once, naming the quotes,
 *   then recorded `unclear` with reason `unverifiable_evidence` and no evidence.
 * Sections of quotes come from where they occur in the document. Usage of every call is added to
 * `ctx.usage`.
 */
export async function askItems(
  ctx: AskContext,
  doc: ReviewDocument,
  base: readonly PoolMessage[],
  items: readonly ChecklistItem[],
): Promise<Finding[]> {
  const out: Finding[] = [];
  const reasked = new Set<string>();
  let invalid = 0;
  let pending = [...items];
  let messages = [...base];
  while (pending.length > 0) {
    const ids = pending.map((i) => i.id);
    const reply = await call(ctx, messages, ids);
    const parsed = parseReviewReply(reply.content, ids);
    if (!parsed.ok) {
      invalid++;
      if (invalid > ctx.jsonRetries) {
        out.push(...pending.map((i) => invalidOutput(i.id, parsed.problem)));
        break;
      }
      messages = [
        ...base,
        { role: 'assistant', content: reply.content },
        reaskMessage([parsed.problem], ids),
      ];
      continue;
    }
    const again: ChecklistItem[] = [];
    const problems: string[] = [];
    for (const item of pending) {
      const answer = parsed.findings.get(item.id)!;
      const problem = evidenceProblem(doc, answer);
      if (!problem) out.push(verified(doc, item.id, answer));
      else if (!reasked.has(item.id)) {
        reasked.add(item.id);
        again.push(item);
        problems.push(`item ${item.id}: ${problem}`);
      } else out.push(unverifiable(item.id, answer, problem));
    }
    pending = again;
    if (again.length > 0)
      messages = [
        ...base,
        { role: 'assistant', content: reply.content },
        reaskMessage(
          problems,
          again.map((i) => i.id),
        ),
      ];
  }
  return out;
}

async function call(ctx: AskContext, messages: PoolMessage[], ids: string[]): Promise<PoolChatResult> {
  for (let delay = 500; ; delay = Math.min(delay * 2, 15_000)) {
    if (await ctx.shouldStop()) throw new ReviewStopped();
    try {
      const reply = await ctx.llm.chat({
        userId: ctx.userId,
        tenant: ctx.tenant,
        priority: 'batch',
        messages,
        responseFormat: reviewResponseFormat(ids),
        temperature: 0,
        signal: ctx.signal,
        ...(ctx.model ? { model: ctx.model } : {}),
      });
      addCall(ctx.usage, reply);
      return reply;
    } catch (err) {
      // No server free for batch work (chat has it) or none healthy: wait here rather than burn the
      // job's attempts; the job's own timeout bounds the wait.
      if (!(err instanceof FleetError && err.code === 'unavailable') || ctx.signal.aborted) throw err;
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/** What is wrong with an answer's evidence, or null when every quote occurs in the document. */
function evidenceProblem(doc: ReviewDocument, answer: ModelFinding): string | null {
  const missing = answer.evidence.filter((e) => !doc.quotes.contains(e.quote));
  if (missing.length > 0)
    return `these quotes do not occur in the document: ${missing.map((e) => JSON.stringify(e.quote)).join(', ')}`;
  if ((answer.verdict === 'compliant' || answer.verdict === 'non_compliant') && answer.evidence.length === 0)
    return `a ${answer.verdict} verdict needs at least one quote from the document`;
  return null;
}

function verified(doc: ReviewDocument, itemId: string, answer: ModelFinding): Finding {
  return {
    itemId,
    verdict: answer.verdict,
    evidence: answer.evidence.map((e) => {
      const span = doc.quotes.locate(e.quote)!;
      const section = sectionAt(doc, span.start);
      return { quote: e.quote, ...(section ? { section } : {}), ...contextAround(doc, span.start, span.end) };
    }),
    rationale: answer.rationale,
    confidence: answer.confidence,
  };
}

function unverifiable(itemId: string, answer: ModelFinding, problem: string): Finding {
  return {
    itemId,
    verdict: 'unclear',
    reason: 'unverifiable_evidence',
    evidence: [],
    rationale: `The model answered ${answer.verdict} (${answer.rationale}), but asked twice, ${problem}.`,
    confidence: 0,
  };
}

function invalidOutput(itemId: string, problem: string): Finding {
  return {
    itemId,
    verdict: 'unclear',
    reason: 'invalid_output',
    evidence: [],
    rationale: `No usable answer from the model: ${problem}.`,
    confidence: 0,
  };
}
