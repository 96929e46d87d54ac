import type { TurnStatus, TurnTimings, TurnUsage } from '@agent-fleet/core';

/**
 * One turn as both clients report it (the JSON Schema `turn-result.v1.json`; `GET /v1/turns/:id`).
 * Times are ISO 8601 strings; `reply` is set once completed, `error` once it ended otherwise
 * (failed, cancelled, interrupted). `isFinalStatus(status)` says whether it has ended.
 */
export interface TurnRecord {
  turnId: string;
  userId: string;
  seq: number;
  status: TurnStatus;
  threadId?: string | undefined;
  enqueuedAt?: string | undefined;
  startedAt?: string | undefined;
  completedAt?: string | undefined;
  reply?: string | undefined;
  error?: string | undefined;
  citations?: unknown[] | undefined;
  attempts?: number | undefined;
  /** Where the time went (stages, each model and tool call), once the turn ended. */
  timings?: TurnTimings | undefined;
  /** Tokens the model servers reported for the turn's calls, once it has made any. */
  usage?: TurnUsage | undefined;
}

/** A user message to accept as the user's next turn. */
export interface SendInput {
  userId: string;
  text: string;
  threadId?: string;
  /** The same key for the same user accepts the turn once: safe retries. */
  idempotencyKey?: string;
}

/** An accepted turn: `created` is false when an idempotency key matched an earlier turn. */
export interface SentTurn {
  turnId: string;
  seq: number;
  created: boolean;
}

/**
 * What `streamTurn` yields. Today: a status change. Token streaming from the agent engine will add
 * `{ type: 'token', ... }` events: switch on `type` and ignore types you do not know.
 */
export type TurnEvent = TurnStatusEvent;

export interface TurnStatusEvent {
  type: 'status';
  status: TurnStatus;
  turn: TurnRecord;
}

export interface WaitOptions {
  /** Give up (with a `timeout` error) after this long; default 5 minutes. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** First and largest delay between two polls; default 25 ms growing to 1000 ms. */
  pollMs?: { initial: number; max: number };
}

export interface HistoryMessage {
  turnId: string;
  seq: number;
  role: 'user' | 'assistant';
  content: string;
  createdAt: string;
}

export interface HistoryPage {
  userId: string;
  messages: HistoryMessage[];
  /** Pass as `afterSeq` for the next page; null on the last page. */
  nextAfterSeq: number | null;
}

export interface ProfileInput {
  tenant: string;
  groups: string[];
  roleContext?: string;
}

export interface Profile extends ProfileInput {
  userId: string;
  settings: Record<string, unknown>;
  updatedAt: string;
}

/** A document as text, or as a file the gateway parses (text, Markdown, HTML, PDF). */
export type DocumentUpload =
  | { tenant: string; title: string; text: string; acl: string[]; docId?: string; public?: boolean }
  | {
      tenant: string;
      file: Blob | Uint8Array;
      filename: string;
      mime?: string;
      title?: string;
      acl?: string[];
      docId?: string;
      public?: boolean;
    };

export interface DocumentResult {
  docId: string;
  title: string;
  status: 'created' | 'replaced' | 'unchanged';
  chunks: number;
}
