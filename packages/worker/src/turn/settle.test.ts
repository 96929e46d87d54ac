import { FleetError, quotaExceeded } from '@agent-fleet/core';
import { UnrecoverableError } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { CheckpointError } from './checkpoint.ts';
import { CancelledError, classifyError, InterruptedError, LeaseLostError } from './errors.ts';
import type { PreparedTurn } from './prepare.ts';
import type { Recording } from './settle.ts';
import { settleError, settleOutageOver, settleRecordingError, settleRun } from './settle.ts';
import type { Settlement } from './settlement.ts';

const unavailable = () => new FleetError('unavailable', 'postgres is away');
const noLlm = () =>
  new FleetError('unavailable', 'no LLM server is healthy', { details: { reason: 'no_healthy_llm_server' } });
const flaky = () => new FleetError('upstream_error', 'LLM answered 500');
const refused = () => new FleetError('invalid_request', 'value too long for type', { retryable: false });

describe('classifyError: what an error means for a turn', () => {
  it('tells cancelled, interrupted, outage, permanent and transient apart', () => {
    expect(classifyError(new CancelledError())).toEqual({ kind: 'cancelled' });
    expect(classifyError(new InterruptedError())).toEqual({ kind: 'interrupted' });
    expect(classifyError(refused())).toMatchObject({ kind: 'permanent' });
    expect(classifyError(new CheckpointError('version "3"'))).toMatchObject({ kind: 'permanent' });
    expect(classifyError(new UnrecoverableError('bad payload'))).toMatchObject({ kind: 'permanent' });
    expect(classifyError(unavailable())).toMatchObject({ kind: 'outage' });
    expect(classifyError(flaky())).toMatchObject({ kind: 'transient' });
    expect(classifyError(new LeaseLostError())).toMatchObject({ kind: 'superseded' });
    expect(classifyError(new TypeError('x is undefined'))).toMatchObject({ kind: 'transient' });
  });

  it('a dependency away is an outage however it shows: a refused socket, Postgres shutting down, no LLM server', () => {
    const refusedSocket = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), {
      code: 'ECONNREFUSED',
    });
    expect(classifyError(refusedSocket)).toEqual({ kind: 'outage', error: refusedSocket });
    const shutdown = Object.assign(new Error('terminating connection'), { code: '57P01', severity: 'FATAL' });
    expect(classifyError(shutdown)).toMatchObject({ kind: 'outage' });
    expect(classifyError(new Error('Connection terminated unexpectedly'))).toMatchObject({ kind: 'outage' });
    expect(classifyError(noLlm())).toMatchObject({ kind: 'outage' });
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
    // Aborted because another delivery took the lease: this one is superseded.
    const lost = new AbortController();
    lost.abort(new LeaseLostError());
    expect(classifyError(aborted, lost.signal)).toMatchObject({ kind: 'superseded' });
    // Aborted for a reason that explains nothing, the error stands.
    const other = new AbortController();
    other.abort(new Error('shutting down'));
    expect(classifyError(aborted, other.signal)).toMatchObject({ kind: 'transient', error: aborted });
  });

  it('wraps a thrown non-error so the reason is still a message', () => {
    expect(classifyError('boom')).toMatchObject({ kind: 'transient', error: { message: 'boom' } });
  });
});

describe('settleError: the ladder of a run that threw', () => {
  const ctx = { attempt: 1, attempts: 3, partial: 'So far' };

  it('waits out a dependency that is away, on any attempt', () => {
    expect(settleError(unavailable(), ctx)).toEqual({ kind: 'outage', error: unavailable() });
    expect(settleError(unavailable(), { ...ctx, attempt: 3 })).toMatchObject({ kind: 'outage' });
    expect(settleError(noLlm(), { ...ctx, attempt: 3 })).toMatchObject({ kind: 'outage' });
  });

  it('a delivery another took over stops without recording, whatever its attempt', () => {
    expect(settleError(new LeaseLostError(), { ...ctx, attempt: 3 })).toMatchObject({ kind: 'retry' });
  });

  it('retries a transient error while attempts are left, then fails with its message', () => {
    expect(settleError(flaky(), ctx)).toMatchObject({
      kind: 'retry',
      error: { message: 'LLM answered 500' },
    });
    expect(settleError(flaky(), { ...ctx, attempt: 3 })).toEqual({
      kind: 'failed',
      reason: 'LLM answered 500',
      cause: 'attempts',
    });
  });

  it('fails a permanent error at once', () => {
    expect(settleError(refused(), ctx)).toEqual({
      kind: 'failed',
      reason: 'value too long for type',
      cause: 'refused',
    });
  });

  it('fails a turn whose budget ran out at once, counted as quota', () => {
    const exhausted = quotaExceeded({
      scope: 'user',
      subject: 'u1',
      window: 'day',
      used: 1000,
      limit: 1000,
      resetAt: Date.UTC(2026, 0, 2),
    });
    expect(settleError(exhausted, ctx)).toEqual({
      kind: 'failed',
      reason: exhausted.message,
      cause: 'quota',
    });
  });

  it('ends cancelled and interrupted turns as such, keeping what the model said', () => {
    expect(settleError(new CancelledError(), ctx)).toEqual({ kind: 'cancelled' });
    expect(settleError(new InterruptedError(), ctx)).toEqual({ kind: 'interrupted', partial: 'So far' });
  });
});

describe('settleRecordingError: the ladder when recording an outcome fails', () => {
  const required = (settlement: Settlement): Recording => ({
    kind: 'record',
    settlement,
    transcript: 'required',
  });
  const completed: Settlement = { kind: 'completed', reply: 'Five years.', citations: [], coalesced: [] };
  const failed: Settlement = { kind: 'failed', reason: 'boom', cause: 'attempts' };
  const first = { attempt: 1, attempts: 3 };
  const last = { attempt: 3, attempts: 3 };

  it('waits out an outage whatever is being recorded', () => {
    expect(settleRecordingError(unavailable(), required(completed), last)).toMatchObject({ kind: 'outage' });
    expect(settleRecordingError(unavailable(), required(failed), last)).toMatchObject({ kind: 'outage' });
  });

  it('a completed turn whose row is refused fails with the reason; the failed row is then made storable', () => {
    expect(settleRecordingError(refused(), required(completed), first)).toEqual({
      kind: 'record',
      settlement: { kind: 'failed', reason: 'value too long for type', cause: 'refused' },
      transcript: 'required',
    });
  });

  it('an error of unknown cause retries while attempts are left (the run is checkpointed)', () => {
    expect(settleRecordingError(flaky(), required(completed), first)).toMatchObject({
      kind: 'record',
      settlement: { kind: 'retry' },
    });
    expect(settleRecordingError(flaky(), required(failed), first)).toMatchObject({
      settlement: { kind: 'retry' },
    });
  });

  it('then a completed turn fails with it, and a turn without an answer is recorded best-effort: it must end', () => {
    expect(settleRecordingError(flaky(), required(completed), last)).toEqual({
      kind: 'record',
      settlement: { kind: 'failed', reason: 'LLM answered 500', cause: 'attempts' },
      transcript: 'required',
    });
    expect(settleRecordingError(flaky(), required(failed), last)).toEqual({
      kind: 'record',
      settlement: failed,
      transcript: 'best-effort',
    });
    expect(settleRecordingError(flaky(), required({ kind: 'cancelled' }), last)).toMatchObject({
      settlement: { kind: 'cancelled' },
      transcript: 'best-effort',
    });
  });

  it('a delivery whose lease another took stops, recording nothing', () => {
    expect(settleRecordingError(new LeaseLostError(), required(completed), last)).toMatchObject({
      kind: 'record',
      settlement: { kind: 'retry' },
    });
  });

  it('a best-effort recording that fails too is the last: the job fails, for the sweep to take up', () => {
    const bestEffort: Recording = { kind: 'record', settlement: failed, transcript: 'best-effort' };
    expect(settleRecordingError(flaky(), bestEffort, last)).toMatchObject({ kind: 'throw' });
    expect(settleRecordingError(unavailable(), bestEffort, last)).toMatchObject({ kind: 'throw' });
  });

  it('an error nothing else can be recorded for fails the job', () => {
    const broken = new FleetError('protocol_violation', 'the gate refused the commit', { retryable: false });
    expect(settleRecordingError(broken, required(failed), first)).toEqual({ kind: 'throw', error: broken });
  });
});

describe('settleOutageOver: an outage outlasted the window while recording', () => {
  it('a completed turn fails with the reason; others keep their outcome; the row is best-effort', () => {
    expect(
      settleOutageOver({ kind: 'completed', reply: 'x', citations: [], coalesced: [] }, 'pg away'),
    ).toEqual({
      kind: 'record',
      settlement: { kind: 'failed', reason: 'pg away', cause: 'outage' },
      transcript: 'best-effort',
    });
    expect(settleOutageOver({ kind: 'cancelled' }, 'pg away')).toEqual({
      kind: 'record',
      settlement: { kind: 'cancelled' },
      transcript: 'best-effort',
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
