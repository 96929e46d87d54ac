import { createHmac } from 'node:crypto';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiKeyRevocationsChannel } from '@agent-fleet/core';
import { ApiKeyStore } from '@agent-fleet/state';
import { Command, type CommanderError } from 'commander';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, freshNamespace, redisUrl } from '../../../../test/support/stack.ts';
import { captureIo } from '../testing/capture-io.ts';
import {
  devUserToken,
  ensureDevCredentials,
  keysCreate,
  keysList,
  keysRevoke,
  registerKeysCommand,
} from './keys.ts';

describe('fleet keys', () => {
  let databaseUrl: string;
  let pool: pg.Pool;
  let env: Record<string, string>;
  beforeAll(async () => {
    databaseUrl = await freshDatabase();
    pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
    env = { DATABASE_URL: databaseUrl };
  });
  afterAll(() => pool.end());

  it('creates a key (printed once), lists it without its secret, and revokes it', async () => {
    const c = captureIo();
    const code = await keysCreate(
      { name: 'billing', scopes: ['messages:write', 'turns:read'], tenant: 'acme', actAsUsers: true },
      c.io,
      env,
    );
    expect(code).toBe(0);
    expect(c.out).toHaveLength(1);
    const key = c.out[0]!;
    expect(key).toMatch(/^fk_[0-9a-f]{16}_/);
    expect(c.err.join('\n')).toMatch(/not shown again/);
    const id = key.split('_')[1]!;
    expect(await new ApiKeyStore({ pool }).verify(key)).toMatchObject({
      id,
      tenant: 'acme',
      actAsUsers: true,
    });

    const l = captureIo();
    expect(await keysList({}, l.io, env)).toBe(0);
    expect(l.out.join('\n')).toContain(id);
    expect(l.out.join('\n')).toMatch(
      /billing \(scopes messages:write,turns:read; tenant acme; acts as users\)/,
    );
    expect(l.out.join('\n')).not.toContain(key.split('_').slice(2).join('_'));

    const r = captureIo();
    expect(await keysRevoke(id, r.io, env)).toBe(0);
    expect(r.out).toEqual([`revoked key ${id}`]);
    expect(await keysRevoke(id, captureIo().io, env)).toBe(0);
    const missing = captureIo();
    expect(await keysRevoke('0123456789abcdef', missing.io, env)).toBe(1);
    expect(missing.err.join()).toMatch(/no key with id/);
    expect(await new ApiKeyStore({ pool }).verify(key)).toBeNull();

    const all = captureIo();
    await keysList({ all: true, json: true }, all.io, env);
    expect(JSON.parse(all.out[0]!)).toEqual(expect.arrayContaining([expect.objectContaining({ id })]));
  });

  it("announces a revocation on the fleet's Redis, in its namespace, so gateways drop the key at once", async () => {
    const namespace = freshNamespace();
    const subscriber = new Redis(redisUrl());
    const heard: string[] = [];
    subscriber.on('message', (channel: string, id: string) => heard.push(`${channel} ${id}`));
    await subscriber.subscribe(apiKeyRevocationsChannel(namespace));
    try {
      const c = captureIo();
      await keysCreate({ name: 'leaked', scopes: ['turns:read'] }, c.io, env);
      const id = c.out[0]!.split('_')[1]!;
      const withRedis = { ...env, REDIS_URL: redisUrl(), FLEET_NAMESPACE: namespace };
      const r = captureIo();
      expect(await keysRevoke(id, r.io, withRedis)).toBe(0);
      expect(r.err).toEqual([]);
      // Revoking again announces again: a failed announcement is repaired by repeating the command.
      expect(await keysRevoke(id, captureIo().io, withRedis)).toBe(0);
      const channel = apiKeyRevocationsChannel(namespace);
      await expect.poll(() => heard).toEqual([`${channel} ${id}`, `${channel} ${id}`]);

      const down = captureIo();
      const unreachable = { ...env, REDIS_URL: 'redis://127.0.0.1:1', FLEET_NAMESPACE: namespace };
      expect(await keysRevoke(id, down.io, unreachable)).toBe(1);
      expect(down.err.join()).toMatch(/is revoked, but the gateways could not be told/);
    } finally {
      subscriber.disconnect();
    }
  });

  it('prints JSON when asked', async () => {
    const c = captureIo();
    await keysCreate({ name: 'ops', scopes: ['admin'], json: true }, c.io, env);
    expect(JSON.parse(c.out[0]!)).toMatchObject({
      name: 'ops',
      scopes: ['admin'],
      key: expect.stringMatching(/^fk_/),
    });
  });

  it('says how to proceed when no fleet runs and no DATABASE_URL is set, and exits 1', async () => {
    const c = captureIo();
    expect(await keysList({}, c.io, { FLEET_DIR: mkdtempSync(join(tmpdir(), 'no-fleet-')) })).toBe(1);
    expect(c.err.join()).toMatch(/npm start|DATABASE_URL/);
    const unreachable = captureIo();
    expect(await keysList({}, unreachable.io, { DATABASE_URL: 'postgres://x:y@127.0.0.1:1/none' })).toBe(1);
    expect(unreachable.err.join()).toMatch(/fleet keys list: database error/);
  });

  it('rejects unknown scopes, a bad tenant and a missing name before touching the database', async () => {
    const parse = async (args: string[]) => {
      const program = new Command('fleet')
        .exitOverride()
        .configureOutput({ writeErr: () => {}, writeOut: () => {} });
      registerKeysCommand(program);
      for (const c of program.commands) for (const s of c.commands) s.exitOverride();
      try {
        await program.parseAsync(args, { from: 'user' });
        return null;
      } catch (err) {
        return err as CommanderError;
      }
    };
    expect((await parse(['keys', 'create', '--name', 'x', '--scopes', 'root']))?.message).toMatch(
      /unknown scope "root"; use a comma-separated list of messages:write/,
    );
    expect(
      (await parse(['keys', 'create', '--name', 'x', '--scopes', 'admin', '--tenant', 'a b']))?.message,
    ).toMatch(/letters, digits/);
    expect((await parse(['keys', 'create', '--scopes', 'admin']))?.message).toMatch(/--name/);
    expect((await parse(['keys', 'revoke']))?.message).toMatch(/missing required argument 'id'/);
  });

  it('keeps development credentials across restarts and mints user tokens the gateway can verify', async () => {
    const fleetDir = mkdtempSync(join(tmpdir(), 'fleet-dev-'));
    const first = await ensureDevCredentials({ databaseUrl, fleetDir });
    expect(statSync(join(fleetDir, 'dev-auth.json')).mode & 0o777).toBe(0o600);
    expect(await ensureDevCredentials({ databaseUrl, fleetDir })).toEqual(first);
    const store = new ApiKeyStore({ pool });
    expect(await store.verify(first.adminKey)).toMatchObject({ scopes: ['admin'] });
    await store.revoke(first.adminKey.split('_')[1]!);
    const again = await ensureDevCredentials({ databaseUrl, fleetDir });
    expect(again.adminKey).not.toBe(first.adminKey);
    expect(again.jwtSecret).toBe(first.jwtSecret);

    const token = await devUserToken(first.jwtSecret, 'alice', 60);
    const [h, p, s] = token.split('.');
    expect(createHmac('sha256', first.jwtSecret).update(`${h}.${p}`).digest('base64url')).toBe(s);
    expect(JSON.parse(Buffer.from(p!, 'base64url').toString())).toMatchObject({ sub: 'alice' });
    await expect(devUserToken(first.jwtSecret, 'not a user')).rejects.toThrow();
  });
});
