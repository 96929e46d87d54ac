import { describe, expect, it } from 'vitest';
import { FleetError } from './errors.ts';
import { refusedByPostgres } from './postgres-refusal.ts';
import { asUnavailable } from './unavailable.ts';

/** An error shaped as pg reports what the server said (pg-protocol's DatabaseError). */
const pgError = (code: string, message: string) =>
  Object.assign(new Error(message), { code, severity: 'ERROR', name: 'error' });

describe('refusedByPostgres: statements Postgres refuses for what they hold', () => {
  it('recognises data exceptions, constraint violations, syntax and program limits', () => {
    const nul = pgError('22021', 'invalid byte sequence for encoding "UTF8": 0x00');
    expect(refusedByPostgres(nul)).toEqual({
      sqlstate: '22021',
      message: 'invalid byte sequence for encoding "UTF8": 0x00',
    });
    expect(refusedByPostgres(pgError('22001', 'value too long'))).toMatchObject({ sqlstate: '22001' });
    expect(refusedByPostgres(pgError('23502', 'null value in column'))).toMatchObject({ sqlstate: '23502' });
    expect(refusedByPostgres(pgError('42703', 'column "x" does not exist'))).toMatchObject({
      sqlstate: '42703',
    });
    expect(refusedByPostgres(pgError('54000', 'index row size exceeds maximum'))).toMatchObject({
      sqlstate: '54000',
    });
  });

  it('looks through causes', () => {
    const wrapped = new FleetError('internal', 'could not record', {
      cause: pgError('22021', 'invalid byte sequence'),
    });
    expect(refusedByPostgres(wrapped)).toMatchObject({ sqlstate: '22021' });
  });

  it('a unique violation is not a refusal: the row is there, and trying again finds it', () => {
    expect(refusedByPostgres(pgError('23505', 'duplicate key value violates "turns_pkey"'))).toBeNull();
  });

  it('connection failures, shutdowns and errors that are not from Postgres are not refusals', () => {
    expect(
      refusedByPostgres(pgError('57P01', 'terminating connection due to administrator command')),
    ).toBeNull();
    expect(refusedByPostgres(pgError('08006', 'connection failure'))).toBeNull();
    expect(refusedByPostgres(pgError('40001', 'could not serialize access'))).toBeNull();
    expect(
      refusedByPostgres(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })),
    ).toBeNull();
    // EPIPE has five letters but no severity: a socket error, not the server's answer.
    expect(refusedByPostgres(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }))).toBeNull();
    expect(refusedByPostgres(new TypeError('x is undefined'))).toBeNull();
    expect(refusedByPostgres('boom')).toBeNull();
  });
});

describe('asUnavailable: a dependency that cannot be reached', () => {
  it('recognises refused sockets, pg connection SQLSTATEs, ioredis and Redis replies, through causes', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    expect(asUnavailable(refused)).toMatchObject({ code: 'unavailable', isRetryable: true, cause: refused });
    expect(asUnavailable(pgError('57P01', 'terminating connection'))).toMatchObject({ code: 'unavailable' });
    expect(asUnavailable(new Error('Connection terminated unexpectedly'))).toMatchObject({
      code: 'unavailable',
    });
    expect(asUnavailable(new Error('Connection is closed.'))).toMatchObject({ code: 'unavailable' });
    expect(asUnavailable(new Error('LOADING Redis is loading the dataset in memory'))).toMatchObject({
      code: 'unavailable',
    });
    expect(asUnavailable(new AggregateError([new TypeError('x'), refused]))).toMatchObject({
      code: 'unavailable',
    });
  });

  it.each([
    [
      'a refused connection',
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      undefined,
    ],
    [
      'ioredis unable to send a command again',
      new Error("Stream isn't writeable and enableOfflineQueue options is false"),
      'unknown',
    ],
    ['Redis loading its data', new Error('LOADING Redis is loading the dataset in memory'), undefined],
    ['pg-pool ended', new Error('Cannot use a pool after calling end on the pool'), undefined],
    ['a reset connection', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), 'unknown'],
    [
      'ioredis giving up a sent command',
      new Error('Reached the max retries per request limit (which is 1).'),
      'unknown',
    ],
    ['a closed ioredis connection', new Error('Connection is closed.'), 'unknown'],
    ['pg losing its connection mid-query', new Error('Connection terminated unexpectedly'), 'unknown'],
  ])('tells whether the request may have been applied: %s', (_, err, outcome) => {
    expect(asUnavailable(err)?.details?.outcome).toBe(outcome);
  });

  it('an unavailable FleetError stands as it is; other errors are not outages', () => {
    const llm = new FleetError('unavailable', 'no LLM server is healthy', {
      details: { reason: 'no_healthy_llm_server' },
    });
    expect(asUnavailable(llm)).toBe(llm);
    expect(
      asUnavailable(new FleetError('timeout', 'slow', { cause: new Error('Connection is closed.') })),
    ).toBeNull();
    expect(asUnavailable(pgError('22021', 'invalid byte sequence'))).toBeNull();
    expect(asUnavailable(new TypeError('x is undefined'))).toBeNull();
  });
});
