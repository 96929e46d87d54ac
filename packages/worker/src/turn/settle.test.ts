import { FleetError } from '@agent-fleet/core';
import { UnrecoverableError } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { CheckpointError } from './checkpoint.ts';
import { CancelledError, classifyError, InterruptedError } from './errors.ts';
import type { PreparedTurn } from './prepare.ts';
import { settleError, settleRecordingError, settleRun } from './settle.ts';

const unavailable = () => new FleetError('unavailable', 'postgres is away');
const refused = () => new FleetError('invalid_request', 'value too long for type', { retryable: false });

describe('classifyError: what an error means for a turn', () => {
  it('tells cancelled, interrupted, permanent and transient apart', () => {
    expect(classifyError(new CancelledError())).toEqual({ kind: 'cancelled' });
    expect(classifyError(new InterruptedError())).toEqual({ kind: 'interrupted' });
    expect(classifyError(refused())).toMatchObject({ kind: 'permanent' });
    expect(classifyError(new CheckpointError('version "3"'))).toMatchObject({ kind: 'permanent' });
    expect(classifyError(new UnrecoverableError('bad payload'))).toMatchObject({ kind: 'permanent' });
    expect(classifyError(unavailable())).toMatchObject({ kind: 'transient' });
    expect(classifyError(new FleetError('conflict', 'turn lease lost', { retryable: true }))).toMatchObject({
      kind: 'transient',
    });
    expect(classifyError(new TypeError('x is undefined'))).toMatchObject({ kind: 'transient' });
  });

  it('a statement Postgres refuses for what it holds is permanent, however it is wrapped', () => {
    const nul = Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), {
      code: '22021',
      severity: 'ERROR',
    });
    expect(classifyError(nul)).toEqual({ kind: 'permanent', error: nul });
    const tooBig = Object.assign(new Error('index row size exceeds btree maximum'), {
      code: '54000',
      severity: 'ERROR',
    });
    expect(classifyError(new Error('could not record', { cause: tooBig }))).toMatchObject({
      kind: 'permanent',
    });
    // Stored already by another writer: trying again finds the row.
    const duplicate = Object.assign(new Error('duplicate key'), { code: '23505', severity: 'ERROR' });
    expect(classifyError(duplicate)).toMatchObject({ kind: 'transient' });
  });

  it('a cancellation explains whatever the aborted work threw', () => {
    const abort = new AbortController();
    abort.abort(new CancelledError());
    const aborted = Object.assign(new Error('This operation was aborted'), { name: 'AbortError' });
    expect(classifyError(aborted, abort.signal)).toEqual({ kind: 'cancelled' });
    // Aborted for another reason (a lost lease), the error stands.
    const lost = new AbortController();
    lost.abort(new FleetError('conflict', 'turn lease lost', { retryable: true }));
    expect(classifyError(aborted, lost.signal)).toMatchObject({ kind: 'transient', error: aborted });
  });

  it('wraps a thrown non-error so the reason is still a message', () => {
    expect(classifyError('boom')).toMatchObject({ kind: 'transient', error: { message: 'boom' } });
  });
});

describe('settleError: the ladder of a run that threw', () => {
  const ctx = { attempt: 1, attempts: 3, partial: 'So far' };

  it('retries a transient error while attempts are left, then fails with its message', () => {
    expect(settleError(unavailable(), ctx)).toMatchObject({
      kind: 'retry',
      error: { message: 'postgres is away' },
    });
    expect(settleError(unavailable(), { ...ctx, attempt: 3 })).toEqual({
      kind: 'failed',
      reason: 'postgres is away',
    });
  });

  it('fails a permanent error at once', () => {
    expect(settleError(refused(), ctx)).toEqual({ kind: 'failed', reason: 'value too long for type' });
  });

  it('ends cancelled and interrupted turns as such, keeping what the model said', () => {
    expect(settleError(new CancelledError(), ctx)).toEqual({ kind: 'cancelled' });
    expect(settleError(new InterruptedError(), ctx)).toEqual({ kind: 'interrupted', partial: 'So far' });
  });
});

describe('settleRecordingError: the ladder when recording an outcome fails', () => {
  it('retries a transient failure (the run is checkpointed), and fails a permanent one with its reason', () => {
    expect(settleRecordingError(unavailable(), { attempt: 1, attempts: 3 })).toMatchObject({ kind: 'retry' });
    expect(settleRecordingError(unavailable(), { attempt: 3, attempts: 3 })).toEqual({
      kind: 'failed',
      reason: 'postgres is away',
    });
    expect(settleRecordingError(refused(), { attempt: 1, attempts: 3 })).toEqual({
      kind: 'failed',
      reason: 'value too long for type',
    });
  });
});

describe('settleRun', () => {
  it('completes the turn with its reply and sources, answering its coalesced messages', () => {
    const coalesced = [{ seq: 4, turnId: `t_${'4'.repeat(32)}`, text: 'And KYC?', enqueuedAt: 1 }];
    const prepared = { coalesced } as PreparedTurn;
    expect(settleRun(prepared, { reply: 'Five years.', citations: [] })).toEqual({
      kind: 'completed',
      reply: 'Five years.',
      citations: [],
      coalesced,
    });
  });
});
