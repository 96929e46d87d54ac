import { apiKeyRevocationsChannel, isCluster, type RedisClient, RedisStore } from '@agent-fleet/core';

export interface RevocationHandlers {
  /** A key was revoked: forget whatever is remembered of it. */
  onRevoked(keyId: string): void;
  /**
   * Called each time the subscription is (re)established, once it is: revocations published while
   * it was down were missed, so everything remembered must be forgotten.
   */
  onResubscribed(): void;
  /** Subscribing again after a reconnection failed (it is tried again on the next one). */
  onError?(err: Error): void;
}

const KEY_ID = /^[0-9a-f]{16}$/;

/**
 * Tells every gateway of the namespace that an API key was revoked (Redis pub/sub), so none keeps
 * accepting it from its cache. Postgres stays the truth: a gateway that misses a message (its
 * subscription was down) hears about the gap and drops its whole cache.
 */
export class ApiKeyRevocations extends RedisStore {
  readonly #channel = apiKeyRevocationsChannel(this.namespace);

  async publish(keyId: string): Promise<void> {
    await this.redis.publish(this.#channel, keyId);
  }

  /**
   * Follows revocations on `subscriber`, a connection of its own (a subscribed connection can do
   * nothing else): it subscribes again itself after every reconnection and only then reports the
   * gap. On a cluster the subscription lives on one node, which the client replaces when it leaves
   * (ioredis reports the loss of any node as `-node`): that is a gap too. Resolves once subscribed,
   * to a function that stops.
   */
  async follow(subscriber: RedisClient, handlers: RevocationHandlers): Promise<() => Promise<void>> {
    const onMessage = (channel: string, message: string) => {
      if (channel === this.#channel && KEY_ID.test(message)) handlers.onRevoked(message);
    };
    const subscribe = async () => {
      await subscriber.subscribe(this.#channel);
      handlers.onResubscribed();
    };
    const onReady = () => void subscribe().catch((err: Error) => handlers.onError?.(err));
    subscriber.on('message', onMessage);
    await subscribe();
    subscriber.on('ready', onReady);
    if (isCluster(subscriber)) subscriber.on('-node', onReady);
    return async () => {
      subscriber.off('ready', onReady);
      subscriber.off('-node', onReady);
      subscriber.off('message', onMessage);
      await subscriber.unsubscribe(this.#channel).catch(() => {});
    };
  }
}
