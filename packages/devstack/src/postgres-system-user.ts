import { chmod, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { execFileAsync } from './process-tools.ts';

/** A system account PostgreSQL runs as when we are root (it refuses to run as root). */
export interface SystemUser {
  uid: number;
  gid: number;
}

async function lookupUser(name: string): Promise<SystemUser | undefined> {
  try {
    const [uid, gid] = await Promise.all([
      execFileAsync('id', ['-u', name]).then(({ stdout }) => Number.parseInt(stdout, 10)),
      execFileAsync('id', ['-g', name]).then(({ stdout }) => Number.parseInt(stdout, 10)),
    ]);
    return { uid, gid };
  } catch {
    return undefined;
  }
}

/** The system user `name`, created (`useradd --system`) when missing. */
export async function ensureSystemUser(name: string): Promise<SystemUser> {
  const existing = await lookupUser(name);
  if (existing) return existing;
  try {
    await execFileAsync('useradd', [
      '--system',
      '--user-group',
      '--no-create-home',
      '--shell',
      '/usr/sbin/nologin',
      name,
    ]);
  } catch (err) {
    throw new Error(
      `PostgreSQL cannot run as root and creating the system user "${name}" failed (${(err as Error).message.trim()}); create it or run as a non-root user`,
    );
  }
  const created = await lookupUser(name);
  if (!created) throw new Error(`created system user "${name}" but cannot look it up`);
  return created;
}

/** Adds the search bit `user` needs on `dir` and each ancestor that exists; returns the changed ones. */
export async function ensureSearchable(dir: string, user: SystemUser): Promise<string[]> {
  const chain: string[] = [];
  for (let d = resolve(dir); ; d = dirname(d)) {
    chain.unshift(d);
    if (dirname(d) === d) break;
  }
  const changed: string[] = [];
  for (const d of chain) {
    const info = await stat(d).catch(() => undefined);
    if (!info) break;
    const bit = info.uid === user.uid ? 0o100 : info.gid === user.gid ? 0o010 : 0o001;
    if ((info.mode & bit) === 0) {
      await chmod(d, (info.mode & 0o7777) | bit);
      changed.push(d);
    }
  }
  return changed;
}
