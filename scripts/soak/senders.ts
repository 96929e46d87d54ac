import { Agent, request } from 'node:http';
import { FleetError } from '@agent-fleet/core';
import { z } from 'zod';
import { devUserToken } from '../../packages/cli/src/commands/keys.ts';
import { FleetClient } from '../../packages/client/src/index.ts';
import type { Channel, LedgerEntry, SendOutcome } from './ledger.ts';

/** Sends one message (with its idempotency key) and says what came back. Never throws. */
export type Sender = (entry: LedgerEntry) => Promise<SendOutcome>;

const acceptedSchema = z.object({
  turnId: z.string().min(1),
  seq: z.number().int().positive(),
  replayed: z.boolean(),
});

/** How long a request may take before its answer counts as lost. */
const REQUEST_TIMEOUT_MS = 15_000;

/** Connection errors that prove the request never reached the gateway. */
const NEVER_SENT = new Set(['ECONNREFUSED']);

/**
 * `POST /v1/users/:userId/messages` with the user's own token (HS256, signed with the gateway's
 * JWT_SECRET) and the message's Idempotency-Key, over a keep-alive agent. 202 is accepted; 429
 * and 503 are refusals (the gateway says it took nothing), as is a refused connection; anything
 * else, a dropped connection above all, leaves the message unknown for the caller to retry.
 */
export function httpSender(gatewayUrl: string, jwtSecret: string): { send: Sender; close(): void } {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const tokens = new Map<string, Promise<string>>();
  const tokenOf = (userId: string) => {
    const known = tokens.get(userId);
    if (known) return known;
    const token = devUserToken(jwtSecret, userId);
    tokens.set(userId, token);
    return token;
  };
  const send: Sender = async (entry) => {
    const body = JSON.stringify({ text: entry.text });
    const url = `${gatewayUrl}/v1/users/${encodeURIComponent(entry.userId)}/messages`;
    const headers = {
      authorization: `Bearer ${await tokenOf(entry.userId)}`,
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      'idempotency-key': entry.idempotencyKey,
    };
    const res = await post(agent, url, headers, body);
    return 'error' in res ? connectionOutcome(res.error) : httpOutcome(res.status, res.text);
  };
  return { send, close: () => agent.destroy() };
}

function httpOutcome(status: number, text: string): SendOutcome {
  if (status === 202) {
    const parsed = acceptedSchema.safeParse(safeJson(text));
    if (parsed.success) return { kind: 'accepted', ...parsed.data };
    return { kind: 'unknown', reason: `202 with an unreadable body: ${text.slice(0, 120)}` };
  }
  // A 503 whose connection to Redis or Postgres broke mid-request may have been applied.
  if (status === 503 && outcomeUnknown(text)) return { kind: 'unknown', reason: 'http 503, outcome unknown' };
  if (status === 429 || status === 503) return { kind: 'refused', reason: `http ${status}` };
  if (status >= 400 && status < 500)
    return { kind: 'refused', reason: `http ${status}: ${text.slice(0, 200)}` };
  return { kind: 'unknown', reason: `http ${status}` };
}

function outcomeUnknown(text: string): boolean {
  const body = safeJson(text) as { error?: { details?: { outcome?: unknown } } } | undefined;
  return body?.error?.details?.outcome === 'unknown';
}

function connectionOutcome(err: NodeJS.ErrnoException): SendOutcome {
  const code = err.code ?? err.message;
  return NEVER_SENT.has(code) ? { kind: 'refused', reason: code } : { kind: 'unknown', reason: code };
}

function post(
  agent: Agent,
  url: string,
  headers: Record<string, string>,
  body: string,
): Promise<{ status: number; text: string } | { error: NodeJS.ErrnoException }> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'POST', agent, headers, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (error) => resolve({ error }));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (error) => resolve({ error }));
    req.end(body);
  });
}

/**
 * The SDK's `FleetClient.send` straight into the fleet's Redis (the same TurnProducer the gateway
 * runs). It fails fast while Redis is away, and a failure can come after the accept ran, so every
 * error but an invalid message leaves the message unknown: the caller retries with its key.
 */
export function sdkSender(
  redisUrl: string,
  env: Readonly<Record<string, string>>,
): { send: Sender; close(): Promise<void> } {
  const client = new FleetClient({
    connection: redisUrl,
    ...(env.TURN_BACKOFF_MS ? { turnBackoffMs: Number(env.TURN_BACKOFF_MS) } : {}),
  });
  const send: Sender = async (entry) => {
    try {
      const turn = await client.send({
        userId: entry.userId,
        text: entry.text,
        idempotencyKey: entry.idempotencyKey,
      });
      return { kind: 'accepted', turnId: turn.turnId, seq: turn.seq, replayed: !turn.created };
    } catch (err) {
      if (err instanceof FleetError && !err.isRetryable) return { kind: 'refused', reason: err.code };
      return { kind: 'unknown', reason: (err as Error).message.slice(0, 120) };
    }
  };
  return { send, close: () => client.close() };
}

/** The sender of each channel. */
export type Senders = Record<Channel, Sender>;

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
