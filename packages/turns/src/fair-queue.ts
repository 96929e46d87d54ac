import {
  countTokens,
  fairQueueKey,
  type RedisPlace,
  RedisStore,
  type TurnJob,
  userKeys,
} from '@agent-fleet/core';
import type { Job, Queue } from 'bullmq';
import { scripts } from './lua.ts';

/** What a turn's job carries for fair queueing: whose it is, its start tag, its estimate, the weight. */
export type FairTag = NonNullable<TurnJob['fair']>;

/** BullMQ's largest priority is 2^21; the fair queue stays one below. */
export const MAX_FAIR_PRIORITY = 2 ** 21 - 1;
/** Weighted tokens per priority step: fine enough to order turns of a few hundred tokens. */
export const FAIR_QUANTUM = 16;
/**
 * How long a turn accepted behind other turns of its user waits in `delayed` at most: it is promoted
 * (and tagged) when its user's previous turn ends, or by the recovery sweep if that wake was lost;
 * this only bounds a wait nobody ends.
 */
export const DEFERRED_DELAY_MS = 60_000;
/** Tokens a turn uses beyond its prompt, until the partition has learned it from real turns. */
export const DEFAULT_TURN_TOKENS = 800;
/** How much one finished turn moves the learned tokens a turn uses beyond its prompt. */
export const LEARN_RATE = 0.25;
/** The base moves up once the virtual time is half of the priority range past it. */
const REBASE_STEPS = Math.floor(MAX_FAIR_PRIORITY / 2);

/**
 * Weighted fair queueing across tenants in each partition queue, in tokens: start-time fair
 * queueing (SFQ) through BullMQ priorities. A turn is tagged as it is enqueued (`tag`): its start
 * tag is max(virtual time, its tenant's last finish tag), and the tenant's finish tag moves on by
 * the turn's estimated tokens over the tenant's weight; its priority is the start tag above the
 * partition's base, so BullMQ hands out turns in start-tag order (FIFO among equal tags). When a
 * turn starts, the virtual time moves to its start tag (`started`); when it ends, the tenant's
 * finish tag is corrected by what it really used (`correct`).
 *
 * The estimate is the turn's prompt (message and history) plus what the tenant's turns used beyond
 * their prompts, learned from the corrections (the partition's average for a tenant not seen yet,
 * `turnTokens` before anything was learned). It has to be close: a burst is tagged all at once at
 * the estimate, while the turns a tenant queues later are tagged after corrections, so a tenant
 * whose turns cycle faster (the heavier one) would be spaced by real usage against the other's
 * estimates. With a fixed 800 against turns of about 450 tokens, weights 3:1 were served 5.4:1
 * (by turns) where worker slots were the bottleneck.
 *
 * What this gives: a tenant that arrives while another has a backlog is tagged at the virtual time,
 * ahead of the backlog's later turns, so it waits for a free slot, not for the backlog; tenants with
 * backlogs share the partition in proportion to their weights, in tokens; and nobody waits while a
 * slot is free (BullMQ hands out whatever is queued: the scheduler is work-conserving). It orders
 * jobs only: a user's turns still run strictly by seq through the per-user gate, and a parked turn
 * (moved to `delayed`, then promoted with its priority) holds no slot.
 *
 * The state of a partition is one hash under the partition queue's prefix, in the queue's slot.
 */
export class FairQueue extends RedisStore {
  readonly #turnTokens: number;

  constructor(opts: RedisPlace & { turnTokens?: number }) {
    super(opts);
    this.#turnTokens = opts.turnTokens ?? DEFAULT_TURN_TOKENS;
  }

  /**
   * Tags a turn of `tenant` whose prompt (message and history) is `prompt` tokens: its start tag,
   * its BullMQ priority, and the tokens it was estimated at (`cost`).
   */
  async tag(
    partition: number,
    tenant: string,
    prompt: number,
    weight: number,
  ): Promise<{ start: number; priority: number; cost: number }> {
    const [start, priority, cost] = (await scripts.fairTag.run(
      this.redis,
      [fairQueueKey(this.namespace, partition)],
      [
        tenant,
        Math.max(0, prompt),
        weight > 0 ? weight : 1,
        FAIR_QUANTUM,
        MAX_FAIR_PRIORITY,
        this.#turnTokens,
      ],
    )) as [string, number, string];
    return { start: Number(start), priority, cost: Number(cost) };
  }

  /** A turn with this start tag began running: the partition's virtual time catches up to it. */
  async started(partition: number, start: number): Promise<{ virtualTime: number; base: number }> {
    const [v, base] = (await scripts.fairStart.run(
      this.redis,
      [fairQueueKey(this.namespace, partition)],
      [start],
    )) as [string, string];
    return { virtualTime: Number(v), base: Number(base) };
  }

  /**
   * A turn's job becomes its user's next turn (its predecessor ended) or goes back into the queue
   * after waiting for it (parked): a deferred turn is tagged now, as if it arrived now, which is
   * when it can run (its job's data gets the tag); a tagged one goes back at its start tag, or at
   * the virtual time once that has passed it. Turns keeping tags from before they could run would
   * go ahead of every turn that arrived since: a tenant whose users each have a backlog would take
   * every slot its own turns free, and a newcomer would wait for the whole backlog.
   */
  async requeue(partition: number, job: Job<TurnJob>): Promise<void> {
    const tag = job.data?.fair;
    if (!tag) return;
    const key = fairQueueKey(this.namespace, partition);
    if (tag.deferred) {
      // Estimated now: its message over the user's history as it is now (its predecessors are in
      // it), and what the tenant's turns used beyond their prompts so far.
      const history = await this.redis.hget(userKeys(this.namespace, job.data.userId).historyMeta, 'tokens');
      const prompt = countTokens(job.data.text) + Number(history ?? 0);
      const { start, priority, cost } = await this.tag(partition, tag.tenant, prompt, tag.weight);
      const { deferred: _, ...rest } = tag;
      await job.updateData({ ...job.data, fair: { ...rest, start, cost, prompt } });
      await job.changePriority({ priority });
      return;
    }
    const [v, base] = await this.redis.hmget(key, 'v', 'base');
    await job.changePriority({
      priority: priorityOf(Math.max(tag.start, Number(v ?? 0)), Number(base ?? 0)),
    });
  }

  /**
   * A turn tagged `tag` used `tokens`: its tenant is charged the difference from the estimate, and
   * what it used beyond its prompt is learned for the estimates of the next turns.
   */
  async correct(partition: number, tag: FairTag, tokens: number): Promise<void> {
    const delta = (tokens - tag.cost) / (tag.weight > 0 ? tag.weight : 1);
    const beyondPrompt = tag.prompt === undefined ? '' : tokens - tag.prompt;
    if (delta === 0 && beyondPrompt === '') return;
    await scripts.fairCorrect.run(
      this.redis,
      [fairQueueKey(this.namespace, partition)],
      [tag.tenant, delta, beyondPrompt, LEARN_RATE],
    );
  }

  /**
   * Once the virtual time is half the priority range past the base, moves the base up to it and
   * gives the partition's queued jobs (prioritized and parked) their priorities over the new base.
   * One worker at a time runs it (the recovery sweep's); returns whether it moved the base.
   */
  async rebaseIfDue(partition: number, queue: Queue): Promise<boolean> {
    const key = fairQueueKey(this.namespace, partition);
    const [v, base] = await this.redis.hmget(key, 'v', 'base');
    if ((Number(v ?? 0) - Number(base ?? 0)) / FAIR_QUANTUM < REBASE_STEPS) return false;
    const moved = (await scripts.fairRebase.run(this.redis, [key], [base ?? '0'])) as string | null;
    if (moved === null) return false;
    const newBase = Number(moved);
    for (const state of ['prioritized', 'delayed'] as const) {
      for (let from = 0; ; from += 500) {
        const jobs = await queue.getJobs([state], from, from + 499, true);
        for (const job of jobs) {
          const start = (job.data as { fair?: FairTag } | undefined)?.fair?.start;
          if (typeof start === 'number')
            await job.changePriority({ priority: priorityOf(start, newBase) }).catch(() => {});
        }
        if (jobs.length < 500) break;
      }
    }
    return true;
  }
}

/** The priority of a start tag above `base` (as fair-tag-1.lua computes it). */
export function priorityOf(start: number, base: number): number {
  return Math.min(MAX_FAIR_PRIORITY, Math.max(1, 1 + Math.floor((start - base) / FAIR_QUANTUM)));
}
