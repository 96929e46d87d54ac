import { z } from 'zod';

/**
 * The stages a turn goes through, in order, under one set of names that the stage histogram
 * (`fleet_worker_turn_stage_seconds{stage}`), the running turns a worker reports, the per-turn
 * timings and the traces all use, so a slow stage has the same name wherever an operator meets it:
 * `queue` (accepted until a worker takes it), `gate` (the per-user gate), `load` (checkpoint,
 * history and profile), `retrieval` (passages for the question), `model` (each model call), `tool`
 * (each tool call), `checkpoint` (each step saved), `record` (the transcript in Postgres) and
 * `commit` (the gate's commit and waking the user's next turn).
 */
export const TURN_STAGES = [
  'queue',
  'gate',
  'load',
  'retrieval',
  'model',
  'tool',
  'checkpoint',
  'record',
  'commit',
] as const;
export type TurnStage = (typeof TURN_STAGES)[number];

export const turnStageSchema = z.enum(TURN_STAGES);

const ms = z.number().nonnegative();

/**
 * Where a turn's time went, as the delivery that finished it measured it (milliseconds): each
 * stage summed over its parts, each model call split into time to first token and generation,
 * each tool call and each checkpoint write, and `totalMs` from acceptance to the end of the commit.
 * The stages happen one after another, so they sum to at most `totalMs`; what is left is the time
 * between stages (the worker's own work, event publishing, a retried delivery's earlier attempts).
 */
export const turnTimingsSchema = z
  .object({
    stages: z
      .object(Object.fromEntries(TURN_STAGES.map((s) => [s, ms])) as Record<TurnStage, typeof ms>)
      .describe('milliseconds in each stage; model, tool and checkpoint summed over their calls'),
    models: z
      .array(
        z.object({
          firstTokenMs: ms.describe(
            'from the call until its first streamed token (the whole call when none)',
          ),
          generationMs: ms.describe('from the first token until the answer was complete'),
        }),
      )
      .describe('each model call of this delivery, in order'),
    tools: z.array(z.object({ name: z.string(), ms })).describe('each tool call of this delivery, in order'),
    checkpoints: z.array(ms).describe('each step checkpoint written, in order'),
    totalMs: ms.describe('from acceptance until the turn was committed'),
  })
  .meta({ id: 'TurnTimings' });
export type TurnTimings = z.infer<typeof turnTimingsSchema>;
