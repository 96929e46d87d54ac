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
