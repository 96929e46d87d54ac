import { z } from 'zod';

/**
 * The statuses of a turn, in one module the fleet and its SDK share (the SDK bundles it), so that
 * the server, the published schemas and every client agree on what a status means and which ones
 * end a turn. A turn is `queued` until a worker begins it, `running` while one works on it, and then
 * ends in exactly one final status.
 */
export const TURN_STATUSES = [
  'queued',
  'running',
  'completed',
  'failed',
  'cancelled',
  'interrupted',
] as const;
export type TurnStatus = (typeof TURN_STATUSES)[number];

/**
 * How a turn ends; a turn in one of these never changes again. A turn answered by coalescing (its
 * message merged into an earlier turn) ends `completed` with that turn's reply.
 */
export const FINAL_STATUSES = [
  'completed',
  'failed',
  'cancelled',
  'interrupted',
] as const satisfies readonly TurnStatus[];
export type FinalStatus = (typeof FINAL_STATUSES)[number];

export const turnStatusSchema = z.enum(TURN_STATUSES);

export function isTurnStatus(value: unknown): value is TurnStatus {
  return (TURN_STATUSES as readonly unknown[]).includes(value);
}

/** True for the statuses that end a turn: waiting on a turn stops at the first of these. */
export function isFinalStatus(status: TurnStatus): status is FinalStatus {
  return (FINAL_STATUSES as readonly TurnStatus[]).includes(status);
}
