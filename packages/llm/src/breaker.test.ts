import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './breaker.ts';

function breaker(failureThreshold = 2, cooldownMs = 1000) {
  const clock = { now: 0 };
  return { clock, b: new CircuitBreaker({ failureThreshold, cooldownMs }, () => clock.now) };
}

describe('CircuitBreaker', () => {
  it('opens after consecutive failures, lets one probe through after the cooldown, and closes on its success', () => {
    const { clock, b } = breaker();
    b.onFailure();
    expect(b.state).toBe('closed');
    b.onFailure();
    expect([b.state, b.canRequest(), b.msUntilProbe()]).toEqual(['open', false, 1000]);
    clock.now = 1000;
    expect([b.state, b.canRequest(), b.msUntilProbe()]).toEqual(['half-open', true, 0]);
    b.onRequest();
    expect(b.canRequest()).toBe(false); // one probe at a time
    b.onSuccess();
    expect([b.state, b.canRequest()]).toEqual(['closed', true]);
  });

  it('a failed probe reopens for another cooldown; a probe ending without a verdict frees the place', () => {
    const { clock, b } = breaker(1);
    b.onFailure();
    clock.now = 1000;
    b.onRequest();
    b.onNoVerdict();
    expect([b.state, b.canRequest()]).toEqual(['half-open', true]);
    b.onRequest();
    b.onFailure();
    expect([b.state, b.msUntilProbe()]).toEqual(['open', 1000]);
  });

  it('a passed health check lets a circuit opened by a failed one probe at once, not one opened by requests', () => {
    const { b } = breaker(1, 60_000);
    b.trip();
    expect(b.state).toBe('open');
    b.onHealthy();
    expect([b.state, b.canRequest()]).toEqual(['half-open', true]);

    const other = breaker(1, 60_000).b;
    other.onFailure();
    other.onHealthy();
    expect(other.state).toBe('open');
  });
});
