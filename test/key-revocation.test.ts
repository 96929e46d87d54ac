import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiKeyStore } from '@agent-fleet/state';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestFleet, type TestFleet } from './support/fleet.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const CLI = join(root, 'packages/cli/src/main.ts');
/** The promise: every gateway refuses a revoked key within a second (the key cache holds it 30 s). */
const WITHIN_MS = 1000;

/** Two gateway processes of one fleet: a key revoked through one is refused by the other at once. */
describe('revoking an API key reaches every gateway', () => {
  let fleet: TestFleet;
  let gateways: [string, string];
  let store: ApiKeyStore;
  let admin: string;

  beforeAll(async () => {
    fleet = await startTestFleet({
      llmUrl: 'http://127.0.0.1:9/v1',
      workers: 0,
      // Polling a key must not run into the per-user rate limit.
      env: {
        AUTH_MODE: 'required',
        LOG_LEVEL: 'warn',
        API_KEY_CACHE_SECONDS: '30',
        RATE_LIMIT_USER_PER_SECOND: '0',
      },
    });
    gateways = [fleet.gatewayUrl, await fleet.addGateway()];
    store = new ApiKeyStore({ pool: fleet.pool });
    admin = (await store.create({ name: 'ops', scopes: ['admin'] })).key;
  });
  afterAll(() => fleet?.stop());

  const status = async (gateway: string, key: string) =>
    (await fetch(`${gateway}/v1/users/ann/history`, { headers: { authorization: `Bearer ${key}` } })).status;

  /** A key both gateways have verified and cached. */
  const cachedKey = async () => {
    const created = await store.create({ name: 'billing', scopes: ['turns:read'], actAsUsers: true });
    for (const g of gateways) expect(await status(g, created.key)).toBe(200);
    return created;
  };

  /** Milliseconds until `gateway` refuses `key` (401), polling; fails past twice the promise. */
  const refusedAfter = async (gateway: string, key: string, since: number) => {
    for (;;) {
      const code = await status(gateway, key);
      const elapsed = Date.now() - since;
      if (code === 401) return elapsed;
      expect(code).toBe(200);
      if (elapsed > 2 * WITHIN_MS) return elapsed;
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it('revoked through one gateway (DELETE /v1/keys/:keyId), the other refuses it within a second', async () => {
    const victim = await cachedKey();
    const res = await fetch(`${gateways[0]}/v1/keys/${victim.id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${admin}` },
    });
    const revokedAt = Date.now();
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ keyId: victim.id, status: 'revoked' });
    expect(await refusedAfter(gateways[1], victim.key, revokedAt)).toBeLessThan(WITHIN_MS);
    expect(await status(gateways[0], victim.key)).toBe(401);
    const again = await fetch(`${gateways[1]}/v1/keys/${victim.id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(await again.json()).toEqual({ keyId: victim.id, status: 'already-revoked' });
    const unknown = await fetch(`${gateways[1]}/v1/keys/0123456789abcdef`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(unknown.status).toBe(404);
  });

  it('revoked with `fleet keys revoke`, both gateways refuse it within a second', async () => {
    const victim = await cachedKey();
    const cli = spawn(process.execPath, [CLI, 'keys', 'revoke', victim.id], {
      env: {
        PATH: process.env.PATH ?? '',
        DATABASE_URL: fleet.databaseUrl,
        REDIS_URL: fleet.env.REDIS_URL!,
        FLEET_NAMESPACE: fleet.namespace,
      },
    });
    let out = '';
    cli.stdout.on('data', (d) => {
      out += d;
    });
    const code = await new Promise((r) => cli.once('exit', r));
    const revokedAt = Date.now();
    expect(code).toBe(0);
    expect(out).toMatch(`revoked key ${victim.id}`);
    for (const g of gateways) expect(await refusedAfter(g, victim.key, revokedAt)).toBeLessThan(WITHIN_MS);
  });

  it('needs the admin scope to revoke', async () => {
    const victim = await cachedKey();
    const res = await fetch(`${gateways[0]}/v1/keys/${victim.id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${victim.key}` },
    });
    expect(res.status).toBe(403);
    for (const g of gateways) expect(await status(g, victim.key)).toBe(200);
  });
});
