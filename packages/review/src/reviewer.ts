import { FleetError } from '@agent-fleet/core';
import {
  accessFor,
  MAX_READ_CHUNKS,
  MissingAccessError,
  type ProfileSource,
  type Retriever,
  type UserAccess,
  visibleTo,
} from '@agent-fleet/rag';
import { type AskContext, askItems, type ChatPort, ReviewStopped } from './ask.ts';
import type { ChecklistItem } from './checklist.ts';
import { assembleDocument, type ReviewDocument } from './document.ts';
import { type Finding, noUsage, type Usage } from './finding.ts';
import { policyPassages } from './policies.ts';
import { documentPassages, reviewMessages } from './prompt.ts';

export interface ReviewerDeps {
  llm: ChatPort;
  retriever: Retriever;
  /** Stored profiles: the run user's access comes from here only. */
  profiles: ProfileSource;
}

export interface ReviewerOptions {
  itemsPerCall: number;
  documentTokens: number;
  policyTokens: number;
  jsonRetries: number;
  model?: string;
}

/** One unit of review work: some items of one document, for the run's user. */
export interface DocumentTask {
  userId: string;
  docId: string;
  /** The items still without a finding (a redelivered job skips those it recorded). */
  items: readonly ChecklistItem[];
  signal: AbortSignal;
  shouldStop: () => Promise<boolean>;
  /**
   * Records the findings of one model exchange (a group of items) with the usage it took, before
   * the next one starts: the checkpoint a redelivery resumes from.
   */
  record: (batch: { doc: DocumentFacts; findings: Finding[]; usage: Usage }) => Promise<void>;
  /**
   * On a rerun, called once the document is read and before any model call: carries the previous
   * run's findings when the content is unchanged; resolves the ids of the items carried, which are
   * then not reviewed.
   */
  carry?: (doc: DocumentFacts) => Promise<readonly string[]>;
}

/** What the report keeps of a reviewed document. */
export interface DocumentFacts {
  title: string;
  contentHash: string;
}

/** How a task ended. Findings were recorded as they came; the others are settled by the caller. */
export type TaskResult =
  | { kind: 'reviewed'; doc: DocumentFacts }
  | { kind: 'not_permitted'; usage: Usage }
  | { kind: 'not_found'; usage: Usage }
  | { kind: 'failed'; error: { code: string; reason?: string; message: string }; usage: Usage }
  /** The run was cancelled or superseded by a resume; what was recorded stays, the rest is left pending. */
  | { kind: 'stopped'; usage: Usage };

/**
 * Reviews one document for one user: reads it under the user's access (a document the user may not
 * read is `not_permitted` and nothing of it reaches a model), then asks about the items in groups of
 * `itemsPerCall`, each with the document's passages (all of it when it fits `documentTokens`, else
 * the sections most relevant to the group) and the passages of the policies the group cites.
 */
export class DocumentReviewer {
  readonly #deps: ReviewerDeps;
  readonly #o: ReviewerOptions;

  constructor(deps: ReviewerDeps, opts: ReviewerOptions) {
    this.#deps = deps;
    this.#o = opts;
  }

  async review(task: DocumentTask): Promise<TaskResult> {
    const usage = noUsage();
    let access: UserAccess;
    try {
      access = await accessFor(this.#deps.profiles, task.userId);
    } catch (err) {
      if (err instanceof MissingAccessError) return { kind: 'not_permitted', usage };
      throw err;
    }
    const doc = await this.#read(access, task.docId);
    if (doc === 'not_found' || doc === 'not_permitted') return { kind: doc, usage };
    if (doc === 'empty')
      return {
        kind: 'failed',
        error: { code: 'invalid_request', reason: 'empty', message: `${task.docId} has no text to review` },
        usage,
      };
    const facts = { title: doc.title, contentHash: doc.contentHash };
    const carried = new Set(task.carry ? await task.carry(facts) : []);
    const items = task.items.filter((i) => !carried.has(i.id));
    if (items.length === 0) return { kind: 'reviewed', doc: facts };
    const ctx: AskContext = {
      llm: this.#deps.llm,
      userId: task.userId,
      tenant: access.tenant,
      jsonRetries: this.#o.jsonRetries,
      signal: task.signal,
      shouldStop: task.shouldStop,
      usage,
      ...(this.#o.model ? { model: this.#o.model } : {}),
    };
    try {
      for (let i = 0; i < items.length; i += this.#o.itemsPerCall) {
        const group = items.slice(i, i + this.#o.itemsPerCall);
        const base = reviewMessages({
          doc,
          passages: documentPassages(doc, group, this.#o.documentTokens),
          policies: await policyPassages(this.#deps.retriever, access, group, this.#o.policyTokens),
          items: group,
        });
        const findings = await askItems(ctx, doc, base, group);
        await task.record({ doc: facts, findings, usage: { ...usage } });
        Object.assign(usage, noUsage());
      }
    } catch (err) {
      if (err instanceof ReviewStopped) return { kind: 'stopped', usage };
      throw err;
    }
    return { kind: 'reviewed', doc: facts };
  }

  /** The document as the user may read it, or why not. */
  async #read(
    access: UserAccess,
    docId: string,
  ): Promise<ReviewDocument | 'not_found' | 'not_permitted' | 'empty'> {
    const chunks = await this.#deps.retriever.readDocument(access, docId, { maxChunks: MAX_READ_CHUNKS });
    if (chunks.length > 0) return assembleDocument(chunks);
    const summary = await this.#deps.retriever.getDocument(access.tenant, docId);
    if (!summary) return 'not_found';
    return visibleTo(access, summary) ? 'empty' : 'not_permitted';
  }
}

/** The error of a task that cannot succeed, as a report shows it. */
export function describeError(err: unknown): { code: string; reason?: string; message: string } {
  const reason = err instanceof FleetError ? err.details?.reason : undefined;
  return {
    code: err instanceof FleetError ? err.code : 'internal',
    ...(typeof reason === 'string' ? { reason } : {}),
    message: err instanceof Error ? err.message : String(err),
  };
}
