/**
 * One side of bench:memory's fill in a process of its own, so the sides fill side by side: the
 * parent passes the Redis URL and the fill's options as JSON, and hears `{ progress }` and then
 * `{ done, fillSeconds, parts }` (parts: MEMORY USAGE per user of the sampled users' keys, by kind).
 */
import { Redis } from 'ioredis';
import { createFiller, type FillOptions, type UserKeySets } from './memory-fill.ts';

export interface FillRequest {
  url: string;
  options: Omit<FillOptions, 'progress'>;
  sampled: number;
}

export interface FillReport {
  done: true;
  fillSeconds: number;
  parts: { hot: number; records: number };
}

/** MEMORY USAGE of the sampled users' keys, by kind, per user. */
async function breakdown(redis: Redis, sampled: number, keysOf: (i: number) => UserKeySets) {
  const usage = async (keys: string[]) => {
    let sum = 0;
    for (const key of keys) sum += Number((await redis.memory('USAGE', key, 'SAMPLES', '0')) ?? 0);
    return sum;
  };
  let hot = 0;
  let records = 0;
  for (let i = 0; i < sampled; i++) {
    hot += await usage(keysOf(i).hot);
    records += await usage(keysOf(i).records);
  }
  return { hot: hot / sampled, records: records / sampled };
}

const request = JSON.parse(process.argv[2]!) as FillRequest;
const redis = new Redis(request.url, { enableAutoPipelining: true });
const filler = createFiller(
  redis,
  { ...request.options, progress: (n) => n % 200 === 0 && process.send!({ progress: n }) },
  request.sampled,
);
const started = Date.now();
await filler.fill('bench');
const fillSeconds = (Date.now() - started) / 1000;
const parts = await breakdown(redis, request.sampled, (i) => filler.keysOf('bench', i));
process.send!({ done: true, fillSeconds, parts } satisfies FillReport);
redis.disconnect();
process.disconnect();
