import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    stack: { redisUrl: string; postgresUrl: string; templateDb: string };
  }
}

/** A key namespace of its own, so tests sharing one Redis never see each other's keys. */
export function freshNamespace(): string {
  return `t-${randomBytes(5).toString('hex')}`;
}

/** A fresh database cloned from the migrated template; returns its URL. */
export async function freshDatabase(): Promise<string> {
  const { postgresUrl, templateDb } = inject('stack');
  const name = `t_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${name}" TEMPLATE "${templateDb}"`);
  } finally {
    await client.end();
  }
  const url = new URL(postgresUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export function redisUrl(): string {
  return inject('stack').redisUrl;
}
