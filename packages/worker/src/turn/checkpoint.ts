import { FleetError, turnIdSchema } from '@agent-fleet/core';
import type { Citation } from '@agent-fleet/rag';
import { z } from 'zod';
import { type AgentStep, agentStepSchema } from '../agent/steps.ts';

/**
 * The checkpoint version this worker writes. Version 1 is the layout from before versions were
 * written (a hash without `v`); its fields are encoded exactly as version 2's, so it is read as is.
 */
export const CHECKPOINT_VERSION = 2;
const OLDEST_READABLE_VERSION = 1;

const citationSchema = z.object({
  marker: z.number().int(),
  docId: z.string(),
  title: z.string(),
  section: z.string(),
  sectionPath: z.array(z.string()),
  source: z.string(),
  chunkIndex: z.number().int(),
}) satisfies z.ZodType<Citation>;

/** What retrieval put into a turn's prompt; kept so a resumed turn cites the same sources. */
export const groundingSchema = z.object({ context: z.string(), citations: z.array(citationSchema) });
export type Grounding = z.infer<typeof groundingSchema>;

/** A later message a turn answers too (double texting `coalesce`). */
export const coalescedTurnSchema = z.object({
  seq: z.number().int().positive(),
  turnId: turnIdSchema,
  text: z.string(),
  enqueuedAt: z.number().int().nonnegative(),
});
export type CoalescedTurn = z.infer<typeof coalescedTurnSchema>;

/**
 * What a redelivered turn resumes from. `grounding` and `coalesced` are absent until a delivery
 * decided them and saved a step; `steps` are the finished steps, in order.
 */
export const turnCheckpointSchema = z.object({
  v: z.literal(CHECKPOINT_VERSION),
  grounding: groundingSchema.optional(),
  coalesced: z.array(coalescedTurnSchema).optional(),
  steps: z.array(agentStepSchema),
});
export type TurnCheckpoint = z.infer<typeof turnCheckpointSchema>;

/** The checkpoint a turn starts with when no delivery saved anything yet. */
export const EMPTY_CHECKPOINT: TurnCheckpoint = { v: CHECKPOINT_VERSION, steps: [] };

/** A checkpoint this worker cannot resume from; the turn fails with this message, never retried. */
export class CheckpointError extends FleetError {
  constructor(message: string) {
    super('protocol_violation', `cannot resume from this turn's checkpoint: ${message}`, {
      retryable: false,
    });
    this.name = 'CheckpointError';
  }
}

// The checkpoint in Redis is a hash, so a step is saved by writing one field:
//   v          the version
//   grounding  JSON Grounding
//   coalesced  JSON CoalescedTurn[]
//   step:<n>   JSON AgentStep, n = 1, 2, ...
const STEP_FIELD = /^step:([1-9][0-9]*)$/;
const stepField = (n: number) => `step:${n}`;

/**
 * The hash fields that store `part` of a checkpoint, stamped with the version; its steps are
 * numbered from `firstStep`. Saving a step writes only that step (and what the turn decided before
 * it, the first time), so a checkpoint costs one small write per step.
 */
export function encodeCheckpoint(
  part: Partial<Omit<TurnCheckpoint, 'v'>>,
  firstStep = 1,
): Record<string, string> {
  const fields: Record<string, string> = { v: String(CHECKPOINT_VERSION) };
  if (part.grounding) fields.grounding = JSON.stringify(part.grounding);
  if (part.coalesced) fields.coalesced = JSON.stringify(part.coalesced);
  for (const [i, step] of (part.steps ?? []).entries())
    fields[stepField(firstStep + i)] = JSON.stringify(step);
  return fields;
}

/**
 * Read a checkpoint hash as the current version, or refuse it with a `CheckpointError` that says
 * why: a version this worker does not know (written by a newer deploy), a field that is not part
 * of the layout, steps with a gap, or a value that does not parse. A refused checkpoint is never
 * half-read: resuming from part of one could repeat a tool call that already had its effect.
 */
export function decodeCheckpoint(fields: Readonly<Record<string, string>>): TurnCheckpoint {
  const version = versionOf(fields.v);
  const { v: _v, grounding, coalesced, ...rest } = fields;
  const candidate = {
    v: CHECKPOINT_VERSION,
    ...(grounding === undefined ? {} : { grounding: parseJson('grounding', grounding) }),
    ...(coalesced === undefined ? {} : { coalesced: parseJson('coalesced', coalesced) }),
    steps: stepsOf(rest, version),
  };
  const parsed = turnCheckpointSchema.safeParse(candidate);
  if (!parsed.success) throw new CheckpointError(`invalid content: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

function versionOf(raw: string | undefined): number {
  if (raw === undefined) return OLDEST_READABLE_VERSION;
  const version = Number(raw);
  if (!Number.isInteger(version) || version < OLDEST_READABLE_VERSION || version > CHECKPOINT_VERSION) {
    throw new CheckpointError(
      `version ${JSON.stringify(raw)} is not one this worker reads (${OLDEST_READABLE_VERSION} to ${CHECKPOINT_VERSION}); ` +
        'was it written by a newer deploy?',
    );
  }
  return version;
}

/** The step fields as JSON values in order; any other field, or a missing step, refuses the checkpoint. */
function stepsOf(fields: Readonly<Record<string, string>>, version: number): unknown[] {
  const numbered = Object.entries(fields).map(([name, value]) => {
    const n = STEP_FIELD.exec(name)?.[1];
    if (n === undefined)
      throw new CheckpointError(`field ${JSON.stringify(name)} is not part of version ${version}`);
    return { n: Number(n), step: parseJson(name, value) };
  });
  numbered.sort((a, b) => a.n - b.n);
  for (const [i, { n }] of numbered.entries())
    if (n !== i + 1) throw new CheckpointError(`step ${i + 1} is missing before step ${n}`);
  return numbered.map(({ step }) => step);
}

function parseJson(field: string, value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    throw new CheckpointError(`field ${field} is not JSON`);
  }
}

/** Where checkpoint fields are kept (the turn's Redis hash; `Scratchpad` in production). */
export interface CheckpointStore {
  save(userId: string, turnId: string, fields: Readonly<Record<string, string>>): Promise<void>;
}

/**
 * The checkpoint of one running turn, written step by step. What the turn decided before its first
 * step (grounding, coalesced messages) goes out with that step, in the same round trip: until a
 * step exists nothing depends on those decisions, and a delivery that dies before it decides again.
 */
export class CheckpointWriter {
  readonly #store: CheckpointStore;
  readonly #turn: { userId: string; turnId: string };
  readonly #steps: AgentStep[];
  readonly #onSaved: (index: number, seconds: number) => void;
  #unsaved: Pick<TurnCheckpoint, 'grounding' | 'coalesced'>;

  constructor(opts: {
    store: CheckpointStore;
    turn: { userId: string; turnId: string };
    /** The checkpoint as read when the turn began. */
    resumed: TurnCheckpoint;
    /** What this delivery runs with: kept unless `resumed` has it already. */
    decided: Required<Pick<TurnCheckpoint, 'grounding' | 'coalesced'>>;
    onSaved?: (index: number, seconds: number) => void;
  }) {
    this.#store = opts.store;
    this.#turn = opts.turn;
    this.#steps = [...opts.resumed.steps];
    this.#onSaved = opts.onSaved ?? (() => {});
    this.#unsaved = {
      ...(opts.resumed.grounding ? {} : { grounding: opts.decided.grounding }),
      ...(opts.resumed.coalesced ? {} : { coalesced: opts.decided.coalesced }),
    };
  }

  /** Save step `index` (1-based, the next one); it counts as done once this resolves. */
  async save(index: number, step: AgentStep): Promise<void> {
    if (index !== this.#steps.length + 1)
      throw new FleetError(
        'protocol_violation',
        `checkpoint step ${index} saved after ${this.#steps.length}`,
      );
    const started = performance.now();
    await this.#store.save(
      this.#turn.userId,
      this.#turn.turnId,
      encodeCheckpoint({ ...this.#unsaved, steps: [step] }, index),
    );
    this.#unsaved = {};
    this.#steps.push(step);
    this.#onSaved(index, (performance.now() - started) / 1000);
  }

  /** What the model last said, resumed steps included ('' when nothing yet). */
  partial(): string {
    return this.#steps.findLast((s) => s.kind === 'model' && s.content !== '')?.content ?? '';
  }
}
