import { describe, expect, it } from 'vitest';
import { closedPort } from '../../../test/support/ports.ts';
import { redisUrl } from '../../../test/support/stack.ts';
import { clusterTargetOf, createRedis, isCluster, redisTargetOf, untilReady } from './redis-client.ts';
import { asUnavailable } from './unavailable.ts';

describe('createRedis', () => {
  it('connects to the cluster nodes when they are configured, else to REDIS_URL', () => {
    const nodes = [{ host: '10.0.0.5', port: 7000 }];
    expect(
      redisTargetOf({ REDIS_URL: 'redis://x:1', REDIS_CLUSTER_NODES: { nodes, password: 'pw', tls: true } }),
    ).toEqual({ clusterNodes: nodes, password: 'pw', tls: true });
    expect(clusterTargetOf('10.0.0.5:7000')).toEqual({ clusterNodes: nodes, tls: false });
    expect(() => clusterTargetOf('10.0.0.5')).toThrow(/REDIS_CLUSTER_NODES: "10.0.0.5" is not host:port/);
    expect(redisTargetOf({ REDIS_URL: 'redis://x:1', REDIS_CLUSTER_NODES: undefined })).toEqual({
      url: 'redis://x:1',
    });
    const cluster = createRedis({ clusterNodes: nodes }, { role: 'worker', lazy: true });
    const single = createRedis({ url: 'redis://127.0.0.1:1' }, { role: 'worker', lazy: true });
    expect([isCluster(cluster), isCluster(single)]).toEqual([true, false]);
    cluster.disconnect();
    single.disconnect();
  });

  it('gives producers an answer at once while Redis is away, one that means "try again" (503)', async () => {
    const port = await closedPort();
    for (const target of [
      { url: `redis://127.0.0.1:${port}` },
      { clusterNodes: [{ host: '127.0.0.1', port }] },
    ]) {
      const client = createRedis(target, { role: 'producer' });
      client.on('error', () => {});
      const started = Date.now();
      const err = await client.get('k').catch((e: Error) => e);
      expect(Date.now() - started, JSON.stringify(target)).toBeLessThan(2000);
      expect(asUnavailable(err)?.code, String(err)).toBe('unavailable');
      await expect(untilReady(client, 300)).rejects.toMatchObject({ code: 'unavailable' });
      client.disconnect();
    }
  });

  it('names its connections and lets other roles queue commands until connected', async () => {
    const client = createRedis({ url: redisUrl() }, { role: 'worker', name: 'fleet-test:named', lazy: true });
    const queued = client.ping();
    await untilReady(client, 5000);
    expect(await queued).toBe('PONG');
    expect(await client.client('GETNAME')).toBe('fleet-test:named');
    client.disconnect();
  });
});
