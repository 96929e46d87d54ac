import { FleetError } from '@agent-fleet/core';
import type { Principal } from './auth/principal.ts';

/**
 * Caps the event streams (SSE: turn events, streamed chat completions) one principal, a user or
 * an API key, holds open on this gateway, so no caller can pin its sockets and memory. A slot is
 * taken before anything else is done for the stream and given back the moment it ends.
 */
export class StreamSlots {
  readonly #perPrincipal: number;
  readonly #held = new Map<string, number>();
  #open = 0;

  constructor(opts: { perPrincipal: number }) {
    this.#perPrincipal = opts.perPrincipal;
  }

  /** Streams open on this gateway. */
  get open(): number {
    return this.#open;
  }

  /**
   * A slot for `principal`, or `rate_limited` (429) when it holds MAX_STREAMS_PER_PRINCIPAL
   * already. Call the returned function when the stream ends; calling it again does nothing.
   */
  take(principal: Principal): () => void {
    const who = `${principal.kind}:${principal.id}`;
    const held = this.#held.get(who) ?? 0;
    if (held >= this.#perPrincipal) {
      const whom = principal.kind === 'user' ? 'user' : 'API key';
      throw new FleetError(
        'rate_limited',
        `this ${whom} has ${held} event streams open on this gateway, the most it may (MAX_STREAMS_PER_PRINCIPAL); close one first`,
        { details: { reason: 'streams', limit: this.#perPrincipal } },
      );
    }
    this.#held.set(who, held + 1);
    this.#open++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#open--;
      const left = (this.#held.get(who) ?? 1) - 1;
      if (left > 0) this.#held.set(who, left);
      else this.#held.delete(who);
    };
  }
}
