import type { Logger } from '@agent-fleet/core';
import { parseApiKey } from '@agent-fleet/state';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type RateBucket, type RateLimit, type RateLimiter, rateLimited } from './rate-limiter.ts';

/** What a sign-in attempt was let through with: call `succeeded` when the key was good. */
export interface LoginAttempt {
  /** Gives back what the attempt took, so only failed sign-ins count. */
  succeeded(): Promise<void>;
}

/**
 * Failed admin sign-ins, limited per client address and per API key id (the `fk_<id>` part of the
 * key presented), so guessing is slow whether it comes from one address or is spread over many
 * against one key. Each attempt is counted before the key is checked (parallel guesses cannot slip
 * past) and given back when it succeeds; once either limit is spent every attempt gets 429 with
 * Retry-After, the right key included, until it refills. When Redis cannot be reached, attempts are
 * let through unthrottled rather than locking every operator out.
 */
export class LoginThrottle {
  readonly #limiter: RateLimiter;
  readonly #limit: RateLimit;
  readonly #logger: Logger | undefined;

  constructor(opts: { limiter: RateLimiter; limit: RateLimit; logger?: Logger }) {
    this.#limiter = opts.limiter;
    this.#limit = opts.limit;
    this.#logger = opts.logger;
  }

  /** Counts an attempt to sign in with `key`; throws 429 when the address or the key id has failed too often. */
  async attempt(req: FastifyRequest, reply: FastifyReply, key: string): Promise<LoginAttempt> {
    const keyId = parseApiKey(key)?.id;
    const takes: [RateBucket, string][] = [['login-ip', req.ip]];
    if (keyId) takes.push(['login-key', keyId]);
    let decisions: Awaited<ReturnType<RateLimiter['take']>>[];
    try {
      decisions = await Promise.all(takes.map(([bucket, id]) => this.#limiter.take(bucket, id, this.#limit)));
    } catch (err) {
      this.#logger?.warn(
        { err: (err as Error).message },
        'sign-in throttle unavailable; attempt let through',
      );
      return { succeeded: async () => {} };
    }
    const denied = decisions.findIndex((d) => !d.allowed);
    if (denied >= 0) {
      const [bucket] = takes[denied]!;
      const what = `too many failed sign-ins ${bucket === 'login-ip' ? 'from this address' : 'with this key'}`;
      throw rateLimited(reply, decisions[denied]!, what, bucket.replace('-', '_'));
    }
    return {
      succeeded: async () => {
        await Promise.all(takes.map(([bucket, id]) => this.#limiter.refund(bucket, id, this.#limit))).catch(
          () => {},
        );
      },
    };
  }
}
