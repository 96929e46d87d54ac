import type { Checklist } from './checklist.ts';
import type { Finding, Usage } from './finding.ts';
import type { DocumentChange, DocumentOutcome, ReviewPriority, ReviewStatus, Verdict } from './statuses.ts';

/** The records of the review store (runs, their documents and findings), as the engine reads them. */

/** An upload of the run that could not be ingested: reported failed with its error. */
export interface FailedUpload {
  docId: string;
  title: string;
  error: DocumentError;
}

/** The documents a run was asked to review, as given (uploads as the docIds they were ingested as). */
export type RunSpec =
  | { documents: string[]; failedUploads?: FailedUpload[] }
  | { selector: { tenant: string; docIdPrefix?: string } };

export interface NewRun {
  runId: string;
  /** The schedule that started this run, when one did (or when the run created it). */
  scheduleId?: string;
  /** The completed run of the same schedule whose findings this one carries for unchanged documents. */
  previousRunId?: string;
  name?: string;
  userId: string;
  tenant: string;
  priority: ReviewPriority;
  checklist: Checklist;
  spec: RunSpec;
  createdBy: string;
}

export interface RunRecord extends NewRun {
  status: ReviewStatus;
  generation: number;
  documentsTotal: number;
  usage: Usage;
  error?: string;
  createdAt: Date;
  startedAt?: Date;
  finishedAt?: Date;
}

export interface DocumentError {
  code: string;
  reason?: string;
  message: string;
}

export interface RunDocument {
  docId: string;
  ordinal: number;
  itemsTotal: number;
  chunkCount: number;
  outcome: DocumentOutcome | null;
  error?: DocumentError;
  title?: string;
  contentHash?: string;
  /** Set on reruns: how the document compares with the previous run's. */
  change?: DocumentChange;
  usage: Usage;
  settledAt?: Date;
}

/** A document as a run's start adds it; one with an outcome is settled at once. */
export interface NewRunDocument {
  docId: string;
  ordinal: number;
  itemsTotal: number;
  chunkCount: number;
  outcome?: DocumentOutcome;
  error?: DocumentError;
  title?: string;
}

export interface StoredFinding extends Finding {
  docId: string;
  /** The run whose review produced this finding, when it was carried from an earlier run. */
  carriedFrom?: string;
}

/** Told of the run's counts and usage right after a document settled (see `ReviewStore`). */
export type OnSettled = (state: RunProgress & { usage: Usage }) => Promise<void>;

/** Counts for the status view: documents by outcome, findings by verdict. */
export interface RunProgress {
  documents: { total: number; done: number } & Record<DocumentOutcome, number>;
  verdicts: Record<Verdict, number>;
}
