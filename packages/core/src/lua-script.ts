import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The two calls a Redis client needs to run a script (ioredis' `Redis` and `Cluster` both fit). */
export interface ScriptRunner {
  evalsha(sha: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  eval(source: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
}

/** A line `--- @include "name"` stands for the file `includes/name.lua` beside the script. */
const INCLUDE = /^--- @include "([A-Za-z0-9_-]+)"$/gm;

/**
 * A Lua script kept in its own `<what-it-does>-<numkeys>.lua` file, run with EVALSHA and loaded on
 * NOSCRIPT, so a Redis restart or failover costs one extra round trip and nothing else. Parts that
 * several scripts share live in `includes/<name>.lua` and are pasted in where a script says
 * `--- @include "<name>"` (as BullMQ's scripts do), so each rule is written once.
 */
export class LuaScript {
  readonly name: string;
  readonly numKeys: number;
  readonly source: string;
  readonly sha: string;

  constructor(file: URL) {
    const fileName = basename(fileURLToPath(file));
    const match = /^(.*)-(\d+)\.lua$/.exec(fileName);
    if (!match) throw new Error(`Lua file names end in -<numkeys>.lua: ${fileName}`);
    this.name = match[1]!;
    this.numKeys = Number(match[2]);
    const path = fileURLToPath(file);
    this.source = readFileSync(path, 'utf8').replace(INCLUDE, (_line, name: string) =>
      readFileSync(join(dirname(path), 'includes', `${name}.lua`), 'utf8'),
    );
    this.sha = createHash('sha1').update(this.source).digest('hex');
  }

  async run(redis: ScriptRunner, keys: string[], args: (string | number)[]): Promise<unknown> {
    if (keys.length !== this.numKeys)
      throw new Error(`${this.name} takes ${this.numKeys} keys, got ${keys.length}`);
    try {
      return await redis.evalsha(this.sha, this.numKeys, ...keys, ...args);
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('NOSCRIPT')) {
        return redis.eval(this.source, this.numKeys, ...keys, ...args);
      }
      throw err;
    }
  }
}
