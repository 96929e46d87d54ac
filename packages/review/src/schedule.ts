import { newPrefixedId, prefixedIdPattern } from '@agent-fleet/core';
import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';
import type { Checklist } from './checklist.ts';
import type { ReviewPriority } from './statuses.ts';
import type { RunSpec } from './store-types.ts';

/** A schedule's id: `s_` and 32 hex digits (a BullMQ job scheduler id: no `:`). */
export const SCHEDULE_ID_PATTERN = prefixedIdPattern('s');
export const scheduleIdSchema = z
  .string()
  .regex(SCHEDULE_ID_PATTERN, 'a schedule id looks like s_ followed by 32 hex digits');
export const newScheduleId = (): string => newPrefixedId('s');

/**
 * Why `cron` (in `tz`) cannot schedule reruns, or null when it can: parsed by cron-parser, the parser
 * BullMQ's job schedulers fire by, so what is accepted here is what will fire. Five fields, or six
 * with seconds first; `tz` is an IANA time zone.
 */
export function cronProblem(cron: string, tz: string | undefined): string | null {
  try {
    CronExpressionParser.parse(cron, tz ? { tz } : {}).next();
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/** `schedule` of `POST /v1/reviews`: rerun the run's checklist over its documents on a cron pattern. */
export const scheduleInputSchema = z
  .strictObject({
    cron: z
      .string()
      .trim()
      .min(1)
      .max(120)
      .describe('when reruns start: a cron pattern (minute hour day month weekday; seconds first optional)'),
    tz: z
      .string()
      .min(1)
      .max(64)
      .optional()
      .describe('IANA time zone of the pattern, e.g. Europe/Berlin; default UTC'),
  })
  .superRefine((s, ctx) => {
    const problem = cronProblem(s.cron, s.tz);
    if (problem) ctx.addIssue({ code: 'custom', path: s.tz ? ['tz'] : ['cron'], message: problem });
  });
export type ScheduleInput = z.infer<typeof scheduleInputSchema>;

/** A schedule as stored: what each rerun reviews, for whom, and when. */
export interface ScheduleRecord {
  scheduleId: string;
  userId: string;
  tenant: string;
  name?: string;
  priority: ReviewPriority;
  checklist: Checklist;
  spec: RunSpec;
  cron: string;
  tz?: string;
  createdBy: string;
  createdAt: Date;
  removedAt?: Date;
}

export const reviewScheduleSchema = z.object({
  scheduleId: z.string(),
  name: z.string().optional(),
  userId: z.string(),
  cron: z.string(),
  tz: z.string().optional(),
  active: z.boolean().describe('false once removed: no rerun starts after that'),
  nextRunAt: z.string().nullable().describe('when the next rerun starts (ISO 8601); null once removed'),
  createdAt: z.string(),
  removedAt: z.string().optional(),
  runs: z.array(z.string()).describe('its runs, newest first (at most 20)'),
});
export type ReviewScheduleView = z.infer<typeof reviewScheduleSchema>;

export const reviewScheduleListSchema = z.object({
  schedules: z.array(reviewScheduleSchema.omit({ runs: true })),
  nextBefore: z.string().nullable().describe('pass as `before` for the next page; null on the last'),
});
export type ReviewScheduleList = z.infer<typeof reviewScheduleListSchema>;
