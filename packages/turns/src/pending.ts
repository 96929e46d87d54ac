import { type TurnJob, turnJobSchema } from '@agent-fleet/core';

/** The payload of an accepted turn as kept in the user's `pending` hash: the job without its seq. */
export type PendingPayload = Omit<TurnJob, 'seq'>;

export function encodePending(p: PendingPayload): string {
  return JSON.stringify(p);
}

/** Rebuild the job of turn `seq` from the payload the accept step stored. */
export function decodePending(seq: number, json: string): TurnJob {
  return turnJobSchema.parse({ ...JSON.parse(json), seq });
}
