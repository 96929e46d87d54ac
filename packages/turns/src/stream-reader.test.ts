import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freshNamespace, redisUrl } from '../../../test/support/stack.ts';
import { entryIds, streamFollowerContract } from './stream-followers.contract.ts';
import { compareStreamIds } from './stream-followers.ts';
import { StreamReader } from './stream-reader.ts';

const redis = new Redis(redisUrl(), { maxRetriesPerRequest: null });
afterAll(() => redis.quit());

/** A reader on a connection of its own named `<ns>:reader`, whose reads block up to `blockMs`. */
const openReader = (ns: string, blockMs?: number) => {
  const conn = new Redis(redisUrl(), {
    connectionName: `${ns}:reader`,
    maxRetriesPerRequest: null,
    autoResendUnfulfilledCommands: false,
  });
  return {
    follower: new StreamReader({ connection: conn, control: redis, ...(blockMs ? { blockMs } : {}) }),
    connectionName: `${ns}:reader`,
    cleanup: () => conn.disconnect(),
  };
};

streamFollowerContract('StreamReader', (ns) => openReader(ns));

describe('StreamReader (real Redis)', () => {
  let ns: string;
  let backend: ReturnType<typeof openReader>;
  beforeEach(() => {
    ns = freshNamespace();
    backend = openReader(ns, 10_000);
  });
  afterEach(() => {
    backend.follower.close();
    backend.cleanup();
  });

  it('orders stream ids', () => {
    expect(compareStreamIds('0', '1-0')).toBeLessThan(0);
    expect(compareStreamIds('10-1', '9-5')).toBeGreaterThan(0);
    expect(compareStreamIds('5-2', '5-10')).toBeLessThan(0);
    expect(compareStreamIds('5-2', '5-2')).toBe(0);
  });

  it('lets a stream followed while a read blocks join at once, not after the block', async () => {
    const reader = backend.follower;
    const got: string[] = [];
    reader.follow(`${ns}:first`, '$', () => {});
    await new Promise((r) => setTimeout(r, 100)); // the read now blocks for 10 s on `first` alone
    reader.follow(`${ns}:second`, '0', (e) => got.push(...entryIds(e)));
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    const id = await redis.xadd(`${ns}:second`, '*', 'n', '1');
    await expect.poll(() => got, { timeout: 2000, interval: 5 }).toEqual([id]);
    expect(Date.now() - started).toBeLessThan(500);
  });
});
