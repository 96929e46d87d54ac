import { FleetError, type Logger } from '@agent-fleet/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type RateLimit, type RateLimiter, rateLimited } from './rate-limiter.ts';

/** Probes and scrapes: never limited, since a refused probe would make the orchestrator restart a healthy gateway. */
export const UNLIMITED_PATHS: readonly string[] = ['/healthz', '/readyz', '/metrics'];

/**
 * The limit per client address (`req.ip`, which only a proxy TRUST_PROXY trusts can name) on
 * requests that present no valid credential: requests to public routes (the sign-in, the docs),
 * and requests refused as unauthorized. A flood of them, or of guesses at keys and tokens, gets 429
 * with Retry-After instead of costing a verification each; a valid credential from the same
 * address is never held back by it. When Redis cannot be reached the limit lets requests through
 * rather than take the API down with it.
 */
export class AnonymousLimit {
  readonly #limiter: RateLimiter;
  readonly #limit: RateLimit;
  readonly #enabled: boolean;
  readonly #logger: Logger | undefined;

  constructor(opts: { limiter: RateLimiter; limit: RateLimit; enabled: boolean; logger?: Logger }) {
    this.#limiter = opts.limiter;
    this.#limit = opts.limit;
    this.#enabled = opts.enabled;
    this.#logger = opts.logger;
  }

  /** Takes one request of the address for a request to the public route `path`; throws 429 when none is left. */
  async take(req: FastifyRequest, reply: FastifyReply, path: string): Promise<void> {
    if (!this.#enabled || UNLIMITED_PATHS.includes(path)) return;
    let decision: Awaited<ReturnType<RateLimiter['take']>>;
    try {
      decision = await this.#limiter.take('ip', req.ip, this.#limit);
    } catch (err) {
      this.#logger?.warn({ err: (err as Error).message }, 'address limit unavailable; request let through');
      return;
    }
    if (!decision.allowed)
      throw rateLimited(
        reply,
        decision,
        'too many requests without valid credentials from this address',
        'ip_rate',
      );
  }

  /** For a request whose credential was refused (`err`): counts it, and throws 429 instead of `err` once over the limit. */
  async refused(req: FastifyRequest, reply: FastifyReply, err: unknown): Promise<never> {
    if (err instanceof FleetError && err.code === 'unauthorized') await this.take(req, reply, '');
    throw err;
  }
}
