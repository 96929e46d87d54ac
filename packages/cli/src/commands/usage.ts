import { FleetError, userIdSchema } from '@agent-fleet/core';
import { TENANT_PATTERN, USAGE_GROUPS, type UsageGroup, UsageLedger } from '@agent-fleet/state';
import { type Command, InvalidArgumentError } from 'commander';
import { table, withFleetDb } from './fleet-db.ts';
import type { Io } from './keys.ts';

const DAY_MS = 86_400_000;

export interface UsageOptions {
  tenant?: string;
  user?: string;
  from?: string;
  to?: string;
  groupBy: UsageGroup;
  json?: boolean;
}

const stdio: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

function parseInstant(value: string): string {
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || !Number.isFinite(Date.parse(value)))
    throw new InvalidArgumentError('use an ISO 8601 date or time, e.g. 2025-01-31 or 2025-01-31T12:00:00Z');
  return value;
}

function parseGroup(value: string): UsageGroup {
  if (!(USAGE_GROUPS as readonly string[]).includes(value))
    throw new InvalidArgumentError(`use one of ${USAGE_GROUPS.join(', ')}`);
  return value as UsageGroup;
}

function parseTenant(value: string): string {
  if (!TENANT_PATTERN.test(value)) throw new InvalidArgumentError('use 1-128 letters, digits and ._-');
  return value;
}

function parseUser(value: string): string {
  if (!userIdSchema.safeParse(value).success)
    throw new InvalidArgumentError('use 1-128 letters, digits and ._@+-, starting with a letter or digit');
  return value;
}

/** `fleet usage`: what GET /v1/usage answers, as a table, from the fleet's database. */
export function registerUsageCommand(program: Command): void {
  program
    .command('usage')
    .description(
      'token usage as the model servers reported it, by day, user or model (the ledger of GET /v1/usage)',
    )
    .option('-t, --tenant <tenant>', 'only this tenant', parseTenant)
    .option('-u, --user <userId>', 'only this user', parseUser)
    .option('--from <date>', 'start (inclusive; default 30 days before --to)', parseInstant)
    .option('--to <date>', 'end (exclusive; default now)', parseInstant)
    .option('-g, --group-by <group>', `${USAGE_GROUPS.join(' | ')}`, parseGroup, 'day' as UsageGroup)
    .option('--json', 'print the report as JSON')
    .action(async (opts: UsageOptions) => {
      process.exitCode = await usageCommand(opts);
    });
}

export function usageCommand(opts: UsageOptions, io: Io = stdio, env?: Record<string, string | undefined>) {
  return withFleetDb(
    'usage',
    io,
    async ({ pool }) => {
      const to = opts.to ? Date.parse(opts.to) : Date.now();
      const from = opts.from ? Date.parse(opts.from) : to - 30 * DAY_MS;
      if (from >= to) throw new FleetError('invalid_request', '--from must be before --to');
      const report = await new UsageLedger({ pool }).report({
        from,
        to,
        groupBy: opts.groupBy,
        ...(opts.tenant ? { tenant: opts.tenant } : {}),
        ...(opts.user ? { userId: opts.user } : {}),
      });
      if (opts.json) {
        io.out(JSON.stringify(report));
        return 0;
      }
      const t = report.total;
      const lines = table(
        [opts.groupBy, 'prompt', 'cached', 'completion', 'total', 'calls'],
        [
          ...report.rows.map((r) => [
            r.key || '(no user)',
            r.promptTokens,
            r.cachedTokens,
            r.completionTokens,
            r.totalTokens,
            r.calls,
          ]),
          ['total', t.promptTokens, t.cachedTokens, t.completionTokens, t.totalTokens, t.calls],
        ],
      );
      for (const line of lines) io.out(line);
      return 0;
    },
    env,
  );
}
