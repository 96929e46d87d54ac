import { type RedisClient, RedisStore, userKeys } from '@agent-fleet/core';

const CANCEL_TTL_SECONDS = 24 * 3600;

/** The channel workers listen on for cancellations of turns they run. */
export const controlChannel = (namespace: string) => `${namespace}:turn-control`;

export interface CancelRequest {
  userId: string;
  turnId: string;
}

/**
 * Cancelling turns. A request leaves a flag that the turn checks when it starts and between its
 * steps (so it holds across redeliveries and for turns still queued), and is published so the
 * worker running the turn can stop it at once, mid model call.
 */
export class TurnControl extends RedisStore {
  async requestCancel(userId: string, turnId: string): Promise<void> {
    await this.redis.set(userKeys(this.namespace, userId).cancel(turnId), '1', 'EX', CANCEL_TTL_SECONDS);
    await this.redis.publish(controlChannel(this.namespace), JSON.stringify({ userId, turnId }));
  }

  async isCancelled(userId: string, turnId: string): Promise<boolean> {
    return (await this.redis.exists(userKeys(this.namespace, userId).cancel(turnId))) === 1;
  }

  /** Should turn `seq` stop here? Cancelled, or a later message asked to interrupt it. */
  async check(userId: string, turnId: string, seq: number): Promise<'cancel' | 'interrupt' | null> {
    const k = userKeys(this.namespace, userId);
    const [cancel, interrupt] = await this.redis.mget(k.cancel(turnId), k.interrupt);
    if (cancel) return 'cancel';
    return interrupt && Number(interrupt) > seq ? 'interrupt' : null;
  }

  /**
   * Call `onCancel` for every cancellation published from now on. Takes a connection of its own
   * (subscribed connections can do nothing else); resolves to a function that unsubscribes.
   */
  async subscribe(
    subscriber: RedisClient,
    onCancel: (req: CancelRequest) => void,
  ): Promise<() => Promise<void>> {
    const channel = controlChannel(this.namespace);
    subscriber.on('message', (ch: string, message: string) => {
      if (ch !== channel) return;
      try {
        onCancel(JSON.parse(message) as CancelRequest);
      } catch {
        // not ours: ignore
      }
    });
    await subscriber.subscribe(channel);
    return async () => {
      await subscriber.unsubscribe(channel);
    };
  }
}
