import { DEFAULT_TENANT_QUOTA, FleetError, userIdSchema } from '@agent-fleet/core';
import { QuotaStore, TENANT_PATTERN } from '@agent-fleet/state';
import { type BudgetStatus, QuotaBook } from '@agent-fleet/turns';
import { type Command, InvalidArgumentError } from 'commander';
import { type FleetDb, table, withFleetDb } from './fleet-db.ts';
import type { Io } from './keys.ts';

/** Whose quota: a tenant's or a user's (exactly one). */
export interface QuotaTarget {
  tenant?: string;
  user?: string;
}

/** What `fleet quotas set` changes; a limit given as null removes it, one left out stays as it is. */
export interface QuotaSetOptions extends QuotaTarget {
  weight?: number;
  day?: number | null;
  month?: number | null;
  userDay?: number | null;
  userMonth?: number | null;
  soft?: number;
}

const stdio: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

function parseLimit(value: string): number | null {
  if (value === 'none') return null;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('use a whole number of tokens, or none');
  return n;
}

function parseNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number above 0');
  return n;
}

const parseTenant = (value: string) => {
  if (!TENANT_PATTERN.test(value)) throw new InvalidArgumentError('use 1-128 letters, digits and ._-');
  return value;
};
const parseUser = (value: string) => {
  if (!userIdSchema.safeParse(value).success)
    throw new InvalidArgumentError('use 1-128 letters, digits and ._@+-, starting with a letter or digit');
  return value;
};

/** `fleet quotas set|get|rm|list`: tenants' weights and budgets and users' own budgets. */
export function registerQuotasCommand(program: Command): void {
  const quotas = program
    .command('quotas')
    .description("tenants' fair-queue weights and token budgets, and users' own budgets");
  const target = (c: Command) =>
    c
      .option('-t, --tenant <tenant>', 'a tenant', parseTenant)
      .option('-u, --user <userId>', 'a user', parseUser);
  target(quotas.command('set').description('change a quota; limits not given stay as they are'))
    .option('--weight <n>', "the tenant's share when tenants compete (default 1)", parseNumber)
    .option('--day <tokens>', 'tokens per UTC day, or none', parseLimit)
    .option('--month <tokens>', 'tokens per UTC month, or none', parseLimit)
    .option('--user-day <tokens>', "each of the tenant's users, per day, or none", parseLimit)
    .option('--user-month <tokens>', "each of the tenant's users, per month, or none", parseLimit)
    .option('--soft <share>', 'share of a budget whose crossing is announced (default 0.8)', parseNumber)
    .action(async (opts: QuotaSetOptions) => {
      process.exitCode = await quotasSet(opts);
    });
  target(quotas.command('get').description('a quota and its usage now'))
    .option('--json', 'print JSON')
    .action(async (opts: QuotaTarget & { json?: boolean }) => {
      process.exitCode = await quotasGet(opts);
    });
  target(
    quotas
      .command('rm')
      .description('back to the defaults (a tenant: weight 1, no limits; a user: the tenant’s)'),
  ).action(async (opts: QuotaTarget) => {
    process.exitCode = await quotasRemove(opts);
  });
  quotas
    .command('list')
    .description("every tenant's quota")
    .action(async () => {
      process.exitCode = await quotasList();
    });
}

function targetOf(opts: QuotaTarget): { tenant: string } | { user: string } {
  if ((opts.tenant === undefined) === (opts.user === undefined))
    throw new FleetError('invalid_request', 'name exactly one of --tenant <tenant> and --user <userId>');
  return opts.tenant !== undefined ? { tenant: opts.tenant } : { user: opts.user! };
}

/** Writes to Postgres, then to Redis when it is reachable (else the workers copy it within a minute). */
async function publish(db: FleetDb, io: Io, write: (book: QuotaBook) => Promise<void>): Promise<void> {
  if (!db.redis) {
    io.err(
      'no Redis to write to (set REDIS_URL or REDIS_CLUSTER_NODES): the workers copy the quota into Redis within QUOTA_SYNC_INTERVAL_MS',
    );
    return;
  }
  await write(new QuotaBook({ redis: db.redis, namespace: db.namespace }));
}

/** Runs quota command `command` on the tenant or user `opts` names, with the quota store and the fleet's Redis. */
function onQuota(
  command: string,
  opts: QuotaTarget,
  io: Io,
  env: Record<string, string | undefined> | undefined,
  fn: (who: { tenant: string } | { user: string }, store: QuotaStore, db: FleetDb) => Promise<number>,
): Promise<number> {
  return withFleetDb(
    `quotas ${command}`,
    io,
    async (db) => fn(targetOf(opts), new QuotaStore({ pool: db.pool }), db),
    env,
    { redis: true },
  );
}

export function quotasSet(opts: QuotaSetOptions, io: Io = stdio, env?: Record<string, string | undefined>) {
  return onQuota('set', opts, io, env, async (who, store, db) => {
    const given = <K extends keyof QuotaSetOptions>(k: K) => (opts[k] === undefined ? {} : { [k]: opts[k] });
    if ('tenant' in who) {
      const current = (await store.getTenant(who.tenant)) ?? DEFAULT_TENANT_QUOTA;
      const q = await store.putTenant(who.tenant, {
        weight: current.weight,
        day: current.day ?? null,
        month: current.month ?? null,
        userDay: current.userDay ?? null,
        userMonth: current.userMonth ?? null,
        softThreshold: opts.soft ?? current.softThreshold,
        ...given('weight'),
        ...given('day'),
        ...given('month'),
        ...given('userDay'),
        ...given('userMonth'),
      });
      await publish(db, io, (book) => book.putTenant(who.tenant, q));
      io.out(`tenant ${who.tenant}: ${describe(q)}`);
    } else {
      const current = await store.getUser(who.user);
      const q = await store.putUser(who.user, {
        day: current?.day ?? null,
        month: current?.month ?? null,
        ...given('day'),
        ...given('month'),
      });
      await publish(db, io, (book) => book.putUser(who.user, q));
      io.out(`user ${who.user}: ${describe(q)}`);
    }
    return 0;
  });
}

export function quotasGet(
  opts: QuotaTarget & { json?: boolean },
  io: Io = stdio,
  env?: Record<string, string | undefined>,
) {
  return onQuota('get', opts, io, env, async (who, store, db) => {
    const book = db.redis ? new QuotaBook({ redis: db.redis, namespace: db.namespace }) : undefined;
    const q =
      'tenant' in who
        ? ((await store.getTenant(who.tenant)) ?? { ...DEFAULT_TENANT_QUOTA, tenant: who.tenant })
        : ((await store.getUser(who.user)) ?? { userId: who.user, day: null, month: null });
    const status =
      book &&
      (await book.status(
        'tenant' in who
          ? { scope: 'tenant', tenant: who.tenant }
          : { scope: 'user', userId: who.user, fallback: { day: null, month: null } },
      ));
    if (opts.json) {
      io.out(JSON.stringify({ ...q, ...(status ? { usage: status } : {}) }));
      return 0;
    }
    io.out(`${'tenant' in who ? `tenant ${who.tenant}` : `user ${who.user}`}: ${describe(q)}`);
    if (status) for (const line of usageLines(status)) io.out(line);
    return 0;
  });
}

export function quotasRemove(opts: QuotaTarget, io: Io = stdio, env?: Record<string, string | undefined>) {
  return onQuota('rm', opts, io, env, async (who, store, db) => {
    const removed = 'tenant' in who ? await store.deleteTenant(who.tenant) : await store.deleteUser(who.user);
    await publish(db, io, (book) =>
      'tenant' in who ? book.clearTenant(who.tenant) : book.clearUser(who.user),
    );
    io.out(removed ? 'removed' : 'there was no quota');
    return 0;
  });
}

export function quotasList(io: Io = stdio, env?: Record<string, string | undefined>) {
  return withFleetDb(
    'quotas list',
    io,
    async (db) => {
      const tenants = await new QuotaStore({ pool: db.pool }).listTenants();
      const none = (v: number | null | undefined) => (v === null || v === undefined ? '-' : v);
      for (const line of table(
        ['tenant', 'weight', 'day', 'month', 'user day', 'user month', 'soft'],
        tenants.map((q) => [
          q.tenant,
          q.weight,
          none(q.day),
          none(q.month),
          none(q.userDay),
          none(q.userMonth),
          q.softThreshold,
        ]),
      ))
        io.out(line);
      return 0;
    },
    env,
  );
}

/** A quota in words; the fields a tenant's quota has and a user's lacks are left out for a user. */
function describe(q: {
  day?: number | null;
  month?: number | null;
  weight?: number;
  userDay?: number | null;
  userMonth?: number | null;
  softThreshold?: number;
}): string {
  const limit = (v: unknown) => (v === null || v === undefined ? 'none' : String(v));
  const parts = [
    ...('weight' in q ? [`weight ${q.weight}`] : []),
    `day ${limit(q.day)}`,
    `month ${limit(q.month)}`,
    ...('userDay' in q ? [`per user: day ${limit(q.userDay)}, month ${limit(q.userMonth)}`] : []),
    ...('softThreshold' in q ? [`soft threshold ${q.softThreshold}`] : []),
  ];
  return parts.join('; ');
}

function usageLines(s: BudgetStatus): string[] {
  return table(
    ['window', 'used', 'limit', 'resets at'],
    s.windows.map((w) => [w.window, w.used, w.limit ?? '-', new Date(w.resetAt).toISOString()]),
  );
}
