import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { userIdSchema } from '@agent-fleet/core';
import {
  API_KEY_SCOPES,
  type ApiKey,
  ApiKeyRevocations,
  type ApiKeyScope,
  ApiKeyStore,
  createPool,
  isApiKeyScope,
  TENANT_PATTERN,
} from '@agent-fleet/state';
import { type Command, InvalidArgumentError } from 'commander';
import { SignJWT } from 'jose';
import { withFleetDb } from './fleet-db.ts';

export interface KeysCreateOptions {
  name: string;
  scopes: ApiKeyScope[];
  tenant?: string;
  actAsUsers?: boolean;
  json?: boolean;
}

/** Where output goes; tests pass their own. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
}

const stdio: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

export function parseScopes(value: string): ApiKeyScope[] {
  const scopes = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = scopes.filter((s) => !isApiKeyScope(s));
  if (bad.length > 0 || scopes.length === 0)
    throw new InvalidArgumentError(
      `${bad.length ? `unknown scope "${bad[0]}"; ` : ''}use a comma-separated list of ${API_KEY_SCOPES.join(', ')}`,
    );
  return scopes as ApiKeyScope[];
}

function parseKeyTenant(value: string): string {
  if (!TENANT_PATTERN.test(value))
    throw new InvalidArgumentError('use 1-128 letters, digits and ._- (e.g. acme-bank)');
  return value;
}

/** `fleet keys create|list|revoke`: service API keys, stored hashed in Postgres. */
export function registerKeysCommand(program: Command): void {
  const keys = program.command('keys').description('create, list and revoke API keys of services');
  keys
    .command('create')
    .description('create an API key; it is printed once and never shown again')
    .requiredOption('-n, --name <name>', 'what the key is for')
    .requiredOption('-s, --scopes <scopes>', `comma-separated: ${API_KEY_SCOPES.join(', ')}`, parseScopes)
    .option('-t, --tenant <tenant>', 'confine the key to one tenant', parseKeyTenant)
    .option('--act-as-users', 'may call the per-user routes for any user')
    .option('--json', 'print the key and its settings as JSON')
    .action(async (opts: KeysCreateOptions) => {
      process.exitCode = await keysCreate(opts);
    });
  keys
    .command('list')
    .description('list API keys (never their secrets)')
    .option('-a, --all', 'include revoked keys')
    .option('--json', 'print JSON')
    .action(async (opts: { all?: boolean; json?: boolean }) => {
      process.exitCode = await keysList(opts);
    });
  keys
    .command('revoke')
    .description(
      "revoke an API key: announced on the fleet's Redis, so every gateway refuses it within a second",
    )
    .argument('<id>', 'the key id (the part after fk_, before the second _)')
    .action(async (id: string) => {
      process.exitCode = await keysRevoke(id);
    });
}

/** Time to connect to Redis before announcing anyway (the announcement then fails and says so). */
const ANNOUNCE_CONNECT_MS = 2000;

/**
 * Runs `fn` with a key store on DATABASE_URL or on the running fleet's database. With `announce`,
 * the store also announces revocations on REDIS_CLUSTER_NODES or REDIS_URL (or the running fleet's
 * Redis) in FLEET_NAMESPACE, so gateways drop revoked keys from their caches at once.
 */
function withStore(
  command: string,
  io: Io,
  fn: (store: ApiKeyStore) => Promise<number>,
  env: Record<string, string | undefined> = process.env,
  opts: { announce?: boolean } = {},
): Promise<number> {
  return withFleetDb(
    `keys ${command}`,
    io,
    async ({ pool, redis, namespace }) => {
      if (opts.announce && !redis)
        io.err(
          `fleet keys ${command}: no Redis to announce on (set REDIS_URL or REDIS_CLUSTER_NODES): gateways refuse the key once their cache expires (API_KEY_CACHE_SECONDS)`,
        );
      const revocations = redis ? new ApiKeyRevocations({ redis, namespace }) : undefined;
      return fn(new ApiKeyStore({ pool, ...(revocations ? { revocations } : {}) }));
    },
    env,
    { redis: opts.announce === true, redisConnectMs: ANNOUNCE_CONNECT_MS, failure: 'database error' },
  );
}

export function keysCreate(
  opts: KeysCreateOptions,
  io: Io = stdio,
  env?: Record<string, string | undefined>,
) {
  return withStore(
    'create',
    io,
    async (store) => {
      const key = await store.create({
        name: opts.name,
        scopes: opts.scopes,
        ...(opts.tenant ? { tenant: opts.tenant } : {}),
        actAsUsers: opts.actAsUsers === true,
      });
      if (opts.json) {
        io.out(JSON.stringify(key));
      } else {
        io.out(key.key);
        io.err(`created key ${key.id} (${describeKey(key)}); store it now: it is not shown again`);
      }
      return 0;
    },
    env,
  );
}

export function keysList(
  opts: { all?: boolean; json?: boolean },
  io: Io = stdio,
  env?: Record<string, string | undefined>,
) {
  return withStore(
    'list',
    io,
    async (store) => {
      const keys = await store.list({ includeRevoked: opts.all === true });
      if (opts.json) {
        io.out(JSON.stringify(keys));
        return 0;
      }
      if (keys.length === 0) {
        io.err('no API keys; create one with `fleet keys create --name N --scopes ...`');
        return 0;
      }
      io.out(['id'.padEnd(16), 'created'.padEnd(20), 'name / scopes'].join('  '));
      for (const k of keys) {
        const created = k.createdAt.slice(0, 19).replace('T', ' ');
        io.out(
          `${k.id}  ${created.padEnd(20)}  ${k.name} (${describeKey(k)})${k.revokedAt ? ' REVOKED' : ''}`,
        );
      }
      return 0;
    },
    env,
  );
}

export function keysRevoke(id: string, io: Io = stdio, env?: Record<string, string | undefined>) {
  return withStore(
    'revoke',
    io,
    async (store) => {
      const result = await store.revoke(id);
      if (result === 'not-found') {
        io.err(`fleet keys revoke: no key with id "${id}" (see \`fleet keys list --all\`)`);
        return 1;
      }
      io.out(result === 'revoked' ? `revoked key ${id}` : `key ${id} was already revoked`);
      return 0;
    },
    env,
    { announce: true },
  );
}

function describeKey(k: ApiKey): string {
  return [
    `scopes ${k.scopes.join(',')}`,
    ...(k.tenant ? [`tenant ${k.tenant}`] : []),
    ...(k.actAsUsers ? ['acts as users'] : []),
  ].join('; ');
}

/** What `npm start` prints so a developer can call the gateway: never for production. */
export interface DevCredentials {
  adminKey: string;
  jwtSecret: string;
}

/** The development credentials `npm start` keeps in `<fleetDir>/dev-auth.json`, or null when there are none. */
export function readDevCredentials(fleetDir: string): DevCredentials | null {
  try {
    const saved = JSON.parse(
      readFileSync(join(fleetDir, 'dev-auth.json'), 'utf8'),
    ) as Partial<DevCredentials>;
    return saved.adminKey && saved.jwtSecret
      ? { adminKey: saved.adminKey, jwtSecret: saved.jwtSecret }
      : null;
  } catch {
    return null;
  }
}

/**
 * The development credentials of the embedded fleet, kept in `<fleetDir>/dev-auth.json` (mode 600)
 * so they survive restarts: a JWT secret for the gateway (JWT_SECRET) and an `admin` key, created
 * again when it was revoked or the database is new.
 */
export async function ensureDevCredentials(opts: {
  databaseUrl: string;
  fleetDir: string;
}): Promise<DevCredentials> {
  const file = join(opts.fleetDir, 'dev-auth.json');
  let saved: Partial<DevCredentials> = {};
  try {
    saved = JSON.parse(readFileSync(file, 'utf8')) as Partial<DevCredentials>;
  } catch {}
  const pool = createPool(opts.databaseUrl, 1);
  try {
    const store = new ApiKeyStore({ pool });
    const adminKey =
      saved.adminKey && (await store.verify(saved.adminKey))
        ? saved.adminKey
        : (await store.create({ name: 'development admin (npm start)', scopes: ['admin'], actAsUsers: true }))
            .key;
    const creds = { adminKey, jwtSecret: saved.jwtSecret ?? randomBytes(32).toString('base64url') };
    writeFileSync(file, `${JSON.stringify(creds, null, 2)}\n`, { mode: 0o600 });
    return creds;
  } finally {
    await pool.end();
  }
}

/** An HS256 user token (`sub` = userId) the gateway accepts with JWT_SECRET; for development. */
export async function devUserToken(
  jwtSecret: string,
  userId: string,
  ttlSeconds = 24 * 3600,
): Promise<string> {
  userIdSchema.parse(userId);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userId)
    .setIssuedAt()
    .setExpirationTime(`${ttlSeconds}s`)
    .sign(new TextEncoder().encode(jwtSecret));
}
