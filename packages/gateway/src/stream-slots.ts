import { FleetError } from '@agent-fleet/core';
import type { Principal } from './auth/principal.ts';

/** One open event stream's place: give it back when the stream ends; `signal` ends it early. */
export interface StreamSlot {
  /** Gives the slot back; calling it again does nothing. */
  release(): void;
  /** Aborted when the gateway shuts down: the stream ends cleanly; its client may resume elsewhere. */
  signal: AbortSignal;
}

/**
 * Caps the event streams (SSE: turn events, streamed chat completions) one principal, a user or
 * an API key, holds open on this gateway, so no caller can pin its sockets and memory. A slot is
 * taken before anything else is done for the stream and given back the moment it ends. `endAll`
 * ends every open stream (shutdown), which would otherwise hold the server open.
 */
export class StreamSlots {
  readonly #perPrincipal: number;
  readonly #held = new Map<string, number>();
  readonly #shutdown = new AbortController();
  #open = 0;

  constructor(opts: { perPrincipal: number }) {
    this.#perPrincipal = opts.perPrincipal;
  }

  /** Streams open on this gateway. */
  get open(): number {
    return this.#open;
  }

  /** A slot for `principal`, or `rate_limited` (429) once it holds MAX_STREAMS_PER_PRINCIPAL. */
  take(principal: Principal): StreamSlot {
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
    const release = () => {
      if (released) return;
      released = true;
      this.#open--;
      const left = (this.#held.get(who) ?? 1) - 1;
      if (left > 0) this.#held.set(who, left);
      else this.#held.delete(who);
    };
    return { release, signal: this.#shutdown.signal };
  }

  /** Ends every open stream, and any opened from now on. */
  endAll(): void {
    this.#shutdown.abort();
  }
}
