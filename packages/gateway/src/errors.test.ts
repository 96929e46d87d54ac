import { type AddressInfo, createServer } from 'node:net';
import { FleetError } from '@agent-fleet/core';
import { Redis } from 'ioredis';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { closedPort } from '../../../test/support/ports.ts';
import { toFleetError } from './errors.ts';

describe('toFleetError', () => {
  it('maps real Redis and Postgres connection failures to 503 unavailable', async () => {
    const port = await closedPort();
    const redis = new Redis({ port, enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true });
    redis.on('error', () => {});
    const offline = await redis.get('k').catch((e: Error) => e);
    await redis.connect().catch(() => {});
    const refused = await redis.get('k').catch((e: Error) => e);
    redis.disconnect();
    const closed = await redis.get('k').catch((e: Error) => e);
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'x', database: 'x' });
    const pgRefused = await client.connect().catch((e: Error) => e);
    const pool = new pg.Pool({ host: '127.0.0.1', port, user: 'x', database: 'x' });
    const poolRefused = await pool.query('SELECT 1').catch((e: Error) => e);
    await pool.end();
    const ended = await pool.query('SELECT 1').catch((e: Error) => e);
    for (const err of [offline, refused, closed, pgRefused, poolRefused, ended]) {
      expect(err, String(err)).toBeInstanceOf(Error);
      const mapped = toFleetError(err as Error);
      expect(mapped.code, (err as Error).message).toBe('unavailable');
      expect(mapped.status).toBe(503);
      expect(mapped.isRetryable).toBe(true);
      // ioredis fails a command lost with its connection as it fails one never sent: either may
      // have been applied. Postgres refusing the connection, or a closed pool, applied nothing.
      const outcome = [offline, refused, closed].some((e) => e === err) ? { outcome: 'unknown' } : {};
      expect(mapped.details, (err as Error).message).toEqual({ retryAfterSeconds: 5, ...outcome });
    }
  });

  it('says the outcome is unknown when Redis took the command and the connection broke before its answer', async () => {
    // A server that reads the command, then drops the connection, as a Redis SIGKILLed mid-request.
    const server = createServer((socket) => socket.once('data', () => socket.destroy()));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const redis = new Redis({
      port,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      enableReadyCheck: false,
    });
    redis.on('error', () => {});
    await new Promise((resolve) => redis.once('ready', resolve));
    try {
      const lost = await redis.get('k').catch((e: Error) => e);
      const mapped = toFleetError(lost as Error);
      expect(mapped.status, String(lost)).toBe(503);
      expect(mapped.details, String(lost)).toEqual({ retryAfterSeconds: 5, outcome: 'unknown' });
      expect(mapped.message).toMatch(/Idempotency-Key/);
    } finally {
      redis.disconnect();
      server.close();
    }
  });

  it('maps Postgres saying it is shutting down, and a cause, but keeps real faults 500', () => {
    const shutdown = Object.assign(new Error('terminating connection due to administrator command'), {
      code: '57P01',
    });
    expect(toFleetError(shutdown).code).toBe('unavailable');
    expect(toFleetError(new Error('wrapped', { cause: new Error('Connection is closed.') })).code).toBe(
      'unavailable',
    );
    const notNull = Object.assign(new Error('null value in column "x"'), { code: '23502' });
    expect(toFleetError(notNull).code).toBe('internal');
    expect(toFleetError(new TypeError('x is undefined')).code).toBe('internal');
    const own = new FleetError('conflict', 'busy');
    expect(toFleetError(own)).toBe(own);
  });
});
