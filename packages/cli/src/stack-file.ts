import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where a running `fleet start` says which services it runs, so other commands can reach them. */
export interface StackFile {
  pid: number;
  /** The fleet's Redis: a URL, or a cluster's nodes (REDIS_CLUSTER_NODES) when it runs on one. */
  redisUrl?: string;
  redisClusterNodes?: string;
  databaseUrl: string;
  llmBaseUrls: string;
  gatewayUrl: string;
}

export const stackFilePath = (fleetDir: string) => join(fleetDir, 'stack.json');

export function writeStackFile(fleetDir: string, stack: StackFile): void {
  writeFileSync(stackFilePath(fleetDir), `${JSON.stringify(stack, null, 2)}\n`);
}

export function removeStackFile(fleetDir: string): void {
  rmSync(stackFilePath(fleetDir), { force: true });
}

/** The running fleet's stack, or null when none runs (no file, or its process is gone). */
export function readStackFile(fleetDir: string): StackFile | null {
  try {
    const stack = JSON.parse(readFileSync(stackFilePath(fleetDir), 'utf8')) as StackFile;
    process.kill(stack.pid, 0);
    return stack;
  } catch {
    return null;
  }
}
