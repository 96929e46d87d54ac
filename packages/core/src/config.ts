import { isIP } from 'node:net';
import { z } from 'zod';
import { commaList } from './comma-list.ts';
import { FleetError } from './errors.ts';
import { redisClusterNodesSchema } from './redis-cluster-nodes.ts';

const int = (def: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(def);

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** A duration in seconds: a number of seconds, or a number with a unit (`90s`, `30m`, `12h`, `7d`). */
const durationSeconds = (def: number, min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+\s*[smhd]?$/, 'use seconds, or a number with s, m, h or d (for example 7d)')
    .transform((v) => Number.parseInt(v, 10) * (DURATION_UNITS[v.at(-1)!] ?? 1))
    .pipe(z.number().int().min(min).max(max))
    .default(def);

const urlList = commaList(z.url({ message: 'each entry must be an http(s) URL' }), 'give at least one URL');

const PROXY_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** An entry of TRUST_PROXY: a named range, an IP address, or a CIDR. */
function isProxyEntry(entry: string): boolean {
  if (PROXY_RANGES.has(entry)) return true;
  const [address = '', bits, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
}

/**
 * The whole fleet's configuration, read from the environment once at start-up. Each deployable
 * reads the parts it needs; defaults fit the embedded stack that `npm start` runs.
 */
export const envSchema = z.object({
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  FLEET_NAMESPACE: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'use 1-32 lowercase letters, digits and dashes')
    .default('fleet'),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'use redis://host:port[/db] or rediss://')
    .default('redis://127.0.0.1:6379'),
  /**
   * Nodes of a Redis Cluster (`host:port`, or `redis://` / `rediss://` URLs with the credentials and
   * for TLS; comma-separated; one that answers is enough, the rest are discovered). When set, every connection of every process is a cluster client and REDIS_URL is
   * not used; `npm start` starts no Redis of its own.
   */
  REDIS_CLUSTER_NODES: redisClusterNodesSchema.optional(),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'use postgres://user:password@host:port/database')
    .default('postgres://postgres:postgres@127.0.0.1:5432/postgres'),
  /**
   * The AOF fsync policy of the Redis that `npm start` runs (external Redis servers keep their
   * own): `always` makes a 202 mean the turn survives a SIGKILL of redis-server.
   */
  REDIS_APPENDFSYNC: z.enum(['always', 'everysec']).default('always'),
  PARTITIONS: int(8, 1, 256),

  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: int(8080, 0, 65535),
  MAX_MESSAGE_BYTES: int(32 * 1024, 1, 16 * 1024 * 1024),
  MAX_DOCUMENT_BYTES: int(20 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
  TURN_RECORD_TTL_SECONDS: int(7 * 24 * 3600, 60, 365 * 24 * 3600),
  IDEMPOTENCY_TTL_SECONDS: int(24 * 3600, 60, 30 * 24 * 3600),

  AUTH_MODE: z.enum(['required', 'off']).default('required'),
  JWT_SECRET: z.string().min(32, 'use at least 32 characters, e.g. `openssl rand -base64 32`').optional(),
  JWT_JWKS_URL: z
    .url({ message: 'use the https:// URL of the identity provider JWKS (its jwks_uri)' })
    .optional(),
  JWT_ISSUER: z.string().min(1).optional(),
  JWT_AUDIENCE: z.string().min(1).optional(),
  /** How far a token issuer's clock may be from the gateway's, for exp, nbf and iat. */
  JWT_CLOCK_SKEW_SECONDS: int(60, 0, 3600),
  /** The longest a user token may be valid (exp - iat, or exp - now without iat); longer ones are refused. */
  JWT_MAX_LIFETIME_SECONDS: int(86_400, 60, 366 * 86_400),
  API_KEY_CACHE_SECONDS: int(30, 0, 3600),
  RATE_LIMIT_USER_PER_SECOND: z.coerce.number().min(0).max(100_000).default(10),
  RATE_LIMIT_USER_BURST: int(60, 1, 1_000_000),
  RATE_LIMIT_KEY_PER_SECOND: z.coerce.number().min(0).max(1_000_000).default(1000),
  RATE_LIMIT_KEY_BURST: int(2000, 1, 10_000_000),
  SHED_BACKLOG: int(100_000, 0, 100_000_000),
  /** Requests without a valid credential (sign-in included), per client address. */
  RATE_LIMIT_IP_PER_SECOND: z.coerce.number().min(0).max(100_000).default(5),
  RATE_LIMIT_IP_BURST: int(50, 1, 1_000_000),
  /** Failed admin sign-ins, per client address and per API key id. */
  RATE_LIMIT_LOGIN_FAILURES_PER_MINUTE: z.coerce.number().min(0).max(100_000).default(5),
  RATE_LIMIT_LOGIN_FAILURE_BURST: int(10, 1, 100_000),
  /**
   * Which peers' X-Forwarded-For/-Proto headers are believed: `true` (all), `false` (none), or
   * addresses, CIDRs and `loopback`, `linklocal`, `uniquelocal` (comma-separated).
   */
  TRUST_PROXY: z
    .string()
    .refine(
      (s) => s === 'true' || s === 'false' || s.split(',').every((e) => isProxyEntry(e.trim())),
      'use true, false, or comma-separated addresses, CIDRs, loopback, linklocal, uniquelocal',
    )
    .default('loopback,linklocal,uniquelocal'),
  /** Time to receive a request's headers, and the whole request with its body (then 408, connection closed). */
  HTTP_HEADERS_TIMEOUT_MS: int(10_000, 100, 600_000),
  HTTP_REQUEST_TIMEOUT_MS: int(60_000, 100, 3_600_000),
  /** A connection with no traffic either way for this long is closed; 0 never. */
  HTTP_IDLE_TIMEOUT_MS: int(600_000, 0, 24 * 3_600_000),
  /** Event streams (SSE) one user or API key may hold open on each gateway; more get 429. */
  MAX_STREAMS_PER_PRINCIPAL: int(16, 1, 100_000),

  WORKER_CONCURRENCY: int(8, 1, 1000),
  WORKER_METRICS_PORT: int(0, 0, 65535),
  TURN_ATTEMPTS: int(5, 1, 100),
  TURN_BACKOFF_MS: int(500, 0, 600_000),
  TURN_LEASE_MS: int(15_000, 1000, 3_600_000),
  PARK_DELAY_MS: int(30_000, 100, 3_600_000),
  GAP_GRACE_MS: int(30_000, 100, 24 * 3_600_000),
  /**
   * How long turns ride out a dependency that is away (Postgres, Redis, every LLM server): they wait
   * and try again without using their attempts; past it they fail, naming what was away for how long.
   */
  TURN_OUTAGE_WINDOW_MS: int(300_000, 1000, 24 * 3_600_000),
  /** How often one worker sweeps for users whose turns were left behind (and at once after an outage). */
  RECOVERY_SWEEP_INTERVAL_MS: int(5000, 250, 3_600_000),
  /**
   * Intake jobs one consumer takes per round: accepted concurrently across users, each user's in
   * arrival order.
   */
  INTAKE_BATCH_SIZE: int(256, 1, 5000),
  JOB_LOCK_MS: int(30_000, 1000, 3_600_000),
  STALLED_INTERVAL_MS: int(15_000, 500, 3_600_000),
  MAX_STALLED_COUNT: int(5, 0, 1000),
  SHUTDOWN_GRACE_MS: int(20_000, 0, 3_600_000),
  HISTORY_TOKEN_BUDGET: int(3000, 100, 1_000_000),
  /**
   * How long a user's hot state (history, summary, numbering) stays in Redis after their last turn
   * finished with nothing else pending; their next turn rebuilds it from Postgres. Seconds, or a
   * number with a unit (`7d`, `12h`); read as seconds.
   */
  HOT_STATE_TTL: durationSeconds(7 * 86_400, 1, 365 * 86_400),
  /**
   * How partition queues order turns of different tenants: `fair` (weighted fair queueing in
   * tokens: a tenant's burst cannot starve the others, and capacity they leave idle goes to it) or
   * `fifo` (arrival order, the behaviour before fair queueing, kept for comparison). A user's own
   * turns run strictly in order either way: that is the per-user gate's, not the queue's.
   */
  QUEUE_ORDER: z.enum(['fair', 'fifo']).default('fair'),
  /**
   * The tokens a turn is estimated at enqueue beyond its history and message (system prompt,
   * passages, the answer) until its partition has learned that from real turns (the tenant's
   * average, else the partition's); fair queueing corrects the estimate by the turn's real usage.
   */
  FAIR_TURN_TOKENS: int(800, 0, 1_000_000),
  /**
   * Tokens every model call holds from its tenant's and user's budgets while in flight, so calls
   * running at once cannot all pass a budget with little left; settled to the real usage after.
   */
  QUOTA_CALL_HOLD_TOKENS: int(2000, 0, 10_000_000),
  /** How often a worker copies the quotas from Postgres into Redis (also at start). */
  QUOTA_SYNC_INTERVAL_MS: int(60_000, 1000, 24 * 3_600_000),
  SYSTEM_PROMPT: z
    .string()
    .min(1)
    .default('You are a careful assistant for a compliance officer. Answer briefly and precisely.'),

  LLM_BASE_URLS: urlList.default(['http://127.0.0.1:8000/v1']),
  LLM_MODEL: z.string().min(1).default('fleet-sim'),
  LLM_API_KEY: z.string().default('EMPTY'),
  LLM_TIMEOUT_MS: int(60_000, 100, 3_600_000),
  LLM_MAX_ATTEMPTS: int(3, 1, 20),
  LLM_ROUTING: z.enum(['session', 'least-loaded', 'round-robin']).default('session'),
  LLM_MAX_IN_FLIGHT_PER_SERVER: int(64, 1, 100_000),
  LLM_HEALTH_INTERVAL_MS: int(2000, 0, 3_600_000),
  /**
   * Batch requests (review runs) take a server's slot only while its in-flight requests are below
   * this share of LLM_MAX_IN_FLIGHT_PER_SERVER and it queues nothing itself: they use only the
   * capacity chat leaves free.
   */
  LLM_BATCH_MAX_SHARE: z.coerce.number().min(0).max(1).default(0.75),

  RETRIEVER: z.enum(['postgres', 'qdrant']).optional(),
  QDRANT_URL: z.url({ message: 'use http(s)://host:6333' }).optional(),
  QDRANT_API_KEY: z.string().optional(),
  QDRANT_COLLECTION: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'use 1-64 letters, digits, _ and -')
    .default('fleet_chunks'),
  /**
   * Where dense vectors come from: `local` (word vectors shipped in an npm package, in-process),
   * `server` (EMBEDDINGS_* through the LLM pool) or `none`. Default: `local` for the Postgres
   * retriever, `server` for Qdrant.
   */
  EMBEDDER: z.enum(['local', 'server', 'none']).optional(),
  /**
   * Where the local embedder's compact word-vector table is cached (built once from the npm
   * package, rebuilt when its version changes); default node_modules/.cache/word-vectors of
   * packages/rag, which the bootstrap and the images fill.
   */
  WORD_VECTORS_CACHE_DIR: z.string().min(1).optional(),
  /**
   * Synonyms of question words for the Postgres retriever: `wordnet` (WordNet 3.1, in-process) or
   * `none` (the default: they add about twice the query time of BM25 alone).
   */
  THESAURUS: z.enum(['wordnet', 'none']).default('none'),
  /** Embeddings servers when they are not the LLM servers (comma-separated); they get a pool of their own. */
  EMBEDDINGS_BASE_URL: urlList.optional(),
  EMBEDDINGS_API_KEY: z.string().optional(),
  EMBEDDINGS_MODEL: z.string().min(1).default('fleet-sim'),
  EMBEDDINGS_DIMENSIONS: int(384, 8, 8192),
  /** Users without a profile of their own get this tenant's default profile (none when unset). */
  DEFAULT_TENANT: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'use 1-128 letters, digits and ._-')
    .optional(),
  AGENT_MAX_STEPS: int(6, 1, 100),
  AGENT_MAX_TOKENS: int(32_000, 100, 10_000_000),
  /** Fault injection for reliability tests: SIGKILL the worker right after its n-th checkpoint of a turn. */
  FAULT_CRASH_AFTER_CHECKPOINT: int(0, 0, 1000),
  /**
   * Fault injection for reliability tests (1: on): SIGKILL the worker right after it wrote a turn's
   * transcript rows, before the turn's commit in Redis.
   */
  FAULT_CRASH_AFTER_RECORD: int(0, 0, 1),
  /** Fault injection for reliability tests: SIGKILL the worker right after its n-th intake accept. */
  FAULT_INTAKE_CRASH_AFTER_ACCEPTS: int(0, 0, 1_000_000),
  RAG_TOP_K: int(5, 0, 100),
  RAG_CONTEXT_TOKENS: int(1500, 100, 100_000),

  AGENT_MODELS: commaList(
    z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/, 'model names are 1-128 letters, digits and ._:/-'),
    'give at least one model name',
  ).default(['fleet-agent']),
  CHAT_COMPLETION_TIMEOUT_MS: int(120_000, 100, 3_600_000),

  /** Review documents in flight per worker process (their own BullMQ worker, apart from turns). */
  REVIEW_CONCURRENCY: int(4, 1, 1000),
  /** Attempts of a review document job (the retry policy of the review queues) and its first backoff. */
  REVIEW_ATTEMPTS: int(5, 1, 100),
  REVIEW_BACKOFF_MS: int(2000, 0, 600_000),
  /** Longest one review document job may run before it is tried again. */
  REVIEW_DOCUMENT_TIMEOUT_MS: int(600_000, 1000, 24 * 3_600_000),
  /** Checklist items asked about in one model call. */
  REVIEW_ITEMS_PER_CALL: int(8, 1, 100),
  /**
   * A document up to this many tokens goes whole into each prompt; a longer one is reviewed per
   * group of items (one job each) with the sections most relevant to the group, within this budget.
   */
  REVIEW_DOCUMENT_TOKENS: int(6000, 200, 1_000_000),
  /** Tokens of the cited policy's passages in a prompt. */
  REVIEW_POLICY_TOKENS: int(1500, 0, 100_000),
  /** Times a reply that is not valid JSON of the requested shape is asked again before its items are `unclear`. */
  REVIEW_JSON_RETRIES: int(2, 0, 10),
  /** Most documents one run may hold (given, selected or uploaded). */
  REVIEW_MAX_DOCUMENTS: int(20_000, 1, 1_000_000),

  /** Worker processes `npm start` runs; unset, its autoscaler decides within AUTOSCALE_MIN/MAX_WORKERS. */
  WORKERS: z.coerce.number().int().min(0).max(64).optional(),

  /**
   * The scaling policy, KEDA's and the HPA's model: desired = ceil(backlog / target) within min and
   * max; from zero on a backlog over the activation, to zero after the cooldown; scale-up and
   * scale-down stabilization windows; at most AUTOSCALE_UP_PODS or AUTOSCALE_UP_PERCENT more
   * (whichever is larger) and AUTOSCALE_DOWN_PERCENT fewer per AUTOSCALE_RATE_PERIOD_SECONDS.
   * The defaults fit `npm start`; the Kubernetes overlays set their own (infra/k8s/overlays/x/fleet.env).
   * The target is three quarters of a worker's slots (PARTITIONS × WORKER_CONCURRENCY = 64): a
   * worker with every slot busy is at capacity, so a target of all its slots would only ask for the
   * next worker once turns already queue (`fleet scale simulate` shows the oscillation).
   */
  AUTOSCALE_MIN_WORKERS: int(1, 0, 1000),
  AUTOSCALE_MAX_WORKERS: int(4, 1, 1000),
  AUTOSCALE_TARGET_BACKLOG: int(48, 1, 10_000_000),
  AUTOSCALE_ACTIVATION_BACKLOG: int(0, 0, 10_000_000),
  AUTOSCALE_POLLING_SECONDS: int(2, 1, 3600),
  AUTOSCALE_COOLDOWN_SECONDS: int(60, 0, 86_400),
  AUTOSCALE_UP_STABILIZATION_SECONDS: int(0, 0, 3600),
  AUTOSCALE_DOWN_STABILIZATION_SECONDS: int(30, 0, 3600),
  AUTOSCALE_UP_PODS: int(4, 1, 1000),
  AUTOSCALE_UP_PERCENT: int(100, 1, 1000),
  AUTOSCALE_DOWN_PERCENT: int(100, 1, 100),
  AUTOSCALE_RATE_PERIOD_SECONDS: int(15, 1, 1800),
});

/** Rules between variables, checked when the environment is loaded. */
const consistentEnvSchema = envSchema.superRefine((env, ctx) => {
  if (env.HTTP_HEADERS_TIMEOUT_MS > env.HTTP_REQUEST_TIMEOUT_MS)
    ctx.addIssue({
      code: 'custom',
      path: ['HTTP_HEADERS_TIMEOUT_MS'],
      message: `must not exceed HTTP_REQUEST_TIMEOUT_MS (${env.HTTP_REQUEST_TIMEOUT_MS})`,
    });
  // A chat completion waits silently for its turn: an idle timeout must outlast that wait.
  if (env.HTTP_IDLE_TIMEOUT_MS > 0 && env.HTTP_IDLE_TIMEOUT_MS <= env.CHAT_COMPLETION_TIMEOUT_MS)
    ctx.addIssue({
      code: 'custom',
      path: ['HTTP_IDLE_TIMEOUT_MS'],
      message: `must be 0 or longer than CHAT_COMPLETION_TIMEOUT_MS (${env.CHAT_COMPLETION_TIMEOUT_MS})`,
    });
  if (env.AUTOSCALE_MIN_WORKERS > env.AUTOSCALE_MAX_WORKERS)
    ctx.addIssue({
      code: 'custom',
      path: ['AUTOSCALE_MIN_WORKERS'],
      message: `must not exceed AUTOSCALE_MAX_WORKERS (${env.AUTOSCALE_MAX_WORKERS})`,
    });
});

export type FleetConfig = z.infer<typeof envSchema>;

/** Parse the environment; a bad value stops start-up with a message naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): FleetConfig {
  return parseEnv(consistentEnvSchema, env);
}

/**
 * Parse environment variables with `schema` (unset and empty are the same); a bad value throws an
 * `invalid_config` error naming every bad variable and how to fix it.
 */
export function parseEnv<S extends z.ZodType>(
  schema: S,
  env: Record<string, string | undefined>,
): z.output<S> {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? '(environment)');
    // Credentials in URLs (user:password@) stay out of the message.
    const got = cleaned[name]?.replace(/\/\/[^/@\s]*@/g, '//***@');
    return `  ${name}: ${issue.message}${got === undefined ? '' : ` (got ${JSON.stringify(got)})`}`;
  });
  throw new FleetError(
    'invalid_config',
    `invalid configuration; fix these environment variables:\n${lines.join('\n')}`,
    { details: { variables: parsed.error.issues.map((i) => String(i.path[0])) } },
  );
}
